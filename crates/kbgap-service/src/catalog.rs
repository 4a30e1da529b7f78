//! Loading the compiled catalog from a store: what every command and the server start with.
//!
//! On a store with no documents the bundled ones are imported first (and CISA's bundled KEV
//! catalog when none is stored), so a fresh install answers offline. Compiling every stored
//! document takes about a second; a sealed snapshot ([`crate::cache`]) in the cache folder,
//! keyed by the stored documents' revisions and the KEV release, brings later loads to
//! milliseconds.

use std::path::{Path, PathBuf};
use std::time::Instant;

use kbgap_catalog::CatalogError;
use kbgap_core::catalog::Catalog;
use kbgap_core::{Document, DocumentInfo, Kev};
use kbgap_store::{Store, StoreError};
use sha2::{Digest, Sha256};

use crate::cache::{CacheError, seal, unseal};
use crate::private;

/// Why the catalog could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bundled document or the bundled KEV catalog could not be read (a broken build).
    #[error(transparent)]
    Bundled(#[from] CatalogError),
}

/// What a load tells the person waiting for it. Every method has a silent default, so a
/// server or a test passes [`Silent`].
pub trait LoadProgress: Sync {
    /// The bundled documents are being imported into `store`.
    fn importing_bundled(&self, _documents: usize, _store: &str) {}
    /// One bundled document was parsed.
    fn parsed_one(&self) {}
    /// Every bundled document was parsed.
    fn parsed_all(&self) {}
    /// The stored documents were written by an older kbgap and are imported again.
    fn reimporting(&self, _what: &str) {}
}

/// No progress reports.
pub struct Silent;

impl LoadProgress for Silent {}

/// Loads catalogs from one store, caching compiled snapshots in one folder.
pub struct CatalogLoader<'a> {
    store: &'a dyn Store,
    cache_dir: PathBuf,
    progress: &'a dyn LoadProgress,
}

impl<'a> CatalogLoader<'a> {
    /// A loader for `store`, caching in `cache_dir` (created private when missing).
    pub fn new(store: &'a dyn Store, cache_dir: &Path, progress: &'a dyn LoadProgress) -> Self {
        Self {
            store,
            cache_dir: cache_dir.to_owned(),
            progress,
        }
    }

    /// The compiled catalog, with the stored KEV catalog applied.
    pub async fn load(&self) -> Result<Catalog, LoadError> {
        let mut infos = self.store.catalog_infos().await?;
        if infos.is_empty() {
            self.import_bundled().await?;
            infos = self.store.catalog_infos().await?;
        }
        let kev = match self.store.kev().await? {
            Some(kev) => kev,
            None => self.import_bundled_kev().await?,
        };
        let cache = (self.cache_dir).join(format!("catalog-{}.bin", catalog_key(&infos, &kev)));
        if let Some(cat) = read_cache(&cache) {
            return Ok(cat);
        }
        let started = Instant::now();
        let docs = match self.store.catalog_documents().await {
            Err(StoreError::OldFormat { what, .. }) => {
                self.progress.reimporting(&what);
                self.import_bundled().await?;
                self.store.catalog_documents().await?
            }
            docs => docs?,
        };
        let mut cat = Catalog::compile(&docs);
        cat.apply_kev(&kev);
        tracing::debug!(documents = docs.len(), elapsed = ?started.elapsed(), "compiled catalog");
        if let Err(e) = write_cache(&cache, seal(cat.to_snapshot())) {
            tracing::warn!("could not write the catalog cache {}: {e}", cache.display());
        }
        Ok(cat)
    }

    /// Stores the KEV catalog built into the binary, and gives it back.
    pub async fn import_bundled_kev(&self) -> Result<Kev, LoadError> {
        let kev = kbgap_catalog::kev::bundled()?;
        self.store.put_kev(&kev).await?;
        Ok(kev)
    }

    /// Imports the documents built into the binary (parsed on every core).
    pub async fn import_bundled(&self) -> Result<(), LoadError> {
        let files = kbgap_catalog::bundled::files();
        (self.progress).importing_bundled(files.len(), &self.store.describe());
        let docs = parse_parallel(files.len(), |i| {
            let (name, bytes) = files[i];
            let doc = kbgap_catalog::read_bytes(bytes, name);
            self.progress.parsed_one();
            doc
        })?;
        self.progress.parsed_all();
        self.store.import_documents(docs).await?;
        Ok(())
    }
}

/// A cached snapshot, when one is there, sealed and of this kbgap's format.
fn read_cache(path: &Path) -> Option<Catalog> {
    let bytes = std::fs::read(path).ok()?;
    let ignored = |e: &dyn std::fmt::Display| {
        tracing::debug!("ignoring catalog cache {}: {e}", path.display());
    };
    match unseal(bytes) {
        Ok(snapshot) => match Catalog::from_snapshot(snapshot) {
            Ok(cat) => return Some(cat),
            Err(e) => ignored(&e),
        },
        Err(e @ CacheError::Checksum { .. }) => tracing::warn!(
            "the catalog cache {} is damaged ({e}); recompiling",
            path.display()
        ),
        Err(e) => ignored(&e),
    }
    None
}

/// Parses `n` documents on every core, keeping their order; the first error wins.
pub fn parse_parallel<F>(n: usize, parse: F) -> Result<Vec<Document>, CatalogError>
where
    F: Fn(usize) -> Result<Document, CatalogError> + Sync,
{
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<Result<Document, CatalogError>>> = (0..n).map(|_| None).collect();
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
        .map(|r| r.unwrap_or_else(|| unreachable!("every index is parsed")))
        .collect()
}

/// A key that changes whenever the stored documents or the KEV catalog change.
fn catalog_key(infos: &[DocumentInfo], kev: &Kev) -> String {
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
fn write_cache(path: &Path, bytes: Vec<u8>) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("cache path has no folder"))?;
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
