//! When a machine stops counting, and the pure parts of deleting machines, decided without I/O
//! so that both backends, the CLI and the server apply exactly the same rule.
//!
//! Defender for Endpoint calls a machine *inactive* when it has not been seen for more than
//! 30 days (its `healthStatus` becomes `Inactive`), and leaves inactive machines out of its
//! exposure figures while still listing them. kbgap follows the same rule with the `last_seen`
//! every store keeps: [`activity`] is the one place it is written down.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use kbgap_core::MachineId;

use crate::StoreError;

/// How long a machine may go unseen and still be active: Defender's 30 days.
pub const INACTIVE_AFTER: TimeDelta = TimeDelta::days(30);

/// Whether a machine counts in the fleet, by Defender's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activity {
    /// Seen within [`INACTIVE_AFTER`] (or "in the future", when a clock is ahead: a machine
    /// that reported is never retired for a skewed clock).
    Active,
    /// Not seen for more than [`INACTIVE_AFTER`]: listed on request, left out of fleet counts.
    Inactive,
}

impl Activity {
    /// Defender's `healthStatus` word for it: `Active` or `Inactive`.
    pub fn health_status(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Inactive => "Inactive",
        }
    }
}

/// A machine last seen at `last_seen` is [`Activity::Inactive`] at `now` when more than
/// [`INACTIVE_AFTER`] has passed; exactly 30 days is still active.
///
/// This agrees with [`inactive_before`]: the machines that
/// `Store::purge_machines(inactive_before(now))` deletes are exactly the inactive ones.
pub fn activity(last_seen: DateTime<Utc>, now: DateTime<Utc>) -> Activity {
    if last_seen < inactive_before(now) {
        Activity::Inactive
    } else {
        Activity::Active
    }
}

/// The cut-off at `now`: a machine last seen strictly before it is inactive.
pub fn inactive_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now - INACTIVE_AFTER
}

/// `ids` without repeats, in order: what a backend deletes (the same machine named twice is
/// deleted once and counted once).
pub fn distinct_ids(ids: &[MachineId]) -> Vec<MachineId> {
    let mut seen = BTreeSet::new();
    ids.iter().filter(|id| seen.insert(*id)).cloned().collect()
}

/// The [`StoreError::NotFound`] of a delete that found only `deleted` of `wanted`, naming every
/// missing id; `None` when all were found (the delete may commit).
pub fn missing(wanted: &[MachineId], deleted: &[MachineId]) -> Option<StoreError> {
    let deleted: BTreeSet<&MachineId> = deleted.iter().collect();
    let missing: Vec<&str> = (wanted.iter())
        .filter(|id| !deleted.contains(id))
        .map(MachineId::as_str)
        .collect();
    match missing.as_slice() {
        [] => None,
        [one] => Some(StoreError::NotFound(format!(
            "machine {one} (nothing was deleted)"
        ))),
        many => Some(StoreError::NotFound(format!(
            "machines {} (nothing was deleted)",
            many.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 500_000).unwrap()
    }

    fn id(c: char) -> MachineId {
        c.to_string().repeat(40).parse().unwrap()
    }

    #[test]
    fn thirty_days_is_still_active_a_microsecond_more_is_not() {
        let edge = now() - TimeDelta::days(30);
        assert_eq!(activity(edge, now()), Activity::Active);
        assert_eq!(
            activity(edge - TimeDelta::microseconds(1), now()),
            Activity::Inactive
        );
        assert_eq!(
            activity(now() - TimeDelta::days(40), now()),
            Activity::Inactive
        );
        assert_eq!(activity(now(), now()), Activity::Active);
    }

    #[test]
    fn a_clock_ahead_is_active() {
        assert_eq!(
            activity(now() + TimeDelta::days(400), now()),
            Activity::Active
        );
    }

    #[test]
    fn the_cut_off_agrees_with_activity() {
        let cut = inactive_before(now());
        assert_eq!(activity(cut, now()), Activity::Active);
        assert_eq!(
            activity(cut - TimeDelta::microseconds(1), now()),
            Activity::Inactive
        );
        assert_eq!(Activity::Inactive.health_status(), "Inactive");
    }

    #[test]
    fn repeats_are_dropped_in_order() {
        assert_eq!(
            distinct_ids(&[id('b'), id('a'), id('b')]),
            vec![id('b'), id('a')]
        );
    }

    #[test]
    fn missing_ids_are_all_named() {
        assert!(missing(&[id('a')], &[id('a')]).is_none());
        let err = missing(&[id('a'), id('b'), id('c')], &[id('b')])
            .unwrap()
            .to_string();
        assert!(
            err.contains(id('a').as_str()) && err.contains(id('c').as_str()),
            "{err}"
        );
        assert!(!err.contains(id('b').as_str()), "{err}");
        assert!(err.contains("nothing was deleted"), "{err}");
    }
}
