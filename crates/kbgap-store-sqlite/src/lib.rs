//! The SQLite store (the embedded default): one file in the data directory, no server to run.
//!
//! Opened in WAL mode with `synchronous = NORMAL`: a committed transaction survives a crash or
//! `kill -9` of the process (only a power loss can take back the last commits), readers never
//! wait for the writer, and commits cost no fsync each. Writers take the lock up front
//! (`BEGIN IMMEDIATE`) and wait up to 5 s for each other (`busy_timeout`). Migrations in
//! `migrations/` are embedded and run at open.
#![warn(missing_docs)]

mod catalog;
mod changes;
mod error;
mod history;
mod machines;
mod tokens;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kbgap_core::{Device, Document, DocumentInfo, MachineId};
use kbgap_store::changes::{MachineChanges, MachineCommit, Skip};
use kbgap_store::tokens::{IssuedToken, Revocations, RevokeOutcome};
use kbgap_store::{ImportOutcome, Store, StoreError, StoredMachine};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::db;

/// The migrations of this backend, embedded at compile time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connections in the pool: SQLite has one writer at a time anyway; a few connections let
/// reads proceed beside it.
const POOL_SIZE: u32 = 4;

/// A [`Store`] in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating it and its parent directory if needed) the database at `path`, and
    /// brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                StoreError::Backend(format!("creating directory {}: {e}", parent.display()))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // SQLite's default page cache is 2 MiB; a fleet's indexes are larger, and every page
            // missed is a read on each insert. This is an upper bound, taken only as used.
            .pragma("cache_size", "-65536");
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect_with(options)
            .await
            .map_err(|e| db(&format!("opening {}", path.display()), e))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migrating {}: {e}", path.display())))?;
        Ok(Self {
            pool,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a consistent copy of the database to `dest` (`VACUUM INTO`), while the store
    /// stays in use. `dest` must not exist.
    pub async fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        let dest_text = dest.to_str().ok_or_else(|| {
            StoreError::Invalid(format!("backup path {} is not UTF-8", dest.display()))
        })?;
        sqlx::query("VACUUM INTO ?1")
            .bind(dest_text)
            .execute(&self.pool)
            .await
            .map_err(|e| db(&format!("backing up to {}", dest.display()), e))?;
        Ok(())
    }

    /// Closes every connection, checkpointing the write-ahead log into the database file.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    #[tracing::instrument(skip_all)]
    async fn health(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(|e| db("health check", e))?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn catalog_infos(&self) -> Result<Vec<DocumentInfo>, StoreError> {
        catalog::infos(&self.pool).await
    }

    #[tracing::instrument(skip_all)]
    async fn catalog_documents(&self) -> Result<Vec<Document>, StoreError> {
        catalog::documents(&self.pool).await
    }

    #[tracing::instrument(skip_all, fields(documents = docs.len()))]
    async fn import_documents(
        &self,
        docs: Vec<Document>,
    ) -> Result<Vec<ImportOutcome>, StoreError> {
        catalog::import(&self.pool, docs).await
    }

    #[tracing::instrument(skip_all)]
    async fn catalog_generation(&self) -> Result<i64, StoreError> {
        catalog::generation(&self.pool).await
    }

    async fn kev(&self) -> Result<Option<kbgap_core::Kev>, StoreError> {
        catalog::kev(&self.pool).await
    }

    async fn put_kev(
        &self,
        kev: &kbgap_core::Kev,
    ) -> Result<kbgap_store::kev::KevOutcome, StoreError> {
        catalog::put_kev(&self.pool, kev).await
    }

    #[tracing::instrument(skip_all, fields(machines = devices.len()))]
    async fn upsert_machines(
        &self,
        devices: Vec<Device>,
        now: DateTime<Utc>,
    ) -> Result<Vec<StoredMachine>, StoreError> {
        Ok(machines::upsert(&self.pool, devices, now).await?.machines)
    }

    #[tracing::instrument(skip_all, fields(machines = devices.len()))]
    async fn upsert_machines_tracked(
        &self,
        devices: Vec<Device>,
        now: DateTime<Utc>,
    ) -> Result<MachineCommit, StoreError> {
        machines::upsert(&self.pool, devices, now).await
    }

    async fn machine_seq(&self) -> Result<i64, StoreError> {
        changes::seq(&self.pool).await
    }

    #[tracing::instrument(skip_all, fields(since))]
    async fn machine_changes(
        &self,
        since: i64,
        skip: Option<Skip>,
    ) -> Result<MachineChanges, StoreError> {
        changes::since(&self.pool, since, skip).await
    }

    async fn shared_signing_key(&self, offer: &str) -> Result<String, StoreError> {
        changes::shared_signing_key(&self.pool, offer).await
    }

    #[tracing::instrument(skip_all)]
    async fn machine(&self, id_or_name: &str) -> Result<Option<StoredMachine>, StoreError> {
        machines::find(&self.pool, id_or_name).await
    }

    #[tracing::instrument(skip_all)]
    async fn each_machine(
        &self,
        each: &mut (dyn FnMut(StoredMachine) + Send),
    ) -> Result<(), StoreError> {
        machines::each(&self.pool, each).await
    }

    #[tracing::instrument(skip_all)]
    async fn machine_count(&self) -> Result<u64, StoreError> {
        machines::count(&self.pool).await
    }

    #[tracing::instrument(skip_all)]
    async fn delete_machine(&self, id: &MachineId) -> Result<(), StoreError> {
        machines::delete(&self.pool, id).await
    }

    #[tracing::instrument(skip_all, fields(machines = ids.len()))]
    async fn delete_machines(&self, ids: &[MachineId]) -> Result<usize, StoreError> {
        machines::delete_many(&self.pool, ids).await
    }

    #[tracing::instrument(skip_all, fields(%not_seen_since))]
    async fn purge_machines(
        &self,
        not_seen_since: DateTime<Utc>,
    ) -> Result<Vec<MachineId>, StoreError> {
        machines::purge(&self.pool, not_seen_since).await
    }

    #[tracing::instrument(skip_all, fields(day = %snapshot.day))]
    async fn put_fleet_snapshot(
        &self,
        snapshot: &kbgap_store::FleetSnapshot,
    ) -> Result<bool, StoreError> {
        history::put(&self.pool, snapshot).await
    }

    #[tracing::instrument(skip_all, fields(%from, %to))]
    async fn fleet_snapshots(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<kbgap_store::FleetSnapshot>, StoreError> {
        history::range(&self.pool, from, to).await
    }

    #[tracing::instrument(skip_all)]
    async fn record_token(&self, token: &IssuedToken) -> Result<(), StoreError> {
        tokens::record(&self.pool, token).await
    }

    #[tracing::instrument(skip_all)]
    async fn issued_tokens(&self) -> Result<Vec<IssuedToken>, StoreError> {
        tokens::all(&self.pool).await
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_token(
        &self,
        jti: &str,
        now: DateTime<Utc>,
    ) -> Result<RevokeOutcome, StoreError> {
        tokens::revoke(&self.pool, jti, now).await
    }

    #[tracing::instrument(skip_all, fields(%cutoff))]
    async fn revoke_issued_before(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        tokens::revoke_before(&self.pool, cutoff, now).await
    }

    async fn revocation_generation(&self) -> Result<i64, StoreError> {
        tokens::generation(&self.pool).await
    }

    #[tracing::instrument(skip_all)]
    async fn revocations(&self, now: DateTime<Utc>) -> Result<Revocations, StoreError> {
        tokens::revocations(&self.pool, now).await
    }

    /// Always granted: a SQLite database has one server writing it, and its transactions
    /// already serialize writers.
    async fn try_sync_lock(&self) -> Result<Option<kbgap_store::SyncLock>, StoreError> {
        Ok(Some(kbgap_store::SyncLock::new(())))
    }
}
