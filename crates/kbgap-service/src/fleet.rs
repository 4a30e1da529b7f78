//! The fleet service: every stored machine and its group's evaluation in memory, and intake.
//!
//! Evaluating a machine is far costlier than answering from a cached evaluation, and machines
//! share states, so the server keeps [`Fleet`] (machines grouped by state, each state evaluated
//! once) next to the stored machines themselves. The store stays the source of truth: a report
//! is committed there before the in-memory view changes and before the client is answered, and
//! the view is rebuilt from the store at every start.
//!
//! Machines age as Defender's do: one not seen for more than 30 days
//! ([`kbgap_store::lifecycle::activity`], by the service's [`Clock`]) is inactive, still listed
//! and answered for but left out of every fleet count (`machineMissedOn`, software counts, the
//! fleet's posture). The view re-decides activity when the earliest active machine's 30 days
//! run out (at most once a minute), before the next query reads it, so no task has to run for
//! counts to be right.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex as SyncMutex;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, TimeDelta, Utc};
use kbgap_core::Device;
use kbgap_core::catalog::Catalog;
use kbgap_core::engine::Exposure;
use kbgap_core::engine::fleet::{Fleet, GroupIx};
use kbgap_store::lifecycle::{Activity, INACTIVE_AFTER, activity};
use kbgap_store::machines::name_key;
use kbgap_store::{Store, StoreError, StoredMachine};
use tokio::sync::oneshot;

use crate::ServiceError;
use crate::clock::{Clock, SystemClock};
use crate::refusals::Refusals;

/// The view re-decides activity at most this often: a machine turns inactive within this long
/// of its 30 days, and a fleet whose machines lapse one by one costs a pass a minute at most.
const AGE_EVERY: TimeDelta = TimeDelta::minutes(1);

/// Machines and their evaluations, kept in step with the store.
pub struct FleetService {
    store: Arc<dyn Store>,
    /// What "now" is for activity and `last_seen` (the system's, or a test's).
    clock: Arc<dyn Clock>,
    inner: RwLock<FleetView>,
    /// Reports waiting for the next commit (group commit: see [`FleetService::ingest`]).
    pending: SyncMutex<Queue>,
    /// Told when a report exposes a machine to an exploited CVE ([`crate::webhook`]).
    webhook: std::sync::OnceLock<crate::webhook::Webhook>,
    /// Reports refused recently (recorded by the adapters that refuse them).
    refusals: Refusals,
    /// Taken by whoever applies machine changes to the view (this server's commits, changes
    /// read from the store), so they apply in the store's order (see `replica.rs`).
    pub(crate) turn: tokio::sync::Mutex<()>,
    /// The newest change number this server committed, applied or about to be.
    pub(crate) committed: AtomicI64,
    /// The view's change number ([`FleetView::machine_seq`]), readable without the view's
    /// lock, which a catalog swap holds for seconds.
    pub(crate) applied: AtomicI64,
}

/// The group-commit queue.
#[derive(Default)]
struct Queue {
    waiting: Vec<Pending>,
    /// Whether a committer task is running. There is at most one, so the store's order and the
    /// view's order of two reports of one machine agree.
    committing: bool,
}

/// One request's reports and where to send what became of them.
struct Pending {
    devices: Vec<Device>,
    reply: oneshot::Sender<Result<Vec<StoredMachine>, ServiceError>>,
}

/// The in-memory view: the catalog it was evaluated with, the fleet, the stored machines by id,
/// and computer names to ids. The catalog lives inside the view, under the same lock, so a
/// reader never pairs one catalog's indexes with another catalog's evaluations.
pub struct FleetView {
    /// The compiled catalog every evaluation of this view was made with.
    catalog: Arc<Catalog>,
    /// The store's catalog generation `catalog` was loaded at (see [`Store::catalog_generation`]).
    generation: i64,
    /// The store's machine change number the view holds every change through (see
    /// [`Store::machine_seq`] and `replica.rs`).
    pub(crate) seq: i64,
    /// Machines grouped by state, with per-KB counts.
    pub fleet: Fleet,
    /// Stored machines by lowercase 40-hex id, ordered (so listings page deterministically).
    pub machines: BTreeMap<String, StoredMachine>,
    /// Computer name key ([`name_key`], the store's) → id, for lookups by name.
    names: HashMap<String, String>,
    /// Machine getmissingkbs answers already serialized, by (group, extended). Every machine of
    /// a group gets the same records, and they change only when the fleet's per-KB counts do
    /// (`machineMissedOn`), which empties this.
    answers: SyncMutex<HashMap<(GroupIx, bool), Answer>>,
    /// When activity must be decided again: the earliest time an active machine's 30 days run
    /// out (`None`: no active machine, nothing can lapse).
    next_aging: Option<DateTime<Utc>>,
}

/// A cached answer, of whatever type the adapter made it (the API keeps serialized JSON).
type Answer = Arc<dyn Any + Send + Sync>;

impl FleetView {
    /// An empty view over `catalog`, loaded at the store's catalog `generation`.
    fn new(catalog: Arc<Catalog>, generation: i64) -> Self {
        Self {
            catalog,
            generation,
            seq: 0,
            fleet: Fleet::default(),
            machines: BTreeMap::new(),
            names: HashMap::new(),
            answers: SyncMutex::default(),
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
        let key = machine.id.as_str().to_ascii_lowercase();
        match self.fleet.is_active(&key) {
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
        let key = machine.id.as_str().to_ascii_lowercase();
        self.fleet.group_of(&key).map(|g| *g.exposure(cat))
    }

    /// A machine by id (any case) or computer name, compared as the store compares them
    /// ([`name_key`]: trimmed, lower-cased in full Unicode).
    pub fn find(&self, id_or_name: &str) -> Option<&StoredMachine> {
        let id = id_or_name.trim().to_ascii_lowercase();
        self.machines.get(&id).or_else(|| {
            (self.names.get(&name_key(id_or_name))).and_then(|id| self.machines.get(id))
        })
    }

    /// The serialized answer of a group, made by `build` when not kept already.
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

    fn lock_answers(&self) -> std::sync::MutexGuard<'_, HashMap<(GroupIx, bool), Answer>> {
        self.answers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds or updates a stored machine, active or not by its `last_seen` at `now`. The store
    /// gives each computer name to one machine: when this one took its name from another (a
    /// new id for a known name, or a known id reporting another machine's name), the store
    /// deleted that other one, and so does the view.
    pub(crate) fn insert(&mut self, catalog: &Catalog, machine: StoredMachine, now: DateTime<Utc>) {
        let id = machine.id.as_str().to_ascii_lowercase();
        let key = name_key(&machine.device.computer_dns_name);
        if let Some(holder) = self
            .names
            .get(&key)
            .filter(|holder| **holder != id)
            .cloned()
        {
            self.remove(&holder);
        }
        let state = catalog.machine_state(&machine.device).state;
        let active = activity(machine.last_seen, now) == Activity::Active;
        if self.fleet.upsert_with(catalog, &id, state, active) {
            self.lock_answers().clear();
        }
        if active {
            let lapses = lapses_at(machine.last_seen);
            self.next_aging = Some(self.next_aging.map_or(lapses, |t| t.min(lapses)));
        }
        if let Some(old) = self.machines.get(&id) {
            self.names.remove(&name_key(&old.device.computer_dns_name));
        }
        self.names.insert(key, id.clone());
        self.machines.insert(id, machine);
    }

    /// Forgets a machine (by lowercase id); unknown ids are ignored.
    pub fn remove(&mut self, id: &str) {
        if let Some(old) = self.machines.remove(id) {
            self.names.remove(&name_key(&old.device.computer_dns_name));
            self.fleet.remove(id);
            self.lock_answers().clear();
        }
    }

    /// Whether activity must be decided again at `now`.
    fn aging_due(&self, now: DateTime<Utc>) -> bool {
        self.next_aging.is_some_and(|t| t <= now)
    }

    /// Decides every machine's activity at `now` and gives back how many changed. The next
    /// aging is when the earliest still-active machine lapses, but not before [`AGE_EVERY`].
    fn age(&mut self, now: DateTime<Utc>) -> usize {
        let mut changed = 0;
        let mut next: Option<DateTime<Utc>> = None;
        for (id, m) in &self.machines {
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
        if changed > 0 {
            self.lock_answers().clear();
        }
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

impl fmt::Debug for FleetService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetService")
            .field("store", &self.store.describe())
            .finish_non_exhaustive()
    }
}

impl FleetService {
    /// Loads every stored machine and evaluates each distinct state once. The catalog's
    /// generation is read first, so a catalog change racing this load is noticed by the next
    /// poll rather than missed.
    pub async fn load(store: Arc<dyn Store>, catalog: Arc<Catalog>) -> Result<Self, StoreError> {
        Self::load_at(store, catalog, None).await
    }

    /// [`FleetService::load`] for a catalog known to be of store generation `generation`.
    /// The machine change counter is read before the machines, likewise: the first catch-up
    /// (`replica.rs`) reads again whatever changed while they loaded.
    pub async fn load_at(
        store: Arc<dyn Store>,
        catalog: Arc<Catalog>,
        generation: Option<i64>,
    ) -> Result<Self, StoreError> {
        let generation = match generation {
            Some(g) => g,
            None => store.catalog_generation().await?,
        };
        let seq = store.machine_seq().await?;
        let machines = store.machines().await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let now = clock.now();
        let mut view = FleetView::new(Arc::clone(&catalog), generation);
        view.seq = seq;
        for m in machines {
            view.insert(&catalog, m, now);
        }
        Ok(Self {
            store,
            clock,
            inner: RwLock::new(view),
            pending: SyncMutex::new(Queue::default()),
            webhook: std::sync::OnceLock::new(),
            refusals: Refusals::default(),
            turn: tokio::sync::Mutex::new(()),
            committed: AtomicI64::new(seq),
            applied: AtomicI64::new(seq),
        })
    }

    /// This service on another clock (a test's [`crate::clock::ManualClock`]): activity is
    /// decided again at once by it, and reports are stored with its time as `last_seen`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        let now = clock.now();
        self.clock = clock;
        let view = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        view.age(now);
        self
    }

    /// The clock the service reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Decides every machine's activity now, whether due or not, and gives back how many
    /// changed (queries age the view themselves when due; this is for those that hold the
    /// view already, and for tests). Runs on a blocking thread.
    pub async fn age(self: &Arc<Self>) -> Result<usize, ServiceError> {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let now = this.clock.now();
            this.write().age(now)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("aging the fleet failed: {e}")))
    }

    /// Ages the view when an active machine's 30 days ran out since the last time. Blocks for
    /// the write lock only then; callers run on blocking threads.
    fn age_if_due(&self) {
        let now = self.clock.now();
        if self.read().aging_due(now) {
            let mut view = self.write();
            if view.aging_due(now) {
                view.age(now);
            }
        }
    }

    /// The compiled catalog the current evaluations were made with. A caller keeps the `Arc`
    /// it got for as long as it needs: a reload swaps in another without touching this one.
    pub fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.read().catalog)
    }

    /// The store's catalog generation the current catalog was loaded at.
    pub fn generation(&self) -> i64 {
        self.read().generation
    }

    /// Swaps in a newly loaded catalog and re-evaluates every machine with it, all under the
    /// write lock: no reader sees the new catalog with old evaluations or the reverse, and
    /// ingest (which also takes the write lock) waits rather than interleaving. Machines are
    /// re-inserted rather than [`Fleet::recompute`]d, because a machine's state holds the
    /// old catalog's product indexes. Runs on a blocking thread. Gives back how many machines
    /// were re-evaluated.
    pub async fn swap_catalog(
        self: &Arc<Self>,
        catalog: Arc<Catalog>,
        generation: i64,
    ) -> Result<usize, ServiceError> {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut view = this.write();
            let machines = std::mem::take(&mut view.machines);
            let mut fresh = FleetView::new(Arc::clone(&catalog), generation);
            let now = this.clock.now();
            fresh.seq = view.seq;
            for m in machines.into_values() {
                fresh.insert(&catalog, m, now);
            }
            *view = fresh;
            view.len()
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("re-evaluating the fleet failed: {e}")))
    }

    /// Sends `machines.exploited` events to `webhook` from now on (set once; a second call is
    /// ignored).
    pub fn set_webhook(&self, webhook: crate::webhook::Webhook) {
        let _ = self.webhook.set(webhook);
    }

    /// Reports refused recently: the inventory endpoint records into it, ingest health reads it.
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// The store behind the view.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Reads the view. A poisoned lock still holds a consistent view (every write is a sequence
    /// of infallible map updates), so poisoning is ignored rather than turned into a panic.
    pub fn read(&self) -> RwLockReadGuard<'_, FleetView> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the view on a blocking thread, never on an async worker: a long `$filter`
    /// (the API bounds filters by a cost budget) then cannot stall other requests, `/healthz`
    /// among them, whose tasks share the workers.
    pub async fn with_view<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&FleetView, &Catalog) -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            this.age_if_due();
            let view = this.read();
            let cat = Arc::clone(&view.catalog);
            f(&view, &cat)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("a fleet query task failed: {e}")))
    }

    /// Runs `f` on the view right here when the read lock is free at once (the common case:
    /// short readers, no writer queued), else like [`FleetService::with_view`] on a blocking
    /// thread, so a reader queued behind a waiting writer never blocks an async worker.
    pub async fn view<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&FleetView, &Catalog) -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        if let Ok(guard) = self.inner.try_read()
            && !guard.aging_due(self.clock.now())
        {
            let cat = Arc::clone(&guard.catalog);
            return Ok(f(&guard, &cat));
        }
        self.with_view(f).await
    }

    /// [`FleetService::with_view`] with the write lock (software projections are cached in the
    /// fleet): waiting for it must not block an async worker either.
    pub async fn with_view_mut<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut FleetView, &Catalog) -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut view = this.write();
            let now = this.clock.now();
            if view.aging_due(now) {
                view.age(now);
            }
            let cat = Arc::clone(&view.catalog);
            f(&mut view, &cat)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("a fleet query task failed: {e}")))
    }

    /// Writes the view (software projections are cached in the fleet, so they need this).
    pub fn write(&self) -> RwLockWriteGuard<'_, FleetView> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores reports (committed before returning) and then updates the view; gives back the
    /// stored machines in the order of `devices`.
    ///
    /// Group commit: a request queues its reports; one committer task at a time takes
    /// everything queued and commits it in one transaction, so concurrent collectors share a
    /// commit instead of waiting for one each. A batch the store refuses is retried one request
    /// at a time, so one bad report fails only its own request. The committer is a task of its
    /// own: a client that hangs up cannot cancel a commit that other requests are waiting on.
    pub async fn ingest(
        self: &Arc<Self>,
        devices: Vec<Device>,
    ) -> Result<Vec<StoredMachine>, ServiceError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.lock_pending();
            queue.waiting.push(Pending { devices, reply });
            !std::mem::replace(&mut queue.committing, true)
        };
        if start {
            let this = Arc::clone(self);
            tokio::spawn(async move { this.commit_queued().await });
        }
        answer
            .await
            .map_err(|_| ServiceError::Internal("an ingest batch ended without an answer".into()))?
    }

    /// Commits batches until the queue is empty, then ends (the next report starts another).
    async fn commit_queued(self: &Arc<Self>) {
        // Should a commit panic, the flag is cleared while unwinding, so later reports are not
        // stranded (the batch's requests get an internal error: their senders are dropped).
        // Only then: after a normal return another committer may already own the flag.
        struct OnPanic<'a>(&'a FleetService);
        impl Drop for OnPanic<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.lock_pending().committing = false;
                }
            }
        }
        let _guard = OnPanic(self.as_ref());
        loop {
            let batch = {
                let mut queue = self.lock_pending();
                if queue.waiting.is_empty() {
                    queue.committing = false;
                    return;
                }
                std::mem::take(&mut queue.waiting)
            };
            self.commit(batch).await;
        }
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits a batch (by the one committer) and answers each of its requests.
    async fn commit(self: &Arc<Self>, batch: Vec<Pending>) {
        if batch.len() > 1 {
            let all: Vec<Device> = batch.iter().flat_map(|p| p.devices.clone()).collect();
            if let Ok(mut stored) = self.store_and_view(all).await {
                for p in batch.into_iter().rev() {
                    let mine = stored.split_off(stored.len().saturating_sub(p.devices.len()));
                    let _ = p.reply.send(Ok(mine));
                }
                return;
            }
        }
        for p in batch {
            let _ = p.reply.send(self.store_and_view(p.devices).await);
        }
    }

    async fn store_and_view(
        self: &Arc<Self>,
        devices: Vec<Device>,
    ) -> Result<Vec<StoredMachine>, ServiceError> {
        let started = std::time::Instant::now();
        let commit = self
            .store
            .upsert_machines_tracked(devices, self.clock.now())
            .await
            .map_err(ServiceError::from)?;
        let committed = started.elapsed();
        // For the webhook: each reported machine's group before the view takes the reports in.
        let watch = match self.webhook.get() {
            Some(w) => {
                let ids: Vec<StoredMachine> = commit.machines.clone();
                let before = self.with_view(move |v, _| exposure_before(v, &ids)).await?;
                Some((w.clone(), before))
            }
            None => None,
        };
        // Applied in the store's order, after whatever other servers committed before it.
        let stored = self.apply_commit(commit).await?;
        if let Some((webhook, before)) = watch {
            let exposed = self
                .with_view(move |v, cat| crate::webhook::events::newly_exposed(v, cat, &before))
                .await?;
            webhook.machines_exposed(exposed);
        }
        tracing::debug!(
            reports = stored.len(),
            ?committed,
            viewed = ?started.elapsed() - committed,
            "ingest batch"
        );
        Ok(stored)
    }
}

/// Each reported machine's group before the view takes the reports in, for the webhook.
fn exposure_before(view: &FleetView, stored: &[StoredMachine]) -> crate::webhook::events::Before {
    let ids: Vec<String> = (stored.iter())
        .map(|m| m.id.as_str().to_ascii_lowercase())
        .collect();
    crate::webhook::events::before_ingest(view, ids.iter().map(String::as_str))
}
