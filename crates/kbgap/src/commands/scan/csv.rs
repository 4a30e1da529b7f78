//! CSV: one row per missing KB, and one row for each machine or input that has none, saying why
//! (nothing missing, out of support, or the error), so a spreadsheet of a fleet has no silent
//! gaps. The first twelve columns are those of earlier releases, in the same order.

use std::io::Write;

use anyhow::{Context as _, Result};
use kbgap_core::Device;
use kbgap_core::report::MissingKbEntry;

use super::ScanResult;
use super::rank::count;
use super::read::Failure;

const HEADER: [&str; 21] = [
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
    "osName",
    "source",
    "maxCvss",
    "exploitedCves",
    "kevCves",
    "kevDueDate",
    "status",
    "detail",
    "osVersion",
];

/// Writes the results, then a row per failed input.
pub fn write(out: &mut impl Write, results: &[ScanResult], failures: &[Failure]) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    for r in results {
        for e in &r.value {
            w.write_record(kb_row(r, e))?;
        }
        if let Some(row) = machine_row(r) {
            w.write_record(row)?;
        }
    }
    for f in failures {
        let mut row = vec![String::new(); HEADER.len()];
        row[13] = f.source.clone();
        row[18] = "error".into();
        row[19] = format!("{:#}", f.error);
        w.write_record(row)?;
    }
    w.flush().context("writing CSV")?;
    Ok(())
}

/// The OS as a person names it: the product, else what the inventory said.
fn os_name(d: &Device) -> String {
    (d.products.first().or(d.os_name.as_ref()))
        .cloned()
        .unwrap_or_default()
}

fn kb_row(r: &ScanResult, e: &MissingKbEntry) -> Vec<String> {
    let d = &r.device;
    vec![
        d.computer_dns_name.clone(),
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
        os_name(d),
        r.source.clone(),
        e.max_cvss.map_or(String::new(), |c| format!("{c:.1}")),
        e.exploited_cves.join(";"),
        e.kev_cves.join(";"),
        e.kev_due_date.clone().unwrap_or_default(),
        "missing".into(),
        String::new(),
        os_version(d),
    ]
}

fn os_version(d: &Device) -> String {
    match (d.os_version, d.ubr) {
        (Some(v), Some(u)) => format!("{v}.{u}"),
        (Some(v), None) => v.to_string(),
        _ => String::new(),
    }
}

/// The row of a machine with no KB row: out of support, nothing missing, or nothing left by
/// the filters.
fn machine_row(r: &ScanResult) -> Option<Vec<String>> {
    let d = &r.device;
    let (status, detail) = match &d.end_of_support {
        Some(finding) => ("out of support", finding.to_string()),
        None if !r.value.is_empty() => return None,
        None if r.unfiltered > 0 => (
            "filtered out",
            format!(
                "{} missing, none matches the filters",
                count(r.unfiltered, "KB")
            ),
        ),
        None => ("nothing missing", String::new()),
    };
    let mut row = vec![String::new(); HEADER.len()];
    row[0] = d.computer_dns_name.clone();
    row[12] = os_name(d);
    row[13] = r.source.clone();
    row[18] = status.into();
    row[19] = detail;
    row[20] = os_version(d);
    Some(row)
}
