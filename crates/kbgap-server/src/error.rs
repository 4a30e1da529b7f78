//! The one error type of the HTTP edge, rendered exactly as Defender renders its errors.
//!
//! Every failure a client can see — a bad `$filter`, a missing token, an unknown route, a panic —
//! ends as `{"error":{"code":"…","message":"…","target":"<request id>"}}`. Clients written
//! against Defender branch on `code`, so the codes and their statuses are a contract.
//!
//! A handler cannot know the request id when it builds an error, so [`ApiError::into_response`]
//! attaches an [`ErrorReport`] to the response; the request middleware
//! ([`crate::request_id`]) then writes the final body with `target` = the request id and logs
//! the internal detail once. Without that middleware the body is still valid, with an empty
//! `target`.

use std::fmt;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Defender's error codes (`common-errors.md`), each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 400: a request that makes no sense.
    BadRequest,
    /// 400: a parameter or body field with an invalid value.
    InvalidInput,
    /// 400: a bad `$filter`, `$top`, `$skip` or `$count`.
    ODataError,
    /// 400: a body that is not the expected JSON.
    InvalidRequestBody,
    /// 401: no token, or one that cannot be trusted.
    Unauthorized,
    /// 403: a valid token without the role the endpoint needs.
    Forbidden,
    /// 404: an unknown resource or route.
    ResourceNotFound,
    /// 405: a known route called with the wrong method.
    MethodNotAllowed,
    /// 429: over the rate limit; `Retry-After` says when to come back.
    TooManyRequests,
    /// 500: our fault; the detail is logged, never sent.
    InternalServerError,
}

impl ErrorCode {
    /// The code as Defender spells it in the body.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BadRequest",
            Self::InvalidInput => "InvalidInput",
            Self::ODataError => "ODataError",
            Self::InvalidRequestBody => "InvalidRequestBody",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::ResourceNotFound => "ResourceNotFound",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::TooManyRequests => "TooManyRequests",
            Self::InternalServerError => "InternalServerError",
        }
    }

    /// The HTTP status Defender answers with for this code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::InvalidInput | Self::ODataError | Self::InvalidRequestBody => {
                StatusCode::BAD_REQUEST
            }
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::ResourceNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The message sent for every 500: internals never reach the client.
pub const INTERNAL_MESSAGE: &str =
    "An unexpected error occurred. Quote the request id (target) when reporting it.";

/// An error answered to the client in Defender's shape.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The HTTP status (normally `code.status()`; 413 for an oversized body, for instance).
    pub status: StatusCode,
    /// Defender's error code.
    pub code: ErrorCode,
    /// The message the client sees.
    pub message: String,
    /// For 429: how long the client should wait.
    retry_after: Option<Duration>,
    /// What went wrong internally; logged with the request id, never sent.
    detail: Option<String>,
}

impl ApiError {
    /// An error with the code's usual status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            code,
            message: message.into(),
            retry_after: None,
            detail: None,
        }
    }
    /// 400 `BadRequest`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    /// 400 `InvalidInput`.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }
    /// 400 `ODataError`.
    pub fn odata(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ODataError, message)
    }
    /// 400 `InvalidRequestBody`.
    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequestBody, message)
    }
    /// 401 `Unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
    /// 403 `Forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    /// 404 `ResourceNotFound`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ResourceNotFound, message)
    }
    /// 405 `MethodNotAllowed`.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::MethodNotAllowed, message)
    }
    /// 429 `TooManyRequests`, with `Retry-After` rounded up to whole seconds (at least 1).
    pub fn too_many_requests(retry_after: Duration) -> Self {
        let secs = retry_after_secs(retry_after);
        let mut e = Self::new(
            ErrorCode::TooManyRequests,
            format!(
                "Rate limit exceeded for this application and tenant. Try again in {secs} seconds."
            ),
        );
        e.retry_after = Some(retry_after);
        e
    }
    /// 500 `InternalServerError`: the client gets a generic message, `detail` goes to the log.
    pub fn internal(detail: impl fmt::Display) -> Self {
        Self::new(ErrorCode::InternalServerError, INTERNAL_MESSAGE).with_detail(detail)
    }
    /// Attaches an internal detail (logged with the request id, never sent).
    pub fn with_detail(mut self, detail: impl fmt::Display) -> Self {
        self.detail = Some(detail.to_string());
        self
    }
    /// Overrides the HTTP status while keeping the code.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
    /// The `Retry-After` delay, for 429s.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
    /// The internal detail, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

/// Whole seconds for `Retry-After`: rounded up, never 0 (0 would invite an immediate retry).
pub fn retry_after_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

/// What the request middleware needs to finish an error response: placed in the response's
/// extensions by [`ApiError::into_response`].
#[derive(Debug, Clone)]
pub struct ErrorReport {
    /// Defender's code.
    pub code: ErrorCode,
    /// The client-facing message.
    pub message: String,
    /// The internal detail, for the log only.
    pub detail: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    target: &'a str,
}

/// Renders Defender's error body.
pub fn render_body(code: ErrorCode, message: &str, target: &str) -> String {
    let body = Body {
        error: Inner {
            code: code.as_str(),
            message,
            target,
        },
    };
    // Serializing three strings cannot fail; the fallback keeps the contract regardless.
    serde_json::to_string(&body).unwrap_or_else(|_| {
        format!(
            r#"{{"error":{{"code":"{}","message":"","target":""}}}}"#,
            code.as_str()
        )
    })
}

/// The content type of error bodies.
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = render_body(self.code, &self.message, "");
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(JSON_CONTENT_TYPE),
        );
        if let Some(d) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(d)));
        }
        if self.code == ErrorCode::Unauthorized {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(ErrorReport {
            code: self.code,
            message: self.message,
            detail: self.detail,
        });
        response
    }
}

impl From<kbgap_service::ServiceError> for ApiError {
    /// Invalid input is the client's 400; anything else is our 500.
    fn from(e: kbgap_service::ServiceError) -> Self {
        match e {
            kbgap_service::ServiceError::Invalid(msg) => ApiError::invalid_input(msg),
            other => ApiError::internal(other),
        }
    }
}

impl From<kbgap_service::intake::IntakeError> for ApiError {
    /// A report kbgap cannot read is the client's 400, naming the input.
    fn from(e: kbgap_service::intake::IntakeError) -> Self {
        ApiError::invalid_input(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_defender_shape() {
        let b = render_body(ErrorCode::ODataError, "Invalid filter \"x\"", "abc");
        assert_eq!(
            b,
            r#"{"error":{"code":"ODataError","message":"Invalid filter \"x\"","target":"abc"}}"#
        );
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(30)), 30);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn internal_errors_hide_detail() {
        let e = ApiError::internal("database is locked at /var/lib/kbgap");
        assert_eq!(e.message, INTERNAL_MESSAGE);
        assert_eq!(e.detail(), Some("database is locked at /var/lib/kbgap"));
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
