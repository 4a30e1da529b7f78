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
    let token = s.token(&[]);
    let r = s.get("/api/test/panic", Some(&token)).await;
    let panic_rid = r.headers()["request-id"].to_str().unwrap().to_owned();
    error_body(r, 500).await;
    s.stop().await;

    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
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
