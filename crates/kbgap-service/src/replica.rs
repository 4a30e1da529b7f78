//! Keeping a server's fleet view in step with machine writes made elsewhere: other replicas on
//! the same PostgreSQL database, and `kbgap machines import`, `delete` or `purge` run as other
//! processes.
//!
//! The store numbers every machine write ([`kbgap_store::changes`]); the view remembers the
//! number it holds every change through ([`crate::FleetView::machine_seq`]). Changes are
//! applied strictly in the store's order, by one applier at a time ([`FleetService`]'s turn):
//!
//! - this server's own commits ([`FleetService::apply_commits`], by the ingest pipeline's
//!   applier): when nothing else was committed since the view's number, their machines are
//!   applied as the commits returned them; otherwise the changes in between are read first
//!   and applied around them, in order;
//! - everything else: [`FleetService::catch_up`] reads and applies what changed after the
//!   view's number. [`Follower`] calls it when the database announces a change (PostgreSQL
//!   LISTEN/NOTIFY), when the announcing connection was lost and is back, and at every poll.
//!
//! Applying goes through the view's own insert and remove, so the group commit, the per-KB
//! counts and the answer cache (emptied when those counts change) stay what they would be had
//! this server taken the reports itself.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use kbgap_core::catalog::Catalog;
use kbgap_store::changes::{MachineChanges, MachineCommit, Notice, Skip};
use kbgap_store::{Store, StoredMachine};
use tokio::sync::mpsc;

use crate::reload::{Reloader, log_reloaded};
use crate::view::FleetView;
use crate::{FleetService, ServiceError};

/// One change to apply.
#[derive(Debug)]
enum Change {
    Removed(String),
    Stored(Box<StoredMachine>),
}

/// What a catch-up applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaughtUp {
    /// The change number the view now holds everything through.
    pub seq: i64,
    /// Machines written (added or updated) in the view.
    pub stored: usize,
    /// Machines removed from the view.
    pub removed: usize,
    /// Whether the store sent every machine (the view was further behind than the tombstones
    /// kept, or ahead of the store, as after a restore).
    pub full: bool,
}

impl FleetService {
    /// Applies this server's own commits (in the order they were committed) to the view, in
    /// the store's order. The commits are durable whatever happens here: should reading the
    /// changes in between fail, the view is left for the next catch-up and the reports still
    /// succeed.
    ///
    /// Commits that follow each other and the view's number directly are applied as they
    /// came back from the store, in one update. Otherwise other writers committed in between:
    /// their changes are read first, leaving out a single commit of this server's (which it
    /// holds); several are read back with the rest, in one read instead of one each.
    pub(crate) async fn apply_commits(
        self: &Arc<Self>,
        commits: &[MachineCommit],
    ) -> Result<(), ServiceError> {
        let Some(last) = commits.last() else {
            return Ok(());
        };
        let _turn = self.turn.lock().await;
        let at = self.applied.load(Ordering::Acquire);
        // A catch-up may have read some of them back already.
        let pending: Vec<&MachineCommit> = commits.iter().filter(|c| c.seq > at).collect();
        let Some(first) = pending.first() else {
            return Ok(());
        };
        let own = |c: &MachineCommit| -> Vec<(i64, Change)> {
            (c.machines.iter().cloned())
                .map(|m| (c.seq, Change::Stored(Box::new(m))))
                .collect()
        };
        let contiguous = first.before == at && pending.windows(2).all(|w| w[1].before == w[0].seq);
        let (changes, through, full) = if contiguous {
            (
                pending.iter().flat_map(|c| own(c)).collect(),
                last.seq,
                false,
            )
        } else {
            let skip = (pending.len() == 1).then_some(Skip {
                after: first.before,
                through: first.seq,
            });
            match self.store().machine_changes(at, skip).await {
                Ok(read) if read.full => (ordered(read.changed, Vec::new()), read.seq, true),
                Ok(read) => {
                    let mut changes = ordered(read.changed, read.deleted);
                    if skip.is_some() {
                        changes.extend(own(first));
                        changes.sort_by_key(|(n, c)| (*n, matches!(c, Change::Stored(_))));
                    }
                    (changes, read.seq.max(last.seq), false)
                }
                Err(e) => {
                    tracing::warn!(
                        "reading other servers' machine changes failed ({e}); the next catch-up applies them"
                    );
                    return Ok(());
                }
            }
        };
        self.apply(changes, through, full).await?;
        Ok(())
    }

    /// Reads what changed in the store's machines after the view's change number and applies
    /// it; `None` when nothing had.
    pub async fn catch_up(self: &Arc<Self>) -> Result<Option<CaughtUp>, ServiceError> {
        let _turn = self.turn.lock().await;
        let at = self.applied.load(Ordering::Acquire);
        let read = self.store().machine_changes(at, None).await?;
        if read.seq == at && read.is_empty() {
            return Ok(None);
        }
        let MachineChanges {
            seq,
            changed,
            deleted,
            full,
        } = read;
        let changes = ordered(changed, deleted);
        let (stored, removed) = self.apply(changes, seq, full).await?;
        Ok(Some(CaughtUp {
            seq,
            stored,
            removed,
            full,
        }))
    }

    /// Applies changes (ordered by change number) in the writers' turn, on a blocking thread,
    /// and moves the view's number to `through`. With `full`, the changes are every stored
    /// machine, and machines not among them are dropped.
    async fn apply(
        self: &Arc<Self>,
        changes: Vec<(i64, Change)>,
        through: i64,
        full: bool,
    ) -> Result<(usize, usize), ServiceError> {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let now = this.clock().now();
            let (counts, seq) = this.update(|view| {
                let cat = Arc::clone(view.catalog());
                let mut counts = (0, 0);
                if full {
                    counts.1 = drop_absent(view, &changes);
                }
                for (_, change) in changes {
                    let (stored, removed) = apply_one(view, &cat, change, now);
                    counts.0 += usize::from(stored);
                    counts.1 += usize::from(removed);
                }
                view.seq = if full { through } else { view.seq.max(through) };
                (counts, view.seq)
            });
            // Stored once the view holding it is published: whoever reads this number finds
            // the view at least as new.
            this.applied.store(seq, Ordering::Release);
            counts
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("applying machine changes failed: {e}")))
    }
}

/// Tombstones and stored machines as one list ordered by change number, a number's deletions
/// before its writes (a transaction that deletes a displaced machine writes the new one after).
fn ordered(
    changed: Vec<(i64, StoredMachine)>,
    deleted: Vec<(i64, kbgap_core::MachineId)>,
) -> Vec<(i64, Change)> {
    let mut all: Vec<(i64, Change)> = (deleted.into_iter())
        .map(|(n, id)| (n, Change::Removed(id.as_str().to_owned())))
        .chain(
            changed
                .into_iter()
                .map(|(n, m)| (n, Change::Stored(Box::new(m)))),
        )
        .collect();
    all.sort_by_key(|(n, c)| (*n, matches!(c, Change::Stored(_))));
    all
}

/// Applies one change; says whether it stored and whether it removed a machine. A machine the
/// view already holds exactly as stored is left alone (its evaluation would be the same).
fn apply_one(
    view: &mut FleetView,
    cat: &Catalog,
    change: Change,
    now: chrono::DateTime<chrono::Utc>,
) -> (bool, bool) {
    match change {
        Change::Removed(id) => {
            let had = view.machines.contains_key(&id);
            view.remove(&id);
            (false, had)
        }
        Change::Stored(m) => {
            if view.machines.get(m.id.as_str()).map(|v| &**v) == Some(&*m) {
                return (false, false);
            }
            view.insert(cat, Arc::new(*m), now);
            (true, false)
        }
    }
}

/// Removes every machine of the view that a full read does not hold; gives back how many.
fn drop_absent(view: &mut FleetView, changes: &[(i64, Change)]) -> usize {
    let keep: std::collections::HashSet<&str> = (changes.iter())
        .filter_map(|(_, c)| match c {
            Change::Stored(m) => Some(m.id.as_str()),
            Change::Removed(_) => None,
        })
        .collect();
    let gone: Vec<String> = (view.machines.keys())
        .filter(|id| !keep.contains(id))
        .map(str::to_owned)
        .collect();
    for id in &gone {
        view.remove(id);
    }
    gone.len()
}

/// Follows the store for one server: machine changes and catalog changes made elsewhere,
/// announced by the database where it can (PostgreSQL), polled everywhere.
pub struct Follower {
    fleet: Arc<FleetService>,
    reloader: Reloader,
}

impl Follower {
    /// A follower for `fleet`, reloading the catalog with `reloader`.
    pub fn new(fleet: Arc<FleetService>, reloader: Reloader) -> Self {
        Self { fleet, reloader }
    }

    /// Runs forever (spawn it): catches up at once (changes made while the server loaded),
    /// then on every notice, and every `poll` in any case.
    pub async fn run(self, poll: Duration) {
        let (tx, mut notices) = mpsc::channel(256);
        tokio::spawn(forward_notices(Arc::clone(self.fleet.store()), tx));
        let mut ticks = tokio::time::interval(poll);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut warned = Warned::default();
        loop {
            tokio::select! {
                _ = ticks.tick() => {
                    self.machines(&mut warned).await;
                    self.catalog(&mut warned).await;
                }
                Some(first) = notices.recv() => {
                    let mut due = Due::default();
                    due.add(first);
                    while let Ok(more) = notices.try_recv() {
                        due.add(more);
                    }
                    if due.machines_after(self.fleet.as_ref()) {
                        self.machines(&mut warned).await;
                    }
                    if due.catalog_other_than(self.fleet.generation()) {
                        self.catalog(&mut warned).await;
                    }
                }
            }
        }
    }

    async fn machines(&self, warned: &mut Warned) {
        match self.fleet.catch_up().await {
            Ok(Some(c)) => {
                warned.machines = None;
                if c.full {
                    tracing::info!(
                        "machines reloaded from the store: {} stored, {} removed (change {})",
                        c.stored,
                        c.removed,
                        c.seq
                    );
                } else {
                    tracing::debug!(
                        stored = c.stored,
                        removed = c.removed,
                        seq = c.seq,
                        "machine changes applied"
                    );
                }
            }
            Ok(None) => warned.machines = None,
            Err(e) => warned.once(true, &e.to_string()),
        }
    }

    async fn catalog(&self, warned: &mut Warned) {
        match self.reloader.check().await {
            Ok(Some(r)) => {
                log_reloaded(&r);
                warned.catalog = None;
            }
            Ok(None) => {}
            Err(e) => warned.once(false, &e.to_string()),
        }
    }
}

/// Failures logged as warnings once each, then at debug level while they repeat.
#[derive(Default)]
struct Warned {
    machines: Option<String>,
    catalog: Option<String>,
}

impl Warned {
    fn once(&mut self, machines: bool, msg: &str) {
        let (slot, what) = if machines {
            (
                &mut self.machines,
                "following machine changes failed, retrying",
            )
        } else {
            (
                &mut self.catalog,
                "catalog reload failed, keeping the current catalog",
            )
        };
        if slot.as_deref() == Some(msg) {
            tracing::debug!("{what}: {msg}");
        } else {
            tracing::warn!("{what}: {msg}");
            *slot = Some(msg.to_owned());
        }
    }
}

/// What a burst of notices asks for.
#[derive(Default)]
struct Due {
    machines: Option<i64>,
    catalog: Option<i64>,
    resumed: bool,
}

impl Due {
    fn add(&mut self, notice: Notice) {
        match notice {
            Notice::Machines(n) => self.machines = self.machines.max(Some(n)),
            Notice::Catalog(g) => self.catalog = Some(g),
            Notice::Resumed => self.resumed = true,
        }
    }

    /// Whether machines changed beyond what the view holds or this server's committer is
    /// about to apply (it reads whatever came before its own commit).
    fn machines_after(&self, fleet: &FleetService) -> bool {
        let applied = fleet.applied.load(Ordering::Acquire);
        let covered = applied.max(fleet.committed.load(Ordering::Acquire));
        self.resumed || self.machines.is_some_and(|n| n > covered)
    }

    fn catalog_other_than(&self, served: i64) -> bool {
        self.resumed || self.catalog.is_some_and(|g| g != served)
    }
}

/// Opens the store's change feed (retrying while it cannot) and forwards its notices; ends
/// when the store has none (SQLite: polling alone) or the follower is gone.
async fn forward_notices(store: Arc<dyn Store>, tx: mpsc::Sender<Notice>) {
    let mut feed = loop {
        match store.change_feed().await {
            Ok(Some(feed)) => break feed,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("listening for changes failed ({e}); polling meanwhile");
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
    };
    tracing::info!("following changes by notification ({})", store.describe());
    // Anything committed before LISTEN took effect is read by this first catch-up.
    if tx.send(Notice::Resumed).await.is_err() {
        return;
    }
    loop {
        let notice = feed.next().await;
        if tx.send(notice).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kbgap_core::{Device, OsVersion};

    fn device(name: &str, build: u32) -> Device {
        Device {
            computer_dns_name: name.into(),
            os_version: Some(OsVersion {
                major: 10,
                minor: 0,
                build,
            }),
            ..Device::default()
        }
    }

    async fn fleet_on_sqlite() -> (tempfile::TempDir, Arc<FleetService>) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            kbgap_store_sqlite::SqliteStore::open(&dir.path().join("kbgap.db"))
                .await
                .unwrap(),
        );
        let catalog = Arc::new(Catalog::compile(&[]));
        (
            dir,
            Arc::new(FleetService::load(store, catalog).await.unwrap()),
        )
    }

    async fn commit(fleet: &FleetService, name: &str, build: u32) -> MachineCommit {
        (fleet
            .store()
            .upsert_machines_tracked(vec![device(name, build)], chrono::Utc::now()))
        .await
        .unwrap()
    }

    fn build_of(fleet: &FleetService, name: &str) -> Option<u32> {
        let view = fleet.read();
        Some(view.find(name)?.device.os_version?.build)
    }

    /// Commits that follow each other are applied as they came back: nothing is read, so a
    /// write the store took behind them (not a commit of theirs) is not in the view yet.
    #[tokio::test]
    async fn a_run_of_own_commits_is_applied_at_once() {
        let (_dir, fleet) = fleet_on_sqlite().await;
        let one = commit(&fleet, "one", 19045).await;
        let two = commit(&fleet, "two", 19045).await;
        commit(&fleet, "other", 19045).await;
        fleet.apply_commits(&[one, two.clone()]).await.unwrap();
        assert_eq!(fleet.read().machine_seq(), two.seq);
        assert_eq!(build_of(&fleet, "one"), Some(19045));
        assert_eq!(build_of(&fleet, "two"), Some(19045));
        assert_eq!(
            build_of(&fleet, "other"),
            None,
            "not read: nothing asked for it"
        );
    }

    /// Another writer's commit between two of this server's: it is read, and every change is
    /// applied in the store's order (the other writer's report of `one` comes after ours).
    #[tokio::test]
    async fn a_run_with_others_commits_between_reads_them_in_order() {
        let (_dir, fleet) = fleet_on_sqlite().await;
        let one = commit(&fleet, "one", 19045).await;
        commit(&fleet, "one", 22631).await; // another writer's, in between
        let two = commit(&fleet, "two", 19045).await;
        fleet.apply_commits(&[one, two.clone()]).await.unwrap();
        assert_eq!(fleet.read().machine_seq(), two.seq);
        assert_eq!(
            build_of(&fleet, "one"),
            Some(22631),
            "the later report wins"
        );
        assert_eq!(build_of(&fleet, "two"), Some(19045));
        // Commits the view holds already change nothing.
        let before = fleet.read();
        fleet.apply_commits(&[two]).await.unwrap();
        assert!(Arc::ptr_eq(&before, &fleet.read()), "nothing was published");
    }
}
