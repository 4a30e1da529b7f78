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

/// What changed after `since`, in one repeatable-read snapshot.
pub(crate) async fn since(
    pool: &PgPool,
    since: i64,
    skip: Option<Skip>,
) -> Result<MachineChanges, StoreError> {
    let context = "reading machine changes";
    let mut tx = pool.begin().await.map_err(|e| db(context, e))?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(|e| db(context, e))?;
    let (seq, pruned): (i64, i64) =
        sqlx::query_as("SELECT seq, pruned_through FROM machine_changes WHERE singleton")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| db(context, e))?;
    if since == seq {
        return Ok(MachineChanges {
            seq,
            ..MachineChanges::default()
        });
    }
    let full = since < pruned || since > seq;
    let (from, skip) = if full {
        (i64::MIN, None)
    } else {
        (since, skip)
    };
    let skip = skip.unwrap_or(Skip {
        after: 0,
        through: 0,
    });
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS}, updated_seq FROM machines
         WHERE updated_seq > $1 AND NOT (updated_seq > $2 AND updated_seq <= $3)
         ORDER BY updated_seq, id COLLATE \"C\""
    ))
    .bind(from)
    .bind(skip.after)
    .bind(skip.through)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| db(context, e))?;
    let changed = (rows.iter())
        .map(|row| {
            let n: i64 = row.try_get("updated_seq").map_err(|e| db(context, e))?;
            Ok((n, machine_from_row(row)?))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let deleted = if full {
        Vec::new()
    } else {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, seq FROM machine_deletions
             WHERE seq > $1 AND NOT (seq > $2 AND seq <= $3) ORDER BY seq",
        )
        .bind(from)
        .bind(skip.after)
        .bind(skip.through)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| db(context, e))?;
        (rows.into_iter())
            .map(|(id, n)| Ok((n, machines::stored_id(&id)?)))
            .collect::<Result<Vec<_>, StoreError>>()?
    };
    tx.commit().await.map_err(|e| db(context, e))?;
    Ok(MachineChanges {
        seq,
        changed,
        deleted,
        full,
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
