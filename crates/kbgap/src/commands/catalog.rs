//! `kbgap catalog import|sync|stats`.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use kbgap_core::DocumentInfo;
use kbgap_core::catalog::Catalog;
use kbgap_store::ImportOutcome;
use serde::Serialize;

use crate::cli::StatsFormat;
use crate::context::{Context, parse_parallel};
use crate::output;

/// Imports files and folders. Every document is parsed before anything is stored, and all are
/// stored in one transaction: one bad file leaves the stored catalog as it was.
pub async fn import(ctx: &Context, paths: &[PathBuf]) -> Result<()> {
    let files = kbgap_catalog::collect_paths(paths)?;
    let bar = output::progress(files.len() as u64, "parsing", ctx.quiet);
    let docs = parse_parallel(files.len(), |i| {
        let d = kbgap_catalog::read_path(&files[i]);
        bar.inc(1);
        d
    })
    .context("nothing was imported")?;
    bar.finish_and_clear();
    let store = ctx.open_store().await?;
    let outcomes = store
        .import_documents(docs)
        .await
        .context("nothing was imported")?;
    report_outcomes(&outcomes);
    Ok(())
}

fn report_outcomes(outcomes: &[ImportOutcome]) {
    let mut changed = 0;
    for o in outcomes {
        changed += usize::from(o.changed());
        let line = match o {
            ImportOutcome::Inserted(i) => format!("{} revision {}: imported", i.id, i.revision),
            ImportOutcome::Replaced { old, new } => {
                format!(
                    "{} revision {}: replaced revision {}",
                    new.id, new.revision, old.revision
                )
            }
            ImportOutcome::Unchanged(i) => format!(
                "{} revision {}: already stored, unchanged",
                i.id, i.revision
            ),
            ImportOutcome::KeptNewer { stored, offered } => kept_newer(stored, offered),
        };
        println!("{line}");
    }
    println!(
        "{} documents read, {changed} changed the catalog",
        outcomes.len()
    );
}

/// Why the stored copy stays: its release date first, since that is what decides (MSRC's
/// revision numbers restart, so "revision 16 is older than revision 6" can be true and reads
/// wrong without the dates), and the revision only when the dates are the same.
fn kept_newer(stored: &DocumentInfo, offered: &DocumentInfo) -> String {
    let day = |i: &DocumentInfo| {
        i.current_release
            .get(..10)
            .unwrap_or(&i.current_release)
            .to_owned()
    };
    let why = if stored.current_release == offered.current_release {
        format!(
            "both released {}, and the stored revision {} is higher",
            day(stored),
            stored.revision
        )
    } else {
        format!(
            "the stored copy (revision {}) was released {}, after this one (released {})",
            stored.revision,
            day(stored),
            day(offered)
        )
    };
    format!(
        "{} revision {}: not imported, the stored copy is newer: {why}; nothing changed",
        offered.id, offered.revision
    )
}

/// Brings the store up to date from the MSRC API; all or nothing.
pub async fn sync(ctx: &Context, base_url: &str) -> Result<()> {
    let store = ctx.open_store().await?;
    let stored: HashMap<String, String> = store
        .catalog_infos()
        .await?
        .into_iter()
        .map(|i| (i.id, i.current_release))
        .collect();
    let client = reqwest::Client::builder()
        .user_agent(concat!("kbgap/", env!("CARGO_PKG_VERSION")))
        .timeout(std::time::Duration::from_secs(120))
        .build()?;
    let bar = output::progress(0, "downloading", ctx.quiet);
    let docs = kbgap_catalog::sync::fetch_newer(&client, base_url, &stored, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .await
    .context("sync failed; the stored catalog is unchanged")?;
    bar.finish_and_clear();
    if docs.is_empty() {
        println!("the catalog is up to date ({} documents)", stored.len());
        return Ok(());
    }
    let outcomes = store
        .import_documents(docs)
        .await
        .context("sync failed; the stored catalog is unchanged")?;
    report_outcomes(&outcomes);
    Ok(())
}

/// What `catalog stats --format json` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    documents: usize,
    newest_document: Option<String>,
    newest_title: Option<String>,
    newest_release: Option<String>,
    newest_age_days: Option<i64>,
    products: usize,
    product_names: usize,
    kbs: usize,
    cves: usize,
    advisories: usize,
    fixes: usize,
    warnings: Vec<String>,
}

impl Stats {
    pub fn of(cat: &Catalog) -> Self {
        let newest = cat.newest_document();
        let names: std::collections::HashSet<&str> = cat
            .products()
            .iter()
            .map(|p| p.normalized.as_str())
            .collect();
        Stats {
            documents: cat.documents().len(),
            newest_document: newest.map(|d| d.id.clone()),
            newest_title: newest.map(|d| d.title.clone()),
            newest_release: newest.map(|d| d.initial_release.clone()),
            newest_age_days: newest.and_then(|d| age_days(&d.initial_release)),
            products: cat.products().len(),
            product_names: names.len(),
            kbs: cat.kbs().len(),
            cves: cat.cve_count(),
            advisories: cat.vulns().len() - cat.cve_count(),
            fixes: cat.fix_count(),
            warnings: cat
                .warnings()
                .iter()
                .map(|w| format!("{}: {}", w.document, w.message))
                .collect(),
        }
    }
}

/// Days since a `YYYY-MM-DDTHH:MM:SS` date.
pub fn age_days(date: &str) -> Option<i64> {
    let d = chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S").ok()?;
    Some((chrono::Utc::now().naive_utc() - d).num_days())
}

pub async fn stats(ctx: &Context, format: StatsFormat) -> Result<()> {
    let store = ctx.open_store().await?;
    let cat = ctx.catalog(store.as_ref()).await?;
    let s = Stats::of(&cat);
    match format {
        StatsFormat::Json => println!("{}", serde_json::to_string_pretty(&s)?),
        StatsFormat::Table => {
            let newest = match (&s.newest_document, &s.newest_title, s.newest_age_days) {
                (Some(id), Some(t), Some(age)) => format!("{id} ({t}), {age} days old"),
                _ => "none".into(),
            };
            print!(
                "{}",
                output::pairs(&[
                    ("store", store.describe()),
                    ("documents", s.documents.to_string()),
                    ("newest document", newest),
                    (
                        "products",
                        format!("{} ({} distinct names)", s.products, s.product_names)
                    ),
                    ("KBs", s.kbs.to_string()),
                    (
                        "CVEs",
                        format!("{} (plus {} advisories)", s.cves, s.advisories)
                    ),
                    ("fixes", format!("{} (CVE × KB × product)", s.fixes)),
                    ("data warnings", s.warnings.len().to_string()),
                ])
            );
        }
    }
    Ok(())
}

/// Used by `scan` to warn when the catalog is old.
pub fn staleness_warning(cat: &Catalog) -> Option<String> {
    let newest = cat.newest_document()?;
    let age = age_days(&newest.initial_release)?;
    (age > 60).then(|| {
        format!(
            "the catalog's newest document ({}) is {age} days old; run `kbgap catalog sync` to update it",
            newest.id
        )
    })
}
