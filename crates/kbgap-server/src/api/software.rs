//! `/api/Software…`: software ids are `vendor-_-name`, and kbgap's software are the Defender
//! software names of the catalog's (Microsoft) products.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use kbgap_core::SoftwareId;
use kbgap_core::catalog::Catalog;

use super::convert::{VENDOR, asset_dto, release_time, software_dto, vulnerability_dto};
use super::{need, software_not_found};
use crate::auth::{Authorized, perm};
use crate::dto::{
    ODataCollection, ODataEntity, PublicAssetDto, PublicProductFixDto, Software, Vulnerability,
    context,
};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::odata::{ODataQuery, Page};
use kbgap_core::report::cve_count;
use kbgap_service::queries::software_counts;
use kbgap_service::{FleetService, FleetView};

type Fleet = State<Option<Arc<FleetService>>>;

/// The software name of a Microsoft software id, or Defender's 404.
fn software_name(id: &str) -> Result<String, ApiError> {
    let sw: SoftwareId = id.parse().map_err(|_| software_not_found(id))?;
    if sw.vendor != VENDOR {
        return Err(software_not_found(id));
    }
    Ok(sw.name)
}

/// Whether any machine has the software or any catalog product is of it.
fn known(cat: &Catalog, view: &FleetView, name: &str) -> bool {
    view.fleet.machines_with_software(cat, name) > 0
        || cat.products().iter().any(|p| p.software == name)
}

/// `GET /api/Software`: the software installed on at least one machine.
pub async fn list(
    _auth: Authorized<perm::SoftwareRead>,
    State(fleet): Fleet,
    query: ODataQuery,
) -> Result<ODataCollection<Software>, ApiError> {
    let fleet = need(fleet)?;
    let counts = fleet.view(|view, cat| software_counts(cat, view)).await?;
    let items = counts.iter().map(|(name, c)| software_dto(name, c));
    let page = query.apply(items)?;
    Ok(query.collection(context::SOFTWARE, page))
}

/// `GET /api/Software/{id}`: one software installed on at least one machine.
pub async fn one(
    _auth: Authorized<perm::SoftwareRead>,
    State(fleet): Fleet,
    query: ODataQuery,
    ApiPath(id): ApiPath<String>,
) -> Result<ODataEntity<Software>, ApiError> {
    let fleet = need(fleet)?;
    let name = software_name(&id)?;
    let counts = fleet.view(|view, cat| software_counts(cat, view)).await?;
    let c = counts.get(&name).ok_or_else(|| software_not_found(&id))?;
    Ok(ODataEntity {
        context: query.base().metadata_context(context::SOFTWARE_ENTITY),
        entity: software_dto(&name, c),
    })
}

/// `GET /api/Software/{id}/getmissingkbs`: the KBs machines with the software miss for it,
/// scoped to its products (each distinct projection evaluated once and cached by the fleet).
pub async fn missing_kbs(
    _auth: Authorized<perm::SoftwareMissingKbs>,
    State(fleet): Fleet,
    query: ODataQuery,
    ApiPath(id): ApiPath<String>,
) -> Result<ODataCollection<PublicProductFixDto>, ApiError> {
    let fleet = need(fleet)?;
    let name = software_name(&id)?;
    // On a blocking thread: the first ask for a software adds up every group's evaluation
    // (the fleet then keeps the answer until its counts change).
    let items = fleet
        .with_view(move |view, cat| software_fixes(view, cat, &name, &id))
        .await??;
    let total = items.len();
    Ok(query.collection(context::PRODUCT_FIXES, Page::from_parts(items, total, 0, 0)))
}

fn software_fixes(
    view: &FleetView,
    cat: &Catalog,
    name: &str,
    id: &str,
) -> Result<Vec<PublicProductFixDto>, ApiError> {
    if !known(cat, view, name) {
        return Err(software_not_found(id));
    }
    let items: Vec<PublicProductFixDto> = view
        .fleet
        .software_missing(cat, name)
        .iter()
        .map(|f| {
            let kb = cat.kb(f.kb);
            PublicProductFixDto::new(
                kb.id,
                kb.name.clone(),
                f.os_build.map(i64::from),
                vec![name.to_owned()],
                i64::try_from(f.machine_missed_on).unwrap_or(i64::MAX),
                i64::try_from(cve_count(cat, &f.fixes)).unwrap_or(i64::MAX),
            )
        })
        .collect();
    Ok(items)
}

/// `GET /api/Software/{id}/machineReferences`: the machines with the software.
pub async fn machine_references(
    _auth: Authorized<perm::SoftwareRead>,
    State(fleet): Fleet,
    query: ODataQuery,
    ApiPath(id): ApiPath<String>,
) -> Result<ODataCollection<PublicAssetDto>, ApiError> {
    let fleet = need(fleet)?;
    let name = software_name(&id)?;
    let q = query.clone();
    // A filtered collection over every machine: off the async workers.
    let page = fleet
        .with_view(move |view, cat| {
            if !known(cat, view, &name) {
                return Err(software_not_found(&id));
            }
            let items = view.machines.iter().filter_map(|(key, m)| {
                let group = view.fleet.group_of(key)?;
                group
                    .state
                    .products
                    .iter()
                    .any(|&p| cat.product(p).software == name)
                    .then(|| asset_dto(m))
            });
            q.apply(items)
        })
        .await??;
    Ok(query.collection(context::MACHINE_REFERENCES, page))
}

/// `GET /api/Software/{id}/vulnerabilities`: the CVEs fixed by KBs that machines with the
/// software miss for it.
pub async fn vulnerabilities(
    _auth: Authorized<perm::VulnerabilitiesRead>,
    State(fleet): Fleet,
    query: ODataQuery,
    ApiPath(id): ApiPath<String>,
) -> Result<ODataCollection<Vulnerability>, ApiError> {
    let fleet = need(fleet)?;
    let name = software_name(&id)?;
    let items = fleet
        .with_view(move |view, cat| software_vulnerabilities(view, cat, &name, &id))
        .await??;
    let page = query.apply(items)?;
    Ok(query.collection(context::SOFTWARE_VULNERABILITIES, page))
}

fn software_vulnerabilities(
    view: &FleetView,
    cat: &Catalog,
    name: &str,
    id: &str,
) -> Result<Vec<Vulnerability>, ApiError> {
    if !known(cat, view, name) {
        return Err(software_not_found(id));
    }
    let products: Vec<_> = (0..cat.products().len() as u32)
        .filter(|&p| cat.product(p).software == name)
        .collect();
    let mut seen = BTreeSet::new();
    let mut items = Vec::new();
    for f in view.fleet.software_missing(cat, name).iter() {
        for &v in &f.fixes {
            if cat.vuln(v).id.is_cve() && seen.insert(v) {
                let released = release_time(cat, f.kb);
                let risk = cat.vuln_risk(v, &products);
                items.push(vulnerability_dto(
                    cat,
                    v,
                    &risk,
                    f.machine_missed_on,
                    released,
                ));
            }
        }
    }
    Ok(items)
}
