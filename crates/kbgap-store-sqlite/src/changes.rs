//! Following other processes' writes: the machine change sequence (see
//! `migrations/0007_machine_changes.sql`), read by a polling server, and the token signing key
//! when the store is asked to share one.

use kbgap_store::changes::{MachineChanges, Skip};
use kbgap_store::{StoreError, machines};
use sqlx::{Row, SqlitePool};

use crate::error::db;
use crate::machines::{COLUMNS, format_time, machine_from_row};

/// The machine change counter.
pub(crate) async fn seq(pool: &SqlitePool) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT seq FROM machine_changes")
        .fetch_optional(pool)
        .await
        .map_err(|e| db("reading the machine change counter", e))?
        .ok_or_else(|| StoreError::corrupt("machine changes", "the counter row is missing"))
}

/// What changed after `since`, in one read transaction (one snapshot in WAL mode).
pub(crate) async fn since(
    pool: &SqlitePool,
    since: i64,
    skip: Option<Skip>,
) -> Result<MachineChanges, StoreError> {
    let context = "reading machine changes";
    let mut tx = pool.begin().await.map_err(|e| db(context, e))?;
    let (seq, pruned): (i64, i64) =
        sqlx::query_as("SELECT seq, pruned_through FROM machine_changes")
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
         WHERE updated_seq > ?1 AND NOT (updated_seq > ?2 AND updated_seq <= ?3)
         ORDER BY updated_seq, id"
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
             WHERE seq > ?1 AND NOT (seq > ?2 AND seq <= ?3) ORDER BY seq",
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

/// Stores `offer` unless a key is stored, and gives back the stored one, in one write
/// transaction.
pub(crate) async fn shared_signing_key(
    pool: &SqlitePool,
    offer: &str,
) -> Result<String, StoreError> {
    let context = "sharing the token signing key";
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| db(context, e))?;
    sqlx::query(
        "INSERT INTO signing_key (singleton, pem, created_at) VALUES (1, ?1, ?2)
         ON CONFLICT (singleton) DO NOTHING",
    )
    .bind(offer)
    .bind(format_time(chrono::Utc::now()))
    .execute(&mut *tx)
    .await
    .map_err(|e| db(context, e))?;
    let pem: String = sqlx::query_scalar("SELECT pem FROM signing_key")
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| db(context, e))?;
    tx.commit().await.map_err(|e| db(context, e))?;
    Ok(pem)
}
