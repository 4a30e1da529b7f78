//! `serve --tls-cert --tls-key` over a real TLS handshake on 127.0.0.1: HSTS on answers, and a
//! certificate replaced on disk is served to new connections without a restart.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kbgap_server::auth::{AuthConfig, Authenticator, LocalIssuer};
use kbgap_server::tls::{ReloadingCert, TlsFiles};
use kbgap_server::{AppState, ConnectionLimits, RateLimitConfig, router, serve_tls};

/// A self-signed P-256 certificate for localhost and 127.0.0.1, made by the openssl CLI.
fn make_cert(dir: &Path, cert: &str, key: &str) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-keyout",
            key,
            "-out",
            cert,
        ])
        .output()
        .expect("the openssl command makes the test certificates");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

fn client_trusting(pem: &[u8], addr: std::net::SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem).unwrap())
        .tls_built_in_root_certs(false)
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn tls_serves_with_hsts_and_picks_up_a_renewed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    make_cert(dir.path(), "cert.pem", "key.pem");
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    let first = std::fs::read(&files.cert).unwrap();
    let cert = Arc::new(ReloadingCert::load(files.clone()).unwrap());

    let local = LocalIssuer::load_or_create(dir.path()).unwrap();
    let state = AppState::new(
        Authenticator::new(AuthConfig::local(local)).unwrap(),
        RateLimitConfig::unlimited(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_tls(
        listener,
        router(state),
        ConnectionLimits::default(),
        cert,
        Duration::from_millis(100),
        async move {
            let _ = rx.await;
        },
    ));
    let url = format!("https://localhost:{}/healthz", addr.port());

    let r = client_trusting(&first, addr)
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["strict-transport-security"],
        kbgap_server::tls::HSTS
    );
    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{}/healthz", addr.port()))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    // Renewal: a new pair written aside and moved over the old files, as certbot does.
    make_cert(dir.path(), "new-cert.pem", "new-key.pem");
    let second = std::fs::read(dir.path().join("new-cert.pem")).unwrap();
    assert_ne!(first, second);
    std::fs::rename(dir.path().join("new-key.pem"), &files.key).unwrap();
    std::fs::rename(dir.path().join("new-cert.pem"), &files.cert).unwrap();
    let renewed = client_trusting(&second, addr);
    let started = Instant::now();
    loop {
        if let Ok(r) = renewed.get(&url).send().await {
            assert_eq!(r.status().as_u16(), 200);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("renewed certificate served after {:?}", started.elapsed());
    // New connections no longer get the old certificate.
    assert!(
        client_trusting(&first, addr)
            .get(&url)
            .send()
            .await
            .is_err()
    );

    let _ = tx.send(());
    server.await.unwrap().unwrap();
}

#[test]
fn a_key_that_does_not_match_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    make_cert(dir.path(), "a.pem", "a-key.pem");
    make_cert(dir.path(), "b.pem", "b-key.pem");
    let err = ReloadingCert::load(TlsFiles {
        cert: dir.path().join("a.pem"),
        key: dir.path().join("b-key.pem"),
    })
    .unwrap_err();
    assert!(err.to_string().contains("cannot be used together"), "{err}");
    let err = ReloadingCert::load(TlsFiles {
        cert: dir.path().join("missing.pem"),
        key: dir.path().join("a-key.pem"),
    })
    .unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
}
