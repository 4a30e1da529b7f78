//! Fleet aggregation: many machines grouped by patch state, each group evaluated once.
//!
//! Real fleets are made of few distinct states (one image, patched on one schedule), so a million
//! machines fall into a few thousand groups. A machine's update moves it from one group to another
//! (evaluating the new group only if it is new); per-KB counts follow incrementally. A software
//! query reads the groups' own evaluations: the entries that serve a product of that software,
//! so "missing KBs by software" never disagrees with "missing KBs by machine" (a cumulative
//! update that contains EdgeHTML's old fixes serves EdgeHTML).
//!
//! A machine is active or inactive (Defender's 30-day rule, decided by the caller): an inactive
//! machine keeps its group, so its own answers stay available, but it is left out of every
//! count — group sizes, per-KB counts, software counts — as Defender leaves inactive devices
//! out of its exposure figures.
//!
//! A fleet is cloned for every change the server publishes (readers keep the previous one, see
//! the service's view), so what is per machine lives in a persistent map that a clone shares
//! and a change copies only a path of, and what is per group is shared behind `Arc`s: a clone
//! costs the per-group and per-KB vectors, not the million machines.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use imbl::shared_ptr::DefaultSharedPtr;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use super::{Evaluation, Exposure, MachineState, Options, evaluate};
use crate::catalog::{Catalog, KbIx, ProductIx, VulnIx};

/// Per KB while a software query adds up: machines, CVEs fixed, machines per OS build.
type KbTally = (u64, FxHashSet<VulnIx>, FxHashMap<Option<u32>, u64>);

/// Machines' slots: a persistent map, so that cloning the fleet shares it.
type Slots = imbl::GenericHashMap<MachineKey, Slot, FxBuildHasher, DefaultSharedPtr>;

/// Index of a group: stable for the fleet's life (groups are never removed, only emptied).
pub type GroupIx = u32;

/// Machines sharing one state, and that state's evaluation.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group's index, a key for caches of per-group answers.
    pub ix: GroupIx,
    /// The shared state (behind an `Arc`: every clone of the fleet holds it).
    pub state: Arc<MachineState>,
    /// How many active machines are in it now (inactive members are not counted).
    pub count: u64,
    /// The frontier for this state.
    pub evaluation: Arc<Evaluation>,
    /// What its open CVEs risk, summed up the first time it is asked for, by any clone.
    exposure: Arc<std::sync::OnceLock<Exposure>>,
}

impl Group {
    /// What the group's open CVEs risk (computed once per group).
    pub fn exposure(&self, cat: &Catalog) -> &Exposure {
        (self.exposure).get_or_init(|| Exposure::of(cat, &self.state, &self.evaluation))
    }
}

/// A machine's key in the fleet. A 40-hex id (every stored machine's) is packed into 20 bytes
/// inline: in a table of a million machines a lookup then compares keys inside the table instead
/// of following each candidate's pointer to a string elsewhere in memory, a cache miss per update.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum MachineKey {
    Hex([u8; 20]),
    Other(Box<str>),
}

impl MachineKey {
    fn new(machine: &str) -> Self {
        let mut id = [0u8; 20];
        match hex::decode_to_slice(machine, &mut id) {
            // Keys are case-sensitive like strings: only the lowercase form is packed.
            Ok(()) if !machine.bytes().any(|b| b.is_ascii_uppercase()) => Self::Hex(id),
            _ => Self::Other(machine.into()),
        }
    }
}

/// Where a machine is: its group, and whether it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    group: GroupIx,
    active: bool,
}

/// One KB missing somewhere in the fleet, scoped to one software.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetKb {
    /// The KB.
    pub kb: KbIx,
    /// Machines (having the software) that miss it.
    pub machine_missed_on: u64,
    /// Distinct vulnerabilities it fixes on the software's products, over those machines.
    pub fixes: Vec<VulnIx>,
    /// The OS build it is for, on most of those machines (None for non-OS updates).
    pub os_build: Option<u32>,
}

/// Every machine's group and per-KB counts.
#[derive(Debug, Default)]
pub struct Fleet {
    machine_group: Slots,
    /// How many machines are active.
    active: usize,
    groups: Vec<Group>,
    /// Groups by state; shared between clones until a new state appears (rarely, once a fleet
    /// has been seen).
    by_state: Arc<FxHashMap<Arc<MachineState>, GroupIx>>,
    /// Machines missing each KB, indexed by `KbIx` (grown on demand).
    missed_on: Vec<u64>,
    /// Per software name, the last answer of [`Fleet::software_missing`]: valid until a machine
    /// changes group or the catalog changes. Filled by readers, who hold the fleet shared.
    software_answers: Mutex<FxHashMap<String, Arc<Vec<FleetKb>>>>,
}

impl Clone for Fleet {
    fn clone(&self) -> Self {
        Self {
            machine_group: self.machine_group.clone(),
            active: self.active,
            groups: self.groups.clone(),
            by_state: Arc::clone(&self.by_state),
            missed_on: self.missed_on.clone(),
            software_answers: Mutex::new(self.lock_software_answers().clone()),
        }
    }
}

impl Fleet {
    /// An empty fleet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of machines, active or not.
    pub fn len(&self) -> usize {
        self.machine_group.len()
    }

    /// Number of active machines: those every count is made of.
    pub fn active_len(&self) -> usize {
        self.active
    }

    /// Whether there are no machines.
    pub fn is_empty(&self) -> bool {
        self.machine_group.is_empty()
    }

    /// Number of distinct states with active machines in them.
    pub fn group_count(&self) -> usize {
        self.groups.iter().filter(|g| g.count > 0).count()
    }

    /// The groups with active machines in them, each once (with [`Group::count`] machines).
    pub fn counted_groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.iter().filter(|g| g.count > 0)
    }

    /// Adds an active machine or moves it to the group of its new state:
    /// [`Fleet::upsert_with`] for a machine that just reported.
    pub fn upsert(&mut self, cat: &Catalog, machine: &str, state: MachineState) -> bool {
        self.upsert_with(cat, machine, state, true)
    }

    /// Adds a machine or moves it to the group of its new state, active (counted) or not. Only
    /// a state never seen before is evaluated. Returns whether the counts changed: false when a
    /// known machine reports the state and activity it already had, the common case of a
    /// steady fleet.
    pub fn upsert_with(
        &mut self,
        cat: &Catalog,
        machine: &str,
        state: MachineState,
        active: bool,
    ) -> bool {
        let new = match self.by_state.get(&state) {
            Some(&g) => g,
            None => {
                let evaluation = Arc::new(evaluate(cat, &state, Options::default()));
                let g = self.groups.len() as GroupIx;
                let state = Arc::new(state);
                Arc::make_mut(&mut self.by_state).insert(Arc::clone(&state), g);
                self.groups.push(Group {
                    ix: g,
                    state,
                    count: 0,
                    evaluation,
                    exposure: Default::default(),
                });
                g
            }
        };
        // Looked up before written: a machine reporting again (the common path) then copies no
        // node of a map that other clones of the fleet share.
        let key = MachineKey::new(machine);
        let slot = Slot { group: new, active };
        let old = self.machine_group.get(&key).copied();
        if old == Some(slot) {
            return false;
        }
        self.machine_group.insert(key, slot);
        if let Some(old) = old {
            self.uncount(old);
        }
        self.count(slot);
        true
    }

    /// Makes a known machine active (counted) or inactive, keeping its group. Returns whether
    /// the counts changed; false for an unknown machine or one already so.
    pub fn set_active(&mut self, machine: &str, active: bool) -> bool {
        let key = MachineKey::new(machine);
        // Looked up first, as in `upsert_with`: aging a shared fleet copies only what changes.
        let Some(&old) = self.machine_group.get(&key) else {
            return false;
        };
        if old.active == active {
            return false;
        }
        let new = Slot { active, ..old };
        self.machine_group.insert(key, new);
        self.uncount(old);
        self.count(new);
        true
    }

    /// Whether a machine is active; `None` when it is not in the fleet.
    pub fn is_active(&self, machine: &str) -> Option<bool> {
        (self.machine_group.get(&MachineKey::new(machine))).map(|s| s.active)
    }

    /// Removes a machine; unknown ids are ignored.
    pub fn remove(&mut self, machine: &str) {
        if let Some(old) = self.machine_group.remove(&MachineKey::new(machine)) {
            self.uncount(old);
        }
    }

    fn count(&mut self, slot: Slot) {
        if slot.active {
            self.active += 1;
            self.adjust(slot.group, 1);
        }
    }

    fn uncount(&mut self, slot: Slot) {
        if slot.active {
            self.active -= 1;
            self.adjust(slot.group, -1);
        }
    }

    fn adjust(&mut self, g: GroupIx, delta: i64) {
        self.clear_software_answers();
        let group = &mut self.groups[g as usize];
        group.count = group.count.saturating_add_signed(delta);
        for m in &group.evaluation.missing {
            let k = m.kb as usize;
            if k >= self.missed_on.len() {
                self.missed_on.resize(k + 1, 0);
            }
            self.missed_on[k] = self.missed_on[k].saturating_add_signed(delta);
        }
    }

    /// A group by index (from [`Group::ix`]); `None` for an index this fleet never made.
    pub fn group(&self, ix: GroupIx) -> Option<&Group> {
        self.groups.get(ix as usize)
    }

    /// The group a machine is in, active or not.
    pub fn group_of(&self, machine: &str) -> Option<&Group> {
        self.machine_group
            .get(&MachineKey::new(machine))
            .map(|s| &self.groups[s.group as usize])
    }

    /// How many active machines miss a KB (on their frontier).
    pub fn missed_on(&self, kb: KbIx) -> u64 {
        self.missed_on.get(kb as usize).copied().unwrap_or(0)
    }

    /// How many active machines have a product of this software.
    pub fn machines_with_software(&self, cat: &Catalog, software: &str) -> u64 {
        self.groups
            .iter()
            .filter(|g| {
                g.count > 0
                    && g.state
                        .products
                        .iter()
                        .any(|&p| cat.product(p).software == software)
            })
            .map(|g| g.count)
            .sum()
    }

    /// The missing KBs of every active machine that has this software: each machine's own frontier
    /// entries that serve one of its products of that software (so the answer agrees with the
    /// machines' answers), with the vulnerabilities each fixes or closes there.
    pub fn software_missing(&self, cat: &Catalog, software: &str) -> Arc<Vec<FleetKb>> {
        if let Some(answer) = self.lock_software_answers().get(software) {
            return answer.clone();
        }
        // Made outside the lock: two readers may both make it, and both answers are equal.
        let answer = Arc::new(self.software_missing_now(cat, software));
        (self.lock_software_answers()).insert(software.to_owned(), answer.clone());
        answer
    }

    /// The cache stays consistent when a holder panicked: entries are whole answers.
    fn lock_software_answers(&self) -> MutexGuard<'_, FxHashMap<String, Arc<Vec<FleetKb>>>> {
        (self.software_answers.lock()).unwrap_or_else(PoisonError::into_inner)
    }

    fn clear_software_answers(&mut self) {
        (self.software_answers.get_mut())
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn software_missing_now(&self, cat: &Catalog, software: &str) -> Vec<FleetKb> {
        let mut per_kb: FxHashMap<KbIx, KbTally> = FxHashMap::default();
        for g in self.groups.iter().filter(|g| g.count > 0) {
            let mine: Vec<ProductIx> = (g.state.products.iter().copied())
                .filter(|&p| cat.product(p).software == software)
                .collect();
            if mine.is_empty() {
                continue;
            }
            for m in &g.evaluation.missing {
                if !m.products.iter().any(|p| mine.contains(p)) {
                    continue;
                }
                let e = per_kb.entry(m.kb).or_default();
                e.0 += g.count;
                for &p in &mine {
                    e.1.extend(cat.kb_fixes(m.kb, p).map(|f| f.vuln));
                    let listed = cat.fixes_of(p);
                    e.1.extend(
                        m.closes
                            .iter()
                            .copied()
                            .filter(|&v| listed.binary_search_by_key(&v, |f| f.vuln).is_ok()),
                    );
                }
                let os_build = m
                    .os_build
                    .filter(|_| mine.iter().any(|&p| cat.product(p).facts.is_os));
                *e.2.entry(os_build).or_default() += g.count;
            }
        }
        let mut out: Vec<FleetKb> = per_kb
            .into_iter()
            .map(|(kb, (n, fixes, builds))| {
                let mut fixes: Vec<VulnIx> = fixes.into_iter().collect();
                fixes.sort_unstable();
                let os_build = builds
                    .into_iter()
                    .max_by_key(|(b, c)| (*c, std::cmp::Reverse(*b)))
                    .and_then(|(b, _)| b);
                FleetKb {
                    kb,
                    machine_missed_on: n,
                    fixes,
                    os_build,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            let (ka, kb) = (cat.kb(a.kb), cat.kb(b.kb));
            kb.release_date
                .cmp(&ka.release_date)
                .then(ka.id.cmp(&kb.id))
        });
        out
    }

    /// Forgets evaluations made with an older catalog and re-evaluates every group with `cat`.
    pub fn recompute(&mut self, cat: &Catalog) {
        self.clear_software_answers();
        self.missed_on = vec![0; cat.kbs().len()];
        for g in &mut self.groups {
            g.evaluation = Arc::new(evaluate(cat, &g.state, Options::default()));
            g.exposure = Default::default();
            for m in &g.evaluation.missing {
                self.missed_on[m.kb as usize] += g.count;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_keys_keep_string_semantics() {
        let lower = "0123456789abcdef0123456789abcdef01234567";
        let upper = lower.to_ascii_uppercase();
        assert!(matches!(MachineKey::new(lower), MachineKey::Hex(_)));
        assert_ne!(MachineKey::new(lower), MachineKey::new(&upper));
        assert!(matches!(
            MachineKey::new("pc-01.corp"),
            MachineKey::Other(_)
        ));
        assert!(matches!(
            MachineKey::new(&lower[..38]),
            MachineKey::Other(_)
        ));

        let cat = Catalog::default();
        let state = || MachineState {
            branch: None,
            ubr: None,
            products: Vec::new(),
            os_products: Vec::new(),
            installed: Vec::new(),
            hotpatch: false,
            winre: None,
        };
        let mut fleet = Fleet::new();
        for id in [lower, upper.as_str(), "pc-01.corp"] {
            assert!(fleet.upsert(&cat, id, state()), "{id} is new");
            assert!(fleet.group_of(id).is_some());
        }
        assert_eq!(fleet.len(), 3);
        assert!(!fleet.upsert(&cat, lower, state()));
        fleet.remove(lower);
        fleet.remove("pc-01.corp");
        assert_eq!(fleet.len(), 1);
        assert!(fleet.group_of(lower).is_none());
        assert!(fleet.group_of(&upper).is_some());
    }

    #[test]
    fn inactive_machines_keep_their_group_and_leave_every_count() {
        let cat = Catalog::default();
        let state = MachineState {
            branch: None,
            ubr: None,
            products: Vec::new(),
            os_products: Vec::new(),
            installed: Vec::new(),
            hotpatch: false,
            winre: None,
        };
        let mut fleet = Fleet::new();
        assert!(fleet.upsert(&cat, "a", state.clone()));
        assert!(fleet.upsert_with(&cat, "b", state.clone(), false));
        assert_eq!((fleet.len(), fleet.active_len()), (2, 1));
        assert_eq!(fleet.group_of("b").map(|g| g.count), Some(1));
        assert_eq!(fleet.is_active("b"), Some(false));
        assert!(!fleet.set_active("b", false), "already inactive");
        assert!(fleet.set_active("b", true));
        assert_eq!(fleet.group_of("a").map(|g| g.count), Some(2));
        assert!(fleet.set_active("a", false));
        assert!(!fleet.upsert_with(&cat, "a", state.clone(), false));
        assert!(
            fleet.upsert(&cat, "a", state),
            "reporting again makes it active"
        );
        assert_eq!(fleet.active_len(), 2);
        fleet.set_active("a", false);
        fleet.remove("a");
        fleet.remove("b");
        assert_eq!(
            (fleet.len(), fleet.active_len(), fleet.group_count()),
            (0, 0, 0)
        );
        assert!(
            !fleet.set_active("zz", true),
            "unknown machines are ignored"
        );
        assert_eq!(fleet.is_active("zz"), None);
    }
}
