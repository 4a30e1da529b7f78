//! `catalog sync`: the store brought up to date from the MSRC API and CISA's KEV feed, run by
//! the `kbgap catalog sync` command once and by `kbgap serve --sync-interval` on a schedule.
//!
//! Each source is all or nothing and one failing does not stop the other. A running server
//! does not apply what it synced itself: the sync bumps the store's catalog generation, and the
//! reloader ([`crate::reload`]) picks it up like any other process's change, so one code path
//! swaps catalogs whoever wrote them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kbgap_catalog::sync::SyncError as FetchError;
use kbgap_core::Kev;
use kbgap_store::kev::KevOutcome;
use kbgap_store::{ImportOutcome, Store, StoreError};

/// Where the sync fetches from.
#[derive(Debug, Clone)]
pub struct SyncSources {
    /// MSRC API base URL (`https://api.msrc.microsoft.com`).
    pub msrc_url: String,
    /// CISA KEV feed URL.
    pub kev_url: String,
}

impl Default for SyncSources {
    fn default() -> Self {
        Self {
            msrc_url: kbgap_catalog::sync::DEFAULT_BASE.into(),
            kev_url: kbgap_catalog::kev::DEFAULT_URL.into(),
        }
    }
}

/// Why one source's sync changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The HTTP client could not be built (TLS setup).
    #[error("building the HTTP client: {0}")]
    Client(reqwest::Error),
    /// Fetching or reading MSRC's documents failed.
    #[error("MSRC sync failed; the stored documents are unchanged: {0}")]
    MsrcFetch(FetchError),
    /// Storing MSRC's documents failed.
    #[error("MSRC sync failed; the stored documents are unchanged: {0}")]
    MsrcStore(StoreError),
    /// Fetching or reading the KEV feed failed.
    #[error("KEV sync failed; the stored KEV catalog is unchanged: {0}")]
    KevFetch(FetchError),
    /// Storing the KEV catalog failed.
    #[error("KEV sync failed; the stored KEV catalog is unchanged: {0}")]
    KevStore(StoreError),
}

/// What the MSRC part did.
#[derive(Debug)]
pub enum MsrcOutcome {
    /// Nothing newer than the stored documents (this many).
    UpToDate(usize),
    /// Newer documents were imported.
    Imported(Vec<ImportOutcome>),
}

/// What one sync did, per source.
#[derive(Debug)]
pub struct SyncReport {
    /// The MSRC documents.
    pub msrc: Result<MsrcOutcome, SyncError>,
    /// The KEV catalog.
    pub kev: Result<(Kev, KevOutcome), SyncError>,
}

impl SyncReport {
    /// The first failure, when a source failed.
    pub fn first_error(&self) -> Option<&SyncError> {
        self.msrc.as_ref().err().or(self.kev.as_ref().err())
    }
}

/// The client every sync uses: kbgap's user agent, and timeouts so a silent server cannot
/// hold a sync (and the sync lock) for long: connect and per-read limits give up on a server
/// that accepts and never answers within [`kbgap_catalog::sync::READ_TIMEOUT`], and a
/// whole-request limit bounds one that drips.
pub fn client() -> Result<reqwest::Client, SyncError> {
    use kbgap_catalog::sync::{CONNECT_TIMEOUT, READ_TIMEOUT, REQUEST_TIMEOUT};
    reqwest::Client::builder()
        .user_agent(concat!("kbgap/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(SyncError::Client)
}

/// What a sync is doing, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncStep<'a> {
    /// Waiting for MSRC's updates index at this URL.
    MsrcIndex(&'a str),
    /// Downloading MSRC documents: `done` of `total`.
    MsrcDocuments {
        /// Documents downloaded and parsed.
        done: usize,
        /// Documents to download.
        total: usize,
    },
    /// Waiting for CISA's KEV feed at this URL (runs alongside the MSRC part).
    Kev(&'a str),
    /// The KEV part ended (either way).
    KevDone,
}

/// Syncs both sources once; `progress(done, total)` follows the MSRC downloads.
pub async fn sync_once(
    store: &dyn Store,
    client: &reqwest::Client,
    sources: &SyncSources,
    mut progress: impl FnMut(usize, usize),
) -> SyncReport {
    sync_once_observed(store, client, sources, |step| {
        if let SyncStep::MsrcDocuments { done, total } = step {
            progress(done, total);
        }
    })
    .await
}

/// [`sync_once`], telling `observe` every step. The two sources are fetched at once, so a
/// silent server costs one timeout, not two.
pub async fn sync_once_observed(
    store: &dyn Store,
    client: &reqwest::Client,
    sources: &SyncSources,
    observe: impl FnMut(SyncStep<'_>),
) -> SyncReport {
    let observe = std::sync::Mutex::new(observe);
    let tell = |step: SyncStep<'_>| {
        let mut f = observe
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(step);
    };
    // Both downloads at once; the store is written afterwards, one source at a time, so the
    // two never contend for a write transaction.
    let msrc = async {
        tell(SyncStep::MsrcIndex(&sources.msrc_url));
        fetch_msrc(store, client, &sources.msrc_url, |done, total| {
            tell(SyncStep::MsrcDocuments { done, total });
        })
        .await
    };
    let kev = async {
        tell(SyncStep::Kev(&sources.kev_url));
        let kev = kbgap_catalog::kev::fetch(client, &sources.kev_url).await;
        tell(SyncStep::KevDone);
        kev.map_err(SyncError::KevFetch)
    };
    let (msrc, kev) = tokio::join!(msrc, kev);
    let msrc = match msrc {
        Ok(Fetched::UpToDate(n)) => Ok(MsrcOutcome::UpToDate(n)),
        Ok(Fetched::Newer(docs)) => (store.import_documents(docs).await)
            .map(MsrcOutcome::Imported)
            .map_err(SyncError::MsrcStore),
        Err(e) => Err(e),
    };
    let kev = match kev {
        Ok(kev) => match store.put_kev(&kev).await {
            Ok(outcome) => Ok((kev, outcome)),
            Err(e) => Err(SyncError::KevStore(e)),
        },
        Err(e) => Err(e),
    };
    SyncReport { msrc, kev }
}

/// What MSRC has that the store lacks.
enum Fetched {
    /// Nothing newer than the stored documents (this many).
    UpToDate(usize),
    /// Every newer document, parsed.
    Newer(Vec<kbgap_core::Document>),
}

/// Fetches every MSRC document newer than the stored one (importing them is the caller's, in
/// one transaction).
async fn fetch_msrc(
    store: &dyn Store,
    client: &reqwest::Client,
    base_url: &str,
    progress: impl FnMut(usize, usize),
) -> Result<Fetched, SyncError> {
    let stored: HashMap<String, String> = (store.catalog_infos().await)
        .map_err(SyncError::MsrcStore)?
        .into_iter()
        .map(|i| (i.id, i.current_release))
        .collect();
    let docs = kbgap_catalog::sync::fetch_newer(client, base_url, &stored, progress)
        .await
        .map_err(SyncError::MsrcFetch)?;
    if docs.is_empty() {
        return Ok(Fetched::UpToDate(stored.len()));
    }
    Ok(Fetched::Newer(docs))
}

/// The first retry after a failed sync; each further failure doubles it, up to the interval.
pub const FIRST_RETRY: Duration = Duration::from_secs(60);

/// When to try again after `failures` failed rounds in a row (0: the regular interval).
pub fn next_delay(every: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return every;
    }
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
    FIRST_RETRY.saturating_mul(factor).min(every)
}

/// Syncs every `every`, starting at once, forever (spawn it). When offline each failure is
/// logged once with the next attempt's time, and retries back off exponentially
/// ([`next_delay`]). With several servers on one database only the one holding the store's
/// sync lock ([`Store::try_sync_lock`]) syncs; the others skip the round.
pub async fn run_schedule(store: Arc<dyn Store>, sources: SyncSources, every: Duration) {
    let client = match client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("scheduled catalog sync disabled: {e}");
            return;
        }
    };
    let mut failures = 0u32;
    loop {
        match round(store.as_ref(), &client, &sources).await {
            Ok(()) => failures = 0,
            Err(e) => {
                failures = failures.saturating_add(1);
                let delay = next_delay(every, failures);
                let at = chrono::Utc::now() + delay;
                tracing::warn!(
                    "scheduled catalog sync failed: {e}; next attempt at {} (in {}s)",
                    at.format("%Y-%m-%d %H:%M:%S UTC"),
                    delay.as_secs()
                );
            }
        }
        tokio::time::sleep(next_delay(every, failures)).await;
    }
}

/// One scheduled round under the sync lock; a round without the lock counts as done.
async fn round(
    store: &dyn Store,
    client: &reqwest::Client,
    sources: &SyncSources,
) -> Result<(), SyncError> {
    let Some(_lock) = store.try_sync_lock().await.map_err(SyncError::MsrcStore)? else {
        tracing::info!("catalog sync skipped: another server holds the sync lock");
        return Ok(());
    };
    let report = sync_once(store, client, sources, |_, _| {}).await;
    match &report.msrc {
        Ok(MsrcOutcome::UpToDate(n)) => tracing::info!("MSRC sync: up to date ({n} documents)"),
        Ok(MsrcOutcome::Imported(o)) => tracing::info!(
            "MSRC sync: {} documents read, {} changed the catalog",
            o.len(),
            o.iter().filter(|o| o.changed()).count()
        ),
        Err(_) => {}
    }
    if let Ok((kev, outcome)) = &report.kev {
        tracing::info!("KEV sync: {} {outcome:?}", kev.catalog_version);
    }
    match (report.msrc, report.kev) {
        (Err(e), _) | (_, Err(e)) => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_the_interval() {
        let day = Duration::from_secs(86_400);
        let delays: Vec<u64> = (0..6).map(|f| next_delay(day, f).as_secs()).collect();
        assert_eq!(delays, [86_400, 60, 120, 240, 480, 960]);
        assert_eq!(next_delay(day, 40), day, "capped by the interval");
        let short = Duration::from_secs(90);
        assert_eq!(next_delay(short, 3), short);
    }
}
