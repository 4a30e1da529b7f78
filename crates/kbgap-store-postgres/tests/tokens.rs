//! The issued-token and revocation contract, on a scratch PostgreSQL database. Skipped (and
//! passing) when `KBGAP_TEST_DATABASE_URL` is unset.

use std::sync::Arc;

use kbgap_store_postgres::{PgStore, ScratchDatabase};

#[tokio::test]
async fn token_story_on_postgres() {
    let Ok(base) = std::env::var("KBGAP_TEST_DATABASE_URL") else {
        eprintln!("token_story_on_postgres: skipped, KBGAP_TEST_DATABASE_URL is unset");
        return;
    };
    let scratch = ScratchDatabase::create(&base).await.unwrap();
    let store = PgStore::connect(scratch.url()).await.unwrap();
    let story = tokio::spawn(kbgap_store::testing::token_story(Arc::new(store.clone()))).await;
    store.close().await;
    scratch.drop_database().await.unwrap();
    if let Err(e) = story {
        std::panic::resume_unwind(e.into_panic());
    }
}
