//! What every handler can reach: the authenticator, the rate limiter and the metrics.
//!
//! Extractors ask for their part through `FromRef` (`Arc<Authenticator>: FromRef<S>`), not for
//! `AppState` itself, so phase 2 can grow the state (store, catalog, engine) or make it generic
//! over the store without touching them.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::auth::Authenticator;
use crate::fleet::FleetService;
use crate::metrics::Metrics;
use crate::ratelimit::{RateLimitConfig, RateLimiter};

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
}

impl AppState {
    /// State from an authenticator and rate-limit configuration, with fresh metrics.
    pub fn new(auth: Authenticator, limits: RateLimitConfig) -> Self {
        Self {
            auth: Arc::new(auth),
            limits: Arc::new(RateLimiter::new(limits)),
            metrics: Arc::new(Metrics::new()),
            fleet: None,
        }
    }

    /// The same state serving the resource endpoints from `fleet`.
    pub fn with_fleet(mut self, fleet: Arc<FleetService>) -> Self {
        self.fleet = Some(fleet);
        self
    }
}
