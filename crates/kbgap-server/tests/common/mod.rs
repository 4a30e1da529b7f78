//! A kbgap server on 127.0.0.1 with an ephemeral port, plus test-only routes that exercise the
//! extractors the way phase-2 handlers will.
#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::{get, post};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kbgap_server::auth::{
    AuthConfig, Authenticator, Authorized, LOCAL_KEY_FILE, LocalIssuer, OidcIssuer, Principal, perm,
};
use kbgap_server::dto::{Machine, ODataCollection, context};
use kbgap_server::odata::ODataQuery;
use kbgap_server::{
    ApiError, ApiJson, ApiPath, AppState, ConnectionLimits, RateLimitConfig, router_with,
    serve_with_limits,
};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub addr: SocketAddr,
    pub metrics: Arc<kbgap_server::metrics::Metrics>,
    pub base: String,
    pub local: Arc<LocalIssuer>,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

pub struct Options {
    pub oidc: Vec<OidcIssuer>,
    pub limits: RateLimitConfig,
    pub connections: ConnectionLimits,
    pub request_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            oidc: Vec::new(),
            limits: RateLimitConfig::unlimited(),
            connections: ConnectionLimits::default(),
            request_timeout: AppState::DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct WhoAmI {
    pub app_id: String,
    pub tenant_id: String,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    pub subject: String,
    pub issuer: String,
}

#[derive(Deserialize, Serialize)]
struct Payload {
    name: String,
    count: u32,
}

async fn whoami(p: Principal) -> ApiJson<WhoAmI> {
    ApiJson(WhoAmI {
        app_id: p.app_id,
        tenant_id: p.tenant_id,
        roles: p.roles,
        scopes: p.scopes,
        subject: p.subject,
        issuer: p.issuer,
    })
}

/// Stands in for the phase-2 handler: same path, permission and rate class.
async fn machine_missing_kbs(
    _caller: Authorized<perm::MachineMissingKbs>,
    ApiPath(id): ApiPath<String>,
) -> ApiJson<serde_json::Value> {
    ApiJson(serde_json::json!({ "machineId": id }))
}

async fn machines_read(_caller: Authorized<perm::MachinesRead>) -> ApiJson<serde_json::Value> {
    ApiJson(serde_json::json!({}))
}

async fn panic_handler(_p: Principal) -> ApiJson<()> {
    if std::hint::black_box(true) {
        panic!("secret internal detail at /var/lib/kbgap");
    }
    ApiJson(())
}

async fn slow() -> ApiJson<&'static str> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    ApiJson("done")
}

async fn echo_json(ApiJson(p): ApiJson<Payload>) -> ApiJson<Payload> {
    ApiJson(p)
}

pub fn fleet() -> Vec<Machine> {
    (0..25)
        .map(|i| {
            let mut m = Machine::new(format!("{i:040x}"), format!("pc-{i:02}.contoso.com"));
            m.os_platform = Some(if i % 2 == 0 { "Windows10" } else { "Windows11" }.into());
            m.os_build = Some(if i % 2 == 0 { 19045 } else { 22631 });
            m
        })
        .collect()
}

async fn odata_machines(
    _caller: Authorized<perm::MachinesRead>,
    q: ODataQuery,
) -> Result<ODataCollection<Machine>, ApiError> {
    let page = q.apply(fleet())?;
    Ok(q.collection(context::MACHINES, page))
}

pub fn test_routes() -> Router<AppState> {
    Router::new()
        .route("/api/machines/{id}/getmissingkbs", get(machine_missing_kbs))
        .route("/api/machines", get(odata_machines))
        .route("/api/test/whoami", get(whoami))
        .route("/api/test/machines-read", get(machines_read))
        .route("/api/test/panic", get(panic_handler))
        .route("/api/test/json", post(echo_json))
        .route("/api/test/slow", get(slow))
}

pub async fn start(opts: Options) -> TestServer {
    let data_dir = tempfile::tempdir().unwrap();
    let local = LocalIssuer::load_or_create(data_dir.path()).unwrap();
    let mut config = AuthConfig::local(local);
    config.oidc = opts.oidc;
    let local = config.local.clone().unwrap();
    let state = AppState::new(Authenticator::new(config).unwrap(), opts.limits)
        .with_request_timeout(opts.request_timeout);
    let metrics = state.metrics.clone();
    let app = router_with(state, test_routes());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(serve_with_limits(
        listener,
        app,
        opts.connections,
        async move {
            let _ = rx.await;
        },
    ));
    TestServer {
        addr,
        metrics,
        base: format!("http://{addr}"),
        local,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        data_dir,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn token(&self, roles: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|s| (*s).to_owned()).collect();
        self.local
            .issue(&roles, "tenant-1", "app-1", Duration::from_secs(600))
            .unwrap()
    }

    /// Signs arbitrary claims with the server's own key (for expired, not-yet-valid, … tokens).
    pub fn sign_local(&self, claims: &serde_json::Value) -> String {
        let pem = std::fs::read(self.data_dir.path().join(LOCAL_KEY_FILE)).unwrap();
        let key = EncodingKey::from_ec_pem(&pem).unwrap();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.local.key_id().to_owned());
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    /// Standard claims for the local issuer, to be modified by a test.
    pub fn local_claims(&self) -> serde_json::Value {
        let now = now();
        serde_json::json!({
            "aud": "https://api.securitycenter.microsoft.com",
            "iss": self.local.issuer(),
            "iat": now, "nbf": now, "exp": now + 600,
            "appid": "app-1", "tid": "tenant-1", "sub": "app-1",
            "roles": ["Software.Read.All"],
        })
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// Signals shutdown without waiting.
    pub fn signal_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Checks Defender's error shape and returns (code, message). `target` must equal the
/// `request-id` header.
pub async fn error_body(resp: reqwest::Response, status: u16) -> (String, String) {
    assert_eq!(resp.status().as_u16(), status, "unexpected status");
    let rid = resp
        .headers()
        .get("request-id")
        .expect("request-id header")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        resp.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    let err = body.get("error").expect("error member");
    let obj = err.as_object().unwrap();
    assert_eq!(
        obj.len(),
        3,
        "error has exactly code, message, target: {body}"
    );
    assert_eq!(
        err["target"].as_str().unwrap(),
        rid,
        "target is the request id"
    );
    assert_eq!(body.as_object().unwrap().len(), 1);
    (
        err["code"].as_str().unwrap().to_owned(),
        err["message"].as_str().unwrap().to_owned(),
    )
}
