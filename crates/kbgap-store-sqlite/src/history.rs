//! The daily fleet snapshots in SQLite.

use chrono::{DateTime, NaiveDate, Utc};
use kbgap_store::history::{COUNT_COLUMNS, counts, from_counts};
use kbgap_store::{ExposureCounts, FleetSnapshot, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use crate::error::db;
use crate::machines::format_time;

fn day_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Stores one day's snapshot unless a later recording of that day is stored.
pub(crate) async fn put(pool: &SqlitePool, s: &FleetSnapshot) -> Result<bool, StoreError> {
    let n = counts(s)?;
    let columns = COUNT_COLUMNS.join(", ");
    let updates: Vec<String> = (COUNT_COLUMNS.iter())
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let sql = format!(
        "INSERT INTO fleet_snapshots (day, recorded_at, {columns}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
         ON CONFLICT (day) DO UPDATE SET recorded_at = excluded.recorded_at, {} \
         WHERE fleet_snapshots.recorded_at <= excluded.recorded_at",
        updates.join(", ")
    );
    let mut q = sqlx::query(&sql)
        .bind(day_text(s.day))
        .bind(format_time(s.recorded_at));
    for v in n {
        q = q.bind(v);
    }
    let done = q
        .execute(pool)
        .await
        .map_err(|e| db(&format!("storing the fleet snapshot of {}", s.day), e))?;
    Ok(done.rows_affected() > 0)
}

/// The snapshots from `from` to `to`, both included, oldest first.
pub(crate) async fn range(
    pool: &SqlitePool,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<FleetSnapshot>, StoreError> {
    let sql = format!(
        "SELECT day, recorded_at, {} FROM fleet_snapshots WHERE day BETWEEN ?1 AND ?2 ORDER BY day",
        COUNT_COLUMNS.join(", ")
    );
    let rows = sqlx::query(&sql)
        .bind(day_text(from))
        .bind(day_text(to))
        .fetch_all(pool)
        .await
        .map_err(|e| db("reading fleet snapshots", e))?;
    rows.iter().map(from_row).collect()
}

fn from_row(row: &SqliteRow) -> Result<FleetSnapshot, StoreError> {
    let day: String = row
        .try_get("day")
        .map_err(|e| db("reading a fleet snapshot", e))?;
    let what = format!("fleet snapshot of {day}");
    let parsed = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
        .map_err(|e| StoreError::corrupt(&what, format!("day {day:?}: {e}")))?;
    let at: String = row.try_get("recorded_at").map_err(|e| db(&what, e))?;
    let recorded_at = DateTime::parse_from_rfc3339(&at)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::corrupt(&what, format!("recorded_at {at:?}: {e}")))?;
    let mut raw = [0i64; 9];
    for (i, c) in COUNT_COLUMNS.iter().enumerate() {
        raw[i] = row.try_get(*c).map_err(|e| db(&what, e))?;
    }
    let blank = FleetSnapshot {
        day: parsed,
        recorded_at,
        assessed: 0,
        active: 0,
        missing_any: 0,
        missing_exploited: 0,
        exposure: ExposureCounts::default(),
        on_newest_update: 0,
    };
    from_counts(blank, raw)
}
