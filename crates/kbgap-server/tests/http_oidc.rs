//! An external OpenID issuer: a JWKS served by a second local server, RS256 tokens signed with
//! RSA keys generated here.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Options, WhoAmI, error_body, now, start};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kbgap_server::OidcIssuer;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;

const ISSUER: &str = "https://sts.windows.net/11111111-2222-3333-4444-555555555555/";

struct RsaKey {
    encoding: EncodingKey,
    n: String,
    e: String,
}

impl RsaKey {
    fn jwk(&self, kid: &str) -> serde_json::Value {
        serde_json::json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": self.n, "e": self.e})
    }
}

fn generate() -> RsaKey {
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let der = key.to_pkcs1_der().unwrap();
    RsaKey {
        encoding: EncodingKey::from_rsa_der(der.as_bytes()),
        n: URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        e: URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    }
}

/// Two keys, generated once per test binary and in parallel (RSA generation is slow in debug
/// builds).
static KEYS: LazyLock<[RsaKey; 2]> = LazyLock::new(|| {
    let other = std::thread::spawn(generate);
    let first = generate();
    [first, other.join().unwrap()]
});

#[derive(Default)]
struct Jwks {
    keys: Mutex<Vec<serde_json::Value>>,
    fetches: AtomicUsize,
    down: AtomicBool,
}

async fn serve_jwks(State(j): State<Arc<Jwks>>) -> Response {
    j.fetches.fetch_add(1, Ordering::SeqCst);
    if j.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = j.keys.lock().unwrap().clone();
    Json(serde_json::json!({ "keys": keys })).into_response()
}

async fn start_jwks(keys: Vec<serde_json::Value>) -> (Arc<Jwks>, String) {
    let jwks = Arc::new(Jwks {
        keys: Mutex::new(keys),
        ..Jwks::default()
    });
    let app = axum::Router::new()
        .route("/discovery/v2.0/keys", get(serve_jwks))
        .with_state(jwks.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/discovery/v2.0/keys",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (jwks, url)
}

fn issuer(url: &str, min_refetch: Duration, ttl: Duration) -> OidcIssuer {
    let mut i = OidcIssuer::new(ISSUER, url);
    i.audiences = vec!["api://kbgap".into()];
    i.min_refetch_interval = min_refetch;
    i.jwks_ttl = ttl;
    i
}

fn claims() -> serde_json::Value {
    let now = now();
    serde_json::json!({
        "aud": "https://api.securitycenter.microsoft.com",
        "iss": ISSUER,
        "iat": now, "nbf": now, "exp": now + 3600,
        "azp": "entra-app", "tid": "11111111-2222-3333-4444-555555555555", "sub": "user-object-id",
        "scp": "Software.Read Machine.Read",
    })
}

fn sign(key: &RsaKey, kid: Option<&str>, claims: &serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

async fn status(s: &common::TestServer, token: &str) -> u16 {
    s.get("/api/test/whoami", Some(token))
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn oidc_tokens_are_verified_with_the_issuers_jwks() {
    let (jwks, url) = start_jwks(vec![KEYS[0].jwk("key-a")]).await;
    let s = start(Options {
        oidc: vec![issuer(
            &url,
            Duration::from_secs(60),
            Duration::from_secs(3600),
        )],
        ..Options::default()
    })
    .await;
    let r = s
        .get(
            "/api/test/whoami",
            Some(&sign(&KEYS[0], Some("key-a"), &claims())),
        )
        .await;
    assert_eq!(r.status(), 200);
    let who: WhoAmI = r.json().await.unwrap();
    assert_eq!(who.app_id, "entra-app");
    assert_eq!(who.tenant_id, "11111111-2222-3333-4444-555555555555");
    assert_eq!(who.scopes, vec!["Software.Read", "Machine.Read"]);
    assert_eq!(who.issuer, ISSUER);
    // A single-key issuer may omit `kid`; the issuer's own audience is accepted too.
    let mut c = claims();
    c["aud"] = "api://kbgap".into();
    assert_eq!(status(&s, &sign(&KEYS[0], None, &c)).await, 200);
    // The key set was fetched once and cached.
    for _ in 0..5 {
        assert_eq!(
            status(&s, &sign(&KEYS[0], Some("key-a"), &claims())).await,
            200
        );
    }
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);
    // The delegated scopes decide access to role-guarded endpoints.
    let r = s
        .get(
            "/api/machines/x/getmissingkbs",
            Some(&sign(&KEYS[0], Some("key-a"), &claims())),
        )
        .await;
    assert_eq!(r.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn oidc_tokens_that_do_not_verify_are_401() {
    let (_jwks, url) = start_jwks(vec![KEYS[0].jwk("key-a")]).await;
    let s = start(Options {
        oidc: vec![issuer(
            &url,
            Duration::from_secs(60),
            Duration::from_secs(3600),
        )],
        ..Options::default()
    })
    .await;
    let mut cases: Vec<(String, &str)> = Vec::new();
    // Signed by another key under the trusted kid.
    cases.push((sign(&KEYS[1], Some("key-a"), &claims()), "signature"));
    let mut c = claims();
    c["aud"] = "https://graph.microsoft.com".into();
    cases.push((sign(&KEYS[0], Some("key-a"), &c), "audience"));
    let mut c = claims();
    c["exp"] = (now() - 3600).into();
    cases.push((sign(&KEYS[0], Some("key-a"), &c), "expired"));
    let mut c = claims();
    c["nbf"] = (now() + 3600).into();
    cases.push((sign(&KEYS[0], Some("key-a"), &c), "not valid yet"));
    let mut c = claims();
    c["iss"] = "https://sts.windows.net/someone-else/".into();
    cases.push((sign(&KEYS[0], Some("key-a"), &c), "issuer"));
    // HS256 with the public modulus as the secret: algorithm confusion.
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("key-a".into());
    cases.push((
        jsonwebtoken::encode(
            &h,
            &claims(),
            &EncodingKey::from_secret(KEYS[0].n.as_bytes()),
        )
        .unwrap(),
        "algorithm",
    ));
    for (token, want) in cases {
        let (code, msg) = error_body(s.get("/api/test/whoami", Some(&token)).await, 401).await;
        assert_eq!(code, "Unauthorized");
        assert!(msg.contains(want), "expected {want:?} in {msg:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn rotated_keys_are_fetched_and_unknown_kids_cannot_hammer_the_issuer() {
    let (jwks, url) = start_jwks(vec![KEYS[0].jwk("key-a")]).await;
    let s = start(Options {
        oidc: vec![issuer(
            &url,
            Duration::from_millis(300),
            Duration::from_secs(3600),
        )],
        ..Options::default()
    })
    .await;
    assert_eq!(
        status(&s, &sign(&KEYS[0], Some("key-a"), &claims())).await,
        200
    );
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);
    // The issuer rotates in key B.
    jwks.keys.lock().unwrap().push(KEYS[1].jwk("key-b"));
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        status(&s, &sign(&KEYS[1], Some("key-b"), &claims())).await,
        200
    );
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 2);
    // A burst of invented kids: refused, and at most one more fetch in the interval.
    for i in 0..20 {
        assert_eq!(
            status(
                &s,
                &sign(&KEYS[1], Some(&format!("invented-{i}")), &claims())
            )
            .await,
            401
        );
    }
    assert!(
        jwks.fetches.load(Ordering::SeqCst) <= 3,
        "fetched {} times",
        jwks.fetches.load(Ordering::SeqCst)
    );
    // Known keys keep working throughout.
    assert_eq!(
        status(&s, &sign(&KEYS[0], Some("key-a"), &claims())).await,
        200
    );
    s.stop().await;
}

#[tokio::test]
async fn an_unreachable_issuer_is_our_500_and_known_keys_survive_outages() {
    let (jwks, url) = start_jwks(vec![KEYS[0].jwk("key-a")]).await;
    jwks.down.store(true, Ordering::SeqCst);
    let s = start(Options {
        oidc: vec![issuer(&url, Duration::ZERO, Duration::from_millis(1))],
        ..Options::default()
    })
    .await;
    let token = sign(&KEYS[0], Some("key-a"), &claims());
    let (code, msg) = error_body(s.get("/api/test/whoami", Some(&token)).await, 500).await;
    assert_eq!(code, "InternalServerError");
    assert!(!msg.contains("127.0.0.1") && !msg.contains("503"), "{msg}");
    jwks.down.store(false, Ordering::SeqCst);
    assert_eq!(status(&s, &token).await, 200);
    // The cache is stale at once (1 ms TTL) and every refetch now fails: the known key still
    // works, for a token not seen before (a seen one is not verified again: auth/cache.rs).
    jwks.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut other = claims();
    other["sub"] = "another-user".into();
    assert_eq!(
        status(&s, &sign(&KEYS[0], Some("key-a"), &other)).await,
        200
    );
    assert!(jwks.fetches.load(Ordering::SeqCst) >= 3);
    s.stop().await;
}
