//! What to deploy first: the priority order and the filters of `scan`.

use std::cmp::Ordering;

use kbgap_core::Severity;
use kbgap_core::report::MissingKbEntry;

/// Which KBs a scan shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    /// Only KBs whose highest severity is at least this (unknown severity is left out).
    pub min_severity: Option<Severity>,
    /// Only KBs closing at least one CVE exploited in the wild.
    pub exploited_only: bool,
}

impl Filter {
    /// Whether `e` is shown.
    pub fn keeps(&self, e: &MissingKbEntry) -> bool {
        let severe = self
            .min_severity
            .is_none_or(|min| e.max_severity.is_some_and(|s| s >= min));
        severe && (!self.exploited_only || !e.exploited_cves.is_empty())
    }
    /// Whether any filter is set.
    pub fn active(&self) -> bool {
        self.min_severity.is_some() || self.exploited_only
    }
    /// The filters in words, for the summary ("exploited only, Important and above").
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.exploited_only {
            parts.push("exploited only".to_owned());
        }
        match self.min_severity {
            Some(Severity::Critical) => parts.push("Critical only".to_owned()),
            Some(s) => parts.push(format!("{s} and above")),
            None => {}
        }
        parts.join(", ")
    }
}

/// Priority, highest first: more exploited CVEs, then a higher severity, then a higher CVSS,
/// then more CVEs closed. Exploitation leads because an attack in the wild is the likeliest to
/// reach the machine; the sort is stable, so ties keep release order.
pub fn by_priority(a: &MissingKbEntry, b: &MissingKbEntry) -> Ordering {
    let cvss = |e: &MissingKbEntry| e.max_cvss.unwrap_or(-1.0);
    (b.exploited_cves.len().cmp(&a.exploited_cves.len()))
        .then(b.max_severity.cmp(&a.max_severity))
        .then(cvss(b).total_cmp(&cvss(a)))
        .then(b.open_cves_closed.cmp(&a.open_cves_closed))
}

pub use crate::output::count;
