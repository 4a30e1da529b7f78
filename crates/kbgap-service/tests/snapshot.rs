//! Readers work on a snapshot of the view (issue 13, F2): a query that runs for long, here one
//! that waits on a channel, neither delays an ingest nor the readers that come after it. The
//! ingest commits and returns, a new reader sees the new machine at once, and the long reader
//! still sees the view as it was when it started.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kbgap_core::Device;
use kbgap_core::catalog::Catalog;
use kbgap_service::FleetService;
use kbgap_store::Store;

/// What a request may wait for the view: far less than a long reader holds it.
const PROMPT: Duration = Duration::from_secs(1);

mod common;

/// A 10.0.19045 machine.
fn device(name: &str) -> Device {
    common::device(name, 19045)
}

async fn service() -> (tempfile::TempDir, Arc<FleetService>) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        kbgap_store_sqlite::SqliteStore::open(&dir.path().join("kbgap.db"))
            .await
            .unwrap(),
    );
    let fleet = FleetService::load(store, Arc::new(Catalog::compile(&[])))
        .await
        .unwrap();
    (dir, Arc::new(fleet))
}

/// Starts a reader that holds its view until `release` is sent (or 10 s pass), and waits until
/// it holds it. Its answer: whether it saw `name` when it started and when it ended.
async fn long_reader(
    fleet: &Arc<FleetService>,
    name: &'static str,
) -> (
    mpsc::Sender<()>,
    tokio::task::JoinHandle<Result<(bool, bool), kbgap_service::ServiceError>>,
) {
    let (release, wait) = mpsc::channel::<()>();
    let (entered, inside) = tokio::sync::oneshot::channel::<()>();
    let fleet = Arc::clone(fleet);
    let reader = tokio::spawn(async move {
        fleet
            .with_view(move |view, _| {
                let before = view.find(name).is_some();
                let _ = entered.send(());
                let _ = wait.recv_timeout(Duration::from_secs(10));
                (before, view.find(name).is_some())
            })
            .await
    });
    inside.await.expect("the reader started");
    (release, reader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_and_new_readers_do_not_wait_for_a_long_reader() {
    let (_dir, fleet) = service().await;
    fleet.ingest(vec![device("pc-a")]).await.unwrap();
    let (release, reader) = long_reader(&fleet, "pc-b").await;

    let started = Instant::now();
    let ingest = tokio::time::timeout(PROMPT, fleet.ingest(vec![device("pc-b")])).await;
    let ingested = started.elapsed();
    let seen = tokio::time::timeout(
        PROMPT,
        fleet.with_view(|view, _| view.find("pc-b").is_some()),
    )
    .await;
    let inline = tokio::time::timeout(PROMPT, fleet.view(|view, _| view.len())).await;
    let read = started.elapsed();
    // Let the long reader go before asserting, so a failure ends instead of hanging.
    let _ = release.send(());
    let old = reader.await.unwrap().unwrap();

    assert!(ingest.is_ok(), "the ingest waited for the long reader");
    assert_eq!(ingest.unwrap().unwrap().len(), 1);
    assert_eq!(seen.ok().map(Result::unwrap), Some(true), "a new reader");
    assert_eq!(inline.ok().map(Result::unwrap), Some(2));
    assert_eq!(old, (false, false), "the long reader keeps its snapshot");
    eprintln!("ingest returned after {ingested:?}, the new readers answered by {read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_swap_does_not_wait_for_a_long_reader() {
    let (_dir, fleet) = service().await;
    fleet.ingest(vec![device("pc-a")]).await.unwrap();
    let before = fleet.generation();
    let (release, reader) = long_reader(&fleet, "pc-a").await;

    let cat = Arc::new(Catalog::compile(&[]));
    let swap = tokio::time::timeout(PROMPT, fleet.swap_catalog(cat, before + 1)).await;
    // Read with the timeout too: behind a waiting writer, a read would wait for the reader.
    let generation = tokio::time::timeout(PROMPT, fleet.with_view(|v, _| v.generation())).await;
    let _ = release.send(());
    let old = reader.await.unwrap().unwrap();

    assert_eq!(
        swap.ok().map(Result::unwrap),
        Some(1),
        "re-evaluated at once"
    );
    assert_eq!(generation.ok().map(Result::unwrap), Some(before + 1));
    assert_eq!(old, (true, true));
    assert_eq!(fleet.read().len(), 1);
}
