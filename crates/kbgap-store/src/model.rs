//! The shapes a store hands back.

use chrono::{DateTime, NaiveDate, Utc};
use kbgap_core::{Device, DocumentInfo, MachineId};

/// A machine as stored: the latest report of it, and when it was first and last reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMachine {
    /// The machine's id: the report's own, or one the store assigned (see
    /// [`crate::machines::derived_id`]).
    pub id: MachineId,
    /// The latest report, with `device.id` set to [`StoredMachine::id`].
    pub device: Device,
    /// When the machine was first stored. Never moves.
    pub first_seen: DateTime<Utc>,
    /// When the machine last reported.
    pub last_seen: DateTime<Utc>,
}

/// What importing one document did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// No document with this id was stored; it is now.
    Inserted(DocumentInfo),
    /// An older revision was stored; this one replaced it (everything the old one contributed is
    /// gone).
    Replaced {
        /// The revision that was stored.
        old: DocumentInfo,
        /// The revision now stored.
        new: DocumentInfo,
    },
    /// The same revision was already stored: nothing changed (re-importing is idempotent).
    Unchanged(DocumentInfo),
    /// A newer revision is stored: nothing changed, and the offered one was not kept.
    KeptNewer {
        /// The newer revision that stays.
        stored: DocumentInfo,
        /// The older revision that was offered.
        offered: DocumentInfo,
    },
}

impl ImportOutcome {
    /// Whether this outcome wrote anything.
    pub fn changed(&self) -> bool {
        matches!(self, Self::Inserted(_) | Self::Replaced { .. })
    }

    /// The info of the document that is stored after this outcome.
    pub fn stored(&self) -> &DocumentInfo {
        match self {
            Self::Inserted(info) | Self::Unchanged(info) => info,
            Self::Replaced { new, .. } => new,
            Self::KeptNewer { stored, .. } => stored,
        }
    }
}

/// One UTC day's fleet counts, as the dashboard's posture trend reads them back
/// ([`crate::Store::put_fleet_snapshot`]). Every count but `assessed` is of active machines
/// (seen within 30 days, [`crate::lifecycle`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSnapshot {
    /// The UTC day the counts are of. One snapshot per day: a later recording replaces it.
    pub day: NaiveDate,
    /// When the counts were taken; of two recordings of one day, the later one is kept.
    pub recorded_at: DateTime<Utc>,
    /// Machines assessed: every stored machine, active or not.
    pub assessed: u64,
    /// Of them, active: seen within the last 30 days.
    pub active: u64,
    /// Active machines missing at least one KB.
    pub missing_any: u64,
    /// Active machines missing a fix for a CVE exploited in the wild (MSRC or CISA KEV).
    pub missing_exploited: u64,
    /// Active machines by Defender's `exposureLevel`.
    pub exposure: ExposureCounts,
    /// Active machines on their OS line's newest cumulative update (or monthly rollup): no
    /// cumulative update of their OS is missing.
    pub on_newest_update: u64,
}

/// Machines by Defender's `exposureLevel` (None, Low, Medium, High).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExposureCounts {
    /// No open CVE.
    pub none: u64,
    /// Open CVEs, all Low or Medium, none exploited.
    pub low: u64,
    /// An open High CVE, none Critical or exploited.
    pub medium: u64,
    /// An open Critical CVE, or one exploited in the wild.
    pub high: u64,
}
