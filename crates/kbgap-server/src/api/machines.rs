//! `/api/machines…` and `/api/vulnerabilities/machinesVulnerabilities`.
//!
//! Everything is answered from a snapshot of the fleet's in-memory view, which no writer waits
//! for; the collections a `$filter` runs over are computed on a blocking thread
//! ([`FleetService::with_view`]), so a long one holds no async worker either.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use kbgap_core::catalog::{Catalog, KbIx};
use kbgap_core::engine::fleet::{Group, GroupIx};
use kbgap_store::StoredMachine;
use kbgap_store::lifecycle::Activity;

use super::convert::{
    VENDOR, machine_dto, machine_fix, release_time, software_dto, vuln_risk, vulnerability_dto,
};
use super::{machine_not_found, need};
use crate::auth::{Authorized, perm};
use crate::dto::HealthStatus;
use crate::dto::{
    FixesTemplate, Machine, MachineVulnerability, ODataCollection, ODataEntity,
    PublicProductFixDto, RawCollection, Software, Vulnerability, context,
};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::odata::ODataQuery;
use kbgap_service::queries::{machine_software, software_counts};
use kbgap_service::{FleetService, FleetView};

type Fleet = State<Option<Arc<FleetService>>>;

/// The stored machine and its group, or Defender's 404.
fn find<'v>(view: &'v FleetView, id: &str) -> Result<(&'v StoredMachine, &'v Group), ApiError> {
    let machine = view.find(id).ok_or_else(|| machine_not_found(id))?;
    let group = view
        .fleet
        .group_of(machine.id.as_str())
        .ok_or_else(|| machine_not_found(id))?;
    Ok((machine, group))
}

/// A stored machine as Defender's `Machine`, with its exposure and its `healthStatus`
/// (`Inactive` when not seen for more than 30 days, as Defender says).
fn machine_entity(view: &FleetView, cat: &Catalog, m: &StoredMachine) -> Machine {
    let mut dto = machine_dto(m, view.exposure(cat, m).as_ref());
    if view.activity(m) == Activity::Inactive {
        dto.health_status = HealthStatus::Inactive;
    }
    dto
}

/// `GET /api/machines`: every machine, active or not (`$filter=healthStatus eq 'Active'` keeps
/// the active ones), with OData filtering and paging.
pub async fn list(
    _auth: Authorized<perm::MachinesRead>,
    State(fleet): Fleet,
    query: ODataQuery,
) -> Result<ODataCollection<Machine>, ApiError> {
    let fleet = need(fleet)?;
    let q = query.clone();
    let page = fleet
        .with_view(move |view, cat| {
            q.apply_made(view.machines.values(), |m| machine_entity(view, cat, m))
        })
        .await??;
    Ok(query.collection(context::MACHINES, page))
}

/// `GET /api/machines/{id}`: by 40-hex id or computer name.
pub async fn one(
    _auth: Authorized<perm::MachinesRead>,
    State(fleet): Fleet,
    query: ODataQuery,
    ApiPath(id): ApiPath<String>,
) -> Result<ODataEntity<Machine>, ApiError> {
    let fleet = need(fleet)?;
    let entity = fleet
        .view(move |view, cat| {
            view.find(&id)
                .map(|m| machine_entity(view, cat, m))
                .ok_or_else(|| machine_not_found(&id))
        })
        .await??;
    Ok(ODataEntity {
        context: query.base().metadata_context(context::MACHINE_ENTITY),
        entity,
    })
}

/// `GET /api/machines/{id}/getmissingkbs`: the machine's group evaluation, with
/// `machineMissedOn` counted over the fleet.
pub async fn missing_kbs(
    _auth: Authorized<perm::MachineMissingKbs>,
    State(fleet): Fleet,
    query: ODataQuery,
    ApiPath(id): ApiPath<String>,
) -> Result<RawCollection, ApiError> {
    let fleet = need(fleet)?;
    let extended = query.extended;
    let value = fleet
        .view(move |view, cat| {
            let (_, group) = find(view, &id)?;
            let template = view.answer(group.ix, extended, || {
                let missing = &group.evaluation.missing;
                let items: Vec<PublicProductFixDto> = (missing.iter())
                    .map(|m| machine_fix(cat, view, &group.state, m, extended))
                    .collect();
                let kbs: Vec<KbIx> = missing.iter().map(|m| m.kb).collect();
                FixesTemplate::new(items, &kbs)
            })?;
            Ok::<_, ApiError>(template.fill(|kb| view.fleet.missed_on(kb)))
        })
        .await??;
    Ok(query.raw_collection(context::PRODUCT_FIXES, Arc::new(value)))
}

/// `GET /api/machines/{id}/software`: the software of the machine's applicable products.
pub async fn software(
    _auth: Authorized<perm::MachineSoftwareRead>,
    State(fleet): Fleet,
    query: ODataQuery,
    ApiPath(id): ApiPath<String>,
) -> Result<ODataCollection<Software>, ApiError> {
    let fleet = need(fleet)?;
    let items = fleet
        .view(move |view, cat| {
            let (_, group) = find(view, &id)?;
            let counts = software_counts(cat, view);
            Ok::<_, ApiError>(
                machine_software(cat, &group.state.products)
                    .iter()
                    .map(|name| software_dto(name, &counts.get(name).cloned().unwrap_or_default()))
                    .collect::<Vec<Software>>(),
            )
        })
        .await??;
    let page = query.apply(items)?;
    Ok(query.collection(context::MACHINE_SOFTWARE, page))
}

/// `GET /api/machines/{id}/vulnerabilities`: the CVEs open on the machine that a missing KB
/// closes.
pub async fn vulnerabilities(
    _auth: Authorized<perm::MachineVulnerabilitiesRead>,
    State(fleet): Fleet,
    query: ODataQuery,
    ApiPath(id): ApiPath<String>,
) -> Result<ODataCollection<Vulnerability>, ApiError> {
    let fleet = need(fleet)?;
    let items = fleet
        .view(move |view, cat| machine_vulnerabilities(view, cat, &id))
        .await??;
    let page = query.apply(items)?;
    Ok(query.collection(context::MACHINE_VULNERABILITIES, page))
}

fn machine_vulnerabilities(
    view: &FleetView,
    cat: &Catalog,
    id: &str,
) -> Result<Vec<Vulnerability>, ApiError> {
    let (_, group) = find(view, id)?;
    let mut seen = BTreeSet::new();
    let mut items = Vec::new();
    for m in &group.evaluation.missing {
        for &v in &m.closes {
            if cat.vuln(v).id.is_cve() && seen.insert(v) {
                let risk = vuln_risk(cat, &m.products, &group.state.products, v);
                let released = release_time(cat, m.kb);
                items.push(vulnerability_dto(
                    cat,
                    v,
                    &risk,
                    view.fleet.missed_on(m.kb),
                    released,
                ));
            }
        }
    }
    Ok(items)
}

/// One row per open CVE × machine, with the missing KB (on the machine's getmissingkbs list)
/// that closes it.
fn machine_rows(
    cat: &Catalog,
    machine: &StoredMachine,
    group: &Group,
) -> Vec<MachineVulnerability> {
    let id = machine.id.as_str();
    let version = machine
        .device
        .os_version
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.build))
        .unwrap_or_default();
    let mut seen = BTreeSet::new();
    let mut rows = Vec::new();
    for m in &group.evaluation.missing {
        let kb = cat.kb(m.kb).id;
        for &v in &m.closes {
            let vuln = cat.vuln(v);
            if !vuln.id.is_cve() || !seen.insert(v) {
                continue;
            }
            let product = (m.products.iter().copied())
                .find(|&p| cat.kb_fixes(m.kb, p).any(|f| f.vuln == v))
                .or_else(|| m.products.first().copied());
            let name = product.map_or("", |p| cat.product(p).software.as_str());
            let is_os = product.is_some_and(|p| group.state.os_products.contains(&p));
            let sev = vuln_risk(cat, &m.products, &group.state.products, v)
                .defender_severity()
                .map_or_else(String::new, |s| s.to_string());
            rows.push(MachineVulnerability::new(
                id,
                vuln.id.as_str(),
                VENDOR,
                name,
                if is_os { &version } else { "" },
                Some(kb),
                sev,
            ));
        }
    }
    rows
}

/// `GET /api/vulnerabilities/machinesVulnerabilities`: every machine's open CVEs with their
/// fixing KB, OData filtered and paged.
pub async fn machines_vulnerabilities(
    _auth: Authorized<perm::VulnerabilitiesRead>,
    State(fleet): Fleet,
    query: ODataQuery,
) -> Result<ODataCollection<MachineVulnerability>, ApiError> {
    let fleet = need(fleet)?;
    let q = query.clone();
    let page = fleet
        .with_view(move |view, cat| {
            if q.filter.is_some() {
                q.check_cost(row_count(view, cat))?;
            }
            let rows = view.machines.iter().flat_map(|(key, machine)| {
                view.fleet
                    .group_of(key)
                    .map(|g| machine_rows(cat, machine, g))
                    .unwrap_or_default()
            });
            q.apply(rows)
        })
        .await??;
    Ok(query.collection(context::MACHINES_VULNERABILITIES, page))
}

/// How many rows `machinesVulnerabilities` has (each machine's distinct open CVEs, as
/// [`machine_rows`] makes them), counted once per group: far cheaper than making the rows, so
/// a filter too costly for them is refused before they are made.
fn row_count(view: &FleetView, cat: &Catalog) -> u64 {
    let mut per_group: std::collections::HashMap<GroupIx, u64> = std::collections::HashMap::new();
    (view.machines.keys())
        .filter_map(|key| view.fleet.group_of(key))
        .map(|g| *per_group.entry(g.ix).or_insert_with(|| open_cves(cat, g)))
        .sum()
}

/// A group's distinct open CVEs: the rows [`machine_rows`] makes for each of its machines.
fn open_cves(cat: &Catalog, group: &Group) -> u64 {
    let cves: BTreeSet<_> = (group.evaluation.missing.iter())
        .flat_map(|m| m.closes.iter().copied())
        .filter(|&v| cat.vuln(v).id.is_cve())
        .collect();
    cves.len() as u64
}
