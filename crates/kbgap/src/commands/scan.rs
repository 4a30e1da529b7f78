//! `kbgap scan FILE…`: inventory files in, missing KBs out, offline.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow};
use kbgap_core::catalog::Catalog;
use kbgap_core::engine::{Options, evaluate, unevaluated_software};
use kbgap_core::report::MissingKbEntry;
use kbgap_core::{Device, OsVersion};
use kbgap_inventory::{Inventory, OsOverrides};
use serde::Serialize;

use crate::cli::{Format, ScanArgs};
use crate::commands::catalog::staleness_warning;
use crate::context::{Context, parse_parallel};
use crate::output::Table;

/// One machine's answer: `value` has the API's shape so one client reads both.
#[derive(Debug, Serialize)]
pub struct ScanResult {
    /// What was read.
    pub device: Device,
    /// Which catalog answered.
    pub catalog: CatalogRef,
    /// The missing KBs.
    pub value: Vec<MissingKbEntry>,
}

/// The catalog an answer came from.
#[derive(Debug, Serialize)]
pub struct CatalogRef {
    documents: usize,
    newest: Option<String>,
}

/// Exit status of a scan, over all its files: 2 an error, else 3 a machine out of support (MSRC
/// covers its OS no more), else 1 KBs missing, else 0 nothing missing.
pub async fn run(ctx: &Context, args: &ScanArgs) -> Result<i32> {
    let overrides = overrides(args)?;
    let format: kbgap_inventory::Format =
        args.input_format.parse().map_err(|e: String| anyhow!(e))?;
    let (mut machines, mut errors) = read_machines(&args.files, format, &overrides, None);
    // A build kbgap's own table does not know may be one the catalog knows: read again with it.
    let unknown_build = errors.iter().any(|e| {
        e.downcast_ref::<kbgap_inventory::InventoryError>()
            .is_some_and(|e| e.kind() == kbgap_inventory::ErrorKind::UnknownBuild)
    });
    if machines.is_empty() && !unknown_build {
        report_errors(&errors);
        return Ok(2);
    }
    let cat = load_catalog(ctx, &args.catalog).await?;
    if unknown_build {
        (machines, errors) = read_machines(&args.files, format, &overrides, Some(&cat));
    }
    report_errors(&errors);
    let failed = !errors.is_empty();
    if machines.is_empty() {
        return Ok(2);
    }
    let stale = staleness_warning(&cat);
    if let Some(w) = &stale {
        eprintln!("warning: {w}");
    }
    let catalog = || CatalogRef {
        documents: cat.documents().len(),
        newest: cat.newest_document().map(|d| d.id.clone()),
    };
    let mut results = Vec::new();
    for (source, mut device) in machines {
        let res = cat.machine_state(&device);
        device.warnings.extend(res.warnings);
        device
            .warnings
            .extend(unevaluated_software(&cat, &device, &res.state));
        if let Some(finding) = &device.end_of_support {
            if !matches!(args.format, Format::Table) {
                // The table says it on stdout; JSON and CSV keep stdout for the data.
                eprintln!("{source}: {}: {finding}", device.computer_dns_name);
            }
        } else if device.software.is_empty() {
            device.warnings.push(
                "no software inventory: .NET Framework and other software updates were not evaluated".into(),
            );
        }
        let ev = evaluate(&cat, &res.state, Options { all: args.all });
        let value = MissingKbEntry::all(&cat, &res.state, &ev, args.cves);
        results.push(ScanResult {
            device,
            catalog: catalog(),
            value,
        });
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            if results.len() == 1 {
                serde_json::to_writer_pretty(&mut out, &results[0])?;
            } else {
                serde_json::to_writer_pretty(&mut out, &results)?;
            }
            writeln!(out)?;
        }
        Format::Csv => write_csv(&mut out, &results)?,
        Format::Table => {
            for r in &results {
                write!(out, "{}", table(r))?;
            }
        }
    }
    let missing = results.iter().any(|r| !r.value.is_empty());
    let out_of_support = results.iter().any(|r| r.device.end_of_support.is_some());
    // The process ends with this command: freeing the catalog's many small values one by one
    // would only delay the exit by milliseconds.
    std::mem::forget(cat);
    Ok(exit_code(failed, out_of_support, missing))
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

fn report_errors(errors: &[anyhow::Error]) {
    for e in errors {
        eprintln!("error: {e:#}");
    }
}

fn overrides(args: &ScanArgs) -> Result<OsOverrides> {
    Ok(OsOverrides {
        os_version: args
            .os_version
            .as_deref()
            .map(str::parse::<OsVersion>)
            .transpose()
            .map_err(|e| anyhow!("--os-version: {e}"))?,
        ubr: args.ubr,
        installation_type: args
            .installation_type
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: String| anyhow!("--installation-type: {e}"))?,
        architecture: args
            .architecture
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: String| anyhow!("--architecture: {e}"))?,
        ..OsOverrides::default()
    })
}

fn has_os_facts(o: &OsOverrides) -> bool {
    o.os_version.is_some()
}

/// Reads every file; hotfix lists join the machine read just before them, or become a machine of
/// their own when OS facts are given as options. Gives the machines and the errors, one per
/// failed file; `catalog` identifies builds kbgap's own release table does not know.
fn read_machines(
    files: &[PathBuf],
    format: kbgap_inventory::Format,
    o: &OsOverrides,
    catalog: Option<&Catalog>,
) -> (Vec<(String, Device)>, Vec<anyhow::Error>) {
    let mut machines: Vec<(String, Device)> = Vec::new();
    let mut errors = Vec::new();
    for path in files {
        let source = path.display().to_string();
        let result = std::fs::read(path)
            .map_err(|e| anyhow!("{source}: {e}"))
            .and_then(|bytes| {
                kbgap_inventory::read_with(&bytes, &source, format, catalog)
                    .map_err(anyhow::Error::from)
            })
            .and_then(|inv| match inv {
                Inventory::Device(mut d) => {
                    if o != &OsOverrides::default() {
                        kbgap_inventory::apply_overrides_with(&mut d, o, catalog)?;
                    }
                    Ok(Some(d))
                }
                Inventory::Hotfixes(list) => match machines.last_mut() {
                    Some((_, d)) if !has_os_facts(o) => {
                        kbgap_inventory::merge_hotfixes(d, &list);
                        Ok(None)
                    }
                    _ if has_os_facts(o) => Ok(Some(kbgap_inventory::device_from_facts_with(
                        o, &list, &source, catalog,
                    )?)),
                    _ => Err(anyhow!(
                        "{source}: a hotfix list names no OS; give a systeminfo file before it, or --os-version (with --architecture, --installation-type)"
                    )),
                },
            });
        match result {
            Ok(Some(d)) => machines.push((source, d)),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    (machines, errors)
}

async fn load_catalog(ctx: &Context, paths: &[PathBuf]) -> Result<Catalog> {
    if paths.is_empty() {
        let store = ctx.open_store().await?;
        return ctx.catalog(store.as_ref()).await;
    }
    let files = kbgap_catalog::collect_paths(paths)?;
    let docs = parse_parallel(files.len(), |i| kbgap_catalog::read_path(&files[i]))?;
    // Several revisions of one document: keep the newest, as the store would.
    let mut newest: std::collections::BTreeMap<String, kbgap_core::Document> = Default::default();
    for d in docs {
        match newest.get(&d.info.id) {
            Some(old) if !d.info.newer_than(&old.info) => {}
            _ => {
                newest.insert(d.info.id.clone(), d);
            }
        }
    }
    let docs: Vec<_> = newest.into_values().collect();
    let mut cat = Catalog::compile(&docs);
    cat.apply_kev(&kbgap_catalog::kev::bundled()?);
    Ok(cat)
}

fn table(r: &ScanResult) -> String {
    let d = &r.device;
    let build = match (d.os_version, d.ubr) {
        (Some(v), Some(u)) => format!("{v}.{u}"),
        (Some(v), None) => format!("{v} (UBR unknown)"),
        _ => "unknown".into(),
    };
    let mut out = format!(
        "{}  {}  {}  {}\n",
        d.computer_dns_name,
        (d.products.first().or(d.os_name.as_ref())).map_or("unknown OS", String::as_str),
        build,
        format_args!("{} KBs installed", d.installed_kbs.len())
    );
    for w in &d.warnings {
        out.push_str(&format!("  warning: {w}\n"));
    }
    if let Some(finding) = &d.end_of_support {
        out.push_str(&format!("  out of support: {finding}\n\n"));
        return out;
    }
    if r.value.is_empty() {
        out.push_str("  nothing missing\n\n");
        return out;
    }
    let mut t = Table::new(&["KB", "NAME", "PRODUCTS", "CVES", "SEVERITY", "REASON"]);
    for e in &r.value {
        t.row(vec![
            format!("KB{}", e.id),
            e.name.clone(),
            e.products_names.join(","),
            e.open_cves_closed.to_string(),
            e.max_severity.map_or("-".into(), |s| s.to_string()),
            e.reason.clone(),
        ]);
        if let Some(cves) = &e.cves {
            t.row(vec![String::new(), cves.join(" ")]);
        }
    }
    out.push_str(&t.render());
    let open: i64 = r.value.iter().map(|e| e.open_cves_closed).sum();
    out.push_str(&format!(
        "{} KBs to install, closing {open} open CVEs\n\n",
        r.value.len()
    ));
    out
}

fn write_csv(out: &mut impl Write, results: &[ScanResult]) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "computerDnsName",
        "id",
        "name",
        "osBuild",
        "productsNames",
        "cveAddressed",
        "openCvesClosed",
        "maxSeverity",
        "reason",
        "supersedesMissing",
        "url",
        "cves",
    ])?;
    for r in results {
        for e in &r.value {
            w.write_record([
                r.device.computer_dns_name.clone(),
                e.id.clone(),
                e.name.clone(),
                e.os_build.map_or(String::new(), |b| b.to_string()),
                e.products_names.join(";"),
                e.cve_addressed.to_string(),
                e.open_cves_closed.to_string(),
                e.max_severity.map_or(String::new(), |s| s.to_string()),
                e.reason.clone(),
                e.supersedes_missing.join(";"),
                e.url.clone(),
                e.cves.as_ref().map_or(String::new(), |c| c.join(";")),
            ])?;
        }
    }
    w.flush().context("writing CSV")?;
    Ok(())
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
