//! Machine changes as a durable sequence, so several servers on one database follow each
//! other's writes.
//!
//! Every transaction that writes machines takes the next number of the store's machine change
//! counter and stamps it on each row it writes; each row it deletes leaves a tombstone with
//! that number. Numbers are taken in commit order (the counter's row lock serializes the
//! writers), so a reader that has applied everything up to `n` and reads "everything after `n`"
//! in one snapshot misses nothing: a lost notification costs latency, never correctness.
//! Tombstones are kept for [`TOMBSTONE_RETENTION`]; a reader further behind than what was
//! pruned gets the whole machine set instead ([`MachineChanges::full`]).

use async_trait::async_trait;
use chrono::TimeDelta;
use kbgap_core::MachineId;

use crate::StoredMachine;

/// How long tombstones of deleted machines are kept (pruned by
/// [`crate::Store::purge_machines`]). A server that was cut off from the database for longer
/// reloads every machine rather than reading changes.
pub const TOMBSTONE_RETENTION: TimeDelta = TimeDelta::days(7);

/// One committed batch of machine reports and where it falls in the change sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineCommit {
    /// The stored machines, in the order of the reports.
    pub machines: Vec<StoredMachine>,
    /// The change counter just before this commit: a reader that had applied exactly this
    /// much can apply `machines` itself instead of reading them back.
    pub before: i64,
    /// The change counter with this commit applied.
    pub seq: i64,
}

/// What changed in the stored machines after some point of the change sequence, read in one
/// snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineChanges {
    /// The change counter this read is complete through.
    pub seq: i64,
    /// Machines written after the starting point, in their latest stored state, with the change
    /// number they were last written at, ordered by it.
    pub changed: Vec<(i64, StoredMachine)>,
    /// Machines deleted after the starting point, with the change number of the deletion,
    /// ordered by it. A machine deleted and stored again appears here and in `changed`.
    pub deleted: Vec<(i64, MachineId)>,
    /// Set when the starting point is older than the tombstones kept (or newer than the
    /// counter, as after a restore from a backup): `changed` then holds every stored machine,
    /// `deleted` is empty, and a reader drops every machine not in `changed`.
    pub full: bool,
}

impl MachineChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        !self.full && self.changed.is_empty() && self.deleted.is_empty()
    }
}

/// A half-open range `(after, through]` of change numbers a reader already holds (its own
/// commit), left out of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skip {
    /// The counter before the range.
    pub after: i64,
    /// The last number of the range.
    pub through: i64,
}

impl Skip {
    /// Whether change number `seq` is in the range.
    pub fn contains(&self, seq: i64) -> bool {
        seq > self.after && seq <= self.through
    }
}

/// What a store's change notifications say. Notifications are hints: a reader acts on one by
/// reading the durable sequence, so one lost, duplicated or merged with another does no harm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Machines were written; the change counter reached this number.
    Machines(i64),
    /// The catalog changed; its generation is now this.
    Catalog(i64),
    /// The notification connection was lost and is listening again: notices in between are
    /// gone, so read whatever changed.
    Resumed,
}

/// A stream of change notices from the database (PostgreSQL's LISTEN/NOTIFY). It reconnects
/// by itself when its connection is lost, and says so with [`Notice::Resumed`].
#[async_trait]
pub trait ChangeFeed: Send {
    /// Waits for the next notice.
    async fn next(&mut self) -> Notice;
}
