//! Fleet posture: how current the fleet is, per OS version, and how exposed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kbgap_core::catalog::{Catalog, KbIx};
use kbgap_core::engine::fleet::Group;
use serde::Serialize;

use super::machines::level_name;
use super::{Scope, os_label};
use crate::FleetView;
use crate::freshness::{CatalogAge, KevAge};

/// The fleet's posture.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Posture {
    /// Machines assessed (in scope).
    pub assessed: u64,
    /// Distinct states among them.
    pub states: u64,
    /// Machines missing a fix for a CVE exploited in the wild.
    pub missing_exploited: u64,
    /// Machines per exposure level, None to High.
    pub by_exposure: Vec<(String, u64)>,
    /// Per OS version, most machines first.
    pub per_os: Vec<OsPosture>,
    /// The catalog's age.
    #[serde(skip)]
    pub catalog: Option<CatalogAge>,
    /// The catalog's newest document age in days.
    pub catalog_age_days: Option<i64>,
    /// The KEV release applied and its age in days.
    pub kev_version: Option<String>,
    /// The KEV release's age in days.
    pub kev_age_days: Option<i64>,
}

/// One OS version's posture.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OsPosture {
    /// "Windows 11 23H2".
    pub os: String,
    /// Machines on it.
    pub machines: u64,
    /// Of them, on the newest cumulative update (or rollup) of their line.
    pub current: u64,
    /// Machines by months behind the newest cumulative update (distinct release months of the
    /// line's updates newer than the machine's level); `None`: the level is unknown (no
    /// revision reported or derivable, or an OS without a servicing line). In JSON, a list of
    /// `[months or null, machines]` pairs.
    #[serde(serialize_with = "pairs")]
    pub months_behind: BTreeMap<Option<u32>, u64>,
}

fn pairs<S: serde::Serializer>(m: &BTreeMap<Option<u32>, u64>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(m.iter())
}

impl OsPosture {
    /// The share of its machines on the newest cumulative update, 0–1.
    pub fn current_share(&self) -> f64 {
        self.current as f64 / self.machines.max(1) as f64
    }
}

/// How many months the group is behind the newest update of its OS's servicing line: none of
/// the line's updates missing is current (0); otherwise the distinct release months of line
/// updates above the machine's effective revision, or, without a revision (systeminfo reports
/// carry none), the months between the newest line update installed and the newest one missing.
/// `None` when neither is known, or the OS has no servicing line.
pub fn months_behind(cat: &Catalog, g: &Group) -> Option<u32> {
    let &os = g.state.os_products.first()?;
    let line = cat.servicing_line(os);
    if line.is_empty() {
        return None;
    }
    let month = |kb: KbIx| month_number(&cat.kb(kb).release_date);
    let Some(target) = (g.evaluation.missing.iter())
        .filter(|m| line.contains(&m.kb))
        .filter_map(|m| month(m.kb))
        .max()
    else {
        return Some(0);
    };
    if let Some(level) = g.evaluation.effective_ubr {
        let mut months: Vec<u32> = (line.iter())
            .filter(|&&kb| cat.cumulative_revision(kb, os).is_some_and(|r| r > level))
            .filter_map(|&kb| month(kb))
            .collect();
        months.sort_unstable();
        months.dedup();
        if !months.is_empty() {
            return Some(months.len() as u32);
        }
    }
    let installed = (line.iter())
        .filter(|&&kb| g.state.installed.contains(&cat.kb(kb).id))
        .filter_map(|&kb| month(kb))
        .max()?;
    Some(target.saturating_sub(installed))
}

/// A `YYYY-MM…` date as months since year 0.
fn month_number(date: &str) -> Option<u32> {
    let y: u32 = date.get(..4)?.parse().ok()?;
    let m: u32 = date.get(5..7)?.parse().ok()?;
    Some(y * 12 + m)
}

/// The posture of the machines in `scope`.
pub fn posture(cat: &Catalog, view: &FleetView, scope: &Scope, now: DateTime<Utc>) -> Posture {
    let groups = scope.groups(cat, view, now);
    let mut per_os: BTreeMap<String, OsPosture> = BTreeMap::new();
    let mut levels: BTreeMap<&'static str, u64> = BTreeMap::new();
    let (mut assessed, mut missing_exploited) = (0, 0);
    for &(g, n) in &groups {
        assessed += n;
        let e = g.exposure(cat);
        *levels.entry(level_name(e.level())).or_default() += n;
        if e.exploited > 0 {
            missing_exploited += n;
        }
        let os = os_label(cat, &g.state);
        let p = per_os.entry(os.clone()).or_insert_with(|| OsPosture {
            os,
            machines: 0,
            current: 0,
            months_behind: BTreeMap::new(),
        });
        p.machines += n;
        let behind = months_behind(cat, g);
        if behind == Some(0) {
            p.current += n;
        }
        *p.months_behind.entry(behind).or_default() += n;
    }
    let mut per_os: Vec<OsPosture> = per_os.into_values().collect();
    per_os.sort_by(|a, b| b.machines.cmp(&a.machines).then(a.os.cmp(&b.os)));
    let by_exposure = ["None", "Low", "Medium", "High"]
        .iter()
        .map(|&l| (l.to_owned(), levels.get(l).copied().unwrap_or(0)))
        .collect();
    let catalog = CatalogAge::of(cat);
    let kev = KevAge::of(cat);
    Posture {
        assessed,
        states: groups.len() as u64,
        missing_exploited,
        by_exposure,
        per_os,
        catalog_age_days: catalog.age_days,
        catalog: Some(catalog),
        kev_version: kev.as_ref().map(|k| k.version.clone()),
        kev_age_days: kev.and_then(|k| k.age_days),
    }
}
