//! `kbgap scan FILE…`: inventory files in, missing KBs out, offline.

mod csv;
mod rank;
mod read;
mod table;

use std::io::Write;

use anyhow::{Result, anyhow};
use kbgap_core::Device;
use kbgap_core::catalog::Catalog;
use kbgap_core::engine::{Options, evaluate, unevaluated_software};
use kbgap_core::report::MissingKbEntry;
use serde::Serialize;

use crate::cli::{Format, ScanArgs, SortOrder};
use crate::commands::catalog::staleness_warning;
use crate::context::Context;
use crate::output::term;
use rank::Filter;
use read::Failure;

/// One machine's answer: `value` has the API's shape so one client reads both.
#[derive(Debug, Serialize)]
pub struct ScanResult {
    /// What was read.
    pub device: Device,
    /// Which catalog answered.
    pub catalog: CatalogRef,
    /// The missing KBs (those the filters keep).
    pub value: Vec<MissingKbEntry>,
    /// The file it was read from (`<stdin>` for standard input).
    #[serde(skip)]
    pub source: String,
    /// How many KBs were missing before the filters.
    #[serde(skip)]
    pub unfiltered: usize,
    /// Distinct open CVEs the KBs shown close together (a CVE two of them close counts once).
    #[serde(skip)]
    pub closing: usize,
    /// The filters applied.
    #[serde(skip)]
    pub filter: Filter,
    /// Whether `--all` listed unsatisfied KBs beyond those to install.
    #[serde(skip)]
    pub all: bool,
}

/// The catalog an answer came from.
#[derive(Debug, Serialize)]
pub struct CatalogRef {
    documents: usize,
    newest: Option<String>,
}

/// Exit status of a scan, over all its files: 2 an error, else 3 a machine out of support (MSRC
/// covers its OS no more), else 1 KBs missing (of those the filters keep), else 0 nothing missing.
pub async fn run(ctx: &Context, args: &ScanArgs) -> Result<i32> {
    let overrides = read::overrides(args)?;
    let format: kbgap_inventory::Format =
        args.input_format.parse().map_err(|e: String| anyhow!(e))?;
    let inputs = read::inputs(&args.files);
    let (mut machines, mut failures) = read::machines(&inputs, format, &overrides, None);
    // A build kbgap's own table does not know may be one the catalog knows: read again with it.
    let unknown_build = failures.iter().any(|f| {
        f.error
            .downcast_ref::<kbgap_inventory::InventoryError>()
            .is_some_and(|e| e.kind() == kbgap_inventory::ErrorKind::UnknownBuild)
    });
    if machines.is_empty() && !unknown_build {
        return finish(args, &[], &failures, ctx.quiet).map(|()| 2);
    }
    let cat = read::catalog(ctx, &args.catalog).await?;
    if unknown_build {
        (machines, failures) = read::machines(&inputs, format, &overrides, Some(&cat));
    }
    if !ctx.quiet
        && let Some(w) = staleness_warning(&cat)
    {
        term::eprint_wrapped(&format!("warning: {w}"));
    }
    let results: Vec<ScanResult> = (machines.into_iter())
        .map(|(source, device)| scan_one(&cat, args, source, device))
        .collect();
    finish(args, &results, &failures, ctx.quiet)?;
    let missing = results.iter().any(|r| !r.value.is_empty());
    let out_of_support = results.iter().any(|r| r.device.end_of_support.is_some());
    // The process ends with this command: freeing the catalog's many small values one by one
    // would only delay the exit by milliseconds.
    std::mem::forget(cat);
    Ok(exit_code(!failures.is_empty(), out_of_support, missing))
}

/// Evaluates one machine, then filters and orders its KBs as asked.
fn scan_one(cat: &Catalog, args: &ScanArgs, source: String, mut device: Device) -> ScanResult {
    let res = cat.machine_state(&device);
    device.warnings.extend(res.warnings);
    device
        .warnings
        .extend(unevaluated_software(cat, &device, &res.state));
    if let Some(finding) = &device.end_of_support {
        if !matches!(args.format, Format::Table) {
            // The table says it on stdout; JSON and CSV keep stdout for the data.
            term::eprint_wrapped(&format!(
                "{source}: {}: {finding}",
                device.computer_dns_name
            ));
        }
    } else if device.software.is_empty() {
        device.warnings.push(
            "no software inventory: .NET Framework and other software updates were not evaluated"
                .into(),
        );
    }
    let ev = evaluate(cat, &res.state, Options { all: args.all });
    let mut value = MissingKbEntry::all(cat, &res.state, &ev, args.cves);
    let unfiltered = value.len();
    let filter = Filter {
        min_severity: args.min_severity.map(Into::into),
        exploited_only: args.exploited_only,
    };
    value.retain(|e| filter.keeps(e));
    let shown: std::collections::HashSet<&str> = value.iter().map(|e| e.id.as_str()).collect();
    let closed: Vec<kbgap_core::catalog::VulnIx> = (ev.missing.iter())
        .filter(|m| shown.contains(cat.kb(m.kb).id.to_string().as_str()))
        .flat_map(|m| m.closes.iter().copied())
        .collect();
    let closing = kbgap_core::report::cve_count(cat, &closed);
    let default = match args.format {
        Format::Table => SortOrder::Priority,
        Format::Json | Format::Csv => SortOrder::Release,
    };
    if args.sort.unwrap_or(default) == SortOrder::Priority {
        value.sort_by(rank::by_priority);
    }
    ScanResult {
        device,
        catalog: CatalogRef {
            documents: cat.documents().len(),
            newest: cat.newest_document().map(|d| d.id.clone()),
        },
        value,
        source,
        unfiltered,
        closing,
        filter,
        all: args.all,
    }
}

/// Errors on stderr (CSV also gives each a row), then the answer on stdout.
fn finish(
    args: &ScanArgs,
    results: &[ScanResult],
    failures: &[Failure],
    quiet: bool,
) -> Result<()> {
    for f in failures {
        term::eprint_wrapped(&format!("error: {:#}", f.error));
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json if results.is_empty() => {}
        Format::Json => {
            if results.len() == 1 {
                serde_json::to_writer_pretty(&mut out, &results[0])?;
            } else {
                serde_json::to_writer_pretty(&mut out, &results)?;
            }
            writeln!(out)?;
        }
        Format::Csv => csv::write(&mut out, results, failures)?,
        Format::Table => {
            let look = table::Look {
                width: term::width(),
                colour: term::colour(),
                quiet,
            };
            for r in results {
                write!(out, "{}", table::render(r, look))?;
            }
        }
    }
    Ok(())
}

/// The exit code of a scan of several files: an error wins, then a machine out of support, then
/// missing KBs.
fn exit_code(failed: bool, out_of_support: bool, missing: bool) -> i32 {
    if failed {
        2
    } else if out_of_support {
        3
    } else {
        i32::from(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::exit_code;

    #[test]
    fn an_error_wins_then_out_of_support_then_missing() {
        assert_eq!(exit_code(false, false, false), 0);
        assert_eq!(exit_code(false, false, true), 1);
        assert_eq!(exit_code(false, true, true), 3);
        assert_eq!(exit_code(false, true, false), 3);
        assert_eq!(exit_code(true, true, true), 2);
        assert_eq!(exit_code(true, false, false), 2);
    }
}
