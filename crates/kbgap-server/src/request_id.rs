//! Per-request context: a request id, a tracing span, one log line, and the final error body.
//!
//! Defender puts a request id in every error body (`target`) so a failed call can be found in
//! the service's logs. kbgap does the same: this middleware generates the id (it never trusts
//! one from the client, which could collide or be chosen to confuse the log), returns it in the
//! `request-id` response header, records it in the span of everything the request logs, writes
//! it into error bodies, and logs one line per request with status and latency.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::error::{ErrorCode, ErrorReport, render_body};
use crate::metrics::Metrics;

/// The response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "request-id";

/// A request's id: a random UUID (version 4), as Defender's are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A fresh random id.
    pub fn generate() -> Self {
        let mut n: u128 = rand::random();
        // Version 4, RFC 4122 variant: the id reads as an ordinary GUID.
        n = (n & !(0xf << 76)) | (0x4 << 76);
        n = (n & !(0x3 << 62)) | (0x2 << 62);
        let h = format!("{n:032x}");
        Self(
            format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )
            .into(),
        )
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The route label for requests that matched no route: keeps metric and log cardinality bounded
/// whatever paths clients send.
pub const UNMATCHED_ROUTE: &str = "<unmatched>";

/// The middleware (install with `axum::middleware::from_fn_with_state` via `Router::layer`, so
/// that [`MatchedPath`] is known).
pub async fn request_context(
    State(metrics): State<Arc<Metrics>>,
    mut req: Request,
    next: Next,
) -> Response {
    let id = RequestId::generate();
    req.extensions_mut().insert(id.clone());
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let route_label = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route = %route_label,
        app_id = tracing::field::Empty,
        tenant_id = tracing::field::Empty,
    );
    let start = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    let latency = start.elapsed();

    let report = response.extensions_mut().remove::<ErrorReport>();
    if let Some(report) = &report {
        let body = render_body(report.code, &report.message, id.as_str());
        response.headers_mut().remove(header::CONTENT_LENGTH);
        *response.body_mut() = Body::from(body);
    }
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let status = response.status();
    metrics.record(method.as_str(), route_label, status.as_u16(), latency);

    let latency_ms = latency.as_secs_f64() * 1000.0;
    let _enter = span.enter();
    match &report {
        Some(r) if r.code == ErrorCode::InternalServerError => tracing::error!(
            request_id = %id,
            status = status.as_u16(),
            latency_ms,
            code = r.code.as_str(),
            // Debug: control characters from client text are escaped, so no client can forge a
            // log line.
            detail = ?r.detail.as_deref().unwrap_or(""),
            "request failed"
        ),
        Some(r) => tracing::info!(
            request_id = %id,
            status = status.as_u16(),
            latency_ms,
            code = r.code.as_str(),
            reason = ?r.message,
            detail = ?r.detail.as_deref().unwrap_or(""),
            "request refused"
        ),
        None => tracing::info!(request_id = %id, status = status.as_u16(), latency_ms, "request"),
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uuid_v4_and_distinct() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        let s = a.as_str();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
        assert!(s.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
    }
}
