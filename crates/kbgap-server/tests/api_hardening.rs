//! Hardening of the resource endpoints over real HTTP on a real SQLite store (issue 13).
//!
//! * F2: a costly `$filter` is a 400 naming the budget; a heavy one within it runs off the
//!   async workers, so `/healthz` answers meanwhile (the runtime here has one thread, so a
//!   filter evaluated on it would stall `/healthz` entirely);
//! * F5: a report over a per-field limit is a 400 naming the field and the limit.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kbgap_core::catalog::Catalog;
use kbgap_inventory::{Format, Inventory};
use kbgap_server::auth::{AuthConfig, Authenticator, LocalIssuer};
use kbgap_server::odata::FILTER_BUDGET;
use kbgap_server::{AppState, FleetService, RateLimitConfig, api_routes, router_with, serve_app};
use kbgap_store::Store;
use serde_json::Value;

/// Compiled once per test binary (slow in debug builds).
fn catalog() -> Arc<Catalog> {
    static CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();
    CATALOG
        .get_or_init(|| {
            let docs: Vec<_> = kbgap_catalog::bundled::read_all()
                .collect::<Result<_, _>>()
                .expect("bundled documents read");
            Arc::new(Catalog::compile(&docs))
        })
        .clone()
}

fn devices() -> Vec<kbgap_core::Device> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/systeminfo");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|p| {
            match kbgap_inventory::read(&std::fs::read(p).unwrap(), "t", Format::Auto) {
                Ok(Inventory::Device(d)) if d.end_of_support.is_none() => Some(d),
                _ => None,
            }
        })
        .collect()
}

fn or_chain(n: u64) -> String {
    (0..n)
        .map(|i| format!("contains(cveId,'zz{i}')"))
        .collect::<Vec<_>>()
        .join(" or ")
}

struct Server {
    base: String,
    local: Arc<LocalIssuer>,
    _dir: tempfile::TempDir,
    shutdown: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = kbgap_store_sqlite::SqliteStore::open(&dir.path().join("kbgap.db"))
            .await
            .unwrap();
        store
            .upsert_machines(devices(), chrono::Utc::now())
            .await
            .unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        let fleet = FleetService::load(store, catalog()).await.unwrap();
        let local = LocalIssuer::load_or_create(dir.path()).unwrap();
        let config = AuthConfig::local(local);
        let local = config.local.clone().unwrap();
        let state = AppState::new(
            Authenticator::new(config).unwrap(),
            RateLimitConfig::unlimited(),
        )
        .with_fleet(Arc::new(fleet));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(serve_app(
            listener,
            router_with(state, api_routes()),
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            base,
            local,
            _dir: dir,
            shutdown,
            handle,
        }
    }

    fn token(&self, role: &str) -> String {
        self.local
            .issue(
                &[role.to_owned()],
                "tenant-1",
                "app-1",
                Duration::from_secs(600),
            )
            .unwrap()
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.handle.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn costly_filters_are_refused_and_heavy_ones_do_not_stall_healthz() {
    let server = Server::start().await;
    let base = server.base.clone();
    let token = server.token("Vulnerability.Read.All");
    let client = reqwest::Client::new();
    let get = |path: String| {
        client
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
    };
    let path = "/api/vulnerabilities/machinesVulnerabilities";

    let counted: Value = get(format!("{path}?$count=true&$top=1"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = counted["@odata.count"].as_u64().unwrap();
    assert!(
        rows * 300 > FILTER_BUDGET,
        "only {rows} rows: the test needs more"
    );

    // 300 terms: refused, naming the budget, without evaluating them all.
    let started = Instant::now();
    let resp = get(format!("{path}?$filter={}", or_chain(300)))
        .await
        .unwrap();
    let refused_in = started.elapsed();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ODataError");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains(&format!("budget of {FILTER_BUDGET}")), "{msg}");
    // Refused from the rows' count, before any row is made or evaluated (it took seconds when
    // the budget was only charged as rows were evaluated).
    assert!(
        refused_in < Duration::from_secs(1),
        "refused only after {refused_in:?}"
    );
    eprintln!("{rows} rows; 300-term filter refused in {refused_in:?}");

    // As many terms as the budget allows over every row: heavy, answered, and /healthz is not
    // held up meanwhile.
    let terms = FILTER_BUDGET / rows;
    let heavy = tokio::spawn(get(format!("{path}?$filter={}", or_chain(terms))));
    let mut worst = Duration::ZERO;
    let mut probes = 0;
    while !heavy.is_finished() && probes < 200 {
        let t = Instant::now();
        let r = client.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        worst = worst.max(t.elapsed());
        probes += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let heavy = heavy.await.unwrap().unwrap();
    let took = started.elapsed();
    assert_eq!(heavy.status().as_u16(), 200);
    assert!(
        probes >= 3,
        "the heavy query was too quick to probe ({probes} probes)"
    );
    assert!(
        worst < Duration::from_millis(250),
        "/healthz took {worst:?} during the query"
    );
    eprintln!(
        "{terms}-term filter over {rows} rows: /healthz worst {worst:?} over {probes} probes (query and refusal {took:?})"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_report_over_a_field_limit_is_a_400_naming_it() {
    let server = Server::start().await;
    let report = serde_json::json!({
        "computerDnsName": "big.contoso.com",
        "osName": "x".repeat(300),
        "osVersion": "10.0.19045",
        "installationType": "Client",
        "architecture": "x64",
        "installedKbs": [],
    });
    let resp = reqwest::Client::new()
        .post(format!("{}/api/inventory", server.base))
        .bearer_auth(server.token("Machine.ReadWrite.All"))
        .json(&report)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidInput");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("\"osName\"") && msg.contains("at most 256"),
        "{msg}"
    );
    server.stop().await;
}

fn report(name: &str, id: Option<&str>) -> Value {
    serde_json::json!({
        "id": id,
        "computerDnsName": name,
        "osVersion": "10.0.19045",
        "ubr": 3803,
        "installationType": "Client",
        "architecture": "x64",
        "installedKbs": ["5034441"],
    })
}

async fn post(server: &Server, token: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/api/inventory", server.base))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn status_of_get(server: &Server, token: &str, path: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}{path}", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn inventory_submit_tokens_post_their_machine_and_nothing_else() {
    let server = Server::start().await;
    let bound = server
        .local
        .issue_for_machine("pc-01", "tenant-1", "collector", Duration::from_secs(600))
        .unwrap();

    // Its own machine, by host name or full DNS name.
    let r = post(&server, &bound, &report("PC-01.contoso.com", None)).await;
    assert_eq!(r.status().as_u16(), 200);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["computerDnsName"], "PC-01.contoso.com");

    // Another machine: 403 naming the binding.
    let r = post(&server, &bound, &report("pc-02.contoso.com", None)).await;
    assert_eq!(r.status().as_u16(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Forbidden");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pc-01 only")
    );

    // Its own name with another stored machine's id: 403 (the id decides what is updated).
    let other = server.token("Machine.Read.All");
    let list: Value = reqwest::Client::new()
        .get(format!("{}/api/machines?$top=1", server.base))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let victim = list["value"][0]["id"].as_str().unwrap().to_owned();
    assert_ne!(list["value"][0]["computerDnsName"], "PC-01.contoso.com");
    let r = post(&server, &bound, &report("pc-01", Some(&victim))).await;
    assert_eq!(r.status().as_u16(), 403);

    // Nothing else, not even what any valid token may read.
    for path in [
        "/api/machines",
        "/api/$metadata",
        "/api/vulnerabilities/machinesVulnerabilities",
        "/api/Software",
    ] {
        assert_eq!(status_of_get(&server, &bound, path).await, 403, "{path}");
    }

    // Unbound, the role posts any machine and still reads nothing.
    let unbound = server.token("Inventory.Submit");
    let r = post(&server, &unbound, &report("pc-03.contoso.com", None)).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(status_of_get(&server, &unbound, "/api/machines").await, 403);
    assert_eq!(
        status_of_get(&server, &unbound, "/api/$metadata").await,
        403
    );
    server.stop().await;
}
