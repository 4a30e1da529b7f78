//! The shared contract story, on a scratch PostgreSQL database. Skipped (and passing) when
//! `KBGAP_TEST_DATABASE_URL` is unset: `.ci/start-postgres.sh` prints the line that sets it.

use std::sync::Arc;

use kbgap_store_postgres::{PgStore, ScratchDatabase};

#[tokio::test]
async fn store_story_on_postgres() {
    let Ok(base) = std::env::var("KBGAP_TEST_DATABASE_URL") else {
        eprintln!(
            "store_story_on_postgres: skipped, KBGAP_TEST_DATABASE_URL is unset (see .ci/start-postgres.sh)"
        );
        return;
    };
    let scratch = ScratchDatabase::create(&base).await.unwrap();
    let store = PgStore::connect(scratch.url()).await.unwrap();
    // Run the story as its own task so a failed assertion still lets us drop the database.
    let story = tokio::spawn(kbgap_store::testing::store_story(Arc::new(store.clone()))).await;
    store.close().await;
    scratch.drop_database().await.unwrap();
    if let Err(e) = story {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn connection_errors_hide_the_password() {
    let Ok(base) = std::env::var("KBGAP_TEST_DATABASE_URL") else {
        eprintln!("connection_errors_hide_the_password: skipped, KBGAP_TEST_DATABASE_URL is unset");
        return;
    };
    let wrong = base.replacen(":kbgap@", ":wrong-S3cret@", 1);
    assert_ne!(
        wrong, base,
        "the test expects the kbgap/kbgap role of .ci/start-postgres.sh"
    );
    let err = PgStore::connect(&wrong).await.unwrap_err().to_string();
    assert!(!err.contains("wrong-S3cret"), "{err}");
    assert!(err.contains("****"), "the URL is shown, redacted: {err}");
}
