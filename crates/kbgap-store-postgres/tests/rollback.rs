//! A write that fails half-way through leaves nothing of its batch: a trigger makes PostgreSQL
//! itself refuse a row after earlier statements of the same transaction (a delete of a
//! displaced machine, earlier documents) ran. Skipped when `KBGAP_TEST_DATABASE_URL` is unset.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use kbgap_store::testing::synth::{self, DocProfile};
use kbgap_store::{Store, StoreError};
use kbgap_store_postgres::{PgStore, ScratchDatabase};

const POISON: &str = "
CREATE FUNCTION poison_machine() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.computer_dns_name_lower = 'poison' THEN RAISE EXCEPTION 'poisoned machine'; END IF;
    RETURN NEW;
END
$$;
CREATE FUNCTION poison_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = 'POISON' THEN RAISE EXCEPTION 'poisoned document'; END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER poison_machine BEFORE INSERT ON machines FOR EACH ROW EXECUTE FUNCTION poison_machine();
CREATE TRIGGER poison_document BEFORE INSERT ON catalog_documents FOR EACH ROW EXECUTE FUNCTION poison_document();
";

async fn rollback_story(store: Arc<PgStore>) {
    // Machines: A and B stored; a batch that gives A the name of B (deleting B) and then
    // fails must leave both as they were.
    let t1 = Utc::now();
    let a = store.upsert_machine(synth::device(1), t1).await.unwrap();
    let b = store.upsert_machine(synth::device(2), t1).await.unwrap();
    let mut a_as_b = synth::device(2);
    a_as_b.id = Some(a.id.clone());
    let mut poison = synth::device(3);
    poison.computer_dns_name = "POISON".into();
    let err = store
        .upsert_machines(
            vec![a_as_b, synth::device(4), poison],
            t1 + TimeDelta::hours(1),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Backend(m) if m.contains("poisoned machine")),
        "{err}"
    );
    assert_eq!(
        store.machine(a.id.as_str()).await.unwrap(),
        Some(a),
        "A is unchanged"
    );
    assert_eq!(
        store.machine(b.id.as_str()).await.unwrap(),
        Some(b),
        "the deletion of B was rolled back"
    );
    assert_eq!(store.machine_count().await.unwrap(), 2);

    // Documents: the first of the batch is rolled back with the poisoned second.
    let small = DocProfile {
        products: 3,
        vulnerabilities: 2,
        ..DocProfile::BUNDLED_AVERAGE
    };
    let mut bad = synth::document(small, 1);
    bad.info.id = "POISON".into();
    let generation = store.catalog_generation().await.unwrap();
    let err = store
        .import_documents(vec![synth::document(small, 0), bad])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Backend(m) if m.contains("poisoned document") && m.contains("POISON")),
        "{err}"
    );
    assert!(store.catalog_infos().await.unwrap().is_empty());
    assert_eq!(store.catalog_generation().await.unwrap(), generation);
}

#[tokio::test]
async fn batches_failing_midway_change_nothing() {
    let Ok(base) = std::env::var("KBGAP_TEST_DATABASE_URL") else {
        eprintln!(
            "batches_failing_midway_change_nothing: skipped, KBGAP_TEST_DATABASE_URL is unset"
        );
        return;
    };
    let scratch = ScratchDatabase::create(&base).await.unwrap();
    let store = PgStore::connect(scratch.url()).await.unwrap();
    let raw = sqlx::PgPool::connect(scratch.url()).await.unwrap();
    sqlx::raw_sql(POISON).execute(&raw).await.unwrap();
    raw.close().await;
    let outcome = tokio::spawn(rollback_story(Arc::new(store.clone()))).await;
    store.close().await;
    scratch.drop_database().await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
