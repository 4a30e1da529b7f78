//! The fleet's posture in numbers ([`FleetCounts`]): what the dashboard's posture page shows
//! and what the daily snapshot stores for its trend ([`crate::history`]).
//!
//! Computed per state group (machines sharing a state share every answer), so it costs the
//! number of distinct states, not of machines. Inactive machines (not seen for 30 days) count
//! in `assessed` only, as Defender leaves them out of its exposure figures.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kbgap_core::ServicingKind;
use kbgap_core::catalog::Catalog;
use kbgap_core::engine::ExposureLevel;
use kbgap_core::engine::fleet::Group;
use kbgap_store::{ExposureCounts, FleetSnapshot};

use crate::FleetView;

/// The fleet's counts at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetCounts {
    /// Machines assessed: every machine the view holds, active or not.
    pub assessed: u64,
    /// Of them, active: seen within the last 30 days. Every count below is of active machines.
    pub active: u64,
    /// Machines missing at least one KB.
    pub missing_any: u64,
    /// Machines missing a fix for a CVE exploited in the wild (MSRC `Exploited:Yes` or KEV).
    pub missing_exploited: u64,
    /// Machines by Defender's `exposureLevel`.
    pub exposure: ExposureCounts,
    /// Machines on their OS line's newest cumulative update: no cumulative update, monthly
    /// rollup or hotpatch of their OS is missing. A machine whose OS MSRC covers no more has
    /// no OS product to be current on and is never counted here.
    pub on_newest_update: u64,
    /// The same, per OS product (MSRC's name, "Windows 11 Version 24H2 for x64-based
    /// Systems"), by name: the share on the newest cumulative update per OS version.
    pub os_lines: BTreeMap<String, OsLineCounts>,
}

/// One OS product's machines and how many of them are on its newest cumulative update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OsLineCounts {
    /// Active machines running it.
    pub machines: u64,
    /// Of them, on its newest cumulative update.
    pub on_newest_update: u64,
}

impl FleetCounts {
    /// The counts as the store keeps them for `recorded_at`'s UTC day.
    pub fn snapshot(&self, recorded_at: DateTime<Utc>) -> FleetSnapshot {
        FleetSnapshot {
            day: recorded_at.date_naive(),
            recorded_at,
            assessed: self.assessed,
            active: self.active,
            missing_any: self.missing_any,
            missing_exploited: self.missing_exploited,
            exposure: self.exposure,
            on_newest_update: self.on_newest_update,
        }
    }
}

/// Whether a missing KB moves its OS line forward: a cumulative update, rollup or hotpatch.
fn advances_os_line(kind: ServicingKind) -> bool {
    matches!(
        kind,
        ServicingKind::CumulativeUpdate | ServicingKind::MonthlyRollup | ServicingKind::Hotpatch
    )
}

/// Whether a group's machines run an OS product MSRC covers and miss no update of its line.
fn on_newest_update(group: &Group) -> bool {
    let os = &group.state.os_products;
    !os.is_empty()
        && !(group.evaluation.missing.iter())
            .any(|m| advances_os_line(m.kind) && m.products.iter().any(|p| os.contains(p)))
}

/// The fleet's counts, from the view as it stands (active machines as of its last aging:
/// every query of [`crate::FleetService`] ages it first).
pub fn fleet_counts(cat: &Catalog, view: &FleetView) -> FleetCounts {
    let mut out = FleetCounts {
        assessed: view.len() as u64,
        active: view.fleet.active_len() as u64,
        ..FleetCounts::default()
    };
    for g in view.fleet.counted_groups() {
        let n = g.count;
        let exposure = g.exposure(cat);
        if !g.evaluation.missing.is_empty() {
            out.missing_any += n;
        }
        if exposure.exploited > 0 {
            out.missing_exploited += n;
        }
        match exposure.level() {
            ExposureLevel::None => out.exposure.none += n,
            ExposureLevel::Low => out.exposure.low += n,
            ExposureLevel::Medium => out.exposure.medium += n,
            ExposureLevel::High => out.exposure.high += n,
        }
        let current = on_newest_update(g);
        if current {
            out.on_newest_update += n;
        }
        if let Some(&os) = g.state.os_products.first() {
            let line = out
                .os_lines
                .entry(cat.product(os).name.clone())
                .or_default();
            line.machines += n;
            if current {
                line.on_newest_update += n;
            }
        }
    }
    out
}
