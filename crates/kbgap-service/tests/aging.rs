//! Defender's 30-day rule in the fleet service, on a real SQLite store and a clock the test
//! moves: reports are stored with the clock's time, a machine unseen for more than 30 days is
//! inactive at the next query (no task needed), a report makes it active again, and a restart
//! decides the same from the stored `last_seen`.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta};
use kbgap_core::Device;
use kbgap_core::catalog::Catalog;
use kbgap_service::FleetService;
use kbgap_service::clock::ManualClock;
use kbgap_service::queries::counts::fleet_counts;
use kbgap_store::Store;
use kbgap_store::lifecycle::Activity;

mod common;

/// A 10.0.19045 machine.
fn device(name: &str) -> Device {
    common::device(name, 19045)
}

/// (assessed, active) as the posture counts them, and each machine's activity by name.
async fn seen(fleet: &Arc<FleetService>) -> ((u64, u64), Vec<(String, Activity)>) {
    fleet
        .view(|view, cat| {
            let c = fleet_counts(cat, view);
            let mut each: Vec<(String, Activity)> = (view.machines.values())
                .map(|m| (m.device.computer_dns_name.clone(), view.activity(m)))
                .collect();
            each.sort_by(|a, b| a.0.cmp(&b.0));
            ((c.assessed, c.active), each)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_lapse_after_30_days_and_return_when_they_report() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        kbgap_store_sqlite::SqliteStore::open(&dir.path().join("kbgap.db"))
            .await
            .unwrap(),
    );
    let cat = Arc::new(Catalog::compile(&[]));
    let t0 = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let fleet = FleetService::load(store.clone(), cat.clone())
        .await
        .unwrap();
    let fleet = Arc::new(fleet.with_clock(clock.clone()));

    fleet
        .ingest(vec![device("old"), device("new")])
        .await
        .unwrap();
    let stored = store.machine("old").await.unwrap().unwrap();
    assert_eq!(stored.last_seen, t0, "stored with the service's clock");
    clock.advance(TimeDelta::days(10));
    fleet.ingest(vec![device("new")]).await.unwrap();

    // Exactly 30 days is still active; a moment more is not.
    clock.advance(TimeDelta::days(20));
    let (counts, _) = seen(&fleet).await;
    assert_eq!(counts, (2, 2));
    clock.advance(TimeDelta::minutes(2));
    let (counts, each) = seen(&fleet).await;
    assert_eq!(counts, (2, 1));
    assert_eq!(
        each,
        [
            ("new".to_owned(), Activity::Active),
            ("old".to_owned(), Activity::Inactive)
        ]
    );
    assert_eq!(fleet.read().fleet.len(), 2, "still listed");

    // A restart decides the same from the stored last_seen.
    let again = FleetService::load(store.clone(), cat.clone())
        .await
        .unwrap();
    let again = Arc::new(again.with_clock(clock.clone()));
    assert_eq!(seen(&again).await, seen(&fleet).await);

    // Reporting again makes it count at once.
    fleet.ingest(vec![device("OLD")]).await.unwrap();
    assert_eq!(seen(&fleet).await.0, (2, 2));

    // 31 days of silence from everyone: nothing counts, everything is listed.
    clock.advance(TimeDelta::days(31));
    assert_eq!(fleet.age().await.unwrap(), 2);
    assert_eq!(seen(&fleet).await.0, (2, 0));
    assert_eq!(fleet.age().await.unwrap(), 0, "nothing left to change");
}
