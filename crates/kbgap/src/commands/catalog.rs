//! `kbgap catalog import|sync|stats`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use kbgap_core::DocumentInfo;
use kbgap_core::catalog::Catalog;
use kbgap_service::sync::{MsrcOutcome, SyncSources, SyncStep};
use kbgap_store::ImportOutcome;
use kbgap_store::kev::KevOutcome;
use serde::Serialize;

use crate::cli::StatsFormat;
use crate::context::Context;
use crate::output;
use kbgap_service::catalog::parse_parallel;

/// Imports files and folders. Every document is parsed before anything is stored, and all are
/// stored in one transaction: one bad file leaves the stored catalog as it was.
pub async fn import(ctx: &Context, paths: &[PathBuf], kev: Option<&Path>) -> Result<()> {
    if let Some(file) = kev {
        import_kev(ctx, file).await?;
    }
    if paths.is_empty() {
        return Ok(());
    }
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

/// Imports a KEV file; a file that is not KEV JSON changes nothing.
async fn import_kev(ctx: &Context, file: &Path) -> Result<()> {
    let name = file.display().to_string();
    let bytes = std::fs::read(file).with_context(|| format!("{name}: cannot read"))?;
    let kev = kbgap_catalog::kev::read_kev(&bytes, &name)
        .context("the stored KEV catalog is unchanged")?;
    let store = ctx.open_store().await?;
    let outcome = store
        .put_kev(&kev)
        .await
        .context("the stored KEV catalog is unchanged")?;
    println!("{}", kev_line(&kev, &outcome));
    Ok(())
}

/// What storing a KEV catalog did, in words.
fn kev_line(kev: &kbgap_core::Kev, outcome: &KevOutcome) -> String {
    let this = format!(
        "KEV catalog {} (released {}, {} entries)",
        kev.catalog_version,
        &kev.date_released[..10.min(kev.date_released.len())],
        kev.entries.len()
    );
    match outcome {
        KevOutcome::Stored => format!("{this}: stored"),
        KevOutcome::Unchanged => format!("{this}: already stored, unchanged"),
        KevOutcome::Older {
            stored_version,
            stored_released,
        } => format!(
            "{this}: the stored KEV catalog {stored_version} (released {}) is newer; nothing changed",
            &stored_released[..10.min(stored_released.len())]
        ),
    }
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

/// Brings the store up to date from the MSRC API and CISA's KEV feed
/// ([`kbgap_service::sync`]). Each source is all or nothing, and one failing does not stop the
/// other; the command fails if either did.
pub async fn sync(ctx: &Context, base_url: &str, kev_url: &str) -> Result<()> {
    let store = ctx.open_store().await?;
    let client = kbgap_service::sync::client()?;
    let sources = SyncSources {
        msrc_url: base_url.to_owned(),
        kev_url: kev_url.to_owned(),
    };
    let mut shown = SyncDisplay::new(ctx.quiet);
    let report =
        kbgap_service::sync::sync_once_observed(store.as_ref(), &client, &sources, |step| {
            shown.step(step);
        })
        .await;
    let bar = shown.bar;
    bar.finish_and_clear();
    match &report.msrc {
        Ok(MsrcOutcome::UpToDate(n)) => {
            println!("the MSRC documents are up to date ({n} documents)")
        }
        Ok(MsrcOutcome::Imported(outcomes)) => report_outcomes(outcomes),
        Err(_) => {}
    }
    if let Ok((kev, outcome)) = &report.kev {
        println!("{}", kev_line(kev, outcome));
    }
    match (report.msrc, report.kev) {
        (Ok(_), Ok(_)) => Ok(()),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e.into()),
        (Err(m), Err(k)) => {
            eprintln!("error: {k}");
            Err(m.into())
        }
    }
}

/// `catalog sync`'s one progress line: what it waits for (the MSRC index, the documents, the KEV
/// feed) and for how long, so a slow or silent server is visible as such.
struct SyncDisplay {
    bar: indicatif::ProgressBar,
    msrc: String,
    kev: String,
    counting: bool,
}

impl SyncDisplay {
    fn new(quiet: bool) -> Self {
        Self {
            bar: output::spinner("starting the sync", quiet),
            msrc: String::new(),
            kev: String::new(),
            counting: false,
        }
    }

    fn step(&mut self, step: SyncStep<'_>) {
        match step {
            SyncStep::MsrcIndex(url) => {
                self.msrc = format!("waiting for the MSRC updates index from {url}");
            }
            SyncStep::MsrcDocuments { done, total } => {
                if !self.counting {
                    output::to_bar(&self.bar, total as u64);
                    self.counting = true;
                }
                self.bar.set_position(done as u64);
                self.msrc = format!("downloading {} from MSRC", output::count(total, "document"));
            }
            SyncStep::Kev(url) => self.kev = format!("waiting for the KEV feed from {url}"),
            SyncStep::KevDone => self.kev = "KEV feed read".into(),
        }
        let msg = [&self.msrc, &self.kev]
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("; ");
        self.bar.set_message(msg);
    }
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
    kev_version: Option<String>,
    kev_released: Option<String>,
    kev_age_days: Option<i64>,
    kev_entries: Option<usize>,
    kev_in_catalog: Option<usize>,
    exploited_cves: usize,
    warnings: Vec<String>,
}

impl Stats {
    pub fn of(cat: &Catalog) -> Self {
        let newest = cat.newest_document();
        let kev = cat.kev();
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
            kev_version: kev.map(|k| k.catalog_version.clone()),
            kev_released: kev.map(|k| k.date_released.clone()),
            kev_age_days: kev.and_then(|k| age_days(&k.date_released)),
            kev_entries: kev.map(|k| k.entries),
            kev_in_catalog: kev.map(|k| k.in_catalog),
            exploited_cves: (cat.vulns().iter())
                .filter(|v| v.id.is_cve() && v.exploited())
                .count(),
            warnings: cat
                .warnings()
                .iter()
                .map(|w| format!("{}: {}", w.document, w.message))
                .collect(),
        }
    }
}

pub use kbgap_service::freshness::{age_days, staleness_warning};

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
                    ("KEV catalog", kev_summary(&s)),
                    (
                        "exploited CVEs",
                        format!("{} (MSRC Exploited:Yes or in KEV)", s.exploited_cves)
                    ),
                    ("data warnings", s.warnings.len().to_string()),
                ])
            );
        }
    }
    Ok(())
}

/// "2025.08.25, released 2025-08-25, 464 days old; 1404 entries, 312 fixed by catalog KBs".
fn kev_summary(s: &Stats) -> String {
    match (
        &s.kev_version,
        &s.kev_released,
        s.kev_entries,
        s.kev_in_catalog,
    ) {
        (Some(v), Some(r), Some(n), Some(inside)) => format!(
            "{v}, released {}, {} days old; {n} entries, {inside} fixed by catalog KBs",
            &r[..10.min(r.len())],
            s.kev_age_days.unwrap_or(0)
        ),
        _ => "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sync_line_says_what_it_waits_for() {
        let mut d = SyncDisplay::new(true);
        d.step(SyncStep::MsrcIndex("http://h"));
        d.step(SyncStep::Kev("http://k/kev.json"));
        assert_eq!(
            d.bar.message(),
            "waiting for the MSRC updates index from http://h; waiting for the KEV feed from http://k/kev.json"
        );
        d.step(SyncStep::MsrcDocuments { done: 0, total: 3 });
        d.step(SyncStep::KevDone);
        assert_eq!(
            d.bar.message(),
            "downloading 3 documents from MSRC; KEV feed read"
        );
    }
}
