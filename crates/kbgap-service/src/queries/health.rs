//! Ingest health: machines that stopped reporting, machines MSRC covers no more, and reports
//! refused recently.

use chrono::{DateTime, Duration, Utc};
use kbgap_core::catalog::Catalog;
use serde::Serialize;

use super::MachineRow;
use super::machines::Summaries;
use crate::FleetView;
use crate::refusals::Refusal;

/// A machine not heard from for this many days is stale (Defender hides such devices; kbgap
/// lists them so someone looks at the collector).
pub const STALE_AFTER_DAYS: i64 = 30;

/// What the ingest-health page shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestHealth {
    /// Machines last seen more than [`STALE_AFTER_DAYS`] ago, longest silent first.
    pub stale: Vec<MachineRow>,
    /// Machines whose OS MSRC covers no more.
    pub end_of_support: Vec<MachineRow>,
    /// Reports refused recently, newest first.
    pub refused: Vec<Refusal>,
}

/// The fleet's ingest health at `now`.
pub fn ingest_health(
    cat: &Catalog,
    view: &FleetView,
    refused: Vec<Refusal>,
    now: DateTime<Utc>,
) -> IngestHealth {
    let cutoff = now - Duration::days(STALE_AFTER_DAYS);
    let mut summaries = Summaries::default();
    let (mut stale, mut end_of_support) = (Vec::new(), Vec::new());
    for (key, m) in view.machines.iter() {
        let is_stale = m.last_seen < cutoff;
        let eos = m.device.end_of_support.is_some();
        if !(is_stale || eos) {
            continue;
        }
        let Some(g) = view.fleet.group_of(key) else {
            continue;
        };
        let row = summaries.row(cat, m, g);
        if eos {
            end_of_support.push(row.clone());
        }
        if is_stale {
            stale.push(row);
        }
    }
    stale.sort_by_key(|r| r.last_seen);
    IngestHealth {
        stale,
        end_of_support,
        refused,
    }
}
