//! The [`Store`] trait.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use kbgap_core::{Device, Document, DocumentInfo, Kev, MachineId};

use crate::changes::{ChangeFeed, MachineChanges, MachineCommit, Skip};
use crate::kev::KevOutcome;
use crate::tokens::{IssuedToken, Revocations, RevokeOutcome};
use crate::{FleetSnapshot, ImportOutcome, StoreError, StoredMachine};

/// Where kbgap keeps the catalog and the machines. One implementation per backend
/// (`kbgap-store-sqlite`, `kbgap-store-postgres`), each with its own migrations.
///
/// The trait is object safe so the server can hold an `Arc<dyn Store>` chosen at start from the
/// URL's scheme. Every method that writes does so in one transaction that is committed before it
/// returns: a failed call leaves nothing of its batch visible, and a successful one is durable.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend_name(&self) -> &'static str;

    /// Where the data lives, safe to log: `sqlite:/var/lib/kbgap/kbgap.db`,
    /// `postgres://kbgap:****@127.0.0.1:5432/kbgap`.
    fn describe(&self) -> String;

    /// A trivial query: whether the database answers.
    async fn health(&self) -> Result<(), StoreError>;

    // ----- catalog -----

    /// The identity of every stored document, ordered by id. Cheap: no payload is read.
    async fn catalog_infos(&self) -> Result<Vec<DocumentInfo>, StoreError>;

    /// Every stored document, decoded, ordered by id. This is what a process loads at start
    /// instead of re-parsing XML.
    async fn catalog_documents(&self) -> Result<Vec<Document>, StoreError>;

    /// Imports documents in one transaction, in the order given, and says what happened to each
    /// (see [`ImportOutcome`] and [`crate::import::decide`]). Two revisions of one document in the
    /// same batch are handled as if imported one after the other.
    async fn import_documents(&self, docs: Vec<Document>)
    -> Result<Vec<ImportOutcome>, StoreError>;

    /// A counter bumped by every import that changed something, so a server knows when to
    /// reload its compiled catalog.
    async fn catalog_generation(&self) -> Result<i64, StoreError>;

    /// CISA's KEV catalog as stored, when one was stored.
    async fn kev(&self) -> Result<Option<Kev>, StoreError>;

    /// Stores a KEV catalog unless the stored copy is the same or newer
    /// ([`crate::kev::decide`]); a replacement bumps the catalog generation.
    async fn put_kev(&self, kev: &Kev) -> Result<KevOutcome, StoreError>;

    // ----- machines -----

    /// Stores machine reports in one transaction, committed before returning, and gives back
    /// each stored machine in the order of `devices`. Identity rules are those of
    /// [`crate::machines::plan_upsert`]: a known machine is updated (`last_seen` moves to `now`,
    /// `first_seen` stays), never duplicated.
    async fn upsert_machines(
        &self,
        devices: Vec<Device>,
        now: DateTime<Utc>,
    ) -> Result<Vec<StoredMachine>, StoreError>;

    /// One machine, by its 40-hex id (any case) or by its computer name (case-insensitive).
    async fn machine(&self, id_or_name: &str) -> Result<Option<StoredMachine>, StoreError>;

    /// Every machine, ordered by id.
    async fn machines(&self) -> Result<Vec<StoredMachine>, StoreError> {
        let mut all = Vec::new();
        self.each_machine(&mut |m| all.push(m)).await?;
        Ok(all)
    }

    /// Every machine, ordered by id, handed to `each` as it is read. A caller that keeps the
    /// machines in a form of its own (the fleet view) then never holds the rows, the decoded
    /// machines and its own form of a whole fleet at once: at a million machines that is the
    /// difference between a server's resident size and twice it.
    async fn each_machine(
        &self,
        each: &mut (dyn FnMut(StoredMachine) + Send),
    ) -> Result<(), StoreError>;

    /// How many machines are stored.
    async fn machine_count(&self) -> Result<u64, StoreError>;

    /// Deletes one machine; [`StoreError::NotFound`] when there is none with this id.
    async fn delete_machine(&self, id: &MachineId) -> Result<(), StoreError>;

    /// Deletes these machines in one transaction and says how many were deleted (an id given
    /// twice counts once). All or nothing: when any id names no machine, nothing is deleted and
    /// the error is [`StoreError::NotFound`] naming every missing id, so a typo in a list never
    /// leaves half a fleet retired. An empty list deletes nothing and succeeds.
    async fn delete_machines(&self, ids: &[MachineId]) -> Result<usize, StoreError>;

    /// Deletes, in one transaction, every machine last seen strictly before `not_seen_since`,
    /// and gives back their ids, ordered. With [`crate::lifecycle::inactive_before`] as the
    /// cut-off it deletes exactly the machines [`crate::lifecycle::activity`] calls inactive.
    /// It also prunes the tombstones of deletions older than
    /// [`crate::changes::TOMBSTONE_RETENTION`].
    async fn purge_machines(
        &self,
        not_seen_since: DateTime<Utc>,
    ) -> Result<Vec<MachineId>, StoreError>;

    /// Stores one report: [`Store::upsert_machines`] with a batch of one.
    async fn upsert_machine(
        &self,
        device: Device,
        now: DateTime<Utc>,
    ) -> Result<StoredMachine, StoreError> {
        self.upsert_machines(vec![device], now)
            .await?
            .pop()
            .ok_or_else(|| StoreError::Backend("upsert of one machine returned nothing".into()))
    }

    // ----- fleet history -----

    /// Stores one UTC day's fleet counts, for the posture trend. Idempotent per day: the day's
    /// row is replaced, unless the stored one was recorded later (of several servers on one
    /// database, the latest recording wins, whatever order the writes arrive in). Says
    /// whether `snapshot` was stored.
    async fn put_fleet_snapshot(&self, snapshot: &FleetSnapshot) -> Result<bool, StoreError>;

    /// The stored snapshots of the days from `from` to `to`, both included, oldest first.
    /// Days nothing was recorded on are absent.
    async fn fleet_snapshots(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<FleetSnapshot>, StoreError>;

    // ----- following other servers' writes (`changes.rs`) -----

    /// [`Store::upsert_machines`], also saying where the commit falls in the machine change
    /// sequence, so a server applies its own writes without reading them back.
    async fn upsert_machines_tracked(
        &self,
        devices: Vec<Device>,
        now: DateTime<Utc>,
    ) -> Result<MachineCommit, StoreError>;

    /// The machine change counter: bumped by every committed write to machines (see
    /// [`crate::changes`]). One cheap read, for polling.
    async fn machine_seq(&self) -> Result<i64, StoreError>;

    /// What changed in the machines after change number `since`, read in one snapshot, leaving
    /// out the numbers in `skip` (a commit the caller made and holds). See [`MachineChanges`].
    async fn machine_changes(
        &self,
        since: i64,
        skip: Option<Skip>,
    ) -> Result<MachineChanges, StoreError>;

    /// Notifications of machine and catalog changes, where the database pushes them
    /// (PostgreSQL); `None` where changes are only seen by polling (SQLite).
    async fn change_feed(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        Ok(None)
    }

    /// Stores `offer` (a PKCS#8 PEM key) as the token signing key every server on this store
    /// shares, unless one is stored already, and gives back the stored one: of several servers
    /// starting at once, the first writer wins and all use its key.
    async fn shared_signing_key(&self, offer: &str) -> Result<String, StoreError>;

    // ----- catalog sync -----

    /// Takes the catalog sync lock when no other process holds it (`None` when one does), so
    /// that of several servers on one database only one runs a scheduled sync at a time. The
    /// lock lasts as long as the returned guard.
    async fn try_sync_lock(&self) -> Result<Option<crate::SyncLock>, StoreError>;

    // ----- issued tokens and revocation (`tokens.rs`) -----

    /// Records a token kbgap just signed. Its `jti` must be new ([`StoreError::Conflict`]).
    async fn record_token(&self, token: &IssuedToken) -> Result<(), StoreError>;

    /// Every recorded token, oldest first (then by `jti`).
    async fn issued_tokens(&self) -> Result<Vec<IssuedToken>, StoreError>;

    /// Revokes the recorded token `jti` at `now` (bumping the revocation generation);
    /// [`StoreError::NotFound`] when no token with this `jti` was recorded.
    async fn revoke_token(
        &self,
        jti: &str,
        now: DateTime<Utc>,
    ) -> Result<RevokeOutcome, StoreError>;

    /// Refuses from now on every token issued strictly before `cutoff` (a later cut-off
    /// replaces an earlier one, never the reverse), marks the recorded ones revoked at `now`, and
    /// says how many recorded tokens that newly revoked.
    async fn revoke_issued_before(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// The revocation generation: one cheap read, polled by every server.
    async fn revocation_generation(&self) -> Result<i64, StoreError>;

    /// What is revoked, with the generation it was read at; revoked tokens past their `exp`
    /// at `now` are left out.
    async fn revocations(&self, now: DateTime<Utc>) -> Result<Revocations, StoreError>;
}
