//! A write that fails half-way through leaves nothing of its batch: a trigger makes SQLite
//! itself refuse one row in the middle, after earlier rows of the same transaction were
//! written.

use chrono::{TimeDelta, Utc};
use kbgap_store::testing::synth::{self, DocProfile};
use kbgap_store::{Store, StoreError};
use kbgap_store_sqlite::SqliteStore;
use sqlx::sqlite::SqlitePoolOptions;

async fn poisoned_store(dir: &tempfile::TempDir) -> SqliteStore {
    let path = dir.path().join("kbgap.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let raw = SqlitePoolOptions::new()
        .connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for trigger in [
        "CREATE TRIGGER poison_machine BEFORE INSERT ON machines WHEN NEW.computer_dns_name_lower = 'poison'
         BEGIN SELECT RAISE(ABORT, 'poisoned machine'); END",
        "CREATE TRIGGER poison_document BEFORE INSERT ON catalog_documents WHEN NEW.id = 'POISON'
         BEGIN SELECT RAISE(ABORT, 'poisoned document'); END",
    ] {
        sqlx::query(trigger).execute(&raw).await.unwrap();
    }
    raw.close().await;
    store
}

#[tokio::test]
async fn a_machine_batch_failing_midway_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = poisoned_store(&dir).await;
    let t1 = Utc::now();
    let first = store.upsert_machine(synth::device(0), t1).await.unwrap();

    let mut poison = synth::device(2);
    poison.computer_dns_name = "POISON".into();
    let batch = vec![synth::device(0), synth::device(1), poison, synth::device(3)];
    let err = store
        .upsert_machines(batch, t1 + TimeDelta::hours(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Backend(m) if m.contains("poisoned machine")),
        "{err}"
    );

    assert_eq!(
        store.machine_count().await.unwrap(),
        1,
        "no machine of the failed batch was added"
    );
    assert_eq!(
        store.machine(first.id.as_str()).await.unwrap(),
        Some(first.clone()),
        "the update of machine 0 was rolled back"
    );

    // A batch that gives machine 0 the name of machine 5 (deleting 5) and then fails leaves 5.
    let five = store.upsert_machine(synth::device(5), t1).await.unwrap();
    let mut zero_as_five = synth::device(5);
    zero_as_five.id = Some(first.id.clone());
    let mut poison = synth::device(6);
    poison.computer_dns_name = "poison".into();
    assert!(
        store
            .upsert_machines(vec![zero_as_five, poison], t1)
            .await
            .is_err()
    );
    assert_eq!(
        store.machine(five.id.as_str()).await.unwrap(),
        Some(five),
        "the deletion was rolled back"
    );
    assert_eq!(store.machine(first.id.as_str()).await.unwrap(), Some(first));
}

#[tokio::test]
async fn a_document_batch_failing_midway_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = poisoned_store(&dir).await;
    let small = DocProfile {
        products: 3,
        vulnerabilities: 2,
        ..DocProfile::BUNDLED_AVERAGE
    };
    let mut poison = synth::document(small, 1);
    poison.info.id = "POISON".into();
    let generation = store.catalog_generation().await.unwrap();
    let err = store
        .import_documents(vec![synth::document(small, 0), poison])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Backend(m) if m.contains("poisoned document") && m.contains("POISON")),
        "{err}"
    );
    assert!(
        store.catalog_infos().await.unwrap().is_empty(),
        "the first document was rolled back"
    );
    assert_eq!(store.catalog_generation().await.unwrap(), generation);
}
