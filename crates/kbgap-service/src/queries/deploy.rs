//! Deploy first: one row per KB missing anywhere in the fleet, ranked by what installing it
//! closes.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use kbgap_core::catalog::{Catalog, KbIx, ProductIx, VulnIx};
use kbgap_core::engine::fleet::{Fleet, Group};
use kbgap_core::{ServicingKind, Severity};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use super::Scope;
use crate::FleetView;

/// The deploy-first filters: the machines in scope, then which KBs to show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeployFilter {
    /// Which machines count.
    pub scope: Scope,
    /// Only KBs serving a product of this family ("Windows 10", ".NET Framework"), any case.
    pub family: Option<String>,
    /// Only KBs closing a CVE exploited in the wild (MSRC "Exploited: Yes" or CISA KEV).
    pub exploited_only: bool,
    /// Only KBs whose highest severity is at least this (unknown severity is left out).
    pub min_severity: Option<Severity>,
}

/// One KB missing on some machines in scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployRow {
    /// "KB5034441".
    pub kb: String,
    /// MSRC's title of the KB.
    pub title: String,
    /// What kind of update it is.
    pub kind: ServicingKind,
    /// When it was released (`YYYY-MM-DD`).
    pub released: String,
    /// The software it serves on the machines missing it.
    pub products: Vec<String>,
    /// Machines in scope missing it (on their frontier).
    pub machines: u64,
    /// Distinct open CVEs it closes on those machines.
    pub cves: u64,
    /// Of them, exploited in the wild.
    pub exploited: Vec<String>,
    /// Of them, listed in CISA's KEV catalog.
    pub kev: Vec<String>,
    /// The earliest KEV due date among them (`YYYY-MM-DD`).
    pub kev_due: Option<String>,
    /// The highest severity among them.
    pub max_severity: Option<Severity>,
    /// The highest CVSS v3 base score among them.
    pub max_cvss: Option<f32>,
    /// How many older missing KBs installing it makes unnecessary (the most on any machine).
    pub covers_older: u64,
}

/// One KB while groups add up.
#[derive(Default)]
struct Tally {
    kind: Option<ServicingKind>,
    machines: u64,
    products: BTreeSet<ProductIx>,
    closes: FxHashSet<VulnIx>,
    severity: Option<Severity>,
    covers: usize,
}

/// The deploy-first rows for the machines of `filter.scope`, highest priority first.
pub fn deploy_first(
    cat: &Catalog,
    view: &FleetView,
    filter: &DeployFilter,
    now: DateTime<Utc>,
) -> Vec<DeployRow> {
    let groups = filter.scope.groups(cat, view, now);
    rows(cat, groups, filter)
}

/// [`deploy_first`] over a bare [`Fleet`] (every machine in scope but the per-machine filters'):
/// for benchmarks and callers without stored machines.
pub fn deploy_first_groups(cat: &Catalog, fleet: &Fleet, filter: &DeployFilter) -> Vec<DeployRow> {
    let groups = (fleet.counted_groups())
        .filter(|g| filter.scope.keeps_state(cat, &g.state))
        .map(|g| (g, g.count))
        .collect();
    rows(cat, groups, filter)
}

fn rows(cat: &Catalog, groups: Vec<(&Group, u64)>, filter: &DeployFilter) -> Vec<DeployRow> {
    let family = filter.family.as_deref().map(str::trim);
    let serves =
        |p: &ProductIx| family.is_none_or(|f| cat.product(*p).facts.family.eq_ignore_ascii_case(f));
    let mut per_kb: FxHashMap<KbIx, Tally> = FxHashMap::default();
    for (g, n) in groups {
        for m in &g.evaluation.missing {
            if !m.products.iter().any(serves) {
                continue;
            }
            let t = per_kb.entry(m.kb).or_default();
            t.kind = Some(t.kind.map_or(m.kind, |k| k.min(m.kind)));
            t.machines += n;
            t.products.extend(m.products.iter().copied());
            t.closes.extend(m.closes.iter().copied());
            t.severity = t.severity.max(m.max_severity);
            t.covers = t.covers.max(m.supersedes_missing.len());
        }
    }
    let mut out: Vec<DeployRow> = (per_kb.into_iter())
        .map(|(kb, t)| row(cat, kb, t))
        .filter(|r| keeps(filter, r))
        .collect();
    out.sort_by(by_priority);
    out
}

fn keeps(filter: &DeployFilter, r: &DeployRow) -> bool {
    let severe = (filter.min_severity).is_none_or(|min| r.max_severity.is_some_and(|s| s >= min));
    severe && (!filter.exploited_only || !r.exploited.is_empty())
}

/// A KB's row from its tally: the risk of each CVE it closes, read on the products it serves.
fn row(cat: &Catalog, kb: KbIx, t: Tally) -> DeployRow {
    let k = cat.kb(kb);
    let products: Vec<ProductIx> = t.products.iter().copied().collect();
    let mut cves: Vec<VulnIx> = (t.closes.into_iter())
        .filter(|&v| cat.vuln(v).id.is_cve())
        .collect();
    cves.sort_unstable_by(|&a, &b| cat.vuln(a).id.cmp(&cat.vuln(b).id));
    let (mut exploited, mut kev, mut kev_due) = (Vec::new(), Vec::new(), None::<String>);
    let (mut severity, mut cvss) = (t.severity, None::<f32>);
    for &v in &cves {
        let vuln = cat.vuln(v);
        let risk = cat.vuln_risk(v, &products);
        severity = severity.max(risk.severity);
        let score = risk.cvss.or(vuln.cvss.map(|(s, _)| s));
        cvss = match (cvss, score) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if vuln.exploited() {
            exploited.push(vuln.id.to_string());
        }
        if let Some(e) = &vuln.kev {
            kev.push(vuln.id.to_string());
            if kev_due.as_ref().is_none_or(|d| e.due_date < *d) {
                kev_due = Some(e.due_date.clone());
            }
        }
    }
    let mut software: Vec<String> = (products.iter())
        .map(|&p| cat.product(p).software.clone())
        .collect();
    software.sort();
    software.dedup();
    DeployRow {
        kb: format!("KB{}", k.id),
        title: k.name.clone(),
        kind: t.kind.unwrap_or(ServicingKind::Standalone),
        released: k
            .release_date
            .get(..10)
            .unwrap_or(&k.release_date)
            .to_owned(),
        products: software,
        machines: t.machines,
        cves: cves.len() as u64,
        exploited,
        kev,
        kev_due,
        max_severity: severity,
        max_cvss: cvss,
        covers_older: t.covers as u64,
    }
}

/// Priority, highest first: more exploited CVEs, a higher severity, a higher CVSS, more
/// machines, more CVEs closed, then the newer KB (as `kbgap scan` ranks one machine's KBs, with
/// the fleet's reach added).
pub fn by_priority(a: &DeployRow, b: &DeployRow) -> Ordering {
    let cvss = |r: &DeployRow| r.max_cvss.unwrap_or(-1.0);
    (b.exploited.len().cmp(&a.exploited.len()))
        .then(b.max_severity.cmp(&a.max_severity))
        .then(cvss(b).total_cmp(&cvss(a)))
        .then(b.machines.cmp(&a.machines))
        .then(b.cves.cmp(&a.cves))
        .then(b.released.cmp(&a.released))
        .then(a.kb.cmp(&b.kb))
}
