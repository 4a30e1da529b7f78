//! The catalog lifecycle inside `serve`: the real `kbgap serve` on 127.0.0.1 follows a
//! `kbgap catalog import` made by another process, swapping catalogs while requests keep
//! coming (none may fail), and `/healthz` reports the catalog's age.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Server, token_on};
use serde_json::Value;

/// January 2026's cumulative update for Windows 10 22H2, and February's.
const JANUARY_CU: &str = "5073724";
const FEBRUARY_CU: &str = "5075912";

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// A data dir and the store the test runs on: its SQLite file, or a PostgreSQL database.
struct Target {
    dir: tempfile::TempDir,
    db: Option<String>,
}

impl Target {
    /// `--db URL` for PostgreSQL, nothing for the data dir's SQLite file.
    fn db_args(&self) -> Vec<&str> {
        self.db.as_deref().map_or(vec![], |u| vec!["--db", u])
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }
}

/// `kbgap catalog import FILE` on the target's store, as another process.
fn import(t: &Target, file: &str) {
    let o = Command::new(env!("CARGO_BIN_EXE_kbgap"))
        .arg("--data-dir")
        .arg(t.data())
        .args(t.db_args())
        .args(["--quiet", "catalog", "import"])
        .arg(repo(file))
        .env_remove("KBGAP_DB")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A target whose store holds only January 2026's document.
fn january_only(db: Option<String>) -> Target {
    let t = Target {
        dir: tempfile::tempdir().unwrap(),
        db,
    };
    import(&t, "data/msrc-cvrf/2026-Jan.xml.zst");
    t
}

/// `serve --catalog-poll 1` on the target.
fn serve(t: &Target) -> Server {
    let mut args = t.db_args();
    args.extend(["--catalog-poll", "1"]);
    Server::start_with(t.data(), &args)
}

async fn post_machine(client: &reqwest::Client, base: &str, tok: &str) -> String {
    let body = std::fs::read(repo(
        "fixtures/systeminfo/10_22H2_x64_enterprise_en-us_systeminfo.txt",
    ))
    .unwrap();
    let r = client
        .post(format!("{base}/api/inventory"))
        .bearer_auth(tok)
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// The KB numbers (`id`, digits only) getmissingkbs gives the machine.
async fn missing(client: &reqwest::Client, url: &str, tok: &str) -> Vec<String> {
    let r = client.get(url).bearer_auth(tok).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    (v["value"].as_array().unwrap().iter())
        .map(|e| e["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// GETs `urls` in a loop until `stop`; counts answers and anything but a 200.
fn hammer(
    client: reqwest::Client,
    urls: Vec<String>,
    tok: String,
    stop: Arc<AtomicBool>,
) -> (tokio::task::JoinHandle<()>, Arc<AtomicU64>, Arc<AtomicU64>) {
    let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (d, f) = (Arc::clone(&done), Arc::clone(&failed));
    let task = tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            for url in &urls {
                let ok = match client.get(url).bearer_auth(&tok).send().await {
                    Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                d.fetch_add(1, Ordering::Relaxed);
                f.fetch_add(u64::from(!ok), Ordering::Relaxed);
            }
        }
    });
    (task, done, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_process_import_is_served_within_the_poll_interval_without_failures() {
    reload_story(None).await;
}

/// The same on PostgreSQL; skipped (and passing) when `KBGAP_TEST_DATABASE_URL` is unset.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_process_import_is_served_within_the_poll_interval_on_postgres() {
    let Some(scratch) = scratch_database().await else {
        return;
    };
    let story = tokio::spawn(reload_story(Some(scratch.url().to_owned()))).await;
    scratch.drop_database().await.unwrap();
    if let Err(e) = story {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn scratch_database() -> Option<kbgap_store_postgres::ScratchDatabase> {
    let Ok(base) = std::env::var("KBGAP_TEST_DATABASE_URL") else {
        eprintln!("skipped: KBGAP_TEST_DATABASE_URL is unset (see .ci/start-postgres.sh)");
        return None;
    };
    Some(
        kbgap_store_postgres::ScratchDatabase::create(&base)
            .await
            .unwrap(),
    )
}

/// January served, February imported by another process, February served within the poll
/// interval, and no request failing meanwhile.
async fn reload_story(db: Option<String>) {
    let t = january_only(db);
    let server = serve(&t);
    let base = server.base.clone();
    let tok = token_on(
        t.data(),
        &t.db_args(),
        "Machine.ReadWrite.All,Machine.Read.All,Software.Read.All",
    );
    let client = reqwest::Client::new();
    let id = post_machine(&client, &base, &tok).await;
    let url = format!("{base}/api/machines/{id}/getmissingkbs");
    let kbs = missing(&client, &url, &tok).await;
    assert!(kbs.iter().any(|k| k == JANUARY_CU), "{kbs:?}");

    let stop = Arc::new(AtomicBool::new(false));
    let urls = vec![
        url.clone(),
        format!("{base}/healthz"),
        format!("{base}/api/machines"),
    ];
    let hammers: Vec<_> = (0..4)
        .map(|_| hammer(client.clone(), urls.clone(), tok.clone(), Arc::clone(&stop)))
        .collect();
    let t = tokio::task::spawn_blocking(move || {
        import(&t, "data/msrc-cvrf/2026-Feb.xml.zst");
        t
    })
    .await
    .unwrap();
    let imported = Instant::now();
    let kbs = loop {
        let kbs = missing(&client, &url, &tok).await;
        if kbs.iter().any(|k| k == FEBRUARY_CU) || imported.elapsed() > Duration::from_secs(10) {
            break kbs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let seen_after = imported.elapsed();
    // Keep hammering a little past the swap, then stop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut done, mut failed) = (0, 0);
    for (task, d, f) in hammers {
        task.await.unwrap();
        done += d.load(Ordering::Relaxed);
        failed += f.load(Ordering::Relaxed);
    }
    assert!(kbs.iter().any(|k| k == FEBRUARY_CU), "{kbs:?}");
    assert!(!kbs.iter().any(|k| k == JANUARY_CU), "{kbs:?}");
    let reloads: Vec<String> = (server.log.lock().unwrap().iter())
        .filter(|l| l.contains("catalog reloaded: 2 documents, newest 2026-Feb"))
        .cloned()
        .collect();
    eprintln!(
        "served February {seen_after:?} after the import; {done} requests meanwhile, {failed} failed; {reloads:?}"
    );
    assert_eq!(failed, 0, "of {done} requests during the reload");
    assert!(done > 50, "the hammer ran: {done}");
    assert_eq!(reloads.len(), 1, "one reload logged");
    assert!(seen_after < Duration::from_secs(10));
    drop(server);
    drop(t);
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_reports_an_old_catalog_as_stale_and_serve_warns_at_start() {
    let t = january_only(None);
    let server = serve(&t);
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["catalog"]["documents"], 1);
    assert_eq!(v["catalog"]["newest"], "2026-Jan");
    assert_eq!(v["catalog"]["stale"], true);
    assert!(v["catalog"]["ageDays"].as_i64().unwrap() > 60, "{v}");
    assert!(v["catalog"]["generation"].as_i64().unwrap() >= 1, "{v}");
    assert!(v["kev"]["version"].is_string(), "{v}");
    assert!(v["kev"]["ageDays"].is_i64(), "{v}");
    let log = server.log.lock().unwrap().join("\n");
    assert!(
        log.contains("the catalog's newest document (2026-Jan) is")
            && log.contains("run `kbgap catalog sync` to update it"),
        "{log}"
    );
}

/// Of two servers on one PostgreSQL database only one holds the sync lock; it is free again
/// once the holder lets go.
#[tokio::test(flavor = "multi_thread")]
async fn only_one_server_holds_the_sync_lock_on_postgres() {
    use kbgap_store::Store;
    let Some(scratch) = scratch_database().await else {
        return;
    };
    let a = kbgap_store_postgres::PgStore::connect(scratch.url())
        .await
        .unwrap();
    let b = kbgap_store_postgres::PgStore::connect(scratch.url())
        .await
        .unwrap();
    let held = a.try_sync_lock().await.unwrap();
    assert!(held.is_some(), "a free lock is granted");
    assert!(
        b.try_sync_lock().await.unwrap().is_none(),
        "a held lock is not"
    );
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    let again = loop {
        match b.try_sync_lock().await.unwrap() {
            Some(l) => break Some(l),
            None if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            None => break None,
        }
    };
    assert!(again.is_some(), "released when the holder drops its guard");
    drop(again);
    a.close().await;
    b.close().await;
    scratch.drop_database().await.unwrap();
}

/// An MSRC API and KEV feed stand-in on 127.0.0.1: the updates index lists 2026-Feb, whose
/// document is served from `data/` (zstd, as the sync accepts), and the bundled KEV file.
fn msrc_stand_in() -> String {
    use axum::Router;
    use axum::http::header;
    use axum::routing::get;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let doc = std::fs::read(repo("data/msrc-cvrf/2026-Feb.xml.zst")).unwrap();
    let kev = zstd::decode_all(
        &std::fs::read(repo(
            "data/cisa-kev/known_exploited_vulnerabilities.json.zst",
        ))
        .unwrap()[..],
    )
    .unwrap();
    let index = format!(
        r#"{{"value":[{{"ID":"2026-Feb","CurrentReleaseDate":"2026-02-10T08:00:00Z","CvrfUrl":"http://{addr}/cvrf/v3.0/cvrf/2026-Feb"}}]}}"#
    );
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let json = || [(header::CONTENT_TYPE, "application/json")];
            let app = Router::new()
                .route(
                    "/cvrf/v3.0/updates",
                    get(move || async move { (json(), index) }),
                )
                .route("/cvrf/v3.0/cvrf/2026-Feb", get(move || async move { doc }))
                .route("/kev.json", get(move || async move { (json(), kev) }));
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{addr}")
}

/// Waits up to `secs` for a log line containing `needle`.
async fn log_line(server: &Server, needle: &str, secs: u64) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        let found = (server.log.lock().unwrap().iter())
            .find(|l| l.contains(needle))
            .cloned();
        if found.is_some() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduled_sync_fetches_new_documents_and_the_server_serves_them() {
    let t = january_only(None);
    let base = msrc_stand_in();
    let kev = format!("{base}/kev.json");
    let args = [
        "--catalog-poll",
        "1",
        "--sync-interval",
        "1h",
        "--msrc-url",
        &base,
        "--kev-url",
        &kev,
    ];
    let server = Server::start_with(t.data(), &args);
    let tok = token_on(
        t.data(),
        &t.db_args(),
        "Machine.ReadWrite.All,Machine.Read.All,Software.Read.All",
    );
    let client = reqwest::Client::new();
    let id = post_machine(&client, &server.base, &tok).await;
    let url = format!("{}/api/machines/{id}/getmissingkbs", server.base);
    let synced = log_line(
        &server,
        "MSRC sync: 1 documents read, 1 changed the catalog",
        15,
    )
    .await;
    assert!(synced.is_some(), "{:?}", server.log.lock().unwrap());
    let reloaded = log_line(
        &server,
        "catalog reloaded: 2 documents, newest 2026-Feb",
        10,
    )
    .await;
    assert!(reloaded.is_some(), "{:?}", server.log.lock().unwrap());
    let kbs = missing(&client, &url, &tok).await;
    assert!(kbs.iter().any(|k| k == FEBRUARY_CU), "{kbs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offline_scheduled_sync_logs_once_when_it_retries_and_keeps_serving() {
    let t = january_only(None);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let kev = format!("{base}/kev.json");
    let args = [
        "--sync-interval",
        "24h",
        "--msrc-url",
        &base,
        "--kev-url",
        &kev,
    ];
    let server = Server::start_with(t.data(), &args);
    let line = log_line(&server, "scheduled catalog sync failed", 10).await;
    let line = line.unwrap_or_else(|| panic!("{:?}", server.log.lock().unwrap()));
    assert!(
        line.contains("next attempt at") && line.contains("(in 60s)"),
        "{line}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let failures = (server.log.lock().unwrap().iter())
        .filter(|l| l.contains("scheduled catalog sync failed"))
        .count();
    assert_eq!(failures, 1, "one line per failed round");
    let r = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
