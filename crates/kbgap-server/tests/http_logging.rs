//! The request id in an error body also appears in that request's log line.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{Options, error_body, start};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn error_targets_appear_in_the_log_line_with_internal_detail() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let s = start(Options::default()).await;

    let r = s.get("/api/test/whoami", None).await;
    let rid = r.headers()["request-id"].to_str().unwrap().to_owned();
    error_body(r, 401).await;
    // A token whose header carries a newline and a forged log line.
    use base64::Engine as _;
    let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let forged = format!(
        "{}.{}.c2ln",
        b64("{\"alg\":\"HS256\\nFORGED status=200 request\",\"typ\":\"JWT\"}"),
        b64("{\"sub\":\"x\"}")
    );
    let r = s.get("/api/test/whoami", Some(&forged)).await;
    error_body(r, 401).await;
    let token = s.token(&[]);
    let r = s.get("/api/test/panic", Some(&token)).await;
    let panic_rid = r.headers()["request-id"].to_str().unwrap().to_owned();
    error_body(r, 500).await;
    s.stop().await;

    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        !log.lines().any(|l| l.trim_start().starts_with("FORGED")),
        "a client wrote a log line: {log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("request refused"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.contains(&rid) && line.contains("status=401") && line.contains("Unauthorized"),
        "{line}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("request failed"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.contains(&panic_rid) && line.contains("status=500"),
        "{line}"
    );
    // The panic's detail is in the log (only).
    assert!(line.contains("secret internal detail"), "{line}");
    assert!(
        line.contains("app_id=app-1"),
        "the span carries the caller: {line}"
    );
}
