//! What is committed stays: across a reopen, a crash of the writing process, and a backup.

use std::process::Command;

use chrono::Utc;
use kbgap_core::Device;
use kbgap_store::Store;
use kbgap_store::testing::synth::{self, DocProfile};
use kbgap_store_sqlite::SqliteStore;

fn fleet(n: usize) -> Vec<Device> {
    (0..n).map(synth::device).collect()
}

#[tokio::test]
async fn data_survives_dropping_and_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kbgap.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let stored = store.upsert_machines(fleet(50), Utc::now()).await.unwrap();
    let doc = synth::document(DocProfile::BUNDLED_AVERAGE, 1);
    store.import_documents(vec![doc.clone()]).await.unwrap();
    let generation = store.catalog_generation().await.unwrap();
    drop(store); // no close: connections go away as they would on a crash

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.machine_count().await.unwrap(), 50);
    assert_eq!(
        store.machine(stored[7].id.as_str()).await.unwrap(),
        Some(stored[7].clone())
    );
    assert_eq!(store.catalog_documents().await.unwrap(), vec![doc]);
    assert_eq!(store.catalog_generation().await.unwrap(), generation);
}

const CHILD_ENV: &str = "KBGAP_SQLITE_CRASH_CHILD_DB";

/// The child half runs in a separate process: it stores a batch, says so, and aborts without
/// closing anything (no destructor runs, as with `kill -9`).
#[tokio::test]
async fn acknowledged_writes_survive_a_crash_of_the_writer() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        let store = SqliteStore::open(path.as_ref()).await.unwrap();
        let stored = store.upsert_machines(fleet(500), Utc::now()).await.unwrap();
        println!("ACK {}", stored.len());
        std::process::abort();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kbgap.db");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "acknowledged_writes_survive_a_crash_of_the_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "the child must have crashed");
    assert!(
        stdout.contains("ACK 500"),
        "the child acknowledged its batch: {stdout}"
    );
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.machine_count().await.unwrap(),
        500,
        "every acknowledged report is there"
    );
}

#[tokio::test]
async fn a_backup_is_a_complete_database() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("kbgap.db"))
        .await
        .unwrap();
    store.upsert_machines(fleet(20), Utc::now()).await.unwrap();
    let copy = dir.path().join("backup.db");
    store.backup_to(&copy).await.unwrap();
    store
        .upsert_machines(vec![synth::device(999)], Utc::now())
        .await
        .unwrap();
    let restored = SqliteStore::open(&copy).await.unwrap();
    assert_eq!(restored.machine_count().await.unwrap(), 20);
    assert!(
        store.backup_to(&copy).await.is_err(),
        "an existing backup file is never overwritten"
    );
}
