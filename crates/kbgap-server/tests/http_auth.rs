//! Bearer tokens from kbgap's own issuer: every 401 case, 403 messages, 429 over the limit.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Options, WhoAmI, error_body, now, start};
use kbgap_server::{EndpointClass, Quota, RateLimitConfig};

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

async fn refused(s: &common::TestServer, token: Option<&str>, want: &str) {
    let r = s.get("/api/test/whoami", token).await;
    assert_eq!(
        r.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap()),
        Some("Bearer")
    );
    let (code, msg) = error_body(r, 401).await;
    assert_eq!(code, "Unauthorized");
    assert!(msg.contains(want), "expected {want:?} in {msg:?}");
}

#[tokio::test]
async fn a_valid_token_names_the_caller() {
    let s = start(Options::default()).await;
    let token = s.token(&["Software.Read.All", "Machine.Read.All"]);
    let r = s.get("/api/test/whoami", Some(&token)).await;
    assert_eq!(r.status(), 200);
    let who: WhoAmI = r.json().await.unwrap();
    assert_eq!(who.app_id, "app-1");
    assert_eq!(who.tenant_id, "tenant-1");
    assert_eq!(who.roles, vec!["Software.Read.All", "Machine.Read.All"]);
    assert!(who.scopes.is_empty());
    assert_eq!(who.issuer, s.local.issuer());
    // The scheme is case-insensitive.
    let r = s
        .client
        .get(s.url("/api/test/whoami"))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Tokens are still accepted within the 60 s leeway.
    let mut c = s.local_claims();
    c["exp"] = (now() - 30).into();
    assert_eq!(
        s.get("/api/test/whoami", Some(&s.sign_local(&c)))
            .await
            .status(),
        200
    );
    s.stop().await;
}

#[tokio::test]
async fn missing_and_malformed_tokens_are_401() {
    let s = start(Options::default()).await;
    refused(&s, None, "No bearer token").await;
    let r = s
        .client
        .get(s.url("/api/test/whoami"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(error_body(r, 401).await.0, "Unauthorized");
    refused(&s, Some("not-a-jwt"), "malformed").await;
    refused(&s, Some("a.b.c"), "malformed").await;
    refused(&s, Some("eyJhbGciOiJFUzI1NiJ9.e30.sig.extra"), "malformed").await;
    let header = b64(&serde_json::json!({"alg": "ES256"}));
    refused(&s, Some(&format!("{header}.bm90IGpzb24.c2ln")), "malformed").await;
    s.stop().await;
}

#[tokio::test]
async fn alg_none_is_401() {
    let s = start(Options::default()).await;
    let claims = b64(&s.local_claims());
    for alg in ["none", "None", "NONE"] {
        let header = b64(&serde_json::json!({"alg": alg, "typ": "JWT"}));
        refused(&s, Some(&format!("{header}.{claims}.")), "algorithm").await;
    }
    s.stop().await;
}

#[tokio::test]
async fn a_bad_signature_is_401() {
    let s = start(Options::default()).await;
    let token = s.token(&[]);
    // Accepted first, so it is in the verified-token cache: a tampered copy must still miss it.
    assert_eq!(s.get("/api/test/whoami", Some(&token)).await.status(), 200);
    let parts: Vec<&str> = token.split('.').collect();
    // Same header and signature, claims changed to grant a role.
    let mut c: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    c["roles"] = serde_json::json!(["Machine.ReadWrite.All"]);
    refused(
        &s,
        Some(&format!("{}.{}.{}", parts[0], b64(&c), parts[2])),
        "signature",
    )
    .await;
    // A signature made by another installation's key, claiming this issuer.
    let other = tempfile::tempdir().unwrap();
    let other_issuer = kbgap_server::LocalIssuer::load_or_create(other.path()).unwrap();
    let foreign = other_issuer
        .issue(&[], "tenant-1", "app-1", Duration::from_secs(600))
        .unwrap();
    let fparts: Vec<&str> = foreign.split('.').collect();
    refused(
        &s,
        Some(&format!("{}.{}.{}", parts[0], parts[1], fparts[2])),
        "signature",
    )
    .await;
    // HS256 "signed" with the public key: algorithm confusion is refused.
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &s.local_claims(),
        &jsonwebtoken::EncodingKey::from_secret(s.local.public_jwk().to_string().as_bytes()),
    )
    .unwrap();
    refused(&s, Some(&hs), "algorithm").await;
    s.stop().await;
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_401() {
    let s = start(Options::default()).await;
    let mut c = s.local_claims();
    c["exp"] = (now() - 3600).into();
    refused(&s, Some(&s.sign_local(&c)), "expired").await;
    let mut c = s.local_claims();
    c["nbf"] = (now() + 3600).into();
    refused(&s, Some(&s.sign_local(&c)), "not valid yet").await;
    let mut c = s.local_claims();
    c.as_object_mut().unwrap().remove("exp");
    refused(&s, Some(&s.sign_local(&c)), "exp").await;
    s.stop().await;
}

#[tokio::test]
async fn wrong_audience_or_issuer_is_401() {
    let s = start(Options::default()).await;
    let mut c = s.local_claims();
    c["aud"] = "https://graph.microsoft.com".into();
    refused(&s, Some(&s.sign_local(&c)), "audience").await;
    // Every Defender audience is accepted, as a string or in an array.
    for aud in [
        serde_json::json!("https://api.security.microsoft.com"),
        serde_json::json!("https://securitycenter.onmicrosoft.com/windowsatpservice"),
        serde_json::json!([
            "https://x.example",
            "https://api.securitycenter.windows.com"
        ]),
    ] {
        let mut c = s.local_claims();
        c["aud"] = aud;
        assert_eq!(
            s.get("/api/test/whoami", Some(&s.sign_local(&c)))
                .await
                .status(),
            200
        );
    }
    let mut c = s.local_claims();
    c["iss"] = "https://sts.windows.net/evil/".into();
    refused(&s, Some(&s.sign_local(&c)), "issuer").await;
    let mut c = s.local_claims();
    c.as_object_mut().unwrap().remove("iss");
    refused(&s, Some(&s.sign_local(&c)), "iss").await;
    s.stop().await;
}

#[tokio::test]
async fn a_token_without_the_role_is_403_with_defenders_message() {
    let s = start(Options::default()).await;
    let token = s.token(&["Machine.Read.All"]);
    let (code, msg) = error_body(
        s.get("/api/machines/abc/getmissingkbs", Some(&token)).await,
        403,
    )
    .await;
    assert_eq!(code, "Forbidden");
    assert_eq!(
        msg,
        "Missing application roles. API required roles: Software.Read.All, application roles: Machine.Read.All."
    );

    let delegated = s
        .local
        .issue_delegated(
            &["Machine.Read".into()],
            "tenant-1",
            "app-1",
            "user@contoso.com",
            Duration::from_secs(600),
        )
        .unwrap();
    let (code, msg) = error_body(
        s.get("/api/machines/abc/getmissingkbs", Some(&delegated))
            .await,
        403,
    )
    .await;
    assert_eq!(code, "Forbidden");
    assert_eq!(
        msg,
        "Missing delegated permissions. API required delegated permissions: Software.Read, delegated permissions: Machine.Read."
    );
    let delegated = s
        .local
        .issue_delegated(
            &["Software.Read".into()],
            "tenant-1",
            "app-1",
            "user@contoso.com",
            Duration::from_secs(600),
        )
        .unwrap();
    assert_eq!(
        s.get("/api/machines/abc/getmissingkbs", Some(&delegated))
            .await
            .status(),
        200
    );

    // Machine.ReadWrite.All implies Machine.Read.All; Vulnerability and Software roles do not mix.
    assert_eq!(
        s.get(
            "/api/test/machines-read",
            Some(&s.token(&["Machine.ReadWrite.All"]))
        )
        .await
        .status(),
        200
    );
    let (_, msg) = error_body(
        s.get(
            "/api/test/machines-read",
            Some(&s.token(&["Vulnerability.Read.All", "Software.Read.All"])),
        )
        .await,
        403,
    )
    .await;
    assert_eq!(
        msg,
        "Missing application roles. API required roles: Machine.Read.All,Machine.ReadWrite.All, application roles: Vulnerability.Read.All,Software.Read.All."
    );
    s.stop().await;
}

#[tokio::test]
async fn over_the_limit_is_429_with_retry_after() {
    let mut limits = RateLimitConfig::unlimited();
    limits.set(EndpointClass::MissingKbs, vec![Quota::per_minute(2)]);
    let s = start(Options {
        limits,
        ..Options::default()
    })
    .await;
    let token = s.token(&["Software.Read.All"]);
    for _ in 0..2 {
        assert_eq!(
            s.get("/api/machines/abc/getmissingkbs", Some(&token))
                .await
                .status(),
            200
        );
    }
    let r = s.get("/api/machines/abc/getmissingkbs", Some(&token)).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((29..=30).contains(&retry), "Retry-After {retry}");
    let (code, msg) = error_body(r, 429).await;
    assert_eq!(code, "TooManyRequests");
    assert!(msg.contains(&format!("{retry} seconds")), "{msg}");
    // Another application of the same tenant has its own budget.
    let other = s
        .local
        .issue(
            &["Software.Read.All".into()],
            "tenant-1",
            "app-2",
            Duration::from_secs(600),
        )
        .unwrap();
    assert_eq!(
        s.get("/api/machines/abc/getmissingkbs", Some(&other))
            .await
            .status(),
        200
    );
    // Endpoints of other classes are not affected.
    assert_eq!(
        s.get(
            "/api/test/machines-read",
            Some(&s.token(&["Machine.Read.All"]))
        )
        .await
        .status(),
        200
    );
    s.stop().await;
}
