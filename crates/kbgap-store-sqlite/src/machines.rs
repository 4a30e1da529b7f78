//! Machines in SQLite.

use chrono::{DateTime, SecondsFormat, Utc};
use kbgap_core::{Device, MachineId};
use kbgap_store::changes::{MachineCommit, TOMBSTONE_RETENTION};
use kbgap_store::lifecycle;
use kbgap_store::machines::{self, ExistingMachine, Lookup, MachineRow};
use kbgap_store::{StoreError, StoredMachine, codec};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use crate::error::db;

/// Timestamps as stored: RFC 3339 UTC with six fractional digits, so text order is time order.
pub(crate) fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_time(what: &str, s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::corrupt(what, format!("timestamp {s:?}: {e}")))
}

pub(crate) const COLUMNS: &str = "id, device, first_seen, last_seen";

const INSERT: &str = "INSERT INTO machines \
    (id, computer_dns_name_lower, os_name, os_version, first_seen, last_seen, device, updated_seq)";
/// Rows written by one INSERT statement.
const ROWS_PER_STATEMENT: usize = 2_000;
/// A batch's rows from one JSON array (`?1`: `[[id, name, os name, os version, first seen,
/// device], …]`), in array order, all stamped with change number `?3`; the `WHERE` is SQLite's
/// rule for an upsert after a SELECT.
const BATCH_ROWS: &str = "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, \
    value ->> 4, ?2, value ->> 5, ?3 FROM json_each(?1) WHERE true";
/// `first_seen` is only written on insert: an existing machine keeps its own.
const UPSERT: &str = "ON CONFLICT (id) DO UPDATE SET \
    computer_dns_name_lower = excluded.computer_dns_name_lower, \
    os_name = excluded.os_name, os_version = excluded.os_version, \
    last_seen = excluded.last_seen, device = excluded.device, updated_seq = excluded.updated_seq";

pub(crate) fn machine_from_row(row: &SqliteRow) -> Result<StoredMachine, StoreError> {
    let raw_id: String = row.try_get("id").map_err(|e| db("reading a machine", e))?;
    let what = format!("machine {raw_id}");
    let get =
        |col: &str| -> Result<String, StoreError> { row.try_get(col).map_err(|e| db(&what, e)) };
    let id = machines::stored_id(&raw_id)?;
    let mut device: Device = codec::decode_device(&raw_id, &get("device")?)?;
    device.id = Some(id.clone());
    Ok(StoredMachine {
        device,
        first_seen: parse_time(&what, &get("first_seen")?)?,
        last_seen: parse_time(&what, &get("last_seen")?)?,
        id,
    })
}

/// Stores a batch of reports in one write transaction (see
/// [`kbgap_store::machines::plan_upsert`] for the identity rules), and says where it falls in
/// the change sequence: the batch's rows carry one change number, taken here rather than one a
/// row by the triggers of `migrations/0007_machine_changes.sql`.
pub(crate) async fn upsert(
    pool: &SqlitePool,
    devices: Vec<Device>,
    now: DateTime<Utc>,
) -> Result<MachineCommit, StoreError> {
    let context = "storing machines";
    let keys = machines::lookup_keys(&devices);
    let json =
        |v: &Vec<String>| serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()));
    let (ids, names) = (json(&keys.ids)?, json(&keys.name_keys)?);
    // IMMEDIATE: the identity decisions rest on rows no other writer can change before commit.
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| db(context, e))?;
    let before = counter(&mut tx, context).await?;
    if devices.is_empty() {
        return Ok(MachineCommit {
            machines: Vec::new(),
            before,
            seq: before,
        });
    }
    let rows = sqlx::query(
        "SELECT id, computer_dns_name_lower, first_seen FROM machines WHERE id IN (SELECT value FROM json_each(?1))
         UNION
         SELECT id, computer_dns_name_lower, first_seen FROM machines
           WHERE computer_dns_name_lower IN (SELECT value FROM json_each(?2))",
    )
    .bind(ids)
    .bind(names)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| db(context, e))?;
    let existing = rows
        .iter()
        .map(|row| {
            let id: String = row.try_get("id").map_err(|e| db(context, e))?;
            let first_seen: String = row.try_get("first_seen").map_err(|e| db(context, e))?;
            Ok(ExistingMachine {
                first_seen: parse_time(&format!("machine {id}"), &first_seen)?,
                name_key: row
                    .try_get("computer_dns_name_lower")
                    .map_err(|e| db(context, e))?,
                id: machines::stored_id(&id)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;

    let plan = machines::plan_upsert(devices, existing, now)?;
    if !plan.delete.is_empty() {
        let ids: Vec<&str> = plan.delete.iter().map(MachineId::as_str).collect();
        sqlx::query("DELETE FROM machines WHERE id IN (SELECT value FROM json_each(?1))")
            .bind(serde_json::to_string(&ids).map_err(|e| StoreError::Backend(e.to_string()))?)
            .execute(&mut *tx)
            .await
            .map_err(|e| db(context, e))?;
    }
    let last_seen = format_time(machines::store_time(now));
    let stamp: i64 = sqlx::query_scalar("UPDATE machine_changes SET seq = seq + 1 RETURNING seq")
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| db(context, e))?;
    write_rows(&mut tx, &plan.rows, &last_seen, stamp).await?;
    let seq = counter(&mut tx, context).await?;
    tx.commit().await.map_err(|e| db(context, e))?;
    Ok(MachineCommit {
        machines: plan.stored,
        before,
        seq,
    })
}

/// The change counter as this transaction sees it.
async fn counter(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    context: &str,
) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT seq FROM machine_changes")
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| db(context, e))
}

/// Inserts or updates planned rows. A few statements for the whole batch: each statement is a
/// round trip to SQLite's thread, so one per row would cost as many as the batch has rows;
/// chunks bound the JSON built.
async fn write_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    rows: &[MachineRow],
    last_seen: &str,
    stamp: i64,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let first_seen: Vec<String> = (chunk.iter())
            .map(|r| format_time(r.machine.first_seen))
            .collect();
        let rows: Vec<[Option<&str>; 6]> = (chunk.iter().zip(&first_seen))
            .map(|(r, first_seen)| {
                [
                    Some(r.machine.id.as_str()),
                    Some(r.name_key.as_str()),
                    r.os_name.as_deref(),
                    r.os_version.as_deref(),
                    Some(first_seen.as_str()),
                    Some(r.device_json.as_str()),
                ]
            })
            .collect();
        let rows = serde_json::to_string(&rows).map_err(|e| StoreError::Backend(e.to_string()))?;
        sqlx::query(&format!("{INSERT} {BATCH_ROWS} {UPSERT}"))
            .bind(&rows)
            .bind(last_seen)
            .bind(stamp)
            .execute(&mut **tx)
            .await
            .map_err(|e| db("storing machines", e))?;
    }
    Ok(())
}

/// One machine by id or name.
pub(crate) async fn find(
    pool: &SqlitePool,
    id_or_name: &str,
) -> Result<Option<StoredMachine>, StoreError> {
    let lookup = Lookup::parse(id_or_name);
    if let Some(id) = &lookup.id {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM machines WHERE id = ?1"))
            .bind(id.as_str())
            .fetch_optional(pool)
            .await
            .map_err(|e| db("reading a machine", e))?;
        if let Some(row) = row {
            return machine_from_row(&row).map(Some);
        }
    }
    if lookup.name_key.is_empty() {
        return Ok(None);
    }
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM machines WHERE computer_dns_name_lower = ?1"
    ))
    .bind(&lookup.name_key)
    .fetch_optional(pool)
    .await
    .map_err(|e| db("reading a machine", e))?;
    row.as_ref().map(machine_from_row).transpose()
}

/// Every machine, ordered by id, to `f` as the rows are read (one statement, streamed).
pub(crate) async fn each(
    pool: &SqlitePool,
    f: &mut (dyn FnMut(StoredMachine) + Send),
) -> Result<(), StoreError> {
    use futures_util::TryStreamExt;
    let sql = format!("SELECT {COLUMNS} FROM machines ORDER BY id");
    let mut rows = sqlx::query(&sql).fetch(pool);
    while let Some(row) = rows
        .try_next()
        .await
        .map_err(|e| db("reading machines", e))?
    {
        f(machine_from_row(&row)?);
    }
    Ok(())
}

/// How many machines are stored.
pub(crate) async fn count(pool: &SqlitePool) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM machines")
        .fetch_one(pool)
        .await
        .map_err(|e| db("counting machines", e))?;
    Ok(n.unsigned_abs())
}

/// Deletes one machine.
pub(crate) async fn delete(pool: &SqlitePool, id: &MachineId) -> Result<(), StoreError> {
    let done = sqlx::query("DELETE FROM machines WHERE id = ?1")
        .bind(id.as_str())
        .execute(pool)
        .await
        .map_err(|e| db(&format!("deleting machine {id}"), e))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("machine {id}")));
    }
    Ok(())
}

/// Deletes these machines in one write transaction, or none of them (see
/// [`kbgap_store::Store::delete_machines`]).
pub(crate) async fn delete_many(pool: &SqlitePool, ids: &[MachineId]) -> Result<usize, StoreError> {
    let context = "deleting machines";
    let wanted = lifecycle::distinct_ids(ids);
    if wanted.is_empty() {
        return Ok(0);
    }
    let json: Vec<&str> = wanted.iter().map(MachineId::as_str).collect();
    let json = serde_json::to_string(&json).map_err(|e| StoreError::Backend(e.to_string()))?;
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| db(context, e))?;
    let deleted = deleted_ids(
        sqlx::query(
            "DELETE FROM machines WHERE id IN (SELECT value FROM json_each(?1)) RETURNING id",
        )
        .bind(json)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| db(context, e))?,
    )?;
    if let Some(err) = lifecycle::missing(&wanted, &deleted) {
        tx.rollback().await.map_err(|e| db(context, e))?;
        return Err(err);
    }
    tx.commit().await.map_err(|e| db(context, e))?;
    Ok(deleted.len())
}

/// Deletes every machine last seen before `not_seen_since`, in one write transaction.
pub(crate) async fn purge(
    pool: &SqlitePool,
    not_seen_since: DateTime<Utc>,
) -> Result<Vec<MachineId>, StoreError> {
    let context = "purging machines";
    // Text order is time order for stored timestamps (see `format_time`), so the index serves.
    let cut = format_time(machines::store_time(not_seen_since));
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| db(context, e))?;
    let rows = sqlx::query("DELETE FROM machines WHERE last_seen < ?1 RETURNING id")
        .bind(cut)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| db(context, e))?;
    let mut ids = deleted_ids(rows)?;
    prune_tombstones(&mut tx).await?;
    tx.commit().await.map_err(|e| db(context, e))?;
    ids.sort_unstable();
    Ok(ids)
}

/// Drops tombstones older than [`TOMBSTONE_RETENTION`], recording the newest number dropped so
/// a reader that far behind reloads everything instead.
async fn prune_tombstones(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>) -> Result<(), StoreError> {
    let context = "pruning tombstones of deleted machines";
    let age = format!("-{} seconds", TOMBSTONE_RETENTION.num_seconds());
    let newest: Option<i64> = sqlx::query_scalar(
        "SELECT max(seq) FROM machine_deletions
         WHERE deleted_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1)",
    )
    .bind(&age)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| db(context, e))?;
    let Some(newest) = newest else {
        return Ok(());
    };
    sqlx::query("DELETE FROM machine_deletions WHERE seq <= ?1")
        .bind(newest)
        .execute(&mut **tx)
        .await
        .map_err(|e| db(context, e))?;
    sqlx::query("UPDATE machine_changes SET pruned_through = max(pruned_through, ?1)")
        .bind(newest)
        .execute(&mut **tx)
        .await
        .map_err(|e| db(context, e))?;
    Ok(())
}

fn deleted_ids(rows: Vec<SqliteRow>) -> Result<Vec<MachineId>, StoreError> {
    (rows.iter())
        .map(|row| {
            let id: String = row.try_get("id").map_err(|e| db("deleting machines", e))?;
            machines::stored_id(&id)
        })
        .collect()
}
