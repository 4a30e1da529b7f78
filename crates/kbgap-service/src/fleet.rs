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
//!
//! No request holds a lock another needs for longer than it takes to copy a reference (issue
//! 13, F2): readers take the current [`FleetView`] snapshot (an `Arc`) and run on it however
//! long their query takes; writers (group commit, changes from other servers, aging, a catalog
//! swap) take turns on a mutex of their own, make the next view from a clone of the current
//! one (cheap: its maps are persistent, see `view.rs`) and publish it with one atomic store.
//! A long `$filter` thus delays no ingest, and an ingest delays no reader.

use std::fmt;
use std::sync::Mutex as SyncMutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, MutexGuard, PoisonError, TryLockError, Weak};

use arc_swap::ArcSwap;
use kbgap_core::Device;
use kbgap_core::catalog::Catalog;
use kbgap_store::changes::MachineCommit;
use kbgap_store::{Store, StoreError, StoredMachine};
use tokio::sync::{mpsc, oneshot};

use crate::ServiceError;
use crate::clock::{Clock, SystemClock};
use crate::refusals::Refusals;
pub use crate::view::FleetView;

/// Machines and their evaluations, kept in step with the store.
pub struct FleetService {
    store: Arc<dyn Store>,
    /// What "now" is for activity and `last_seen` (the system's, or a test's).
    clock: Arc<dyn Clock>,
    /// The published snapshot. Readers load it; only a writer holding `writer` stores one.
    inner: ArcSwap<FleetView>,
    /// Held by whoever makes the next view, so that two writers never both clone the same view
    /// and one's change is lost. Readers never take it (aging from a query only tries it).
    writer: SyncMutex<()>,
    /// Reports waiting for the next commit (group commit: see [`FleetService::ingest`]).
    pending: SyncMutex<Queue>,
    /// Told when a report exposes a machine to an exploited CVE ([`crate::webhook`]).
    webhook: std::sync::OnceLock<crate::webhook::Webhook>,
    /// Reports refused recently (recorded by the adapters that refuse them).
    refusals: Refusals,
    /// The ingest pipeline's second stage: commits on their way into the view (see
    /// [`FleetService::ingest`]).
    applier: std::sync::OnceLock<mpsc::UnboundedSender<Committed>>,
    /// Taken by whoever applies machine changes to the view (this server's commits, changes
    /// read from the store), so they apply in the store's order (see `replica.rs`).
    pub(crate) turn: tokio::sync::Mutex<()>,
    /// The newest change number this server committed, applied or about to be.
    pub(crate) committed: AtomicI64,
    /// The view's change number ([`FleetView::machine_seq`]), for appliers that must not load
    /// the view to decide what to read.
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
    reply: Reply,
}

/// Where a request's answer goes.
type Reply = oneshot::Sender<Result<Vec<StoredMachine>, ServiceError>>;

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
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let now = clock.now();
        let mut view = FleetView::new(Arc::clone(&catalog), generation);
        view.seq = seq;
        (store.each_machine(&mut |m| view.insert(&catalog, Arc::new(m), now))).await?;
        Ok(Self {
            store,
            clock,
            inner: ArcSwap::from_pointee(view),
            writer: SyncMutex::new(()),
            pending: SyncMutex::new(Queue::default()),
            webhook: std::sync::OnceLock::new(),
            refusals: Refusals::default(),
            applier: std::sync::OnceLock::new(),
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
        self.update(|view| view.age(now));
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
            this.update(|view| view.age(now))
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("aging the fleet failed: {e}")))
    }

    /// Ages the view when an active machine's 30 days ran out since the last time, unless a
    /// writer is at work: that one ages the view it publishes ([`FleetService::update`]), and
    /// a reader does not wait for a writer.
    fn age_if_due(&self) {
        let now = self.clock.now();
        if !self.inner.load().aging_due(now) {
            return;
        }
        let writer = match self.writer.try_lock() {
            Ok(w) => w,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if self.inner.load().aging_due(now) {
            self.update_locked(&writer, |_| ());
        }
    }

    /// The compiled catalog the current evaluations were made with. A caller keeps the `Arc`
    /// it got for as long as it needs: a reload swaps in another without touching this one.
    pub fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.inner.load().catalog)
    }

    /// The store's catalog generation the current catalog was loaded at.
    pub fn generation(&self) -> i64 {
        self.inner.load().generation
    }

    /// Swaps in a newly loaded catalog and re-evaluates every machine with it. The new view
    /// is made off to the side, from a snapshot, while readers and ingest go on with the old
    /// one; then, in the writers' turn, whatever changed since that snapshot (found cheaply:
    /// the maps share all they did not change) is applied to it too, and it is published. No
    /// reader sees the new catalog with old evaluations or the reverse. Machines are
    /// re-inserted rather than [`kbgap_core::engine::fleet::Fleet::recompute`]d, because a
    /// machine's state holds the old catalog's product indexes. Runs on a blocking thread.
    /// Gives back how many machines were re-evaluated.
    pub async fn swap_catalog(
        self: &Arc<Self>,
        catalog: Arc<Catalog>,
        generation: i64,
    ) -> Result<usize, ServiceError> {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let base = this.read();
            let now = this.clock.now();
            let mut fresh = FleetView::new(Arc::clone(&catalog), generation);
            for m in base.machines.values() {
                fresh.insert(&catalog, Arc::clone(m), now);
            }
            let writer = this.lock_writer();
            let current = this.read();
            let mut removed = Vec::new();
            for change in base.machines.diff(&current.machines) {
                match change {
                    imbl::ordmap::DiffItem::Remove(_, m) => removed.push(m.id.clone()),
                    imbl::ordmap::DiffItem::Add(_, m)
                    | imbl::ordmap::DiffItem::Update { new: (_, m), .. } => {
                        fresh.insert(&catalog, Arc::clone(m), now);
                    }
                }
            }
            for id in &removed {
                fresh.remove(id.as_str());
            }
            fresh.seq = current.seq;
            this.publish(&writer, fresh)
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

    /// The current view: a snapshot that no later change alters, held as long as the caller
    /// keeps the `Arc` (the next change is published beside it).
    pub fn read(&self) -> Arc<FleetView> {
        self.inner.load_full()
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
            f(&view, &view.catalog)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("a fleet query task failed: {e}")))
    }

    /// Runs `f` on the view right here (short queries: taking the snapshot waits for nobody),
    /// unless aging is due, which may take a pass over every machine: then like
    /// [`FleetService::with_view`], on a blocking thread.
    pub async fn view<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&FleetView, &Catalog) -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let view = self.inner.load();
        if !view.aging_due(self.clock.now()) {
            return Ok(f(&view, &view.catalog));
        }
        drop(view);
        self.with_view(f).await
    }

    /// Makes the next view from the current one with `f` and publishes it, in the writers'
    /// turn; readers meanwhile go on with the current one. Blocks while another writer works,
    /// so callers run on blocking threads.
    pub(crate) fn update<T>(&self, f: impl FnOnce(&mut FleetView) -> T) -> T {
        let writer = self.lock_writer();
        self.update_locked(&writer, f)
    }

    /// [`FleetService::update`] for a caller that holds the writers' turn already.
    fn update_locked<T>(
        &self,
        writer: &MutexGuard<'_, ()>,
        f: impl FnOnce(&mut FleetView) -> T,
    ) -> T {
        let mut next = FleetView::clone(&self.inner.load());
        let out = f(&mut next);
        self.publish(writer, next);
        out
    }

    /// Publishes `next` (aged first when due, so a reader that found aging due while this
    /// writer worked gets it done) and gives back its size.
    fn publish(&self, _writer: &MutexGuard<'_, ()>, mut next: FleetView) -> usize {
        let now = self.clock.now();
        if next.aging_due(now) {
            next.age(now);
        }
        let len = next.len();
        self.inner.store(Arc::new(next));
        len
    }

    /// The writers' turn. A writer that panicked published nothing (it worked on a clone), so
    /// poisoning is ignored.
    fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores reports (committed before returning) and then updates the view; gives back the
    /// stored machines in the order of `devices`.
    ///
    /// Group commit: a request queues its reports; one committer task at a time takes
    /// everything queued and commits it in one transaction, so concurrent collectors share a
    /// commit instead of waiting for one each. A batch the store refuses is retried one request
    /// at a time, so one bad report fails only its own request. The committer is a task of its
    /// own: a client that hangs up cannot cancel a commit that other requests are waiting on.
    ///
    /// Ingest is a pipeline of two stages: the committer hands each commit to one applier
    /// task, which brings the view up to it (see `replica.rs`) and answers its requests, and
    /// goes on to the next commit meanwhile. The store's transaction, which on PostgreSQL every
    /// replica takes in turn, thus never waits for this server's view; and commits that pile
    /// up while the view is updated are applied together.
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

    /// Commits a batch (by the one committer) and hands it to the applier, which answers its
    /// requests once the view holds it.
    async fn commit(self: &Arc<Self>, batch: Vec<Pending>) {
        if batch.len() > 1 {
            let all: Vec<Device> = batch.iter().flat_map(|p| p.devices.clone()).collect();
            if let Ok(commit) = self.store_batch(all).await {
                let replies = (batch.into_iter())
                    .map(|p| (p.devices.len(), p.reply))
                    .collect();
                self.hand_over(Committed { commit, replies }).await;
                return;
            }
        }
        for p in batch {
            let reports = p.devices.len();
            match self.store_batch(p.devices).await {
                Ok(commit) => {
                    let replies = vec![(reports, p.reply)];
                    self.hand_over(Committed { commit, replies }).await;
                }
                Err(e) => {
                    let _ = p.reply.send(Err(e));
                }
            }
        }
    }

    /// Commits reports to the store; from then on they are this server's to apply, so a
    /// notice of the commit from the database reads nothing.
    async fn store_batch(&self, devices: Vec<Device>) -> Result<MachineCommit, ServiceError> {
        let started = std::time::Instant::now();
        let reports = devices.len();
        let commit = (self.store)
            .upsert_machines_tracked(devices, self.clock.now())
            .await?;
        self.committed.fetch_max(commit.seq, Ordering::AcqRel);
        tracing::debug!(reports, took = ?started.elapsed(), seq = commit.seq, "ingest batch committed");
        Ok(commit)
    }

    /// Queues a commit for the applier (started on first use). Should the applier be gone
    /// (it panicked), the commit is applied here instead.
    async fn hand_over(self: &Arc<Self>, committed: Committed) {
        let applier = (self.applier).get_or_init(|| spawn_applier(Arc::downgrade(self)));
        if let Err(mpsc::error::SendError(committed)) = applier.send(committed) {
            self.apply_committed(vec![committed]).await;
        }
    }

    /// Applies a run of this server's commits to the view, tells the webhook of machines they
    /// exposed, and answers their requests.
    async fn apply_committed(self: &Arc<Self>, run: Vec<Committed>) {
        let started = std::time::Instant::now();
        let (commits, replies): (Vec<MachineCommit>, Vec<_>) =
            run.into_iter().map(|c| (c.commit, c.replies)).unzip();
        let watch = match self.webhook.get() {
            Some(w) => {
                let ids: Vec<String> = (commits.iter())
                    .flat_map(|c| c.machines.iter().map(|m| m.id.as_str().to_owned()))
                    .collect();
                let before = move |v: &FleetView, _: &Catalog| {
                    crate::webhook::events::before_ingest(v, ids.iter().map(String::as_str))
                };
                match self.with_view(before).await {
                    Ok(before) => Some((w.clone(), before)),
                    Err(e) => {
                        tracing::warn!("webhook: reading the fleet before ingest failed: {e}");
                        None
                    }
                }
            }
            None => None,
        };
        let applied = self.apply_commits(&commits).await;
        if let Some((webhook, before)) = watch {
            let exposed = self
                .with_view(move |v, cat| crate::webhook::events::newly_exposed(v, cat, &before))
                .await;
            match exposed {
                Ok(exposed) => webhook.machines_exposed(exposed),
                Err(e) => tracing::warn!("webhook: reading the fleet after ingest failed: {e}"),
            }
        }
        tracing::debug!(
            commits = commits.len(),
            took = ?started.elapsed(),
            "ingest batches applied"
        );
        for (commit, replies) in commits.into_iter().zip(replies) {
            answer(commit.machines, replies, &applied);
        }
    }
}

/// A commit on its way from the committer to the applier.
struct Committed {
    commit: MachineCommit,
    /// Each request's number of reports (its share of the commit's machines, in order) and
    /// where to answer it.
    replies: Vec<(usize, Reply)>,
}

/// Starts the applier: it takes commits in the order the committer made them, as many at a
/// time as are waiting, and ends when the service is gone. It holds the service only while it
/// applies, so the service's queue to it is not kept alive by it.
fn spawn_applier(fleet: Weak<FleetService>) -> mpsc::UnboundedSender<Committed> {
    let (queue, mut committed) = mpsc::unbounded_channel::<Committed>();
    tokio::spawn(async move {
        while let Some(first) = committed.recv().await {
            let mut run = vec![first];
            while let Ok(more) = committed.try_recv() {
                run.push(more);
            }
            let Some(fleet) = fleet.upgrade() else {
                return;
            };
            fleet.apply_committed(run).await;
        }
    });
    queue
}

/// Answers a commit's requests, each with its share of the stored machines.
fn answer(
    mut stored: Vec<StoredMachine>,
    replies: Vec<(usize, Reply)>,
    applied: &Result<(), ServiceError>,
) {
    for (reports, reply) in replies.into_iter().rev() {
        let mine = stored.split_off(stored.len().saturating_sub(reports));
        let _ = reply.send(match applied {
            Ok(()) => Ok(mine),
            Err(e) => Err(ServiceError::Internal(e.to_string())),
        });
    }
}
