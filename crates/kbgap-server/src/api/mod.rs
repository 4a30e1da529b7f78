//! The resource endpoints: inventory in, Defender's machine, software and vulnerability
//! endpoints out, all answered from the [`FleetService`]'s in-memory view.
//!
//! Paths are registered lowercase: [`crate::path`] lowercases clients' literal segments
//! (`/api/Software/{id}/machineReferences`) before routing.

mod convert;
mod inventory;
mod machines;
mod software;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::state::AppState;
use kbgap_service::FleetService;

pub use convert::{machine_dto, os_platform};

/// The largest inventory body accepted: an NDJSON bulk load of a few thousand reports.
pub const MAX_INVENTORY_BODY: usize = 20 * 1024 * 1024;

/// Every resource endpoint, to be merged with [`crate::router_with`]. The state must carry a
/// fleet ([`AppState::with_fleet`]); without one these endpoints answer 500.
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/inventory",
            post(inventory::post_inventory).layer(DefaultBodyLimit::max(MAX_INVENTORY_BODY)),
        )
        .route("/api/machines", get(machines::list))
        .route("/api/machines/{id}", get(machines::one))
        .route(
            "/api/machines/{id}/getmissingkbs",
            get(machines::missing_kbs),
        )
        .route("/api/machines/{id}/software", get(machines::software))
        .route(
            "/api/machines/{id}/vulnerabilities",
            get(machines::vulnerabilities),
        )
        .route(
            "/api/vulnerabilities/machinesvulnerabilities",
            get(machines::machines_vulnerabilities),
        )
        .route("/api/software", get(software::list))
        .route("/api/software/{id}", get(software::one))
        .route(
            "/api/software/{id}/getmissingkbs",
            get(software::missing_kbs),
        )
        .route(
            "/api/software/{id}/machinereferences",
            get(software::machine_references),
        )
        .route(
            "/api/software/{id}/vulnerabilities",
            get(software::vulnerabilities),
        )
}

/// The fleet of the state, or a 500 when the server was started without one (a wiring bug,
/// never a client's fault).
fn need(fleet: Option<Arc<FleetService>>) -> Result<Arc<FleetService>, ApiError> {
    fleet.ok_or_else(|| ApiError::internal("the server was started without a fleet"))
}

/// Defender's 404 for a machine id or name it does not know.
fn machine_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Machine {} was not found", shown(id)))
}

/// Defender's 404 for a software id it does not know.
fn software_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Software {} was not found", shown(id)))
}

/// A client-supplied id, cut short so an error message cannot be made arbitrarily long.
fn shown(id: &str) -> String {
    id.chars().take(200).collect()
}
