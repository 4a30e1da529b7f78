//! PostgreSQL store throughput: machine reports stored per second in batches of 1,000, and the
//! time to load a catalog of 190 documents. Runs on a scratch database of the server
//! `KBGAP_TEST_DATABASE_URL` names (see `.ci/start-postgres.sh`); does nothing without it.
//!
//! `cargo bench -p kbgap-store-postgres --bench ingest`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kbgap_store::Store;
use kbgap_store::testing::synth::{self, DocProfile};
use kbgap_store_postgres::{PgStore, ScratchDatabase};
use tokio::runtime::Runtime;

const BATCH: usize = 1000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn base_url() -> Option<String> {
    let url = std::env::var("KBGAP_TEST_DATABASE_URL").ok();
    if url.is_none() {
        eprintln!("skipped: KBGAP_TEST_DATABASE_URL is unset (see .ci/start-postgres.sh)");
    }
    url
}

fn ingest(c: &mut Criterion) {
    let Some(base) = base_url() else { return };
    let rt = runtime();
    let scratch = rt.block_on(ScratchDatabase::create(&base)).unwrap();
    let store = Arc::new(rt.block_on(PgStore::connect(scratch.url())).unwrap());
    let next = Arc::new(AtomicUsize::new(0));

    let mut group = c.benchmark_group("postgres_upsert");
    group.throughput(Throughput::Elements(BATCH as u64));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("new_machines_batch_1000", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (store, next) = (store.clone(), next.clone());
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = next.fetch_add(BATCH, Ordering::Relaxed);
                    let batch: Vec<_> = (start..start + BATCH).map(synth::device).collect();
                    let t = Instant::now();
                    store.upsert_machines(batch, Utc::now()).await.unwrap();
                    total += t.elapsed();
                }
                total
            }
        });
    });
    let fleet: Vec<_> = (0..BATCH).map(synth::device).collect();
    group.bench_function("known_machines_batch_1000", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (store, fleet) = (store.clone(), fleet.clone());
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let batch = fleet.clone();
                    let t = Instant::now();
                    store.upsert_machines(batch, Utc::now()).await.unwrap();
                    total += t.elapsed();
                }
                total
            }
        });
    });
    group.finish();
    eprintln!(
        "postgres_upsert: {} machines stored at the end",
        rt.block_on(store.machine_count()).unwrap()
    );
    rt.block_on(store.close());
    rt.block_on(scratch.drop_database()).unwrap();
}

fn catalog(c: &mut Criterion) {
    let Some(base) = base_url() else { return };
    let rt = runtime();
    let mut group = c.benchmark_group("postgres_catalog");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    for (name, profile) in [
        ("bundled_average", DocProfile::BUNDLED_AVERAGE),
        ("heavy", DocProfile::HEAVY),
    ] {
        let scratch = rt.block_on(ScratchDatabase::create(&base)).unwrap();
        let store = rt.block_on(PgStore::connect(scratch.url())).unwrap();
        let docs: Vec<_> = (0..190).map(|i| synth::document(profile, i)).collect();
        let t = Instant::now();
        rt.block_on(store.import_documents(docs)).unwrap();
        eprintln!(
            "postgres_catalog/{name}: import of 190 documents {:.2?}",
            t.elapsed()
        );
        group.bench_function(format!("load_190_{name}"), |b| {
            b.to_async(&rt)
                .iter(|| async { store.catalog_documents().await.unwrap().len() });
        });
        rt.block_on(store.close());
        rt.block_on(scratch.drop_database()).unwrap();
    }
    group.finish();
}

criterion_group!(benches, ingest, catalog);
criterion_main!(benches);
