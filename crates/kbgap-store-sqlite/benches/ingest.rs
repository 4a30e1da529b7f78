//! SQLite store throughput: machine reports stored per second in batches of 1,000, and the time
//! to load a catalog of 190 documents (read + decompress + decode).
//!
//! `cargo bench -p kbgap-store-sqlite --bench ingest`. The catalog is synthetic (see
//! `kbgap_store::testing::synth`): `bundled_average` weighs what the 190 bundled MSRC
//! documents weigh; `heavy` is about nine times that.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kbgap_store::Store;
use kbgap_store::testing::synth::{self, DocProfile};
use kbgap_store_sqlite::SqliteStore;
use tokio::runtime::Runtime;

const BATCH: usize = 1000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn ingest(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        rt.block_on(SqliteStore::open(&dir.path().join("kbgap.db")))
            .unwrap(),
    );
    let next = Arc::new(AtomicUsize::new(0));

    let mut group = c.benchmark_group("sqlite_upsert");
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
        "sqlite_upsert: {} machines stored at the end",
        rt.block_on(store.machine_count()).unwrap()
    );
}

fn catalog(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("sqlite_catalog");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    for (name, profile) in [
        ("bundled_average", DocProfile::BUNDLED_AVERAGE),
        ("heavy", DocProfile::HEAVY),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kbgap.db");
        let store = rt.block_on(SqliteStore::open(&path)).unwrap();
        let docs: Vec<_> = (0..190).map(|i| synth::document(profile, i)).collect();
        let t = Instant::now();
        rt.block_on(store.import_documents(docs)).unwrap();
        let import = t.elapsed();
        let (raw, compressed) = rt.block_on(payload_sizes(&path));
        eprintln!(
            "sqlite_catalog/{name}: import of 190 documents {import:.2?}; payloads {:.1} MB postcard, {:.1} MB zstd; file {:.1} MB",
            raw as f64 / 1e6,
            compressed as f64 / 1e6,
            std::fs::metadata(&path).map_or(0, |m| m.len()) as f64 / 1e6,
        );
        group.bench_function(format!("load_190_{name}"), |b| {
            b.to_async(&rt)
                .iter(|| async { store.catalog_documents().await.unwrap().len() });
        });
    }
    group.finish();
}

/// Total uncompressed and stored payload bytes.
async fn payload_sizes(path: &std::path::Path) -> (i64, i64) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let sizes: (i64, i64) =
        sqlx::query_as("SELECT SUM(raw_len), SUM(length(payload)) FROM catalog_documents")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    sizes
}

criterion_group!(benches, ingest, catalog);
criterion_main!(benches);
