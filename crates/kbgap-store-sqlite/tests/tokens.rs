//! The issued-token and revocation contract, on a fresh SQLite file.

use std::sync::Arc;

use kbgap_store_sqlite::SqliteStore;

#[tokio::test]
async fn token_story_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("kbgap.db"))
        .await
        .unwrap();
    kbgap_store::testing::token_story(Arc::new(store)).await;
}
