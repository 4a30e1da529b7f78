//! How old the catalog and the KEV catalog are: what `kbgap scan` warns about, what `serve`
//! logs at start and what `/healthz` reports, from one definition so they cannot disagree.

use kbgap_core::catalog::Catalog;

/// A catalog whose newest document is older than this many days is stale: MSRC publishes
/// monthly, so two missed Patch Tuesdays mean answers that miss real updates.
pub const STALE_AFTER_DAYS: i64 = 60;

/// The catalog's age and size, for health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogAge {
    /// Documents in the catalog.
    pub documents: usize,
    /// The newest document's id (`2026-Jan`), when there is one.
    pub newest: Option<String>,
    /// Days since the newest document's initial release.
    pub age_days: Option<i64>,
    /// Whether `age_days` is past [`STALE_AFTER_DAYS`] (or there is no document at all).
    pub stale: bool,
}

/// The KEV catalog's release and age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KevAge {
    /// CISA's `catalogVersion`.
    pub version: String,
    /// Days since its `dateReleased`.
    pub age_days: Option<i64>,
}

impl CatalogAge {
    /// The age of `cat` today.
    pub fn of(cat: &Catalog) -> Self {
        let newest = cat.newest_document();
        let age_days = newest.and_then(|d| age_days(&d.initial_release));
        Self {
            documents: cat.documents().len(),
            newest: newest.map(|d| d.id.clone()),
            age_days,
            stale: age_days.is_none_or(|a| a > STALE_AFTER_DAYS),
        }
    }
}

impl KevAge {
    /// The age of the KEV catalog applied to `cat`, when one is.
    pub fn of(cat: &Catalog) -> Option<Self> {
        cat.kev().map(|k| Self {
            version: k.catalog_version.clone(),
            age_days: age_days(&k.date_released),
        })
    }
}

/// Days since a `YYYY-MM-DDTHH:MM:SS` date.
pub fn age_days(date: &str) -> Option<i64> {
    let d = chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S").ok()?;
    Some((chrono::Utc::now().naive_utc() - d).num_days())
}

/// The warning `kbgap scan` prints and `kbgap serve` logs when the catalog is stale.
pub fn staleness_warning(cat: &Catalog) -> Option<String> {
    let newest = cat.newest_document()?;
    let age = age_days(&newest.initial_release)?;
    (age > STALE_AFTER_DAYS).then(|| {
        format!(
            "the catalog's newest document ({}) is {age} days old; run `kbgap catalog sync` to update it",
            newest.id
        )
    })
}
