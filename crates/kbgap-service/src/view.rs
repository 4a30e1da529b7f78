//! The fleet view: one immutable snapshot of the stored machines and their evaluations.
//!
//! Readers hold a snapshot for as long as their query runs and writers publish the next one
//! beside it ([`crate::FleetService`]), so a view is cloned for every change. Its per-machine
//! maps are persistent (a clone shares them, a change copies one path) and each stored machine
//! sits behind an `Arc`, so that clone costs the small per-group and per-KB tables, not the
//! fleet's size.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex as SyncMutex;
use std::sync::{MutexGuard, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use imbl::shared_ptr::DefaultSharedPtr;
use kbgap_core::MachineId;
use kbgap_core::catalog::Catalog;
use kbgap_core::engine::Exposure;
use kbgap_core::engine::fleet::{Fleet, GroupIx};
use kbgap_store::StoredMachine;
use kbgap_store::lifecycle::{Activity, INACTIVE_AFTER, activity};
use kbgap_store::machines::name_key;
use rustc_hash::FxBuildHasher;

/// The view re-decides activity at most this often: a machine turns inactive within this long
/// of its 30 days, and a fleet whose machines lapse one by one costs a pass a minute at most.
pub(crate) const AGE_EVERY: TimeDelta = TimeDelta::minutes(1);

mod machines;

pub use machines::Machines;

/// Computer name key → id, packed ([`MachineId::to_bytes`]: no string per machine), persistent
/// like [`Machines`].
type Names = imbl::GenericHashMap<String, [u8; 20], FxBuildHasher, DefaultSharedPtr>;

/// Tag key ([`crate::tags::key`]) → the tag as first reported and how many stored machines
/// carry it: the dashboard's tag choices without a walk over the machines.
type Tags = imbl::GenericHashMap<String, (String, u32), FxBuildHasher, DefaultSharedPtr>;

/// A cached answer, of whatever type the adapter made it (the API keeps serialized JSON).
type Answer = Arc<dyn Any + Send + Sync>;

/// Answers by (group, extended).
type Answers = HashMap<(GroupIx, bool), Answer>;

/// The in-memory view: the catalog it was evaluated with, the fleet, the stored machines by id,
/// and computer names to ids. The catalog lives inside the view, in the same snapshot, so a
/// reader never pairs one catalog's indexes with another catalog's evaluations.
pub struct FleetView {
    /// The compiled catalog every evaluation of this view was made with.
    pub(crate) catalog: Arc<Catalog>,
    /// The store's catalog generation `catalog` was loaded at (see
    /// [`kbgap_store::Store::catalog_generation`]).
    pub(crate) generation: i64,
    /// The store's machine change number the view holds every change through (see
    /// [`kbgap_store::Store::machine_seq`] and `replica.rs`).
    pub(crate) seq: i64,
    /// Machines grouped by state, with per-KB counts.
    pub fleet: Fleet,
    /// Stored machines by id.
    pub machines: Machines,
    /// Computer name key ([`name_key`], the store's) → id, for lookups by name.
    names: Names,
    /// The tags the stored machines carry.
    tags: Tags,
    /// What adapters make of a group's evaluation, by (group, extended): the API keeps each
    /// group's getmissingkbs records serialized, with the fleet's counts left to fill in at
    /// each request. A group's state and evaluation never change (a machine that changes state
    /// moves to another group), so an answer stays right for as long as the catalog does: every
    /// view of one catalog shares these, and no report empties them. Readers fill it, behind a
    /// lock held only to look up or insert.
    answers: Arc<SyncMutex<Answers>>,
    /// When activity must be decided again: the earliest time an active machine's 30 days run
    /// out (`None`: no active machine, nothing can lapse).
    next_aging: Option<DateTime<Utc>>,
}

impl Clone for FleetView {
    /// The next snapshot shares this one's answers (see [`FleetView::answer`]).
    fn clone(&self) -> Self {
        Self {
            catalog: Arc::clone(&self.catalog),
            generation: self.generation,
            seq: self.seq,
            fleet: self.fleet.clone(),
            machines: self.machines.clone(),
            names: self.names.clone(),
            tags: self.tags.clone(),
            answers: Arc::clone(&self.answers),
            next_aging: self.next_aging,
        }
    }
}

impl FleetView {
    /// An empty view over `catalog`, loaded at the store's catalog `generation`.
    pub(crate) fn new(catalog: Arc<Catalog>, generation: i64) -> Self {
        Self {
            catalog,
            generation,
            seq: 0,
            fleet: Fleet::default(),
            machines: Machines::default(),
            names: Names::default(),
            tags: Tags::default(),
            answers: Arc::default(),
            next_aging: None,
        }
    }

    /// The catalog this view's evaluations were made with.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The store's catalog generation the view's catalog was loaded at.
    pub fn generation(&self) -> i64 {
        self.generation
    }

    /// Whether a stored machine counts in the fleet (Defender's 30-day rule, as of the view's
    /// last aging); inactive machines are listed but left out of every count.
    pub fn activity(&self, machine: &StoredMachine) -> Activity {
        match self.fleet.is_active(machine.id.as_str()) {
            Some(false) => Activity::Inactive,
            _ => Activity::Active,
        }
    }

    /// The store's machine change number the view holds every change through.
    pub fn machine_seq(&self) -> i64 {
        self.seq
    }

    /// What a stored machine's open CVEs risk, from its group's evaluation.
    pub fn exposure(&self, cat: &Catalog, machine: &StoredMachine) -> Option<Exposure> {
        (self.fleet.group_of(machine.id.as_str())).map(|g| *g.exposure(cat))
    }

    /// A machine by id (any case) or computer name, compared as the store compares them
    /// ([`name_key`]: trimmed, lower-cased in full Unicode).
    pub fn find(&self, id_or_name: &str) -> Option<&StoredMachine> {
        let found = self.machines.get(id_or_name.trim()).or_else(|| {
            (self.names.get(&name_key(id_or_name))).and_then(|id| self.machines.get_packed(id))
        });
        found.map(|m| &**m)
    }

    /// What an adapter makes of a group's evaluation, made by `build` when not kept already.
    /// It must follow from the group's state and evaluation and the catalog alone, never from
    /// the fleet's counts or machines: it is kept for every later view of this catalog.
    pub fn answer<T: Send + Sync + 'static, E>(
        &self,
        group: GroupIx,
        extended: bool,
        build: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        let key = (group, extended);
        if let Some(a) = self.lock_answers().get(&key)
            && let Ok(a) = Arc::clone(a).downcast::<T>()
        {
            return Ok(a);
        }
        // Built outside the lock: two requests may both build it, and both answers are equal.
        let answer = Arc::new(build()?);
        self.lock_answers()
            .insert(key, Arc::clone(&answer) as Answer);
        Ok(answer)
    }

    /// A holder that panicked left whole entries only, so poisoning is ignored.
    fn lock_answers(&self) -> MutexGuard<'_, Answers> {
        self.answers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds or updates a stored machine, active or not by its `last_seen` at `now`. The store
    /// gives each computer name to one machine: when this one took its name from another (a
    /// new id for a known name, or a known id reporting another machine's name), the store
    /// deleted that other one, and so does the view.
    pub(crate) fn insert(
        &mut self,
        catalog: &Catalog,
        machine: Arc<StoredMachine>,
        now: DateTime<Utc>,
    ) {
        let id = machine.id.as_str();
        let packed = machine.id.to_bytes();
        let key = name_key(&machine.device.computer_dns_name);
        if let Some(holder) = self.names.get(&key).filter(|holder| **holder != packed) {
            let holder = MachineId::from_bytes(*holder);
            self.remove(holder.as_str());
        }
        let state = catalog.machine_state(&machine.device).state;
        let active = activity(machine.last_seen, now) == Activity::Active;
        self.fleet.upsert_with(catalog, id, state, active);
        if active {
            let lapses = lapses_at(machine.last_seen);
            self.next_aging = Some(self.next_aging.map_or(lapses, |t| t.min(lapses)));
        }
        if let Some(old) = self.machines.insert(Arc::clone(&machine)) {
            if old.device.computer_dns_name != machine.device.computer_dns_name {
                self.names.remove(&name_key(&old.device.computer_dns_name));
            }
            self.count_tags(&old.device.machine_tags, false);
        }
        self.count_tags(&machine.device.machine_tags, true);
        if self.names.get(&key) != Some(&packed) {
            self.names.insert(key, packed);
        }
    }

    /// Forgets a machine (by id, in any case); unknown ids are ignored.
    pub fn remove(&mut self, id: &str) {
        if let Some(old) = self.machines.remove(id) {
            self.names.remove(&name_key(&old.device.computer_dns_name));
            self.count_tags(&old.device.machine_tags, false);
            self.fleet.remove(old.id.as_str());
        }
    }

    /// Counts one machine's tags in (`add`) or out of the tag index; a tag the machine
    /// repeats in another case counts once.
    fn count_tags(&mut self, tags: &[String], add: bool) {
        let mut keys: Vec<String> = tags.iter().map(|t| crate::tags::key(t)).collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            if add {
                if let Some((_, n)) = self.tags.get_mut(&key) {
                    *n += 1;
                } else {
                    let spelled = (tags.iter())
                        .find(|t| crate::tags::key(t) == key)
                        .map_or(String::new(), |t| t.trim().to_owned());
                    self.tags.insert(key, (spelled, 1));
                }
            } else if let Some((_, n)) = self.tags.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    self.tags.remove(&key);
                }
            }
        }
    }

    /// The tags stored machines carry, each as first reported, with how many machines carry
    /// it (in no order).
    pub fn tags(&self) -> impl Iterator<Item = (&str, u32)> {
        self.tags.values().map(|(t, n)| (t.as_str(), *n))
    }

    /// Whether activity must be decided again at `now`.
    pub(crate) fn aging_due(&self, now: DateTime<Utc>) -> bool {
        self.next_aging.is_some_and(|t| t <= now)
    }

    /// Decides every machine's activity at `now` and gives back how many changed. The next
    /// aging is when the earliest still-active machine lapses, but not before [`AGE_EVERY`].
    pub(crate) fn age(&mut self, now: DateTime<Utc>) -> usize {
        let mut changed = 0;
        let mut next: Option<DateTime<Utc>> = None;
        for (id, m) in self.machines.iter() {
            let active = activity(m.last_seen, now) == Activity::Active;
            if self.fleet.set_active(id, active) {
                changed += 1;
            }
            if active {
                let lapses = lapses_at(m.last_seen);
                next = Some(next.map_or(lapses, |t| t.min(lapses)));
            }
        }
        self.next_aging = next.map(|t| t.max(now + AGE_EVERY));
        changed
    }

    /// How many machines the view holds.
    pub fn len(&self) -> usize {
        self.machines.len()
    }

    /// Whether the view holds no machine.
    pub fn is_empty(&self) -> bool {
        self.machines.is_empty()
    }
}

/// The first instant a machine last seen at `last_seen` is inactive.
fn lapses_at(last_seen: DateTime<Utc>) -> DateTime<Utc> {
    last_seen + INACTIVE_AFTER + TimeDelta::microseconds(1)
}
