//! What every command needs: the data dir, the store, and the compiled catalog.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use kbgap_core::catalog::Catalog;
use kbgap_service::catalog::{CatalogLoader, LoadProgress};
use kbgap_service::private;
use kbgap_store::{Store, StoreUrl};

use crate::cli::Cli;
use crate::output;

/// Global settings resolved from flags and environment.
#[derive(Debug, Clone)]
pub struct Context {
    /// Folder for the SQLite database, keys and caches.
    pub data_dir: PathBuf,
    /// Where the store lives.
    pub store_url: StoreUrl,
    /// `--signing-key`: the token signing key file, when one is configured.
    pub signing_key: Option<PathBuf>,
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
            signing_key: cli.signing_key.clone(),
            quiet: cli.quiet,
        })
    }

    /// Opens the store named by `--db` (migrations run on open).
    pub async fn open_store(&self) -> Result<Arc<dyn Store>> {
        private::create_dir(&self.data_dir)
            .with_context(|| format!("creating the data dir {}", self.data_dir.display()))?;
        let store: Arc<dyn Store> = match &self.store_url {
            StoreUrl::Sqlite(path) => {
                // SQLite gives its -wal and -shm files the database file's mode, so a new
                // database starts as an empty private file before SQLite writes anything.
                match std::fs::File::create_new(path) {
                    Ok(_) => private::restrict_file(path)
                        .with_context(|| format!("making {} private", path.display()))?,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(e).with_context(|| format!("creating {}", path.display()));
                    }
                }
                let store = kbgap_store_sqlite::SqliteStore::open(path)
                    .await
                    .with_context(|| format!("opening the SQLite store {}", path.display()))?;
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

    /// The compiled catalog, with CISA's KEV catalog applied (see
    /// [`kbgap_service::catalog::CatalogLoader`]), showing progress unless `--quiet`.
    pub async fn catalog(&self, store: &dyn Store) -> Result<Catalog> {
        let progress = CliProgress::new(self.quiet);
        let cache = self.data_dir.join("cache");
        Ok(CatalogLoader::new(store, &cache, &progress).load().await?)
    }
}

/// A load's progress on the terminal: a line when the bundled documents are imported, and a
/// progress bar while they are parsed.
struct CliProgress {
    quiet: bool,
    bar: std::sync::OnceLock<indicatif::ProgressBar>,
}

impl CliProgress {
    fn new(quiet: bool) -> Self {
        Self {
            quiet,
            bar: std::sync::OnceLock::new(),
        }
    }
}

impl LoadProgress for CliProgress {
    fn importing_bundled(&self, documents: usize, store: &str) {
        if !self.quiet {
            eprintln!("kbgap: importing the {documents} bundled MSRC documents into {store}");
        }
        let _ = (self.bar).set(output::progress(documents as u64, "parsing", self.quiet));
    }
    fn parsed_one(&self) {
        if let Some(bar) = self.bar.get() {
            bar.inc(1);
        }
    }
    fn parsed_all(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
    fn reimporting(&self, what: &str) {
        eprintln!(
            "kbgap: the stored catalog was written by an older kbgap ({what}); importing the bundled documents again (run `kbgap catalog sync` for newer revisions)"
        );
    }
}
