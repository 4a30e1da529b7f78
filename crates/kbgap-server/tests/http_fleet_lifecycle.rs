//! Machine tags and Defender's 30-day rule over real HTTP (127.0.0.1) on a real store, with the
//! fleet service on a clock the test moves: tags posted in JSON reports are served as
//! `machineTags` and filtered with `machineTags/any(…)`; a machine unseen for 30 days is
//! `Inactive`, still listed and answered for, and out of every count, so machine and software
//! getmissingkbs keep agreeing; the daily snapshot counts the same fleet.
//!
//! The catalog is compiled from the bundled documents: run with `--release`.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use kbgap_core::catalog::Catalog;
use kbgap_server::auth::{AuthConfig, Authenticator, LocalIssuer};
use kbgap_server::{AppState, FleetService, RateLimitConfig, api_routes, router_with, serve_app};
use kbgap_service::clock::ManualClock;
use kbgap_store::Store;
use serde_json::{Value, json};
use tokio::sync::oneshot;

fn catalog() -> Arc<Catalog> {
    static CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            let docs: Vec<_> = kbgap_catalog::bundled::read_all()
                .collect::<Result<_, _>>()
                .expect("bundled documents read");
            let mut cat = Catalog::compile(&docs);
            cat.apply_kev(&kbgap_catalog::kev::bundled().expect("bundled KEV"));
            Arc::new(cat)
        })
        .clone()
}

struct Api {
    base: String,
    client: reqwest::Client,
    local: Arc<LocalIssuer>,
    fleet: Arc<FleetService>,
    _dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Api {
    async fn start(store: Arc<dyn Store>, clock: Arc<ManualClock>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = AuthConfig::local(LocalIssuer::load_or_create(dir.path()).unwrap());
        let local = config.local.clone().unwrap();
        let fleet = FleetService::load(store, catalog()).await.unwrap();
        let fleet = Arc::new(fleet.with_clock(clock));
        let state = AppState::new(
            Authenticator::new(config).unwrap(),
            RateLimitConfig::unlimited(),
        )
        .with_fleet(Arc::clone(&fleet));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let app = router_with(state, api_routes());
        let handle = tokio::spawn(serve_app(listener, app, async move {
            let _ = rx.await;
        }));
        Self {
            base,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            local,
            fleet,
            _dir: dir,
            shutdown: Some(tx),
            handle,
        }
    }

    fn token(&self, roles: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|s| (*s).to_owned()).collect();
        (self.local)
            .issue(&roles, "tenant-1", "app-1", Duration::from_secs(600))
            .unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        let roles = ["Machine.Read.All", "Software.Read.All"];
        let resp = (self.client.get(format!("{}{path}", self.base)))
            .bearer_auth(self.token(&roles))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "GET {path}");
        resp.json().await.unwrap()
    }

    async fn post(&self, report: &Value) -> reqwest::Response {
        (self.client.post(format!("{}/api/inventory", self.base)))
            .bearer_auth(self.token(&["Machine.ReadWrite.All"]))
            .json(report)
            .send()
            .await
            .unwrap()
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle.await.unwrap().unwrap();
    }
}

/// A Windows 10 22H2 report at `ubr`, with `tags`.
fn report(name: &str, ubr: u32, tags: &[&str]) -> Value {
    json!({
        "computerDnsName": name,
        "osName": "Microsoft Windows 10 Enterprise",
        "osVersion": "10.0.19045",
        "ubr": ubr,
        "installationType": "Client",
        "architecture": "x64",
        "installedKbs": [],
        "machineTags": tags,
    })
}

fn names(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = (v["value"].as_array().unwrap().iter())
        .map(|m| m["computerDnsName"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

/// KB id → machineMissedOn, as one getmissingkbs answer gives them.
fn missed_on(v: &Value) -> BTreeMap<String, i64> {
    (v["value"].as_array().unwrap().iter())
        .map(|f| {
            let n = f["machineMissedOn"].as_i64().unwrap();
            (f["id"].as_str().unwrap().to_owned(), n)
        })
        .collect()
}

/// Every KB of the software's getmissingkbs is missed on as many machines as list it in their
/// own getmissingkbs among `active`, and every machine's answer agrees with those counts.
async fn counts_agree(api: &Api, ids: &BTreeMap<&str, String>, active: &[&str]) {
    let mut listed: BTreeMap<String, i64> = BTreeMap::new();
    for name in active {
        let v = api
            .get(&format!("/api/machines/{}/getmissingkbs", ids[name]))
            .await;
        for kb in missed_on(&v).into_keys() {
            *listed.entry(kb).or_default() += 1;
        }
    }
    for (name, id) in ids {
        let v = api.get(&format!("/api/machines/{id}/getmissingkbs")).await;
        for (kb, n) in missed_on(&v) {
            // An inactive machine's KB no active machine misses is missed on none.
            assert_eq!(n, listed.get(&kb).copied().unwrap_or(0), "{name}: {kb}");
        }
    }
    let sw = api
        .get("/api/Software/microsoft-_-windows_10/getmissingkbs")
        .await;
    let sw = missed_on(&sw);
    assert!(!sw.is_empty());
    for (kb, n) in &sw {
        assert_eq!(Some(n), listed.get(kb), "software's {kb}");
    }
}

async fn story(store: Arc<dyn Store>) {
    // Whole seconds: the stores keep microseconds, and snapshots are compared as read back.
    let start = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let api = Api::start(Arc::clone(&store), Arc::clone(&clock)).await;

    // Tags are stored with the machine and served as Defender's machineTags.
    let mut ids = BTreeMap::new();
    for (name, ubr, tags) in [
        ("pc-a", 3803, &["Finance", " site:Berlin "][..]),
        ("pc-b", 3803, &["finance", "FINANCE"][..]),
        ("pc-c", 2965, &[][..]),
    ] {
        let resp = api.post(&report(name, ubr, tags)).await;
        assert_eq!(resp.status().as_u16(), 200, "{name}");
        let m: Value = resp.json().await.unwrap();
        ids.insert(name, m["id"].as_str().unwrap().to_owned());
    }
    let a = api.get(&format!("/api/machines/{}", ids["pc-a"])).await;
    assert_eq!(a["machineTags"], json!(["Finance", "site:Berlin"]));
    let b = api.get("/api/machines/pc-b").await;
    assert_eq!(b["machineTags"], json!(["finance"]), "repeats are one tag");
    let c = api.get("/api/machines/pc-c").await;
    assert_eq!(c["machineTags"], json!([]));

    let tagged = api
        .get("/api/machines?$filter=machineTags/any(tag:%20tag%20eq%20'FINANCE')")
        .await;
    assert_eq!(names(&tagged), ["pc-a", "pc-b"]);
    let berlin = api
        .get("/api/machines?$filter=machineTags/any(t:%20startswith(t,'site:'))%20and%20healthStatus%20eq%20'Active'")
        .await;
    assert_eq!(names(&berlin), ["pc-a"]);
    let untagged = api
        .get("/api/machines?$filter=not%20machineTags/any()")
        .await;
    assert_eq!(names(&untagged), ["pc-c"]);

    // Limits are 400s naming the field; nothing is stored.
    let many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
    let mut over = report("pc-d", 3803, &[]);
    over["machineTags"] = json!(many);
    let resp = api.post(&over).await;
    assert_eq!(resp.status().as_u16(), 400);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("machineTags") && text.contains("50"),
        "{text}"
    );
    over["machineTags"] = json!(["x".repeat(201)]);
    let resp = api.post(&over).await;
    assert_eq!(resp.status().as_u16(), 400);
    let text = resp.text().await.unwrap();
    assert!(text.contains("machineTags[0]"), "{text}");
    assert_eq!(
        api.get("/api/machines").await["value"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    counts_agree(&api, &ids, &["pc-a", "pc-b", "pc-c"]).await;

    // 20 days on, a and b report again; 11 more and c has not been seen for 31 days.
    clock.advance(TimeDelta::days(20));
    for (name, tags) in [("pc-a", &["Finance"][..]), ("pc-b", &["finance"][..])] {
        assert_eq!(
            api.post(&report(name, 3803, tags)).await.status().as_u16(),
            200
        );
    }
    clock.advance(TimeDelta::days(11));
    let all = api.get("/api/machines").await;
    assert_eq!(
        names(&all),
        ["pc-a", "pc-b", "pc-c"],
        "inactive machines are listed"
    );
    let status: BTreeMap<String, String> = (all["value"].as_array().unwrap().iter())
        .map(|m| {
            let name = m["computerDnsName"].as_str().unwrap().to_owned();
            (name, m["healthStatus"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(status["pc-a"], "Active");
    assert_eq!(status["pc-c"], "Inactive");
    let inactive = api
        .get("/api/machines?$filter=healthStatus%20eq%20'Inactive'")
        .await;
    assert_eq!(names(&inactive), ["pc-c"]);
    let a = api.get("/api/machines/pc-a").await;
    assert_eq!(
        a["machineTags"],
        json!(["Finance"]),
        "the latest report's tags"
    );
    // c is still answered for, and counts only the active machines.
    counts_agree(&api, &ids, &["pc-a", "pc-b"]).await;
    let sw = api.get("/api/Software/microsoft-_-windows_10").await;
    assert_eq!(sw["installedMachines"], 2);

    let snap = kbgap_service::history::record(&api.fleet).await.unwrap();
    assert_eq!((snap.assessed, snap.active), (3, 2));
    assert_eq!(snap.day, clock_day(&clock));
    assert_eq!(snap.missing_any, 2);
    assert_eq!(
        snap.exposure.none + snap.exposure.low + snap.exposure.medium + snap.exposure.high,
        2
    );

    // c reports again: active and counted at once.
    assert_eq!(
        api.post(&report("pc-c", 2965, &[])).await.status().as_u16(),
        200
    );
    counts_agree(&api, &ids, &["pc-a", "pc-b", "pc-c"]).await;
    let again = kbgap_service::history::record(&api.fleet).await.unwrap();
    assert_eq!((again.assessed, again.active), (3, 3));
    let trend = kbgap_service::history::trend(&api.fleet, 7).await.unwrap();
    assert_eq!(trend, [again], "one row per day, the latest recording");
    api.stop().await;
}

fn clock_day(clock: &ManualClock) -> chrono::NaiveDate {
    use kbgap_service::clock::Clock;
    clock.now().date_naive()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_and_inactive_machines_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = kbgap_store_sqlite::SqliteStore::open(&dir.path().join("kbgap.db"))
        .await
        .unwrap();
    story(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_and_inactive_machines_on_postgres() {
    let Ok(base) = std::env::var("KBGAP_TEST_DATABASE_URL") else {
        eprintln!("KBGAP_TEST_DATABASE_URL is not set: skipping the PostgreSQL lifecycle test");
        return;
    };
    let scratch = kbgap_store_postgres::ScratchDatabase::create(&base)
        .await
        .unwrap();
    let store = kbgap_store_postgres::PgStore::connect(scratch.url())
        .await
        .unwrap();
    story(Arc::new(store)).await;
    scratch.drop_database().await.unwrap();
}
