//! A kbgap server with the API and the dashboard on 127.0.0.1, its fleet the real corpus: every
//! systeminfo fixture, posted through `POST /api/inventory` as a collector would.
#![allow(dead_code)] // each test binary uses a different part

pub mod webdriver;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kbgap_core::catalog::Catalog;
use kbgap_server::auth::{AuthConfig, Authenticator, LocalIssuer};
use kbgap_server::{AppState, FleetService, RateLimitConfig, api_routes, router_with, serve_app};
use kbgap_store::Store;
use tokio::sync::oneshot;

/// Every role the dashboard's pages need.
pub const READ_ALL: &[&str] = &[
    "Software.Read.All",
    "Machine.Read.All",
    "Vulnerability.Read.All",
];

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

/// The systeminfo fixtures, in file-name order.
pub fn fixture_reports() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/systeminfo");
    let mut files: Vec<PathBuf> = (std::fs::read_dir(&dir).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "txt") && p.to_string_lossy().contains("systeminfo")
        })
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    pub local: Arc<LocalIssuer>,
    _dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Server {
    /// Starts the server and loads the corpus through the API. One report is refused on
    /// purpose (a machine-bound token reporting another machine), so ingest health has one.
    pub async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            kbgap_store_sqlite::SqliteStore::open(&dir.path().join("kbgap.db"))
                .await
                .unwrap(),
        );
        let config = AuthConfig::local(LocalIssuer::load_or_create(dir.path()).unwrap());
        let local = config.local.clone().unwrap();
        let fleet = FleetService::load(store, catalog()).await.unwrap();
        let state = AppState::new(
            Authenticator::new(config).unwrap(),
            RateLimitConfig::unlimited(),
        )
        .with_fleet(Arc::new(fleet));
        let routes = api_routes().merge(kbgap_dashboard::routes(
            kbgap_dashboard::DashboardConfig::default(),
        ));
        let app = router_with(state, routes);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(serve_app(listener, app, async move {
            let _ = rx.await;
        }));
        let server = Server {
            base: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            local,
            _dir: dir,
            shutdown: Some(tx),
        };
        let writer = server.token(&["Machine.ReadWrite.All"]);
        for body in fixture_reports() {
            let r = server
                .client
                .post(format!("{}/api/inventory", server.base))
                .bearer_auth(&writer)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            assert!(
                status == 200 || status == 400,
                "inventory answered {status}"
            );
        }
        let bound = (server.local)
            .issue_for_machine(
                "pc-other",
                "tenant-1",
                "collector-7",
                Duration::from_secs(600),
            )
            .unwrap();
        let body = fixture_reports().remove(0);
        let r = server
            .client
            .post(format!("{}/api/inventory", server.base))
            .bearer_auth(bound)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403);
        server
    }

    pub fn token(&self, roles: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|s| (*s).to_owned()).collect();
        self.local
            .issue(
                &roles,
                "tenant-1",
                "dashboard-test",
                Duration::from_secs(3600),
            )
            .unwrap()
    }

    /// Signs in through the form; gives the session cookie value.
    pub async fn sign_in(&self, roles: &[&str]) -> String {
        let r = self
            .client
            .post(format!("{}/signin", self.base))
            .form(&[("token", self.token(roles)), ("next", "/".to_owned())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 303);
        let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        set.split(';')
            .next()
            .unwrap()
            .strip_prefix("kbgap_session=")
            .unwrap()
            .to_owned()
    }

    /// GET with a session cookie.
    pub async fn page(&self, path: &str, session: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("kbgap_session={session}"))
            .send()
            .await
            .unwrap()
    }

    /// GET an API path with a bearer token of `roles`.
    pub async fn api(&self, path: &str, roles: &[&str]) -> serde_json::Value {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token(roles))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "GET {path}");
        r.json().await.unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A CSV body's records (RFC 4180: quoted fields, doubled quotes, CRLF).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}
