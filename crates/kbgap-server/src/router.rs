//! The HTTP application: routes, the middleware stack, and serving with graceful shutdown.
//!
//! Layers, outermost first:
//! 1. path normalization (case-insensitive literal segments, see [`crate::path`]), which must
//!    run before routing, so it wraps the routed application rather than being a route layer;
//! 2. [`request_context`]: request id, span, log line, final error bodies, metrics;
//! 3. [`deadline`]: a request not answered within `AppState::request_timeout` (body reading
//!    included) is a 408 in Defender's shape;
//! 4. `CatchPanicLayer`: a panic becomes a 500 in Defender's shape (inside 2, so it gets the
//!    request id);
//! 5. the routes, with a 404 and a 405 fallback in Defender's shape.

use std::any::Any;
use std::future::Future;
use std::io;
use std::time::Duration;

use axum::Router;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kbgap_service::freshness::{CatalogAge, KevAge};
use tokio::net::TcpListener;
use tower::Layer;
use tower::util::MapRequestLayer;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::listen::{ConnectionLimits, serve_with_limits};
use crate::metadata::metadata;
use crate::path::normalize_request;
use crate::request_id::request_context;
use crate::state::AppState;

/// The application with kbgap's built-in routes.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The application with extra routes merged in (phase 2's resource endpoints; tests' probes).
/// Register routes with lowercase literal segments (`/api/software/{id}/getmissingkbs`): clients'
/// spellings are lowercased before routing.
pub fn router_with(state: AppState, routes: Router<AppState>) -> Router {
    let routed = Router::new()
        .route("/healthz", get(healthz))
        .route("/api/$metadata", get(metadata))
        .merge(routes)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(from_fn_with_state(state.request_timeout, deadline))
        .layer(from_fn_with_state(state.metrics.clone(), request_context))
        .with_state(state);
    Router::new().fallback_service(MapRequestLayer::new(normalize_request).layer(routed))
}

/// Serves `router(state)` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_app(listener, router(state), shutdown).await
}

/// Serves any application built by [`router_with`], with the default [`ConnectionLimits`].
pub async fn serve_app(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with_limits(listener, app, ConnectionLimits::default(), shutdown).await
}

/// Ends a request that outlives `timeout` with a 408. Dropping the handler's future is safe: an
/// ingest already queued is committed by the committer task whether or not its caller waits.
async fn deadline(State(timeout): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::bad_request(format!(
            "The request was not completed within {} seconds.",
            timeout.as_secs_f64()
        ))
        .with_status(StatusCode::REQUEST_TIMEOUT)
        .into_response(),
    }
}

/// `/healthz`'s body. Without a fleet (foundation-only servers) it is `{"status":"ok"}`.
#[derive(serde::Serialize)]
struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    catalog: Option<CatalogHealth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kev: Option<KevHealth>,
}

/// The served catalog: size, newest document, age, and the store generation it was loaded at.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct CatalogHealth {
    documents: usize,
    newest: Option<String>,
    age_days: Option<i64>,
    /// Past 60 days (`kbgap_service::freshness::STALE_AFTER_DAYS`): answers miss updates.
    stale: bool,
    generation: i64,
}

/// The KEV catalog applied to the served catalog.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct KevHealth {
    version: String,
    age_days: Option<i64>,
}

/// `GET /healthz`: no authentication, for load balancers and orchestrators. Always 200 while the
/// server answers: a stale catalog is worth a look, not a restart (which would not fix it).
async fn healthz(State(state): State<AppState>) -> ApiJson<Health> {
    let mut health = Health {
        status: "ok",
        catalog: None,
        kev: None,
    };
    if let Some(fleet) = &state.fleet
        && let Ok((catalog, kev)) = fleet.view(catalog_health).await
    {
        health.catalog = Some(catalog);
        health.kev = kev;
    }
    ApiJson(health)
}

fn catalog_health(
    view: &kbgap_service::FleetView,
    cat: &kbgap_core::catalog::Catalog,
) -> (CatalogHealth, Option<KevHealth>) {
    let age = CatalogAge::of(cat);
    let catalog = CatalogHealth {
        documents: age.documents,
        newest: age.newest,
        age_days: age.age_days,
        stale: age.stale,
        generation: view.generation(),
    };
    let kev = KevAge::of(cat).map(|k| KevHealth {
        version: k.version,
        age_days: k.age_days,
    });
    (catalog, kev)
}

fn shown_path(uri: &OriginalUri) -> String {
    uri.0.path().chars().take(200).collect()
}

async fn not_found(uri: OriginalUri) -> ApiError {
    ApiError::not_found(format!("No API resource at {}.", shown_path(&uri)))
}

async fn method_not_allowed(method: Method, uri: OriginalUri) -> ApiError {
    ApiError::method_not_allowed(format!(
        "The method {method} is not allowed on {}.",
        shown_path(&uri)
    ))
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(non-string panic payload)");
    ApiError::internal(format!("handler panicked: {detail}")).into_response()
}
