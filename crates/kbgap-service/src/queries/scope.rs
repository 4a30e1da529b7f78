//! Which machines a question is about: the filters every fleet page shares.

use chrono::{DateTime, Duration, Utc};
use kbgap_core::catalog::Catalog;
use kbgap_core::engine::MachineState;
use kbgap_core::engine::fleet::Group;
use kbgap_store::StoredMachine;

use crate::FleetView;

/// The machines a fleet question covers: all of them unless narrowed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    /// Only machines whose OS is this version ([`os_label`], e.g. "Windows 11 23H2"), compared
    /// without regard to case.
    pub os_version: Option<String>,
    /// Only machines seen within this many days of `now`.
    pub seen_within_days: Option<i64>,
    /// Only machines carrying this tag (`machineTags`, matched as [`crate::tags::carries`]
    /// matches: trimmed, without regard to case — as the API's `$filter` and the CLI's `--tag`).
    pub tag: Option<String>,
}

impl Scope {
    /// Whether the scope looks at single machines (and so must walk them to count a group).
    pub fn per_machine(&self) -> bool {
        self.seen_within_days.is_some() || self.tag.is_some()
    }

    /// Whether a group's state is in scope.
    pub fn keeps_state(&self, cat: &Catalog, state: &MachineState) -> bool {
        self.os_version
            .as_deref()
            .is_none_or(|want| os_label(cat, state).eq_ignore_ascii_case(want.trim()))
    }

    /// Whether a machine passes the per-machine filters.
    pub fn keeps_machine(&self, m: &StoredMachine, now: DateTime<Utc>) -> bool {
        self.seen_within_days
            .is_none_or(|days| m.last_seen >= now - Duration::days(days))
            && (self.tag.as_deref()).is_none_or(|t| crate::tags::carries(&m.device.machine_tags, t))
    }

    /// Every group in scope with how many of its machines are: the group's own count unless a
    /// per-machine filter is set, in which case the machines are walked once to count them.
    pub fn groups<'v>(
        &self,
        cat: &Catalog,
        view: &'v FleetView,
        now: DateTime<Utc>,
    ) -> Vec<(&'v Group, u64)> {
        let keep = |g: &Group| self.keeps_state(cat, &g.state);
        if !self.per_machine() {
            return (view.fleet.counted_groups())
                .filter(|g| keep(g))
                .map(|g| (g, g.count))
                .collect();
        }
        let mut counts: Vec<u64> = Vec::new();
        for (key, m) in view.machines.iter() {
            // Inactive machines (Defender's 30 days) are in no count, as without a filter.
            if !self.keeps_machine(m, now) || view.fleet.is_active(key) == Some(false) {
                continue;
            }
            if let Some(g) = view.fleet.group_of(key) {
                let ix = g.ix as usize;
                if ix >= counts.len() {
                    counts.resize(ix + 1, 0);
                }
                counts[ix] += 1;
            }
        }
        (counts.iter().enumerate())
            .filter(|&(_, &n)| n > 0)
            .filter_map(|(ix, &n)| Some((view.fleet.group(ix as u32)?, n)))
            .filter(|(g, _)| keep(g))
            .collect()
    }
}

/// A machine's OS version in words: its OS product's MSRC name without the architecture
/// ("Windows 10 Version 22H2", "Windows Server 2022 (Server Core installation)"), or "Unknown"
/// when no OS product was identified.
pub fn os_label(cat: &Catalog, state: &MachineState) -> String {
    let Some(&os) = state.os_products.first() else {
        return "Unknown".to_owned();
    };
    let name = &cat.product(os).name;
    match name.find(" for ") {
        Some(i) => name[..i].trim().to_owned(),
        None => name.trim().to_owned(),
    }
}

/// What the fleet's filters can choose from: the OS versions machines run and the product
/// families of the KBs they miss.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choices {
    /// [`os_label`]s, sorted.
    pub os_versions: std::collections::BTreeSet<String>,
    /// Product families ("Windows 10", ".NET Framework"), sorted.
    pub families: std::collections::BTreeSet<String>,
    /// The machines' tags, sorted (as reported: of the spellings that match case-blind, the
    /// one the first machine to carry it reported).
    pub tags: std::collections::BTreeSet<String>,
}

/// The filter choices of the fleet, from its groups and the view's tag index.
pub fn choices(cat: &Catalog, view: &FleetView) -> Choices {
    let mut out = Choices {
        tags: view.tags().map(|(t, _)| t.to_owned()).collect(),
        ..Choices::default()
    };
    for g in view.fleet.counted_groups() {
        out.os_versions.insert(os_label(cat, &g.state));
        for m in &g.evaluation.missing {
            (out.families).extend(
                m.products
                    .iter()
                    .map(|&p| cat.product(p).facts.family.clone()),
            );
        }
    }
    out
}
