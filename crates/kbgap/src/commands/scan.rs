//! `kbgap scan FILE…`: inventory files in, missing KBs out, offline.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow};
use kbgap_core::catalog::Catalog;
use kbgap_core::engine::{Options, evaluate};
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

/// Exit status of a scan: 0 nothing missing, 1 KBs missing, 2 an error.
pub async fn run(ctx: &Context, args: &ScanArgs) -> Result<i32> {
    let overrides = overrides(args)?;
    let format: kbgap_inventory::Format =
        args.input_format.parse().map_err(|e: String| anyhow!(e))?;
    let (machines, failed) = read_machines(&args.files, format, &overrides);
    if machines.is_empty() {
        return Ok(2);
    }
    let cat = load_catalog(ctx, &args.catalog).await?;
    let stale = staleness_warning(&cat);
    if let Some(w) = &stale {
        eprintln!("warning: {w}");
    }
    let catalog = || CatalogRef {
        documents: cat.documents().len(),
        newest: cat.newest_document().map(|d| d.id.clone()),
    };
    let mut results = Vec::new();
    for (_, mut device) in machines {
        let res = cat.machine_state(&device);
        device.warnings.extend(res.warnings);
        if device.software.is_empty() {
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
    // The process ends with this command: freeing the catalog's many small values one by one
    // would only delay the exit by milliseconds.
    std::mem::forget(cat);
    Ok(if failed { 2 } else { i32::from(missing) })
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
/// their own when OS facts are given as options. Errors are printed per file.
fn read_machines(
    files: &[PathBuf],
    format: kbgap_inventory::Format,
    o: &OsOverrides,
) -> (Vec<(String, Device)>, bool) {
    let mut machines: Vec<(String, Device)> = Vec::new();
    let mut failed = false;
    for path in files {
        let source = path.display().to_string();
        let result = std::fs::read(path)
            .map_err(|e| anyhow!("{source}: {e}"))
            .and_then(|bytes| kbgap_inventory::read(&bytes, &source, format).map_err(anyhow::Error::from))
            .and_then(|inv| match inv {
                Inventory::Device(mut d) => {
                    if o != &OsOverrides::default() {
                        kbgap_inventory::apply_overrides(&mut d, o)?;
                    }
                    Ok(Some(d))
                }
                Inventory::Hotfixes(list) => match machines.last_mut() {
                    Some((_, d)) if !has_os_facts(o) => {
                        kbgap_inventory::merge_hotfixes(d, &list);
                        Ok(None)
                    }
                    _ if has_os_facts(o) => Ok(Some(kbgap_inventory::device_from_facts(o, &list, &source)?)),
                    _ => Err(anyhow!(
                        "{source}: a hotfix list names no OS; give a systeminfo file before it, or --os-version (with --architecture, --installation-type)"
                    )),
                },
            });
        match result {
            Ok(Some(d)) => machines.push((source, d)),
            Ok(None) => {}
            Err(e) => {
                eprintln!("error: {e:#}");
                failed = true;
            }
        }
    }
    (machines, failed)
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
    Ok(Catalog::compile(&docs))
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
        d.products.first().map_or("unknown OS", String::as_str),
        build,
        format_args!("{} KBs installed", d.installed_kbs.len())
    );
    for w in &d.warnings {
        out.push_str(&format!("  warning: {w}\n"));
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
