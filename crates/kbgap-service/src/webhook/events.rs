//! What a webhook tells, computed from the fleet view: KBs a new catalog makes machines miss,
//! and machines a report leaves exposed to exploited CVEs they were not exposed to before.
//!
//! Both are read from the groups' evaluations the view already holds, so computing them costs
//! no evaluation; KBs are compared across catalogs by number, never by index.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use kbgap_core::catalog::{Catalog, KbIx, VulnIx};
use kbgap_core::engine::Evaluation;
use kbgap_core::engine::fleet::GroupIx;
use kbgap_core::{KbId, ServicingKind};
use serde::Serialize;

use crate::FleetView;

/// Machines listed per KB at most; `machineCount` always has the full number.
pub const MACHINES_PER_KB: usize = 1000;

/// One KB a catalog change made machines miss (`catalog.missingKbs`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MissingKb {
    /// KB number, as getmissingkbs' `id` (`"5075912"`).
    pub kb_id: String,
    /// Title of the document that released it.
    pub name: String,
    /// Its release date (`YYYY-MM-DDTHH:MM:SS`).
    pub release_date: String,
    /// How Windows services it (`CumulativeUpdate`, `SafeOs` …), on most of its machines.
    pub kind: &'static str,
    /// Machines missing it.
    pub machine_count: u64,
    /// The first [`MACHINES_PER_KB`] of them, by id.
    pub machines: Vec<MachineRef>,
    /// Exploited CVEs (MSRC `Exploited:Yes` or in CISA's KEV) it closes on those machines.
    pub exploited_cves: Vec<String>,
}

/// A machine named in an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineRef {
    /// 40-hex machine id.
    pub id: String,
    /// Computer name.
    pub computer_dns_name: String,
}

/// One machine newly exposed to exploited CVEs (`machines.exploited`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Exposed {
    /// 40-hex machine id.
    pub id: String,
    /// Computer name.
    pub computer_dns_name: String,
    /// Exploited CVEs open on it now that were not before this report.
    pub newly_exploited_cves: Vec<String>,
    /// Every exploited CVE open on it now.
    pub exploited_cves: Vec<String>,
    /// Missing KBs (getmissingkbs `id`s) that close a newly exploited CVE.
    pub kbs: Vec<String>,
}

impl Exposed {
    /// Merges a later report's exposure of the same machine (within one batch window).
    pub(crate) fn merge(&mut self, later: Exposed) {
        let mut newly: BTreeSet<String> = std::mem::take(&mut self.newly_exploited_cves)
            .into_iter()
            .collect();
        newly.extend(later.newly_exploited_cves);
        // Only what is still open counts as newly exposed.
        let open: HashSet<&String> = later.exploited_cves.iter().collect();
        newly.retain(|c| open.contains(c));
        self.newly_exploited_cves = newly.into_iter().collect();
        self.computer_dns_name = later.computer_dns_name;
        self.exploited_cves = later.exploited_cves;
        let mut kbs: BTreeSet<String> = std::mem::take(&mut self.kbs).into_iter().collect();
        kbs.extend(later.kbs);
        self.kbs = kbs.into_iter().collect();
    }
}

/// The KBs some machine of the view misses, by number.
pub fn missing_kbs(view: &FleetView, cat: &Catalog) -> HashSet<KbId> {
    (0..cat.kbs().len() as KbIx)
        .filter(|&kb| view.fleet.missed_on(kb) > 0)
        .map(|kb| cat.kb(kb).id)
        .collect()
}

/// What one KB's machines add up to while [`new_missing_kbs`] walks the fleet.
#[derive(Default)]
struct Tally {
    count: u64,
    machines: Vec<MachineRef>,
    kinds: BTreeMap<ServicingKind, u64>,
    exploited: BTreeSet<VulnIx>,
}

/// KBs missing in `view` that were not in `before` (the view before a catalog swap), with the
/// machines that miss them. Each group is read once per machine it holds.
pub fn new_missing_kbs(view: &FleetView, cat: &Catalog, before: &HashSet<KbId>) -> Vec<MissingKb> {
    let fresh: HashSet<KbIx> = (0..cat.kbs().len() as KbIx)
        .filter(|&kb| view.fleet.missed_on(kb) > 0 && !before.contains(&cat.kb(kb).id))
        .collect();
    if fresh.is_empty() {
        return Vec::new();
    }
    let mut tallies: BTreeMap<KbIx, Tally> = BTreeMap::new();
    for (id, machine) in view.machines.iter() {
        let Some(group) = view.fleet.group_of(id) else {
            continue;
        };
        for m in group
            .evaluation
            .missing
            .iter()
            .filter(|m| fresh.contains(&m.kb))
        {
            let t = tallies.entry(m.kb).or_default();
            t.count += 1;
            *t.kinds.entry(m.kind).or_default() += 1;
            if t.machines.len() < MACHINES_PER_KB {
                t.machines.push(MachineRef {
                    id: id.to_owned(),
                    computer_dns_name: machine.device.computer_dns_name.clone(),
                });
            }
            t.exploited
                .extend(m.closes.iter().filter(|&&v| exploited(cat, v)));
        }
    }
    (tallies.into_iter())
        .map(|(kb, t)| {
            let info = cat.kb(kb);
            let kind = (t.kinds.iter()).max_by_key(|(_, n)| **n).map(|(k, _)| *k);
            MissingKb {
                kb_id: info.id.to_string(),
                name: info.name.clone(),
                release_date: info.release_date.clone(),
                kind: kind.unwrap_or(ServicingKind::Standalone).as_str(),
                machine_count: t.count,
                machines: t.machines,
                exploited_cves: cve_ids(cat, &t.exploited),
            }
        })
        .collect()
}

fn exploited(cat: &Catalog, v: VulnIx) -> bool {
    let vuln = cat.vuln(v);
    vuln.id.is_cve() && vuln.exploited()
}

fn cve_ids(cat: &Catalog, set: &BTreeSet<VulnIx>) -> Vec<String> {
    let ids: BTreeSet<String> = set.iter().map(|&v| cat.vuln(v).id.to_string()).collect();
    ids.into_iter().collect()
}

/// Exploited CVEs open in an evaluation.
fn exploited_open(cat: &Catalog, evaluation: &Evaluation) -> BTreeSet<VulnIx> {
    (evaluation.open.iter())
        .copied()
        .filter(|&v| exploited(cat, v))
        .collect()
}

/// The groups of the machines a batch of reports is about, taken before the view applies them.
/// The evaluation is kept (an `Arc`), not recomputed: only machines that changed group read it.
pub struct Before(Vec<(String, Option<GroupBefore>)>);

/// A machine's group and that group's evaluation, as they were before a report.
type GroupBefore = (GroupIx, Arc<Evaluation>);

/// Notes each machine's group before an ingest updates the view (`ids`: lowercase ids).
pub fn before_ingest<'a>(view: &FleetView, ids: impl IntoIterator<Item = &'a str>) -> Before {
    Before(
        ids.into_iter()
            .map(|id| {
                let old = (view.fleet.group_of(id)).map(|g| (g.ix, Arc::clone(&g.evaluation)));
                (id.to_owned(), old)
            })
            .collect(),
    )
}

/// The machines of `before` whose new group has exploited CVEs open that the old one had not.
/// Costs nothing for a machine that reported the state it had (its group is unchanged).
pub fn newly_exposed(view: &FleetView, cat: &Catalog, before: &Before) -> Vec<Exposed> {
    let mut out = Vec::new();
    for (id, old) in &before.0 {
        let Some(group) = view.fleet.group_of(id) else {
            continue;
        };
        if old.as_ref().is_some_and(|(ix, _)| *ix == group.ix) {
            continue;
        }
        let now = exploited_open(cat, &group.evaluation);
        if now.is_empty() {
            continue;
        }
        let was = match old {
            Some((_, evaluation)) => exploited_open(cat, evaluation),
            None => BTreeSet::new(),
        };
        let newly: BTreeSet<VulnIx> = now.difference(&was).copied().collect();
        if newly.is_empty() {
            continue;
        }
        let kbs: BTreeSet<String> = (group.evaluation.missing.iter())
            .filter(|m| m.closes.iter().any(|v| newly.contains(v)))
            .map(|m| cat.kb(m.kb).id.to_string())
            .collect();
        let name =
            (view.machines.get(id)).map_or(String::new(), |m| m.device.computer_dns_name.clone());
        out.push(Exposed {
            id: id.clone(),
            computer_dns_name: name,
            newly_exploited_cves: cve_ids(cat, &newly),
            exploited_cves: cve_ids(cat, &now),
            kbs: kbs.into_iter().collect(),
        });
    }
    out
}
