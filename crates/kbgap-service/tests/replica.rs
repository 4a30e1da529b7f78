//! Two fleet services on one store (two replicas in one process) end with the same view as the
//! store: each applies its own commits in the store's order, reading first what the other
//! committed in between, and catches up on writes made behind its back (another process's
//! import, delete or purge). On SQLite always, on PostgreSQL when `KBGAP_TEST_DATABASE_URL`
//! is set.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use kbgap_core::catalog::Catalog;
use kbgap_service::FleetService;
use kbgap_store::{Store, StoredMachine};

mod common;
use common::device;

async fn replica(store: &Arc<dyn Store>) -> Arc<FleetService> {
    let fleet = FleetService::load(store.clone(), Arc::new(Catalog::compile(&[])))
        .await
        .unwrap();
    Arc::new(fleet)
}

/// Every machine the view holds, as stored, ordered by id.
fn view_of(fleet: &FleetService) -> Vec<StoredMachine> {
    (fleet.read().machines.values())
        .map(|m| StoredMachine::clone(m))
        .collect()
}

async fn assert_agree(store: &dyn Store, fleets: &[&Arc<FleetService>]) {
    let stored = store.machines().await.unwrap();
    let seq = store.machine_seq().await.unwrap();
    for (i, f) in fleets.iter().enumerate() {
        assert_eq!(view_of(f), stored, "replica {i} holds what the store holds");
        assert_eq!(
            f.read().fleet.len(),
            stored.len(),
            "replica {i}'s fleet counts"
        );
        assert_eq!(
            f.read().machine_seq(),
            seq,
            "replica {i} is through the counter"
        );
    }
}

async fn story(store: Arc<dyn Store>) {
    let a = replica(&store).await;
    let b = replica(&store).await;

    // A's own commit, nothing in between: applied as committed (read-your-writes).
    let x = a.ingest(vec![device("X", 19045)]).await.unwrap();
    assert!(a.read().find("x").is_some());
    assert!(b.read().find("x").is_none(), "B has not caught up yet");

    // B reports X again (later build), then A commits Y: A reads B's commit before applying
    // its own, so A's view has B's X without any catch-up.
    b.ingest(vec![device("X", 22631)]).await.unwrap();
    a.ingest(vec![device("Y", 19045)]).await.unwrap();
    let build = |f: &FleetService| f.read().find("X").unwrap().device.os_version.unwrap().build;
    assert_eq!(build(&a), 22631, "A applied B's commit before its own");
    assert_eq!(x[0].id, a.read().find("X").unwrap().id);
    // B read A's first commit before applying its own; only Y is left to read.
    let caught = b
        .catch_up()
        .await
        .unwrap()
        .expect("B had A's commit of Y to read");
    assert_eq!((caught.stored, caught.removed, caught.full), (1, 0, false));
    assert_agree(store.as_ref(), &[&a, &b]).await;
    assert!(
        b.catch_up().await.unwrap().is_none(),
        "nothing more to read"
    );

    // Many reports through both at once, names shared between them and displaced.
    let mut tasks = Vec::new();
    for (side, f) in [(0u32, &a), (1, &b)] {
        for w in 0..3u32 {
            let f = Arc::clone(f);
            tasks.push(tokio::spawn(async move {
                for i in 0..30u32 {
                    let name = if i % 2 == 0 {
                        format!("shared-{w}-{i}")
                    } else {
                        format!("side{side}-{w}-{i}")
                    };
                    f.ingest(vec![device(&name, 19045 + side), device("X", 19041 + i)])
                        .await
                        .unwrap();
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    a.catch_up().await.unwrap();
    b.catch_up().await.unwrap();
    assert_agree(store.as_ref(), &[&a, &b]).await;

    // Writes behind both servers' backs: another process imports, deletes and purges.
    let t = Utc::now();
    store
        .upsert_machines(
            vec![device("Z", 19045), device("old", 19045)],
            t - TimeDelta::days(90),
        )
        .await
        .unwrap();
    let gone = a.read().find("side0-0-1").unwrap().id.clone();
    store.delete_machines(&[gone]).await.unwrap();
    let purged = store.purge_machines(t - TimeDelta::days(60)).await.unwrap();
    assert_eq!(purged.len(), 2, "Z and old were stored 90 days ago");
    store.upsert_machine(device("Z", 26100), t).await.unwrap();
    for f in [&a, &b] {
        let c = f.catch_up().await.unwrap().unwrap();
        assert!(c.removed >= 1 && c.stored >= 1, "{c:?}");
    }
    assert_agree(store.as_ref(), &[&a, &b]).await;
    assert!(a.read().find("old").is_none() && a.read().find("side0-0-1").is_none());

    // A third replica loaded now holds the same.
    let c = replica(&store).await;
    assert_agree(store.as_ref(), &[&a, &b, &c]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_sqlite_store_agree() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        kbgap_store_sqlite::SqliteStore::open(&dir.path().join("kbgap.db"))
            .await
            .unwrap(),
    );
    story(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_postgres_database_agree() {
    let Ok(base) = std::env::var("KBGAP_TEST_DATABASE_URL") else {
        eprintln!("skipped: KBGAP_TEST_DATABASE_URL is unset");
        return;
    };
    let scratch = kbgap_store_postgres::ScratchDatabase::create(&base)
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(
        kbgap_store_postgres::PgStore::connect(scratch.url())
            .await
            .unwrap(),
    );
    let run = tokio::spawn(story(store.clone())).await;
    drop(store);
    scratch.drop_database().await.unwrap();
    if let Err(e) = run {
        std::panic::resume_unwind(e.into_panic());
    }
}
