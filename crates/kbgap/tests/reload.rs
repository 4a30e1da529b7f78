//! The catalog lifecycle inside `serve`: the real `kbgap serve` on 127.0.0.1 follows a
//! `kbgap catalog import` made by another process, swapping catalogs while requests keep
//! coming (none may fail), and `/healthz` reports the catalog's age.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Server, token};
use serde_json::Value;

/// January 2026's cumulative update for Windows 10 22H2, and February's.
const JANUARY_CU: &str = "5073724";
const FEBRUARY_CU: &str = "5075912";

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

/// `kbgap catalog import FILE` on `data`'s store, as another process.
fn import(data: &Path, file: &str) {
    let o = Command::new(env!("CARGO_BIN_EXE_kbgap"))
        .arg("--data-dir")
        .arg(data)
        .args(["--quiet", "catalog", "import"])
        .arg(repo(file))
        .env_remove("KBGAP_DB")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A data dir whose store holds only January 2026's document.
fn january_only() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    import(dir.path(), "data/msrc-cvrf/2026-Jan.xml.zst");
    dir
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
) -> (
    tokio::task::JoinHandle<()>,
    Arc<AtomicU64>,
    Arc<AtomicU64>,
) {
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
    let dir = january_only();
    let server = Server::start_with(dir.path(), &["--catalog-poll", "1"]);
    let base = server.base.clone();
    let tok = token(dir.path(), "Machine.ReadWrite.All,Machine.Read.All,Software.Read.All");
    let client = reqwest::Client::new();
    let id = post_machine(&client, &base, &tok).await;
    let url = format!("{base}/api/machines/{id}/getmissingkbs");
    let kbs = missing(&client, &url, &tok).await;
    assert!(kbs.iter().any(|k| k == JANUARY_CU), "{kbs:?}");

    let stop = Arc::new(AtomicBool::new(false));
    let urls = vec![url.clone(), format!("{base}/healthz"), format!("{base}/api/machines")];
    let hammers: Vec<_> = (0..4)
        .map(|_| hammer(client.clone(), urls.clone(), tok.clone(), Arc::clone(&stop)))
        .collect();
    let data = dir.path().to_owned();
    tokio::task::spawn_blocking(move || import(&data, "data/msrc-cvrf/2026-Feb.xml.zst"))
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
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_reports_an_old_catalog_as_stale_and_serve_warns_at_start() {
    let dir = january_only();
    let server = Server::start_with(dir.path(), &["--catalog-poll", "1"]);
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
