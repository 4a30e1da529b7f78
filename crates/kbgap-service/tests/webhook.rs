//! Webhooks against a real receiver on 127.0.0.1: a report that exposes a machine to exploited
//! CVEs and a catalog reload that brings a KB the machine misses each arrive as signed JSON,
//! the receiver's first refusal (503) is retried with the same delivery id and a fresh
//! signature, a report that changes nothing sends nothing, and a drain (a stopping server)
//! sends what waits for its batch window.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use kbgap_core::catalog::Catalog;
use kbgap_service::FleetService;
use kbgap_service::catalog::{CatalogLoader, Silent};
use kbgap_service::reload::Reloader;
use kbgap_service::webhook::{Webhook, WebhookConfig};
use kbgap_store::Store;
use serde_json::Value;
use sha2::Sha256;

const SECRET: &str = "correct horse battery staple";
const JANUARY_CU: &str = "5073724";
const FEBRUARY_CU: &str = "5075912";

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
    answered: StatusCode,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).unwrap().to_str().unwrap()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

type Log = Arc<Mutex<Vec<Received>>>;

/// A receiver that answers 503 to the first POST of each delivery id and 200 to the rest.
async fn receiver() -> (String, Log) {
    let log: Log = Arc::default();
    let kept = Arc::clone(&log);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let log = Arc::clone(&kept);
            async move {
                let mut log = log.lock().unwrap();
                let id = headers.get("x-kbgap-delivery").cloned();
                let first = !log
                    .iter()
                    .any(|r| r.headers.get("x-kbgap-delivery") == id.as_ref());
                let answered = if first {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::OK
                };
                log.push(Received {
                    headers,
                    body: body.to_vec(),
                    answered,
                });
                answered
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, log)
}

/// Checks the signature as the README tells a receiver to: HMAC-SHA256 of
/// `"<X-Kbgap-Timestamp>.<body>"` with the secret, hex, after `sha256=`; timestamp within 5 min.
fn assert_signed(r: &Received) {
    let ts = r.header("x-kbgap-timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(&r.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(r.header("x-kbgap-signature"), expected);
    let skew = chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap();
    assert!((0..60).contains(&skew), "timestamp {ts} is {skew} s old");
    assert_eq!(r.header("content-type"), "application/json");
}

/// Waits until the receiver has answered 200 to `n` deliveries; gives every POST.
async fn delivered(log: &Log, n: usize) -> Vec<Received> {
    for _ in 0..200 {
        let got = log.lock().unwrap().clone();
        if got.iter().filter(|r| r.answered == StatusCode::OK).count() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not {n} deliveries in 10 s: {:?}", log.lock().unwrap());
}

/// A Windows 10 22H2 machine without January's update (exposed to its exploited CVEs).
fn exposed_device() -> kbgap_core::Device {
    let bytes = std::fs::read(repo(
        "fixtures/systeminfo/10_22H2_x64_enterprise_en-us_systeminfo.txt",
    ))
    .unwrap();
    kbgap_service::intake::read_report(&bytes, "fixture", Default::default(), None).unwrap()
}

/// A webhook to `url` with this batch window and quick retries, told of `fleet`'s reports.
fn start_webhook(fleet: &FleetService, url: String, window: Duration) -> Webhook {
    let mut config = WebhookConfig::new(url, SECRET);
    config.batch_window = window;
    config.first_retry = Duration::from_millis(200);
    let webhook = Webhook::start(config).unwrap();
    fleet.set_webhook(webhook.clone());
    webhook
}

async fn import(store: &dyn Store, file: &str) {
    let doc = kbgap_catalog::read_path(&repo(file)).unwrap();
    store.import_documents(vec![doc]).await.unwrap();
}

async fn load(store: &dyn Store, cache: &Path) -> Arc<Catalog> {
    Arc::new(
        CatalogLoader::new(store, cache, &Silent)
            .load()
            .await
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn exposure_on_ingest_and_new_kbs_on_reload_are_signed_retried_and_accurate() {
    let (url, log) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let store: Arc<dyn Store> = Arc::new(
        kbgap_store_sqlite::SqliteStore::open(&dir.path().join("kbgap.db"))
            .await
            .unwrap(),
    );
    import(store.as_ref(), "data/msrc-cvrf/2026-Jan.xml.zst").await;
    let generation = store.catalog_generation().await.unwrap();
    let january = load(store.as_ref(), &cache).await;
    let fleet = FleetService::load_at(Arc::clone(&store), Arc::clone(&january), Some(generation));
    let fleet = Arc::new(fleet.await.unwrap());
    let webhook = start_webhook(&fleet, url, Duration::from_millis(300));

    let device = exposed_device();
    let stored = fleet.ingest(vec![device.clone()]).await.unwrap();
    let id = stored[0].id.as_str().to_ascii_lowercase();

    let got = delivered(&log, 1).await;
    assert_eq!(got.len(), 2, "one refused attempt, one retry: {got:?}");
    assert_eq!(got[0].answered, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        got[0].header("x-kbgap-delivery"),
        got[1].header("x-kbgap-delivery")
    );
    assert_eq!(got[0].body, got[1].body, "a retry sends the same body");
    got.iter().for_each(assert_signed);
    let exposed = got[1].json();
    assert_eq!(got[1].header("x-kbgap-event"), "machines.exploited");
    assert_eq!(exposed["event"], "machines.exploited");
    assert_eq!(
        exposed["id"].as_str(),
        Some(got[1].header("x-kbgap-delivery"))
    );
    let machines = exposed["machines"].as_array().unwrap();
    assert_eq!(machines.len(), 1);
    let m = &machines[0];
    assert_eq!(m["id"].as_str(), Some(id.as_str()));
    assert_eq!(
        m["computerDnsName"].as_str(),
        Some(device.computer_dns_name.as_str())
    );
    // Every CVE named is exploited in the catalog and open on the machine: compare with the
    // engine's own answer for the machine.
    let view_exploited: Vec<String> = {
        let view = fleet.read();
        let group = view.fleet.group_of(&id).unwrap();
        let mut ids: Vec<String> = (group.evaluation.open.iter())
            .map(|&v| january.vuln(v))
            .filter(|v| v.id.is_cve() && v.exploited())
            .map(|v| v.id.to_string())
            .collect();
        ids.sort();
        ids
    };
    assert!(
        !view_exploited.is_empty(),
        "the fixture is exposed to an exploited CVE"
    );
    let strings = |v: &Value| -> Vec<String> {
        (v.as_array().unwrap().iter())
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(strings(&m["newlyExploitedCves"]), view_exploited);
    assert_eq!(strings(&m["exploitedCves"]), view_exploited);
    assert!(strings(&m["kbs"]).contains(&JANUARY_CU.to_owned()), "{m}");

    // The same report again changes nothing, so nothing is sent.
    fleet.ingest(vec![device]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        log.lock().unwrap().len(),
        2,
        "an unchanged machine sends nothing"
    );

    // February arrives: its cumulative update is new work for the machine; January's is not.
    import(store.as_ref(), "data/msrc-cvrf/2026-Feb.xml.zst").await;
    let reloader = Reloader::new(Arc::clone(&fleet), cache).with_webhook(webhook);
    let reloaded = reloader.check().await.unwrap().expect("a new generation");
    let got = delivered(&log, 2).await;
    assert_eq!(got.len(), 4, "{got:?}");
    got[2..].iter().for_each(assert_signed);
    assert_eq!(got[2].answered, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(got[3].header("x-kbgap-event"), "catalog.missingKbs");
    let body = got[3].json();
    assert_eq!(body["id"], format!("catalog-{}", reloaded.generation));
    assert_eq!(body["catalog"]["generation"], reloaded.generation);
    let kbs = body["kbs"].as_array().unwrap();
    let ids: Vec<&str> = kbs.iter().map(|k| k["kbId"].as_str().unwrap()).collect();
    assert!(ids.contains(&FEBRUARY_CU), "{ids:?}");
    assert!(
        !ids.contains(&JANUARY_CU),
        "January's KB was missing already: {ids:?}"
    );
    let feb = kbs.iter().find(|k| k["kbId"] == FEBRUARY_CU).unwrap();
    assert_eq!(feb["kind"], "CumulativeUpdate");
    assert_eq!(feb["machineCount"], 1);
    assert_eq!(feb["machines"][0]["id"].as_str(), Some(id.as_str()));
    let catalog = fleet.catalog();
    for cve in strings(&feb["exploitedCves"]) {
        let v = (catalog.vulns().iter())
            .find(|v| v.id.to_string() == cve)
            .unwrap();
        assert!(v.exploited(), "{cve} is not exploited");
    }
}

/// A stopping server drains its webhook: exposures still in their batch window are sent at
/// once, and the drain returns once they were delivered (the receiver's 503 retried).
#[tokio::test(flavor = "multi_thread")]
async fn a_drain_sends_what_waits_for_its_batch_window() {
    let (url, log) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        kbgap_store_sqlite::SqliteStore::open(&dir.path().join("kbgap.db"))
            .await
            .unwrap(),
    );
    import(store.as_ref(), "data/msrc-cvrf/2026-Jan.xml.zst").await;
    let catalog = load(store.as_ref(), &dir.path().join("cache")).await;
    let fleet = Arc::new(FleetService::load(store, catalog).await.unwrap());
    let webhook = start_webhook(&fleet, url, Duration::from_secs(3600));
    fleet.ingest(vec![exposed_device()]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(log.lock().unwrap().is_empty(), "the hour's window holds it");

    assert!(
        webhook.drain(Duration::from_secs(10)).await,
        "drained in time"
    );
    let got = log.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "refused once, then delivered: {got:?}");
    assert_eq!(got[1].answered, StatusCode::OK);
    assert_eq!(got[1].json()["event"], "machines.exploited");
    assert_signed(&got[1]);
    // Nothing waits now: a second drain is answered at once.
    assert!(webhook.drain(Duration::from_secs(1)).await);
}

#[test]
fn a_bad_url_or_an_empty_secret_is_refused_at_start() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let e = Webhook::start(WebhookConfig::new("ftp://h/x", SECRET)).unwrap_err();
    assert!(e.to_string().contains("ftp://h/x"), "{e}");
    let e = Webhook::start(WebhookConfig::new("http://127.0.0.1:9/x", "")).unwrap_err();
    assert!(e.to_string().contains("--webhook-secret"), "{e}");
}
