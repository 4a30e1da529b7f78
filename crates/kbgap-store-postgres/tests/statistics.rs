//! A bulk write (`kbgap machines import`) leaves the machines table with planner statistics, so
//! the change read every replica runs after each commit is an index scan from the start rather
//! than a scan of the whole table until autovacuum comes by. Skipped when
//! `KBGAP_TEST_DATABASE_URL` is unset.

use chrono::Utc;
use kbgap_store::Store;
use kbgap_store::testing::synth;
use kbgap_store_postgres::{ANALYZE_AFTER_ROWS, PgStore, ScratchDatabase, change_read_sql};

/// The planner's row count for the machines table: -1 until it was first analyzed.
async fn planned_rows(pool: &sqlx::PgPool) -> f32 {
    sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE relname = 'machines'")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The plan of the change read (the store's own statement) for changes after `seq`.
async fn change_read_plan(pool: &sqlx::PgPool, seq: i64) -> String {
    let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {}", change_read_sql()))
        .bind(seq)
        .bind(0_i64)
        .bind(0_i64)
        .fetch_all(pool)
        .await
        .unwrap();
    lines.join("\n")
}

#[tokio::test]
async fn bulk_writes_leave_statistics_for_the_change_read() {
    let Ok(base) = std::env::var("KBGAP_TEST_DATABASE_URL") else {
        eprintln!(
            "bulk_writes_leave_statistics_for_the_change_read: skipped, KBGAP_TEST_DATABASE_URL is unset"
        );
        return;
    };
    let scratch = ScratchDatabase::create(&base).await.unwrap();
    let store = PgStore::connect(scratch.url()).await.unwrap();
    let raw = sqlx::PgPool::connect(scratch.url()).await.unwrap();

    // A server's group commit is small: no ANALYZE, the table keeps no statistics.
    let small: Vec<_> = (0..50).map(synth::device).collect();
    store.upsert_machines(small, Utc::now()).await.unwrap();
    assert!(
        planned_rows(&raw).await < 0.0,
        "a small batch analyzes nothing"
    );

    // A bulk import: the table is analyzed, and reading the latest changes uses the index.
    let bulk: Vec<_> = (50..50 + ANALYZE_AFTER_ROWS).map(synth::device).collect();
    let commit = store
        .upsert_machines_tracked(bulk, Utc::now())
        .await
        .unwrap();
    let rows = planned_rows(&raw).await;
    assert!(rows >= ANALYZE_AFTER_ROWS as f32, "planner rows {rows}");
    let plan = change_read_plan(&raw, commit.seq).await;
    assert!(plan.contains("machines_updated_seq"), "{plan}");
    // The one-row counter may be scanned; the machines never are.
    assert!(!plan.contains("Seq Scan on machines "), "{plan}");

    raw.close().await;
    store.close().await;
    scratch.drop_database().await.unwrap();
}
