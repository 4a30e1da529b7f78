//! `POST /api/inventory`: machine reports in, stored machines out.
//!
//! Every report of a request is parsed before anything is stored, so a bad one (even the last
//! line of an NDJSON bulk body) leaves the store as it was; the store then writes the batch in
//! one transaction, committed before the answer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kbgap_core::Device;
use kbgap_inventory::Format;
use kbgap_service::intake::{read_ndjson, read_report};

use super::convert::machine_dto;
use super::need;
use crate::auth::{Authorized, perm};
use crate::dto::{ODataEntity, context};
use crate::error::ApiError;
use crate::odata::{ODataQuery, Page};
use kbgap_service::{FleetService, FleetView};

/// Stores the machine report(s) of the body (see the module documentation). A refused report
/// (bad token, bad body, a store refusal) is also recorded in the fleet's ring of recent
/// refusals, which the dashboard's ingest-health page shows.
pub async fn post_inventory(
    auth: Result<Authorized<perm::InventoryWrite>, ApiError>,
    State(fleet): State<Option<Arc<FleetService>>>,
    query: ODataQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let fleet = need(fleet)?;
    let caller = auth
        .as_ref()
        .map_or(String::new(), |a| a.principal.app_id.clone());
    let answer = match auth {
        Ok(auth) => store_reports(auth, &fleet, query, headers, body).await,
        Err(e) => Err(e),
    };
    if let Err(e) = &answer {
        (fleet.refusals()).record(e.status.as_u16(), &caller, &e.message);
    }
    answer
}

async fn store_reports(
    auth: Authorized<perm::InventoryWrite>,
    fleet: &Arc<FleetService>,
    query: ODataQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(body_error)?;
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("ndjson"));
    // Reports are read with the catalog of this moment; answers are shaped with the view's own
    // catalog, which a reload may have swapped meanwhile.
    let cat = fleet.catalog();
    if ndjson {
        let devices = read_ndjson(&body, "request body", Some(&*cat))?;
        let devices = check_binding(auth.principal.machine.clone(), devices, fleet).await?;
        let stored = fleet.ingest(devices).await?;
        let view = fleet.read();
        let items: Vec<_> = (stored.iter())
            .map(|m| machine_dto(m, view.exposure(view.catalog(), m).as_ref()))
            .collect();
        drop(view);
        let total = items.len();
        let page = Page::from_parts(items, total, 0, 0);
        return Ok(query.collection(context::MACHINES, page).into_response());
    }
    let device = read_report(&body, "request body", Format::Auto, Some(&*cat))?;
    let devices = check_binding(auth.principal.machine.clone(), vec![device], fleet).await?;
    let stored = fleet.ingest(devices).await?;
    let Some(machine) = stored.first() else {
        return Err(ApiError::internal("the store returned no machine"));
    };
    let exposure = {
        let view = fleet.read();
        view.exposure(view.catalog(), machine)
    };
    Ok(ODataEntity {
        context: query.base().metadata_context(context::MACHINE_ENTITY),
        entity: machine_dto(machine, exposure.as_ref()),
    }
    .into_response())
}

/// Whether a report's computer name is the one a token is bound to: equal without regard to
/// case, or, for a bound name without a domain, equal to the report's host label
/// (`pc-01` accepts `PC-01.contoso.com`).
fn is_bound_name(bound: &str, reported: &str) -> bool {
    let (bound, reported) = (bound.trim(), reported.trim());
    bound.eq_ignore_ascii_case(reported)
        || (!bound.contains('.')
            && reported
                .split('.')
                .next()
                .is_some_and(|host| host.eq_ignore_ascii_case(bound)))
}

/// A machine-bound token's reports must all be for its machine, and a report's `id` must not
/// name another stored machine (the id decides which machine a report updates).
async fn check_binding(
    bound: Option<String>,
    devices: Vec<Device>,
    fleet: &Arc<FleetService>,
) -> Result<Vec<Device>, ApiError> {
    let Some(bound) = bound else {
        return Ok(devices);
    };
    fleet
        .view(move |view, _| bound_reports(&bound, &devices, view).map(|()| devices))
        .await?
}

fn bound_reports(bound: &str, devices: &[Device], view: &FleetView) -> Result<(), ApiError> {
    for d in devices {
        if !is_bound_name(bound, &d.computer_dns_name) {
            return Err(ApiError::forbidden(format!(
                "This token may submit reports for the machine {bound} only; this report is for {}.",
                d.computer_dns_name.chars().take(255).collect::<String>()
            )));
        }
        if let Some(id) = &d.id
            && let Some(m) = view.machines.get(&id.as_str().to_ascii_lowercase())
            && !is_bound_name(bound, &m.device.computer_dns_name)
        {
            return Err(ApiError::forbidden(format!(
                "This token may submit reports for the machine {bound} only; the report's id belongs to another machine."
            )));
        }
    }
    Ok(())
}

fn body_error(r: BytesRejection) -> ApiError {
    let status = r.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::invalid_body(format!(
            "The request body is too large (at most {} bytes).",
            super::MAX_INVENTORY_BODY
        ))
        .with_status(status)
    } else {
        ApiError::invalid_body("The request body could not be read.").with_detail(r.body_text())
    }
}
