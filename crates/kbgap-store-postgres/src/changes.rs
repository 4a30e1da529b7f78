//! Following other servers' writes: the machine change sequence (kept by the triggers of
//! `migrations/0007_machine_changes.sql`), LISTEN/NOTIFY for prompt delivery, and the shared
//! token signing key.

use std::time::Duration;

use async_trait::async_trait;
use kbgap_store::changes::{ChangeFeed, MachineChanges, Notice, Skip};
use kbgap_store::{StoreError, machines};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Row};

use crate::error::db;
use crate::machines::{COLUMNS, machine_from_row};

/// The channel machine writes are announced on (payload: the change number).
pub(crate) const MACHINES_CHANNEL: &str = "kbgap_machines";
/// The channel catalog changes are announced on (payload: the catalog generation).
pub(crate) const CATALOG_CHANNEL: &str = "kbgap_catalog";

/// The machine change counter.
pub(crate) async fn seq(pool: &PgPool) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT seq FROM machine_changes WHERE singleton")
        .fetch_optional(pool)
        .await
        .map_err(|e| db("reading the machine change counter", e))?
        .ok_or_else(|| StoreError::corrupt("machine changes", "the counter row is missing"))
}

/// What changed after `since`, as of one snapshot. Replicas read after nearly every commit,
/// so the common case is one statement (one round trip, its own snapshot): the counter, the
/// rows written and the tombstones, told apart by `kind`. Only a reader too far behind (or
/// ahead, after a restore) reads every machine instead, in a transaction of its own.
pub(crate) async fn since(
    pool: &PgPool,
    since: i64,
    skip: Option<Skip>,
) -> Result<MachineChanges, StoreError> {
    let context = "reading machine changes";
    let skip = skip.unwrap_or(Skip {
        after: 0,
        through: 0,
    });
    let rows = sqlx::query(&change_read_sql())
        .bind(since)
        .bind(skip.after)
        .bind(skip.through)
        .fetch_all(pool)
        .await
        .map_err(|e| db(context, e))?;
    let Some((counter, rows)) = rows.split_first() else {
        return Err(StoreError::corrupt(
            "machine changes",
            "the counter row is missing",
        ));
    };
    let seq: i64 = counter.try_get("n").map_err(|e| db(context, e))?;
    let full: bool = counter.try_get("full").map_err(|e| db(context, e))?;
    if full {
        return everything(pool).await;
    }
    let mut changes = MachineChanges {
        seq,
        ..MachineChanges::default()
    };
    for row in rows {
        let kind: i32 = row.try_get("kind").map_err(|e| db(context, e))?;
        let n: i64 = row.try_get("n").map_err(|e| db(context, e))?;
        if kind == KIND_STORED {
            changes.changed.push((n, machine_from_row(row)?));
        } else {
            let id: String = row.try_get("id").map_err(|e| db(context, e))?;
            changes.deleted.push((n, machines::stored_id(&id)?));
        }
    }
    Ok(changes)
}

/// The change read: `$1` the reader's number, and the numbers in (`$2`, `$3`] left out (the
/// reader's own commit). Public so that a test can check its plan.
pub fn change_read_sql() -> String {
    format!(
        "WITH c AS (
       SELECT seq, ($1 < pruned_through OR $1 > seq) AS full
       FROM machine_changes WHERE singleton)
     SELECT {KIND_COUNTER} AS kind, c.seq AS n, c.full, NULL::text COLLATE \"C\" AS id,
            NULL::text AS device, NULL::timestamptz AS first_seen, NULL::timestamptz AS last_seen
     FROM c
     UNION ALL
     SELECT {KIND_STORED}, m.updated_seq, NULL, m.id COLLATE \"C\", m.device::text,
            m.first_seen, m.last_seen
     FROM c JOIN machines m ON m.updated_seq > $1
     WHERE NOT c.full AND NOT (m.updated_seq > $2 AND m.updated_seq <= $3)
     UNION ALL
     SELECT {KIND_DELETED}, d.seq, NULL, d.id COLLATE \"C\", NULL, NULL, NULL
     FROM c JOIN machine_deletions d ON d.seq > $1
     WHERE NOT c.full AND NOT (d.seq > $2 AND d.seq <= $3)
     ORDER BY kind, n, id"
    )
}

/// What a row of the change read is (its `kind` column).
const KIND_COUNTER: i32 = 0;
const KIND_STORED: i32 = 1;
const KIND_DELETED: i32 = 2;

/// Every stored machine and the counter, in one repeatable-read snapshot: the answer to a
/// reader whose number the tombstones no longer cover.
async fn everything(pool: &PgPool) -> Result<MachineChanges, StoreError> {
    let context = "reading every machine for a reader behind the kept changes";
    let mut tx = (pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await)
        .map_err(|e| db(context, e))?;
    let seq: i64 = sqlx::query_scalar("SELECT seq FROM machine_changes WHERE singleton")
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| db(context, e))?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS}, updated_seq FROM machines ORDER BY updated_seq, id COLLATE \"C\""
    ))
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| db(context, e))?;
    let changed = (rows.iter())
        .map(|row| {
            let n: i64 = row.try_get("updated_seq").map_err(|e| db(context, e))?;
            Ok((n, machine_from_row(row)?))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    tx.commit().await.map_err(|e| db(context, e))?;
    Ok(MachineChanges {
        seq,
        changed,
        deleted: Vec::new(),
        full: true,
    })
}

/// Stores `offer` unless a key is stored, then reads the stored one. Two statements, so the
/// read sees a key another server committed while this insert waited on it.
pub(crate) async fn shared_signing_key(pool: &PgPool, offer: &str) -> Result<String, StoreError> {
    let context = "sharing the token signing key";
    sqlx::query(
        "INSERT INTO signing_key (singleton, pem) VALUES (TRUE, $1) ON CONFLICT (singleton) DO NOTHING",
    )
    .bind(offer)
    .execute(pool)
    .await
    .map_err(|e| db(context, e))?;
    sqlx::query_scalar("SELECT pem FROM signing_key WHERE singleton")
        .fetch_one(pool)
        .await
        .map_err(|e| db(context, e))
}

/// Notices from LISTEN on a connection of its own (application name `kbgap-notify pid=N`, so
/// an operator can tell which server holds it).
pub(crate) struct PgFeed {
    options: PgConnectOptions,
    listener: Option<PgListener>,
    retry: Duration,
}

/// The first wait before reconnecting a notification connection that failed; it doubles up to
/// [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(200);
const MAX_RETRY: Duration = Duration::from_secs(10);

impl PgFeed {
    /// Listens on both channels.
    pub(crate) async fn open(options: &PgConnectOptions) -> Result<Self, StoreError> {
        let options = options
            .clone()
            .application_name(&format!("kbgap-notify pid={}", std::process::id()));
        let listener = listen(&options)
            .await
            .map_err(|e| db("listening for changes", e))?;
        Ok(Self {
            options,
            listener: Some(listener),
            retry: FIRST_RETRY,
        })
    }
}

async fn listen(options: &PgConnectOptions) -> Result<PgListener, sqlx::Error> {
    // A pool of one, only there to give the listener its connection back after a loss.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone())
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.ignore_pool_close_event(true);
    listener
        .listen_all([MACHINES_CHANNEL, CATALOG_CHANNEL])
        .await?;
    Ok(listener)
}

#[async_trait]
impl ChangeFeed for PgFeed {
    async fn next(&mut self) -> Notice {
        loop {
            let Some(listener) = self.listener.as_mut() else {
                match listen(&self.options).await {
                    Ok(l) => {
                        tracing::info!("listening for changes again");
                        self.listener = Some(l);
                        self.retry = FIRST_RETRY;
                        return Notice::Resumed;
                    }
                    Err(e) => {
                        tracing::debug!("reconnecting the notification connection: {e}");
                        tokio::time::sleep(self.retry).await;
                        self.retry = (self.retry * 2).min(MAX_RETRY);
                        continue;
                    }
                }
            };
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    if let Some(notice) = parse(n.channel(), n.payload()) {
                        return notice;
                    }
                }
                // Lost, and already listening on a new connection.
                Ok(None) => {
                    tracing::warn!("the notification connection was lost; catching up");
                    return Notice::Resumed;
                }
                Err(e) => {
                    tracing::warn!("the notification connection failed ({e}); reconnecting");
                    self.listener = None;
                }
            }
        }
    }
}

fn parse(channel: &str, payload: &str) -> Option<Notice> {
    let n: i64 = payload.trim().parse().ok()?;
    match channel {
        MACHINES_CHANNEL => Some(Notice::Machines(n)),
        CATALOG_CHANNEL => Some(Notice::Catalog(n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_from_channel_and_payload() {
        assert_eq!(parse("kbgap_machines", "42"), Some(Notice::Machines(42)));
        assert_eq!(parse("kbgap_catalog", "7"), Some(Notice::Catalog(7)));
        assert_eq!(parse("kbgap_machines", "x"), None);
        assert_eq!(parse("other", "1"), None);
    }
}
