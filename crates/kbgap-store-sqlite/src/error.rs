//! sqlx errors as [`StoreError`]s, with what was being done.

use kbgap_store::StoreError;

/// Maps a driver error, prefixed with `context` ("reading machines", …). A uniqueness
/// violation is a [`StoreError::Conflict`]; anything else a [`StoreError::Backend`]. SQLite
/// errors never carry more than the file path.
pub(crate) fn db(context: &str, e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(format!("{context}: {d}"))
        }
        _ => StoreError::Backend(format!("{context}: {e}")),
    }
}

/// Runs `f` on tokio's blocking pool (CPU work must not stall the async runtime).
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("worker task failed: {e}")))?
}
