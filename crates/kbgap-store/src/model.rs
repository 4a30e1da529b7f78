//! The shapes a store hands back.

use chrono::{DateTime, Utc};
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
