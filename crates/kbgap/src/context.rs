//! What every command needs: the data dir, the store, and the compiled catalog.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use kbgap_core::catalog::Catalog;
use kbgap_core::{Document, DocumentInfo};
use kbgap_store::{Store, StoreUrl};
use sha2::{Digest, Sha256};

use crate::cache::{CacheError, seal, unseal};
use crate::cli::Cli;
use crate::{output, private};

/// Global settings resolved from flags and environment.
#[derive(Debug, Clone)]
pub struct Context {
    /// Folder for the SQLite database, keys and caches.
    pub data_dir: PathBuf,
    /// Where the store lives.
    pub store_url: StoreUrl,
    /// No progress bars.
    pub quiet: bool,
}

/// The data dir used when none is given: `$XDG_DATA_HOME/kbgap`, else `~/.local/share/kbgap`,
/// else `./.kbgap`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("kbgap");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h).join(".local/share/kbgap");
    }
    PathBuf::from(".kbgap")
}

impl Context {
    /// Resolves the data dir and store URL.
    pub fn new(cli: &Cli) -> Result<Self> {
        let data_dir = cli.data_dir.clone().unwrap_or_else(default_data_dir);
        let store_url = StoreUrl::parse(cli.db.as_deref().unwrap_or("sqlite:"), &data_dir)?;
        Ok(Self {
            data_dir,
            store_url,
            quiet: cli.quiet,
        })
    }

    /// Opens the store named by `--db` (migrations run on open).
    pub async fn open_store(&self) -> Result<Arc<dyn Store>> {
        private::create_dir(&self.data_dir)
            .with_context(|| format!("creating the data dir {}", self.data_dir.display()))?;
        let store: Arc<dyn Store> = match &self.store_url {
            StoreUrl::Sqlite(path) => {
                let created = !path.exists();
                let store = kbgap_store_sqlite::SqliteStore::open(path)
                    .await
                    .with_context(|| format!("opening the SQLite store {}", path.display()))?;
                // SQLite gives its -wal and -shm files the database file's mode.
                if created {
                    private::restrict_file(path)
                        .with_context(|| format!("making {} private", path.display()))?;
                }
                Arc::new(store)
            }
            StoreUrl::Postgres(url) => Arc::new(
                kbgap_store_postgres::PgStore::connect(url)
                    .await
                    .with_context(|| format!("connecting to {}", self.store_url.redacted()))?,
            ),
        };
        Ok(store)
    }

    /// The compiled catalog, with CISA's KEV catalog applied. On a store with no catalog, the
    /// bundled documents (and KEV copy) are imported first; a compiled snapshot cached in the
    /// data dir makes later loads fast.
    pub async fn catalog(&self, store: &dyn Store) -> Result<Catalog> {
        let mut infos = store.catalog_infos().await?;
        if infos.is_empty() {
            self.import_bundled(store).await?;
            infos = store.catalog_infos().await?;
        }
        let kev = match store.kev().await? {
            Some(kev) => kev,
            None => self.import_bundled_kev(store).await?,
        };
        let cache = self
            .data_dir
            .join("cache")
            .join(format!("catalog-{}.bin", catalog_key(&infos, &kev)));
        if let Ok(bytes) = std::fs::read(&cache) {
            match unseal(bytes) {
                Ok(snapshot) => match Catalog::from_snapshot(snapshot) {
                    Ok(cat) => return Ok(cat),
                    Err(e) => tracing::debug!("ignoring catalog cache {}: {e}", cache.display()),
                },
                Err(e @ CacheError::Checksum { .. }) => tracing::warn!(
                    "the catalog cache {} is damaged ({e}); recompiling",
                    cache.display()
                ),
                Err(e) => tracing::debug!("ignoring catalog cache {}: {e}", cache.display()),
            }
        }
        let started = Instant::now();
        let docs = match store.catalog_documents().await {
            Err(kbgap_store::StoreError::OldFormat { what, .. }) => {
                eprintln!(
                    "kbgap: the stored catalog was written by an older kbgap ({what}); importing the bundled documents again (run `kbgap catalog sync` for newer revisions)"
                );
                self.import_bundled(store).await?;
                store.catalog_documents().await?
            }
            docs => docs?,
        };
        let mut cat = Catalog::compile(&docs);
        cat.apply_kev(&kev);
        tracing::debug!(documents = docs.len(), elapsed = ?started.elapsed(), "compiled catalog");
        if let Err(e) = write_cache(&cache, seal(cat.to_snapshot())) {
            tracing::warn!(
                "could not write the catalog cache {}: {e:#}",
                cache.display()
            );
        }
        Ok(cat)
    }

    /// Stores the KEV catalog built into the binary, and gives it back.
    pub async fn import_bundled_kev(&self, store: &dyn Store) -> Result<kbgap_core::Kev> {
        let kev = kbgap_catalog::kev::bundled()?;
        store
            .put_kev(&kev)
            .await
            .context("storing the bundled KEV catalog")?;
        Ok(kev)
    }

    /// Imports the documents built into the binary, with a progress bar.
    pub async fn import_bundled(&self, store: &dyn Store) -> Result<()> {
        let files = kbgap_catalog::bundled::files();
        if !self.quiet {
            eprintln!(
                "kbgap: importing the {} bundled MSRC documents into {}",
                files.len(),
                self.store_url.redacted(),
            );
        }
        let bar = output::progress(files.len() as u64, "parsing", self.quiet);
        let docs = parse_parallel(files.len(), |i| {
            let (name, bytes) = files[i];
            let doc = kbgap_catalog::read_bytes(bytes, name);
            bar.inc(1);
            doc
        })?;
        bar.finish_and_clear();
        store
            .import_documents(docs)
            .await
            .context("storing the bundled catalog")?;
        Ok(())
    }
}

/// Parses `n` documents on every core, keeping their order; the first error wins.
pub fn parse_parallel<F>(n: usize, parse: F) -> Result<Vec<Document>>
where
    F: Fn(usize) -> Result<Document, kbgap_catalog::CatalogError> + Sync,
{
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<Result<Document, kbgap_catalog::CatalogError>>> =
        (0..n).map(|_| None).collect();
    let results = std::sync::Mutex::new(&mut slots);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let r = parse(i);
                    if let Ok(mut slots) = results.lock() {
                        slots[i] = Some(r);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| unreachable!("every index is parsed"))
                .map_err(anyhow::Error::from)
        })
        .collect()
}

/// A key that changes whenever the stored documents or the KEV catalog change.
fn catalog_key(infos: &[DocumentInfo], kev: &kbgap_core::Kev) -> String {
    let mut h = Sha256::new();
    h.update(kev.catalog_version.as_bytes());
    h.update(b"\0");
    h.update(kev.date_released.as_bytes());
    h.update(b"\n");
    for i in infos {
        h.update(i.id.as_bytes());
        h.update(b"\0");
        h.update(i.revision.to_string().as_bytes());
        h.update(b"\0");
        h.update(i.current_release.as_bytes());
        h.update(b"\n");
    }
    hex::encode(&h.finalize()[..12])
}

/// Writes the sealed cache atomically (private to the service user) and removes stale ones.
fn write_cache(path: &Path, bytes: Vec<u8>) -> Result<()> {
    let dir = path.parent().context("cache path has no folder")?;
    private::create_dir(dir)?;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("catalog-") && e.path() != path {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    private::restrict_file(&tmp)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
