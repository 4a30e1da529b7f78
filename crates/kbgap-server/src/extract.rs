//! Extractors whose rejections are Defender errors, and the base URL the client called.
//!
//! axum's own `Json`, `Path` and `Query` answer a bad request with plain text; a Defender client
//! expects `{"error":{…}}` with a code. These wrappers keep axum's parsing and convert only the
//! rejection (the pattern of axum's `error-handling` example).

use std::convert::Infallible;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;

/// `axum::Json` with Defender-shaped rejections (400 `InvalidRequestBody`; 413 when too large).
///
/// As a response it serializes `T` as JSON.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Path` with Defender-shaped rejections (400 `InvalidInput`).
#[derive(Debug, Clone, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `axum::extract::Query` with Defender-shaped rejections (400 `InvalidInput`). Unknown
/// parameters are ignored, as Defender ignores them. For OData options use
/// [`crate::odata::ODataQuery`].
#[derive(Debug, Clone, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        match r {
            JsonRejection::BytesRejection(_) if status == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::invalid_body("The request body is too large.").with_status(status)
            }
            JsonRejection::BytesRejection(_) => {
                ApiError::invalid_body("The request body could not be read.")
                    .with_detail(r.body_text())
            }
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::invalid_body("Expected a JSON body with Content-Type: application/json.")
            }
            _ => ApiError::invalid_body(r.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::invalid_input(r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::invalid_input(r.body_text())
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => (
                [(header::CONTENT_TYPE, crate::error::JSON_CONTENT_TYPE)],
                bytes,
            )
                .into_response(),
            Err(e) => ApiError::internal(format!("serializing a response: {e}")).into_response(),
        }
    }
}

/// Put in every request's extensions by [`crate::serve_tls`]: the client called over HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServedOverTls;

/// The scheme and host the client called, for `@odata.context` and `@odata.nextLink`.
///
/// Defender builds both from the host that was called, so a client behind a proxy or using an
/// IP address gets links it can follow. The scheme is `https` only when a proxy says so with
/// `X-Forwarded-Proto`, since kbgap itself serves plain HTTP; the host comes from
/// `X-Forwarded-Host`, then `Host`, then the request URI. These headers only shape links in the
/// answer to the same client, so trusting them cannot affect anyone else. When kbgap serves TLS
/// itself ([`crate::serve_tls`] puts [`ServedOverTls`] in every request), the scheme is `https`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// `host[:port]`.
    pub host: String,
}

impl BaseUrl {
    /// Reads the base URL from request parts (see the type's documentation).
    pub fn from_parts(parts: &Parts) -> Self {
        let first = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let scheme = match first("x-forwarded-proto") {
            _ if parts.extensions.get::<ServedOverTls>().is_some() => "https",
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        let host = first("x-forwarded-host")
            .filter(|h| valid_host(h))
            .or_else(|| first(header::HOST.as_str()).filter(|h| valid_host(h)))
            .map(str::to_owned)
            .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()))
            .unwrap_or_else(|| "localhost".to_owned());
        Self { scheme, host }
    }

    /// `scheme://host`.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.host)
    }

    /// `scheme://host/api/$metadata#{fragment}`: an `@odata.context` value.
    pub fn metadata_context(&self, fragment: &str) -> String {
        format!("{}://{}/api/$metadata#{fragment}", self.scheme, self.host)
    }
}

/// A host header value we are willing to echo into links: `host`, `host:port` or `[v6]:port`.
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        })
}

impl<S: Send + Sync> FromRequestParts<S> for BaseUrl {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut b = Request::builder().uri("/api/machines");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn base_url_prefers_forwarded_headers() {
        let p = parts(&[("host", "127.0.0.1:8080")]);
        assert_eq!(BaseUrl::from_parts(&p).origin(), "http://127.0.0.1:8080");
        let p = parts(&[
            ("host", "internal:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "kb.example.com"),
        ]);
        assert_eq!(BaseUrl::from_parts(&p).origin(), "https://kb.example.com");
        let p = parts(&[("host", "evil\"host")]);
        assert_eq!(BaseUrl::from_parts(&p).origin(), "http://localhost");
        let mut p = parts(&[("host", "kb.example.com:8443")]);
        p.extensions.insert(ServedOverTls);
        assert_eq!(
            BaseUrl::from_parts(&p).origin(),
            "https://kb.example.com:8443"
        );
    }

    #[test]
    fn metadata_context_names_the_fragment() {
        let b = BaseUrl {
            scheme: "https",
            host: "h".into(),
        };
        assert_eq!(
            b.metadata_context("Machines"),
            "https://h/api/$metadata#Machines"
        );
    }
}
