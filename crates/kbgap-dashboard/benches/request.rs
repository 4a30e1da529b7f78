//! Whole-request timings over loopback: a synthetic fleet (the states of the deploy-first
//! criterion bench) stored in SQLite, `kbgap serve`'s router on 127.0.0.1, a signed-in client
//! timing `GET /` (deploy first, HTML), `GET /?format=csv` and a filtered view.
//! `cargo bench -p kbgap-dashboard --bench request -- 100000` (machines; default 100,000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use kbgap_core::Device;
use kbgap_core::catalog::Catalog;
use kbgap_server::auth::{AuthConfig, Authenticator, LocalIssuer};
use kbgap_server::{AppState, FleetService, RateLimitConfig, api_routes, router_with, serve_app};
use kbgap_store::Store;

const OSES: [(u32, &str, &str); 6] = [
    (
        30,
        "10.0.19045",
        "Windows 10 Version 22H2 for x64-based Systems",
    ),
    (
        20,
        "10.0.22631",
        "Windows 11 Version 23H2 for x64-based Systems",
    ),
    (
        20,
        "10.0.26100",
        "Windows 11 Version 24H2 for x64-based Systems",
    ),
    (8, "10.0.20348", "Windows Server 2022"),
    (6, "10.0.17763", "Windows Server 2019"),
    (
        6,
        "10.0.19044",
        "Windows 10 Version 21H2 for x64-based Systems",
    ),
];

fn devices(cat: &Catalog, n: usize) -> Vec<Device> {
    let mut kinds = Vec::new();
    for (w, ver, name) in OSES {
        let Some(&os) = cat.products_named(name).first() else {
            continue;
        };
        let mut revs: Vec<u32> = (0..cat.kbs().len() as u32)
            .filter_map(|k| cat.cumulative_revision(k, os))
            .collect();
        revs.sort_unstable();
        for (back, rev) in revs.iter().rev().take(24).enumerate() {
            for _ in 0..((w as usize) >> back.min(4)).max(1) {
                kinds.push((ver, name, *rev));
            }
        }
    }
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (ver, name, rev) = kinds[(x % kinds.len() as u64) as usize];
            Device {
                computer_dns_name: format!("host{i:07}.corp.example"),
                os_version: Some(ver.parse().unwrap()),
                ubr: Some(rev),
                products: vec![name.into()],
                ..Device::default()
            }
        })
        .collect()
}

fn main() {
    let n: usize = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n));
}

async fn run(n: usize) {
    let docs: Vec<_> = kbgap_catalog::bundled::read_all()
        .map(|d| d.unwrap())
        .collect();
    let mut cat = Catalog::compile(&docs);
    cat.apply_kev(&kbgap_catalog::kev::bundled().unwrap());
    let cat = Arc::new(cat);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        kbgap_store_sqlite::SqliteStore::open(&dir.path().join("kbgap.db"))
            .await
            .unwrap(),
    );
    let fleet = Arc::new(FleetService::load(store, cat.clone()).await.unwrap());
    let started = Instant::now();
    let all = devices(&cat, n);
    for chunk in all.chunks(10_000) {
        fleet.ingest(chunk.to_vec()).await.unwrap();
    }
    eprintln!(
        "{n} machines stored in {:.1?} ({} states)",
        started.elapsed(),
        fleet.read().fleet.group_count()
    );
    let config = AuthConfig::local(LocalIssuer::load_or_create(dir.path()).unwrap());
    let local = config.local.clone().unwrap();
    let state = AppState::new(
        Authenticator::new(config).unwrap(),
        RateLimitConfig::unlimited(),
    )
    .with_fleet(fleet);
    let app = router_with(
        state,
        api_routes().merge(kbgap_dashboard::routes(Default::default())),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve_app(listener, app, std::future::pending()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = local
        .issue(
            &["Software.Read.All".to_owned()],
            "t",
            "bench",
            Duration::from_secs(600),
        )
        .unwrap();
    let r = client
        .post(format!("{base}/signin"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    for path in [
        "/",
        "/?format=csv",
        "/?exploited=1&os=Windows+11+Version+24H2",
        "/?seen=7",
    ] {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..11 {
            let t = Instant::now();
            let r = client
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "{path}");
            bytes = r.bytes().await.unwrap().len();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "{n} machines GET {path}: median {:.1?}, min {:.1?}, max {:.1?} ({bytes} bytes)",
            times[5], times[0], times[10]
        );
    }
}
