//! What every handler can reach: the authenticator, the rate limiter and the metrics.
//!
//! Extractors ask for their part through `FromRef` (`Arc<Authenticator>: FromRef<S>`), not for
//! `AppState` itself, so phase 2 can grow the state (store, catalog, engine) or make it generic
//! over the store without touching them.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;

use crate::auth::Authenticator;
use crate::metrics::Metrics;
use crate::ratelimit::{RateLimitConfig, RateLimiter};
use kbgap_service::FleetService;

/// Shared server state; cheap to clone.
#[derive(Debug, Clone, FromRef)]
pub struct AppState {
    /// Verifies bearer tokens.
    pub auth: Arc<Authenticator>,
    /// Per-application rate limits.
    pub limits: Arc<RateLimiter>,
    /// Request metrics (served by [`crate::metrics::serve_metrics`] when enabled).
    pub metrics: Arc<Metrics>,
    /// The machines and their evaluations; `None` serves only the foundation (auth, `$metadata`,
    /// health), which keeps tests of the foundation free of a store and a catalog.
    pub fleet: Option<Arc<FleetService>>,
    /// How long one request may take from its header to its answer, body reading included
    /// (see [`crate::router`]'s deadline layer); past it the client gets a 408.
    pub request_timeout: Duration,
}

impl AppState {
    /// State from an authenticator and rate-limit configuration, with fresh metrics.
    pub fn new(auth: Authenticator, limits: RateLimitConfig) -> Self {
        Self {
            auth: Arc::new(auth),
            limits: Arc::new(RateLimiter::new(limits)),
            metrics: Arc::new(Metrics::new()),
            fleet: None,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Default request deadline: far above any legitimate request, short enough that a body
    /// trickled a byte at a time cannot hold a connection for long.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

    /// The same state with another request deadline.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The same state serving the resource endpoints from `fleet`.
    pub fn with_fleet(mut self, fleet: Arc<FleetService>) -> Self {
        self.fleet = Some(fleet);
        self
    }
}
