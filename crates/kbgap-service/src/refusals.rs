//! Recently refused reports: a bounded ring in memory that the inventory endpoint records into
//! and the ingest-health page reads. Refusals are for an operator to notice a misconfigured
//! collector, not an audit log, so only the last [`Refusals::CAPACITY`] are kept and a restart
//! forgets them.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One refused report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    /// When it was refused.
    pub at: DateTime<Utc>,
    /// The HTTP status answered.
    pub status: u16,
    /// The calling application (token `appid`), when authenticated.
    pub caller: String,
    /// Why (the error message the client got), at most 500 characters.
    pub reason: String,
}

/// The ring of recent refusals, newest last.
#[derive(Debug, Default)]
pub struct Refusals(Mutex<VecDeque<Refusal>>);

impl Refusals {
    /// How many refusals are kept.
    pub const CAPACITY: usize = 200;

    /// Records a refusal, dropping the oldest when full.
    pub fn record(&self, status: u16, caller: &str, reason: &str) {
        let mut ring = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.len() == Self::CAPACITY {
            ring.pop_front();
        }
        ring.push_back(Refusal {
            at: Utc::now(),
            status,
            caller: caller.chars().take(100).collect(),
            reason: reason.chars().take(500).collect(),
        });
    }

    /// The refusals kept, newest first.
    pub fn recent(&self) -> Vec<Refusal> {
        let ring = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        ring.iter().rev().cloned().collect()
    }
}
