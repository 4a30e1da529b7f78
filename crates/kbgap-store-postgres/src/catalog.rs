//! Catalog documents in PostgreSQL.

use std::collections::HashMap;

use kbgap_core::{Document, DocumentInfo, Kev, Revision};
use kbgap_store::codec::{self, StoredPayload};
use kbgap_store::import::{self, StoredInfo};
use kbgap_store::kev::KevOutcome;
use kbgap_store::{ImportOutcome, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::error::{blocking, db};

fn info_from_row(row: &PgRow) -> Result<DocumentInfo, StoreError> {
    let id: String = row
        .try_get("id")
        .map_err(|e| db("reading a catalog document", e))?;
    let get = |col: &str| -> Result<String, StoreError> {
        row.try_get(col)
            .map_err(|e| db(&format!("reading catalog document {id}"), e))
    };
    let revision = get("revision")?;
    Ok(DocumentInfo {
        revision: Revision::parse(&revision).ok_or_else(|| {
            StoreError::corrupt(
                format!("catalog document {id}"),
                format!("revision {revision:?}"),
            )
        })?,
        title: get("title")?,
        initial_release: get("initial_release")?,
        current_release: get("current_release")?,
        id,
    })
}

/// Every stored document's identity, ordered by id.
pub(crate) async fn infos(pool: &PgPool) -> Result<Vec<DocumentInfo>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, title, revision, initial_release, current_release FROM catalog_documents ORDER BY id COLLATE \"C\"",
    )
    .fetch_all(pool)
    .await
    .map_err(|e| db("reading catalog documents", e))?;
    rows.iter().map(info_from_row).collect()
}

/// Every stored document, decoded on a blocking thread.
pub(crate) async fn documents(pool: &PgPool) -> Result<Vec<Document>, StoreError> {
    let rows = sqlx::query("SELECT id, payload_format, raw_len, payload FROM catalog_documents ORDER BY id COLLATE \"C\"")
        .fetch_all(pool)
        .await
        .map_err(|e| db("reading catalog documents", e))?;
    let payloads = rows
        .into_iter()
        .map(|row| {
            Ok(StoredPayload {
                id: row.try_get("id")?,
                format: row.try_get("payload_format")?,
                raw_len: row.try_get("raw_len")?,
                payload: row.try_get("payload")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(|e| db("reading catalog documents", e))?;
    blocking(move || codec::decode_documents(&payloads)).await
}

/// The generation counter.
pub(crate) async fn generation(pool: &PgPool) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT generation FROM catalog_state WHERE singleton")
        .fetch_optional(pool)
        .await
        .map_err(|e| db("reading the catalog generation", e))?
        .ok_or_else(|| StoreError::corrupt("catalog state", "the generation row is missing"))
}

/// Imports a batch in one transaction (see [`kbgap_store::Store::import_documents`]).
pub(crate) async fn import(
    pool: &PgPool,
    docs: Vec<Document>,
) -> Result<Vec<ImportOutcome>, StoreError> {
    let context = "importing catalog documents";
    let mut tx = pool.begin().await.map_err(|e| db(context, e))?;
    // Imports take turns: the decisions below rest on rows no other import changes before
    // this one commits.
    sqlx::query("SELECT generation FROM catalog_state WHERE singleton FOR UPDATE")
        .execute(&mut *tx)
        .await
        .map_err(|e| db(context, e))?;
    let rows = sqlx::query(
        "SELECT id, title, revision, initial_release, current_release, payload_format
         FROM catalog_documents WHERE id = ANY($1)",
    )
    .bind(import::ids_of(&docs))
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| db(context, e))?;
    let mut stored = HashMap::with_capacity(rows.len());
    for row in &rows {
        let info = info_from_row(row)?;
        let format: i32 = row.try_get("payload_format").map_err(|e| db(context, e))?;
        stored.insert(info.id.clone(), StoredInfo { info, format });
    }
    let plan = import::plan_import(stored, &docs)?;
    if plan.changes_anything() {
        let writes = plan.writes.clone();
        let (docs, encoded) = blocking(move || {
            let refs: Vec<&Document> = writes.iter().map(|&i| &docs[i]).collect();
            let encoded = codec::encode_documents(&refs)?;
            Ok((docs, encoded))
        })
        .await?;
        for (&i, enc) in plan.writes.iter().zip(encoded) {
            let info = &docs[i].info;
            sqlx::query(
                "INSERT INTO catalog_documents
                   (id, title, revision, initial_release, current_release, payload_format, raw_len, payload, imported_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
                 ON CONFLICT (id) DO UPDATE SET
                   title = EXCLUDED.title, revision = EXCLUDED.revision,
                   initial_release = EXCLUDED.initial_release, current_release = EXCLUDED.current_release,
                   payload_format = EXCLUDED.payload_format, raw_len = EXCLUDED.raw_len,
                   payload = EXCLUDED.payload, imported_at = EXCLUDED.imported_at",
            )
            .bind(&info.id)
            .bind(&info.title)
            .bind(info.revision.to_string())
            .bind(&info.initial_release)
            .bind(&info.current_release)
            .bind(codec::PAYLOAD_FORMAT)
            .bind(enc.raw_len)
            .bind(enc.payload)
            .execute(&mut *tx)
            .await
            .map_err(|e| db(&format!("storing catalog document {}", info.id), e))?;
        }
        sqlx::query("UPDATE catalog_state SET generation = generation + 1 WHERE singleton")
            .execute(&mut *tx)
            .await
            .map_err(|e| db(context, e))?;
    }
    tx.commit().await.map_err(|e| db(context, e))?;
    Ok(plan.outcomes)
}

/// The stored KEV catalog, when any.
pub(crate) async fn kev(pool: &PgPool) -> Result<Option<Kev>, StoreError> {
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM kev_catalog WHERE singleton")
        .fetch_optional(pool)
        .await
        .map_err(|e| db("reading the KEV catalog", e))?;
    body.map(|b| kbgap_store::kev::decode(&b)).transpose()
}

/// Stores a KEV catalog unless the stored one is the same or newer.
pub(crate) async fn put_kev(pool: &PgPool, kev: &Kev) -> Result<KevOutcome, StoreError> {
    let context = "storing the KEV catalog";
    let body = kbgap_store::kev::encode(kev)?;
    let mut tx = pool.begin().await.map_err(|e| db(context, e))?;
    // Writers take turns on the catalog state row, as document imports do.
    sqlx::query("SELECT generation FROM catalog_state WHERE singleton FOR UPDATE")
        .execute(&mut *tx)
        .await
        .map_err(|e| db(context, e))?;
    let stored: Option<(String, String)> =
        sqlx::query_as("SELECT catalog_version, date_released FROM kev_catalog WHERE singleton")
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db(context, e))?;
    let outcome = kbgap_store::kev::decide(stored.as_ref(), kev);
    if outcome == KevOutcome::Stored {
        sqlx::query(
            "INSERT INTO kev_catalog (singleton, catalog_version, date_released, entries, body, stored_at)
             VALUES (TRUE, $1, $2, $3, $4, now())
             ON CONFLICT (singleton) DO UPDATE SET
               catalog_version = excluded.catalog_version, date_released = excluded.date_released,
               entries = excluded.entries, body = excluded.body, stored_at = excluded.stored_at",
        )
        .bind(&kev.catalog_version)
        .bind(&kev.date_released)
        .bind(kev.entries.len() as i64)
        .bind(body)
        .execute(&mut *tx)
        .await
        .map_err(|e| db(context, e))?;
        sqlx::query("UPDATE catalog_state SET generation = generation + 1 WHERE singleton")
            .execute(&mut *tx)
            .await
            .map_err(|e| db(context, e))?;
    }
    tx.commit().await.map_err(|e| db(context, e))?;
    Ok(outcome)
}
