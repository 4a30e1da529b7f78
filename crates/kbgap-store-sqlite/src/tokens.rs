//! Issued tokens and their revocation in SQLite (see `kbgap_store::tokens`). Times are stored
//! as fixed-width RFC 3339 UTC text, so comparing the text compares the instants.

use chrono::{DateTime, Utc};
use kbgap_store::StoreError;
use kbgap_store::tokens::{IssuedToken, Revocations, RevokeOutcome, join_roles, split_roles};
use sqlx::{Row, SqlitePool};

use crate::error::db;
use crate::machines::{format_time, parse_time};

const COLUMNS: &str = "jti, subject, roles, machine, issued_at, expires_at, revoked_at";

fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<IssuedToken, StoreError> {
    let get = |col: &str| -> Result<String, StoreError> {
        row.try_get(col).map_err(|e| db("reading issued tokens", e))
    };
    let jti = get("jti")?;
    let what = format!("issued token {jti}");
    let revoked: Option<String> = row
        .try_get("revoked_at")
        .map_err(|e| db("reading issued tokens", e))?;
    Ok(IssuedToken {
        subject: get("subject")?,
        roles: split_roles(&get("roles")?),
        machine: row
            .try_get("machine")
            .map_err(|e| db("reading issued tokens", e))?,
        issued_at: parse_time(&what, &get("issued_at")?)?,
        expires_at: parse_time(&what, &get("expires_at")?)?,
        revoked_at: revoked.map(|r| parse_time(&what, &r)).transpose()?,
        jti,
    })
}

pub(crate) async fn record(pool: &SqlitePool, t: &IssuedToken) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO issued_tokens ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))
    .bind(&t.jti)
    .bind(&t.subject)
    .bind(join_roles(&t.roles))
    .bind(&t.machine)
    .bind(format_time(t.issued_at))
    .bind(format_time(t.expires_at))
    .bind(t.revoked_at.map(format_time))
    .execute(pool)
    .await
    .map_err(|e| db(&format!("recording token {}", t.jti), e))?;
    Ok(())
}

pub(crate) async fn all(pool: &SqlitePool) -> Result<Vec<IssuedToken>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM issued_tokens ORDER BY issued_at, jti"
    ))
    .fetch_all(pool)
    .await
    .map_err(|e| db("reading issued tokens", e))?;
    rows.iter().map(from_row).collect()
}

const BUMP: &str = "UPDATE token_revocation SET generation = generation + 1 WHERE singleton = 1";

pub(crate) async fn revoke(
    pool: &SqlitePool,
    jti: &str,
    now: DateTime<Utc>,
) -> Result<RevokeOutcome, StoreError> {
    let context = format!("revoking token {jti}");
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| db(&context, e))?;
    let found: Option<Option<String>> =
        sqlx::query_scalar("SELECT revoked_at FROM issued_tokens WHERE jti = ?1")
            .bind(jti)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db(&context, e))?;
    let outcome = match found {
        None => {
            return Err(StoreError::NotFound(format!(
                "no issued token has jti {jti}"
            )));
        }
        Some(Some(at)) => RevokeOutcome::AlreadyRevoked(parse_time(&context, &at)?),
        Some(None) => {
            sqlx::query("UPDATE issued_tokens SET revoked_at = ?2 WHERE jti = ?1")
                .bind(jti)
                .bind(format_time(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| db(&context, e))?;
            sqlx::query(BUMP)
                .execute(&mut *tx)
                .await
                .map_err(|e| db(&context, e))?;
            RevokeOutcome::Revoked
        }
    };
    tx.commit().await.map_err(|e| db(&context, e))?;
    Ok(outcome)
}

pub(crate) async fn revoke_before(
    pool: &SqlitePool,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let context = "revoking tokens issued before a cut-off";
    let cutoff = format_time(cutoff);
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| db(context, e))?;
    let marked = sqlx::query(
        "UPDATE issued_tokens SET revoked_at = ?2 WHERE issued_at < ?1 AND revoked_at IS NULL",
    )
    .bind(&cutoff)
    .bind(format_time(now))
    .execute(&mut *tx)
    .await
    .map_err(|e| db(context, e))?
    .rows_affected();
    sqlx::query(
        "UPDATE token_revocation SET generation = generation + 1, \
         issued_before = max(coalesce(issued_before, ''), ?1) WHERE singleton = 1",
    )
    .bind(&cutoff)
    .execute(&mut *tx)
    .await
    .map_err(|e| db(context, e))?;
    tx.commit().await.map_err(|e| db(context, e))?;
    Ok(marked)
}

pub(crate) async fn generation(pool: &SqlitePool) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT generation FROM token_revocation WHERE singleton = 1")
        .fetch_one(pool)
        .await
        .map_err(|e| db("reading the revocation generation", e))
}

/// Read in one transaction, so the generation matches the list.
pub(crate) async fn revocations(
    pool: &SqlitePool,
    now: DateTime<Utc>,
) -> Result<Revocations, StoreError> {
    let context = "reading revoked tokens";
    let mut tx = pool.begin().await.map_err(|e| db(context, e))?;
    let row =
        sqlx::query("SELECT generation, issued_before FROM token_revocation WHERE singleton = 1")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| db(context, e))?;
    let generation: i64 = row.try_get("generation").map_err(|e| db(context, e))?;
    let before: Option<String> = row.try_get("issued_before").map_err(|e| db(context, e))?;
    let jtis: Vec<String> = sqlx::query_scalar(
        "SELECT jti FROM issued_tokens WHERE revoked_at IS NOT NULL AND expires_at > ?1 ORDER BY jti",
    )
    .bind(format_time(now))
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| db(context, e))?;
    tx.commit().await.map_err(|e| db(context, e))?;
    Ok(Revocations {
        generation,
        jtis,
        issued_before: before.map(|b| parse_time(context, &b)).transpose()?,
    })
}
