//! Keeping a running server's catalog current: another process's `catalog import` or `catalog
//! sync` bumps the store's catalog generation ([`Store::catalog_generation`]); the reloader polls
//! it and, on a change, loads the new catalog and swaps it into the fleet service.
//!
//! Polling works the same on every backend and costs one tiny query per interval; a load that
//! fails keeps the old catalog (answers from a known catalog beat no answers) and is retried at
//! the next poll.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kbgap_core::catalog::Catalog;
use kbgap_store::{Store, StoreError};

use crate::catalog::{CatalogLoader, LoadError, Silent};
use crate::webhook::{Webhook, events};
use crate::{FleetService, ServiceError};

/// The default poll interval of `kbgap serve --catalog-poll`.
pub const DEFAULT_POLL: Duration = Duration::from_secs(10);

/// Why a reload did not happen; the old catalog stays.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The store's catalog generation could not be read.
    #[error("reading the catalog generation: {0}")]
    Generation(#[source] StoreError),
    /// The new catalog could not be loaded.
    #[error("loading catalog generation {generation}: {source}")]
    Load {
        /// The generation that failed to load.
        generation: i64,
        /// Why.
        #[source]
        source: LoadError,
    },
    /// The load or the swap task failed.
    #[error("reloading catalog generation {generation}: {source}")]
    Task {
        /// The generation being loaded.
        generation: i64,
        /// Why.
        #[source]
        source: ServiceError,
    },
}

/// What one reload did.
#[derive(Debug, Clone)]
pub struct Reloaded {
    /// The store's catalog generation now served.
    pub generation: i64,
    /// Documents in the new catalog.
    pub documents: usize,
    /// Its newest document's id.
    pub newest: Option<String>,
    /// Machines re-evaluated.
    pub machines: usize,
    /// Load plus swap time.
    pub took: Duration,
}

/// Watches one store's catalog generation for one fleet service.
pub struct Reloader {
    fleet: Arc<FleetService>,
    cache_dir: PathBuf,
    webhook: Option<Webhook>,
}

impl Reloader {
    /// A reloader for `fleet`, caching compiled catalogs in `cache_dir` like every load.
    pub fn new(fleet: Arc<FleetService>, cache_dir: PathBuf) -> Self {
        Self {
            fleet,
            cache_dir,
            webhook: None,
        }
    }

    /// Tells `webhook` which KBs each reload makes machines miss (`catalog.missingKbs`).
    pub fn with_webhook(mut self, webhook: Webhook) -> Self {
        self.webhook = Some(webhook);
        self
    }

    /// Polls every `interval` forever (spawn it; it ends with the runtime). A failure is logged
    /// as a warning once per generation, then at debug level while it repeats.
    pub async fn run(self, interval: Duration) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        let mut warned: Option<String> = None;
        loop {
            ticks.tick().await;
            match self.check().await {
                Ok(Some(r)) => {
                    log_reloaded(&r);
                    warned = None;
                }
                Ok(None) => {}
                Err(e) => {
                    let msg = e.to_string();
                    if warned.as_ref() == Some(&msg) {
                        tracing::debug!("catalog reload still failing: {msg}");
                    } else {
                        tracing::warn!("catalog reload failed, keeping the current catalog: {msg}");
                        warned = Some(msg);
                    }
                }
            }
        }
    }

    /// Reloads when the stored generation differs from the served one; `None` when it does not.
    pub async fn check(&self) -> Result<Option<Reloaded>, ReloadError> {
        let store = Arc::clone(self.fleet.store());
        let generation = (store.catalog_generation().await).map_err(ReloadError::Generation)?;
        if generation == self.fleet.generation() {
            return Ok(None);
        }
        let started = Instant::now();
        let catalog = load_blocking(store, self.cache_dir.clone(), generation).await?;
        let (documents, newest) = (
            catalog.documents().len(),
            catalog.newest_document().map(|d| d.id.clone()),
        );
        let before = match &self.webhook {
            Some(_) => Some(self.fleet.with_view(events::missing_kbs).await),
            None => None,
        };
        let machines = (self.fleet.swap_catalog(catalog, generation).await)
            .map_err(|source| ReloadError::Task { generation, source })?;
        if let (Some(webhook), Some(Ok(before))) = (&self.webhook, before) {
            let kbs = self
                .fleet
                .with_view(move |v, cat| events::new_missing_kbs(v, cat, &before));
            if let Ok(kbs) = kbs.await {
                webhook.catalog_reloaded(generation, newest.clone(), kbs);
            }
        }
        Ok(Some(Reloaded {
            generation,
            documents,
            newest,
            machines,
            took: started.elapsed(),
        }))
    }
}

/// Loads (and, without a cached snapshot, compiles) the catalog on a blocking thread: compiling
/// takes about a second of CPU, which must not stall the async workers serving requests.
async fn load_blocking(
    store: Arc<dyn Store>,
    cache_dir: PathBuf,
    generation: i64,
) -> Result<Arc<Catalog>, ReloadError> {
    let handle = tokio::runtime::Handle::current();
    let task = tokio::task::spawn_blocking(move || {
        handle.block_on(CatalogLoader::new(store.as_ref(), &cache_dir, &Silent).load())
    });
    match task.await {
        Ok(Ok(cat)) => Ok(Arc::new(cat)),
        Ok(Err(source)) => Err(ReloadError::Load { generation, source }),
        Err(e) => Err(ReloadError::Task {
            generation,
            source: ServiceError::Internal(format!("the catalog load task failed: {e}")),
        }),
    }
}

/// Logs a reload at info level (also by [`crate::replica::Follower`]).
pub(crate) fn log_reloaded(r: &Reloaded) {
    tracing::info!(
        "catalog reloaded: {} documents, newest {}, generation {}, took {:?} ({} machines re-evaluated)",
        r.documents,
        r.newest.as_deref().unwrap_or("none"),
        r.generation,
        r.took,
        r.machines,
    );
}
