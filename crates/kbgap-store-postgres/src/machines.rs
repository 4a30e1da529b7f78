//! Machines in PostgreSQL.

use chrono::{DateTime, Utc};
use kbgap_core::{Device, MachineId};
use kbgap_store::changes::{MachineCommit, TOMBSTONE_RETENTION};
use kbgap_store::lifecycle;
use kbgap_store::machines::{self, ExistingMachine, Lookup, MachineRow};
use kbgap_store::{StoreError, StoredMachine, codec};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::error::db;

/// Key of the transaction-scoped advisory lock that makes machine batches take turns (`kbgap`
/// in ASCII): identity decisions read rows and then write, and must not interleave.
const MACHINES_LOCK: i64 = 0x6b_62_67_61_70;

/// Rows per `INSERT … SELECT FROM UNNEST(…)` statement: bounds the size of one statement's
/// arrays for very large batches.
const ROWS_PER_STATEMENT: usize = 2000;

/// A batch writing at least this many rows (a bulk import, not a server's group commit) is
/// followed by `ANALYZE machines`. Until the table has statistics, PostgreSQL plans the change
/// read every replica runs after each commit (`updated_seq > $1`) as a sequential scan of the
/// whole table: right after `machines import` of a million machines, ingest on two replicas
/// fell to 144 reports/s until autovacuum got round to it, against 3,345 analyzed (same load).
pub const ANALYZE_AFTER_ROWS: usize = 10_000;

pub(crate) const COLUMNS: &str = "id, device::text AS device, first_seen, last_seen";

pub(crate) fn machine_from_row(row: &PgRow) -> Result<StoredMachine, StoreError> {
    let raw_id: String = row.try_get("id").map_err(|e| db("reading a machine", e))?;
    let what = format!("machine {raw_id}");
    let id = machines::stored_id(&raw_id)?;
    let json: String = row.try_get("device").map_err(|e| db(&what, e))?;
    let mut device: Device = codec::decode_device(&raw_id, &json)?;
    device.id = Some(id.clone());
    Ok(StoredMachine {
        device,
        first_seen: row.try_get("first_seen").map_err(|e| db(&what, e))?,
        last_seen: row.try_get("last_seen").map_err(|e| db(&what, e))?,
        id,
    })
}

/// Stores a batch of reports in one transaction (see
/// [`kbgap_store::machines::plan_upsert`] for the identity rules), and says which change
/// number it took (see `migrations/0007_machine_changes.sql`).
pub(crate) async fn upsert(
    pool: &PgPool,
    devices: Vec<Device>,
    now: DateTime<Utc>,
) -> Result<MachineCommit, StoreError> {
    let context = "storing machines";
    if devices.is_empty() {
        let seq = crate::changes::seq(pool).await?;
        return Ok(MachineCommit {
            machines: Vec::new(),
            before: seq,
            seq,
        });
    }
    let keys = machines::lookup_keys(&devices);
    let mut tx = locked(pool, context).await?;
    // The transaction's change number comes back with the machines it may touch (one row of
    // its own, with no id): the lock is held from BEGIN to COMMIT, across every replica, so
    // each round trip saved inside it is saved for all of them.
    let rows = sqlx::query(
        "SELECT NULL::text AS id, NULL::text AS computer_dns_name_lower,
                NULL::timestamptz AS first_seen, kbgap_machine_seq() AS seq
         UNION ALL
         SELECT id, computer_dns_name_lower, first_seen, NULL FROM (
           SELECT id, computer_dns_name_lower, first_seen FROM machines WHERE id = ANY($1)
           UNION
           SELECT id, computer_dns_name_lower, first_seen FROM machines WHERE computer_dns_name_lower = ANY($2)
         ) found",
    )
    .bind(&keys.ids)
    .bind(&keys.name_keys)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| db(context, e))?;
    let mut seq = None;
    let mut existing = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(id) = row
            .try_get::<Option<String>, _>("id")
            .map_err(|e| db(context, e))?
        else {
            seq = row.try_get("seq").map_err(|e| db(context, e))?;
            continue;
        };
        existing.push(ExistingMachine {
            first_seen: row.try_get("first_seen").map_err(|e| db(context, e))?,
            name_key: row
                .try_get("computer_dns_name_lower")
                .map_err(|e| db(context, e))?,
            id: machines::stored_id(&id)?,
        });
    }
    let seq = seq.ok_or_else(|| {
        StoreError::Backend(format!("{context}: the change number did not come back"))
    })?;

    let plan = machines::plan_upsert(devices, existing, now)?;
    if !plan.delete.is_empty() {
        let ids: Vec<&str> = plan.delete.iter().map(MachineId::as_str).collect();
        sqlx::query("DELETE FROM machines WHERE id = ANY($1)")
            .bind(ids)
            .execute(&mut *tx)
            .await
            .map_err(|e| db(context, e))?;
    }
    for chunk in plan.rows.chunks(ROWS_PER_STATEMENT) {
        write_rows(&mut tx, chunk, machines::store_time(now)).await?;
    }
    tx.commit().await.map_err(|e| db(context, e))?;
    if plan.rows.len() >= ANALYZE_AFTER_ROWS {
        analyze(pool).await;
    }
    Ok(MachineCommit {
        machines: plan.stored,
        // One number per transaction, taken in turn: the one before is this one's predecessor.
        before: seq - 1,
        seq,
    })
}

/// Gives the planner statistics of the machines as they now are. The batch is committed
/// already, so a failure (a role that does not own the table) is only logged: autovacuum
/// analyzes the table in time anyway.
async fn analyze(pool: &PgPool) {
    let started = std::time::Instant::now();
    match sqlx::query("ANALYZE machines").execute(pool).await {
        Ok(_) => tracing::debug!(took = ?started.elapsed(), "machines analyzed after a bulk write"),
        Err(e) => tracing::warn!(
            "ANALYZE machines after a bulk write failed ({e}); change reads may be slow until autovacuum analyzes the table"
        ),
    }
}

/// One multi-row upsert from parallel arrays, in the plan's order. `first_seen` is only
/// written on insert: an existing machine keeps its own.
async fn write_rows(
    tx: &mut Transaction<'static, Postgres>,
    rows: &[MachineRow],
    last_seen: DateTime<Utc>,
) -> Result<(), StoreError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.machine.id.as_str()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r.name_key.as_str()).collect();
    let os_names: Vec<Option<&str>> = rows.iter().map(|r| r.os_name.as_deref()).collect();
    let os_versions: Vec<Option<&str>> = rows.iter().map(|r| r.os_version.as_deref()).collect();
    let first_seen: Vec<DateTime<Utc>> = rows.iter().map(|r| r.machine.first_seen).collect();
    let devices: Vec<&str> = rows.iter().map(|r| r.device_json.as_str()).collect();
    sqlx::query(
        "INSERT INTO machines (id, computer_dns_name_lower, os_name, os_version, first_seen, last_seen, device)
         SELECT u.id, u.name, u.os_name, u.os_version, u.first_seen, $6, u.device::jsonb
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $7::text[])
              WITH ORDINALITY AS u(id, name, os_name, os_version, first_seen, device, ord)
         ORDER BY u.ord
         ON CONFLICT (id) DO UPDATE SET
           computer_dns_name_lower = EXCLUDED.computer_dns_name_lower,
           os_name = EXCLUDED.os_name, os_version = EXCLUDED.os_version,
           last_seen = EXCLUDED.last_seen, device = EXCLUDED.device",
    )
    .bind(ids)
    .bind(names)
    .bind(os_names)
    .bind(os_versions)
    .bind(first_seen)
    .bind(last_seen)
    .bind(devices)
    .execute(&mut **tx)
    .await
    .map_err(|e| db(&format!("storing {} machines", rows.len()), e))?;
    Ok(())
}

/// One machine by id or name.
pub(crate) async fn find(
    pool: &PgPool,
    id_or_name: &str,
) -> Result<Option<StoredMachine>, StoreError> {
    let lookup = Lookup::parse(id_or_name);
    if let Some(id) = &lookup.id {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM machines WHERE id = $1"))
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
        "SELECT {COLUMNS} FROM machines WHERE computer_dns_name_lower = $1"
    ))
    .bind(&lookup.name_key)
    .fetch_optional(pool)
    .await
    .map_err(|e| db("reading a machine", e))?;
    row.as_ref().map(machine_from_row).transpose()
}

/// Every machine, ordered by id, to `f` as the rows arrive (one statement, streamed).
pub(crate) async fn each(
    pool: &PgPool,
    f: &mut (dyn FnMut(StoredMachine) + Send),
) -> Result<(), StoreError> {
    use futures_util::TryStreamExt;
    // COLLATE "C": order by bytes, as SQLite does, whatever the database's collation.
    let sql = format!("SELECT {COLUMNS} FROM machines ORDER BY id COLLATE \"C\"");
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
pub(crate) async fn count(pool: &PgPool) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM machines")
        .fetch_one(pool)
        .await
        .map_err(|e| db("counting machines", e))?;
    Ok(n.unsigned_abs())
}

/// Deletes one machine.
pub(crate) async fn delete(pool: &PgPool, id: &MachineId) -> Result<(), StoreError> {
    let context = format!("deleting machine {id}");
    let mut tx = locked(pool, &context).await?;
    let done = sqlx::query("DELETE FROM machines WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| db(&context, e))?;
    if done.rows_affected() == 0 {
        tx.rollback().await.map_err(|e| db(&context, e))?;
        return Err(StoreError::NotFound(format!("machine {id}")));
    }
    tx.commit().await.map_err(|e| db(&context, e))
}

/// Starts a transaction holding the machines lock and this transaction's change number: a
/// delete must not interleave with an upsert that has read a machine and is about to write it
/// back, and every writer takes the lock, then the change counter, then rows, in that order.
async fn locked(
    pool: &PgPool,
    context: &str,
) -> Result<Transaction<'static, Postgres>, StoreError> {
    // One round trip: group commit runs this for every batch.
    let begin =
        format!("BEGIN; SELECT pg_advisory_xact_lock({MACHINES_LOCK}); SELECT kbgap_machine_seq()");
    pool.begin_with(begin).await.map_err(|e| db(context, e))
}

/// Deletes these machines in one transaction, or none of them (see
/// [`kbgap_store::Store::delete_machines`]).
pub(crate) async fn delete_many(pool: &PgPool, ids: &[MachineId]) -> Result<usize, StoreError> {
    let context = "deleting machines";
    let wanted = lifecycle::distinct_ids(ids);
    if wanted.is_empty() {
        return Ok(0);
    }
    let raw: Vec<&str> = wanted.iter().map(MachineId::as_str).collect();
    let mut tx = locked(pool, context).await?;
    let rows: Vec<String> =
        sqlx::query_scalar("DELETE FROM machines WHERE id = ANY($1) RETURNING id")
            .bind(&raw)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| db(context, e))?;
    let deleted = parse_ids(&rows)?;
    if let Some(err) = lifecycle::missing(&wanted, &deleted) {
        tx.rollback().await.map_err(|e| db(context, e))?;
        return Err(err);
    }
    tx.commit().await.map_err(|e| db(context, e))?;
    Ok(deleted.len())
}

/// Deletes every machine last seen before `not_seen_since`, in one transaction.
pub(crate) async fn purge(
    pool: &PgPool,
    not_seen_since: DateTime<Utc>,
) -> Result<Vec<MachineId>, StoreError> {
    let context = "purging machines";
    let mut tx = locked(pool, context).await?;
    let rows: Vec<String> =
        sqlx::query_scalar("DELETE FROM machines WHERE last_seen < $1 RETURNING id")
            .bind(machines::store_time(not_seen_since))
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| db(context, e))?;
    let mut ids = parse_ids(&rows)?;
    prune_tombstones(&mut tx).await?;
    tx.commit().await.map_err(|e| db(context, e))?;
    ids.sort_unstable();
    Ok(ids)
}

/// Drops tombstones older than [`TOMBSTONE_RETENTION`], recording the newest number dropped so
/// a reader that far behind reloads everything instead.
async fn prune_tombstones(tx: &mut Transaction<'static, Postgres>) -> Result<(), StoreError> {
    sqlx::query(
        "WITH gone AS (
           DELETE FROM machine_deletions WHERE deleted_at < now() - $1 * interval '1 second'
           RETURNING seq)
         UPDATE machine_changes
           SET pruned_through = GREATEST(pruned_through, (SELECT COALESCE(max(seq), 0) FROM gone))
           WHERE singleton",
    )
    .bind(TOMBSTONE_RETENTION.num_seconds() as f64)
    .execute(&mut **tx)
    .await
    .map_err(|e| db("pruning tombstones of deleted machines", e))?;
    Ok(())
}

fn parse_ids(raw: &[String]) -> Result<Vec<MachineId>, StoreError> {
    raw.iter().map(|id| machines::stored_id(id)).collect()
}
