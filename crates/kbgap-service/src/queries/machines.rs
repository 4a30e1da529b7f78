//! Machine rows: the fleet's machines with what they miss, and the machines missing one KB.

use chrono::{DateTime, Utc};
use kbgap_core::catalog::{Catalog, KbIx};
use kbgap_core::engine::ExposureLevel;
use kbgap_core::engine::fleet::Group;
use kbgap_core::report::cve_count;
use kbgap_store::StoredMachine;
use rustc_hash::FxHashMap;
use serde::Serialize;

use super::{Scope, os_label};
use crate::FleetView;

/// Which machines the machine list shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MachineFilter {
    /// OS version and last-seen window.
    pub scope: Scope,
    /// Only machines whose computer name contains this, any case.
    pub name: Option<String>,
    /// Only machines of this exposure level ("None", "Low", "Medium", "High").
    pub exposure: Option<String>,
    /// Only machines missing a fix for a CVE exploited in the wild.
    pub exploited_only: bool,
}

/// One machine and a summary of what it misses.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineRow {
    /// 40-hex machine id.
    pub id: String,
    /// Computer name.
    pub name: String,
    /// OS version in words ([`os_label`]).
    pub os: String,
    /// Build and revision ("19045.4894"), when reported.
    pub build: Option<String>,
    /// Last report.
    pub last_seen: DateTime<Utc>,
    /// KBs missing (frontier).
    pub missing_kbs: u64,
    /// Open CVEs.
    pub open_cves: u64,
    /// Of them, exploited in the wild.
    pub exploited_cves: u64,
    /// Defender's exposure level from the open CVEs.
    pub exposure: String,
    /// Why MSRC covers its OS no more, when it does not.
    pub end_of_support: Option<String>,
}

/// What every machine of a group shares in its row.
#[derive(Clone)]
struct Summary {
    os: String,
    missing: u64,
    open: u64,
    exploited: u64,
    exposure: &'static str,
}

/// Per group, its row summary, made once however many machines share it.
#[derive(Default)]
pub(super) struct Summaries(FxHashMap<u32, Summary>);

impl Summaries {
    fn get(&mut self, cat: &Catalog, g: &Group) -> Summary {
        (self.0.entry(g.ix))
            .or_insert_with(|| {
                let e = g.exposure(cat);
                Summary {
                    os: os_label(cat, &g.state),
                    missing: g.evaluation.missing.len() as u64,
                    open: cve_count(cat, &g.evaluation.open) as u64,
                    exploited: u64::from(e.exploited),
                    exposure: level_name(e.level()),
                }
            })
            .clone()
    }

    /// A stored machine's row, given its group.
    pub(super) fn row(&mut self, cat: &Catalog, m: &StoredMachine, g: &Group) -> MachineRow {
        let s = self.get(cat, g);
        let d = &m.device;
        MachineRow {
            id: m.id.as_str().to_owned(),
            name: d.computer_dns_name.clone(),
            os: s.os,
            build: d
                .os_version
                .map(|v| match g.evaluation.effective_ubr.or(d.ubr) {
                    Some(ubr) => format!("{}.{ubr}", v.build),
                    None => v.build.to_string(),
                }),
            last_seen: m.last_seen,
            missing_kbs: s.missing,
            open_cves: s.open,
            exploited_cves: s.exploited,
            exposure: s.exposure.to_owned(),
            end_of_support: d.end_of_support.clone(),
        }
    }
}

/// Defender's spelling of an exposure level.
pub fn level_name(level: ExposureLevel) -> &'static str {
    match level {
        ExposureLevel::None => "None",
        ExposureLevel::Low => "Low",
        ExposureLevel::Medium => "Medium",
        ExposureLevel::High => "High",
    }
}

/// The machines passing `filter`, in id order.
pub fn machine_rows(
    cat: &Catalog,
    view: &FleetView,
    filter: &MachineFilter,
    now: DateTime<Utc>,
) -> Vec<MachineRow> {
    let name = filter.name.as_deref().map(|n| n.trim().to_lowercase());
    let mut summaries = Summaries::default();
    let mut out = Vec::new();
    for (key, m) in view.machines.iter() {
        let Some(g) = view.fleet.group_of(key) else {
            continue;
        };
        if !filter.scope.keeps_machine(m, now) || !filter.scope.keeps_state(cat, &g.state) {
            continue;
        }
        if let Some(n) = &name
            && !m
                .device
                .computer_dns_name
                .to_lowercase()
                .contains(n.as_str())
        {
            continue;
        }
        let row = summaries.row(cat, m, g);
        if (filter.exposure.as_deref()).is_some_and(|e| !e.eq_ignore_ascii_case(&row.exposure)) {
            continue;
        }
        if filter.exploited_only && row.exploited_cves == 0 {
            continue;
        }
        out.push(row);
    }
    out
}

/// The machines in `scope` missing `kb` (on their frontier), each with the engine's reason.
pub fn machines_missing(
    cat: &Catalog,
    view: &FleetView,
    kb: KbIx,
    scope: &Scope,
    now: DateTime<Utc>,
) -> Vec<(MachineRow, String)> {
    // The groups missing it first: the machine walk then only compares group indexes.
    let reasons: FxHashMap<u32, String> = (view.fleet.counted_groups())
        .filter(|g| scope.keeps_state(cat, &g.state))
        .filter_map(|g| {
            let m = g.evaluation.missing.iter().find(|m| m.kb == kb)?;
            Some((g.ix, m.reason.to_string()))
        })
        .collect();
    if reasons.is_empty() {
        return Vec::new();
    }
    let mut summaries = Summaries::default();
    let mut out = Vec::new();
    for (key, m) in view.machines.iter() {
        let Some(g) = view.fleet.group_of(key) else {
            continue;
        };
        if let Some(reason) = reasons.get(&g.ix)
            && scope.keeps_machine(m, now)
        {
            out.push((summaries.row(cat, m, g), reason.clone()));
        }
    }
    out
}
