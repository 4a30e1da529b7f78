//! The shared contract story, on a fresh SQLite file.

use std::sync::Arc;

use kbgap_store_sqlite::SqliteStore;

#[tokio::test]
async fn store_story_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    // A nested path: open creates the missing parent directory.
    let store = SqliteStore::open(&dir.path().join("data").join("kbgap.db"))
        .await
        .unwrap();
    kbgap_store::testing::store_story(Arc::new(store)).await;
}
