//! The PostgreSQL store, for deployments that already run PostgreSQL or want the database on
//! another host.
//!
//! Same semantics as the SQLite store — both apply the decisions of `kbgap_store::import` and
//! `kbgap_store::machines` — with PostgreSQL's own SQL where it pays: bulk machine upserts as
//! one `INSERT … SELECT FROM UNNEST(…) ON CONFLICT … DO UPDATE`, JSONB devices, and a
//! deferred uniqueness check on computer names. Migrations in `migrations/` are embedded and
//! run at connect.
#![warn(missing_docs)]

mod catalog;
mod changes;
mod error;
mod history;
mod machines;
mod scratch;
mod tokens;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kbgap_core::{Device, Document, DocumentInfo, MachineId};
use kbgap_store::changes::{ChangeFeed, MachineChanges, MachineCommit, Skip};
use kbgap_store::tokens::{IssuedToken, Revocations, RevokeOutcome};
use kbgap_store::{ImportOutcome, Store, StoreError, StoredMachine, redact_url};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use crate::changes::change_read_sql;
use crate::error::{db, scrub};
pub use crate::machines::ANALYZE_AFTER_ROWS;
pub use crate::scratch::ScratchDatabase;

/// The migrations of this backend, embedded at compile time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connections in the pool.
const POOL_SIZE: u32 = 8;

/// A [`Store`] in a PostgreSQL database. Cloning shares the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// How the pool connects; the notification listener connects the same way.
    options: PgConnectOptions,
    /// The URL with its password hidden, for `describe` and `Debug`.
    shown: String,
}

impl fmt::Debug for PgStore {
    /// Hand-written: the pool's own `Debug` would print the connect options, password included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database `url` names (`postgres://USER:PASSWORD@HOST:PORT/DB`) and
    /// brings its schema up to date. Errors never show the password.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let shown = redact_url(url);
        let fail = |what: &str, message: String| {
            StoreError::Backend(scrub(format!("{what} {shown}: {message}"), url))
        };
        let mut options =
            PgConnectOptions::from_str(url).map_err(|e| fail("parsing", e.to_string()))?;
        if options.get_application_name().is_none() {
            // Names the server in pg_stat_activity, where replicas' connections are told apart.
            options = options.application_name(&format!("kbgap pid={}", std::process::id()));
        }
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(|e| fail("connecting to", e.to_string()))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| fail("migrating", e.to_string()))?;
        Ok(Self {
            pool,
            options,
            shown,
        })
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    fn describe(&self) -> String {
        self.shown.clone()
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

    /// LISTEN on a connection of its own, reconnecting by itself (see `changes.rs`).
    async fn change_feed(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        let feed = changes::PgFeed::open(&self.options).await?;
        Ok(Some(Box::new(feed)))
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

    /// A session-level advisory lock on a connection taken out of the pool for as long as the
    /// guard lives. The guard closes that connection rather than returning it: the session
    /// ends and PostgreSQL releases the lock, even if the holder panicked mid-sync.
    #[tracing::instrument(skip_all)]
    async fn try_sync_lock(&self) -> Result<Option<kbgap_store::SyncLock>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(|e| db("sync lock", e))?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(SYNC_LOCK_KEY)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| db("sync lock", e))?;
        Ok(got.then(|| kbgap_store::SyncLock::new(ClosedOnDrop(Some(conn)))))
    }
}

/// The advisory lock key of the catalog sync (`kbgapsyn` as bytes), one per database.
const SYNC_LOCK_KEY: i64 = 0x6b62_6761_7073_796e;

/// A pooled connection closed, not returned, when dropped: it ends its session and with it
/// every session-level advisory lock it holds.
struct ClosedOnDrop(Option<sqlx::pool::PoolConnection<sqlx::Postgres>>);

impl Drop for ClosedOnDrop {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            drop(conn.detach());
        }
    }
}
