//! Issued tokens and their revocation in PostgreSQL (see `kbgap_store::tokens`).

use chrono::{DateTime, Utc};
use kbgap_store::StoreError;
use kbgap_store::tokens::{IssuedToken, Revocations, RevokeOutcome, join_roles, split_roles};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::error::db;

const COLUMNS: &str = "jti, subject, roles, machine, issued_at, expires_at, revoked_at";

fn from_row(row: &PgRow) -> Result<IssuedToken, sqlx::Error> {
    Ok(IssuedToken {
        jti: row.try_get("jti")?,
        subject: row.try_get("subject")?,
        roles: split_roles(row.try_get("roles")?),
        machine: row.try_get("machine")?,
        issued_at: row.try_get("issued_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

pub(crate) async fn record(pool: &PgPool, t: &IssuedToken) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO issued_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(&t.jti)
    .bind(&t.subject)
    .bind(join_roles(&t.roles))
    .bind(&t.machine)
    .bind(t.issued_at)
    .bind(t.expires_at)
    .bind(t.revoked_at)
    .execute(pool)
    .await
    .map_err(|e| db(&format!("recording token {}", t.jti), e))?;
    Ok(())
}

pub(crate) async fn all(pool: &PgPool) -> Result<Vec<IssuedToken>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM issued_tokens ORDER BY issued_at, jti COLLATE \"C\""
    ))
    .fetch_all(pool)
    .await
    .map_err(|e| db("reading issued tokens", e))?;
    (rows.iter().map(from_row))
        .collect::<Result<_, _>>()
        .map_err(|e| db("reading issued tokens", e))
}

const BUMP: &str = "UPDATE token_revocation SET generation = generation + 1";

pub(crate) async fn revoke(
    pool: &PgPool,
    jti: &str,
    now: DateTime<Utc>,
) -> Result<RevokeOutcome, StoreError> {
    let context = format!("revoking token {jti}");
    let mut tx = pool.begin().await.map_err(|e| db(&context, e))?;
    let found: Option<Option<DateTime<Utc>>> =
        sqlx::query_scalar("SELECT revoked_at FROM issued_tokens WHERE jti = $1 FOR UPDATE")
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
        Some(Some(at)) => RevokeOutcome::AlreadyRevoked(at),
        Some(None) => {
            sqlx::query("UPDATE issued_tokens SET revoked_at = $2 WHERE jti = $1")
                .bind(jti)
                .bind(now)
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
    pool: &PgPool,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let context = "revoking tokens issued before a cut-off";
    let mut tx = pool.begin().await.map_err(|e| db(context, e))?;
    let marked = sqlx::query(
        "UPDATE issued_tokens SET revoked_at = $2 WHERE issued_at < $1 AND revoked_at IS NULL",
    )
    .bind(cutoff)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| db(context, e))?
    .rows_affected();
    sqlx::query(
        "UPDATE token_revocation SET generation = generation + 1, \
         issued_before = GREATEST(issued_before, $1)",
    )
    .bind(cutoff)
    .execute(&mut *tx)
    .await
    .map_err(|e| db(context, e))?;
    tx.commit().await.map_err(|e| db(context, e))?;
    Ok(marked)
}

pub(crate) async fn generation(pool: &PgPool) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT generation FROM token_revocation")
        .fetch_one(pool)
        .await
        .map_err(|e| db("reading the revocation generation", e))
}

/// Read in one repeatable-read transaction, so the generation matches the list.
pub(crate) async fn revocations(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> Result<Revocations, StoreError> {
    let context = "reading revoked tokens";
    let mut tx = pool.begin().await.map_err(|e| db(context, e))?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(|e| db(context, e))?;
    let (generation, issued_before): (i64, Option<DateTime<Utc>>) =
        sqlx::query_as("SELECT generation, issued_before FROM token_revocation")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| db(context, e))?;
    let jtis: Vec<String> = sqlx::query_scalar(
        "SELECT jti FROM issued_tokens WHERE revoked_at IS NOT NULL AND expires_at > $1 ORDER BY jti COLLATE \"C\"",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| db(context, e))?;
    tx.commit().await.map_err(|e| db(context, e))?;
    Ok(Revocations {
        generation,
        jtis,
        issued_before,
    })
}
