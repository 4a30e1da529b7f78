//! A costly `$filter` over real machines (issue 13, F2): past the budget it is a 400 naming
//! the budget; within it, it runs off the async workers, so `/healthz` answers meanwhile. The
//! runtime here has one thread, so a filter evaluated on it would stall `/healthz` entirely.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kbgap_core::catalog::Catalog;
use kbgap_inventory::{Format, Inventory};
use kbgap_server::auth::{AuthConfig, Authenticator, LocalIssuer};
use kbgap_server::odata::FILTER_BUDGET;
use kbgap_server::{AppState, FleetService, RateLimitConfig, api_routes, router_with, serve_app};
use kbgap_store::Store;
use serde_json::Value;

fn catalog() -> Arc<Catalog> {
    let docs: Vec<_> = kbgap_catalog::bundled::read_all()
        .collect::<Result<_, _>>()
        .expect("bundled documents read");
    Arc::new(Catalog::compile(&docs))
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

#[tokio::test]
async fn costly_filters_are_refused_and_heavy_ones_do_not_stall_healthz() {
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
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_app(
        listener,
        router_with(state, api_routes()),
        async move {
            let _ = rx.await;
        },
    ));
    let token = local
        .issue(
            &["Vulnerability.Read.All".to_owned()],
            "tenant-1",
            "app-1",
            Duration::from_secs(600),
        )
        .unwrap();
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
    let _ = tx.send(());
    server.await.unwrap().unwrap();
}
