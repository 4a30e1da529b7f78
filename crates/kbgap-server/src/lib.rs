//! Defender for Endpoint's missing-KB API over a kbgap store: the HTTP foundation.
//!
//! * [`error`]: Defender's error body, rendered for every failure;
//! * [`request_id`]: request ids, spans and one log line per request;
//! * [`auth`]: bearer JWTs from kbgap's own issuer or an OpenID issuer, roles and scopes;
//! * [`odata`]: `$filter`, `$top`, `$skip`, `$count`, next links;
//! * [`ratelimit`]: per application and tenant limits with Defender's defaults;
//! * [`dto`]: the response bodies, field for field; [`metadata`]: `$metadata`;
//! * [`fleet`]: machines and their evaluations in memory; [`api`]: the resource endpoints;
//! * [`router`]: the application, case-insensitive paths, serving; [`metrics`]: `/metrics`;
//! * [`listen`]: connection limits and timeouts; [`refusal`]: Defender-shaped protocol refusals;
//! * [`tls`]: rustls with certificate reload.
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod dto;
pub mod error;
pub mod extract;
pub mod listen;
pub mod metadata;
pub mod metrics;
pub mod odata;
pub mod path;
pub mod ratelimit;
pub mod refusal;
pub mod request_id;
pub mod router;
pub mod state;
pub mod tls;

pub use api::api_routes;
pub use auth::{
    AuthConfig, AuthError, Authenticator, Authorized, LocalIssuer, OidcIssuer, Principal,
    require_roles,
};
pub use error::{ApiError, ErrorCode};
pub use extract::{ApiJson, ApiPath, ApiQuery, BaseUrl};
pub use kbgap_service::{FleetService, FleetView};
pub use listen::{ConnectionLimits, serve_tls, serve_with_limits};
pub use odata::{ODataQuery, ODataRecord, ODataValue};
pub use ratelimit::{EndpointClass, Quota, RateLimitConfig, RateLimiter};
pub use router::{router, router_with, serve, serve_app};
pub use state::AppState;
