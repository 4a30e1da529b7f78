//! `kbgap kb ID`: what a KB is and what it fixes.

use anyhow::{Result, bail};
use kbgap_core::KbId;
use kbgap_core::report::KbReport;

use crate::cli::StatsFormat;
use crate::context::Context;
use crate::output::{self, Table};

pub async fn run(ctx: &Context, id: &str, format: StatsFormat) -> Result<()> {
    let kb: KbId = id.parse()?;
    let store = ctx.open_store().await?;
    let cat = ctx.catalog(store.as_ref()).await?;
    let Some(report) = KbReport::new(&cat, kb) else {
        bail!(
            "KB{kb} is not a Vendor Fix in the catalog ({} documents)",
            cat.documents().len()
        );
    };
    match format {
        StatsFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        StatsFormat::Table => print!("{}", table(&report)),
    }
    Ok(())
}

fn table(r: &KbReport) -> String {
    let by: Vec<String> = r
        .cve_addressed_by_software
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let mut out = output::pairs(&[
        ("KB", r.id.clone()),
        ("name", r.name.clone()),
        ("released", r.release_date.clone()),
        ("url", r.url.clone()),
        ("documents", r.documents.join(", ")),
        ("CVEs", format!("{} ({})", r.cve_addressed, by.join(", "))),
        (
            "supersedes",
            if r.supersedes.is_empty() {
                "-".into()
            } else {
                r.supersedes.join(", ")
            },
        ),
        (
            "superseded by",
            if r.superseded_by.is_empty() {
                "-".into()
            } else {
                r.superseded_by.join(", ")
            },
        ),
    ]);
    out.push('\n');
    let mut t = Table::new(&["PRODUCT", "KIND", "SOFTWARE", "FIXED BUILD", "CVES"]);
    for p in &r.products {
        t.row(vec![
            p.name.clone(),
            p.kind.describe().to_owned(),
            p.software.clone(),
            p.fixed_build.clone().unwrap_or_else(|| "-".into()),
            p.cves.len().to_string(),
        ]);
    }
    out.push_str(&t.render());
    out
}
