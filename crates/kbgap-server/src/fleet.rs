//! The server's view of the fleet: every stored machine and its group's evaluation in memory.
//!
//! Evaluating a machine is far costlier than answering from a cached evaluation, and machines
//! share states, so the server keeps [`Fleet`] (machines grouped by state, each state evaluated
//! once) next to the stored machines themselves. The store stays the source of truth: a report
//! is committed there before the in-memory view changes and before the client is answered, and
//! the view is rebuilt from the store at every start.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::Utc;
use kbgap_core::Device;
use kbgap_core::catalog::Catalog;
use kbgap_core::engine::fleet::Fleet;
use kbgap_store::{Store, StoreError, StoredMachine};
use tokio::sync::Mutex;

use crate::error::ApiError;

/// Machines and their evaluations, kept in step with the store.
pub struct FleetService {
    store: Arc<dyn Store>,
    catalog: Arc<Catalog>,
    inner: RwLock<FleetView>,
    /// Serializes ingests so that the store's order and the view's order of two reports of one
    /// machine agree (the lock is held across the store write, which a `RwLock` guard cannot be).
    ingest: Mutex<()>,
}

/// The in-memory view: the fleet, the stored machines by id, and computer names to ids.
#[derive(Default)]
pub struct FleetView {
    /// Machines grouped by state, with per-KB counts.
    pub fleet: Fleet,
    /// Stored machines by lowercase 40-hex id, ordered (so listings page deterministically).
    pub machines: BTreeMap<String, StoredMachine>,
    /// Lowercase computer name → id, for `GET /api/machines/{name}`.
    names: HashMap<String, String>,
}

impl FleetView {
    /// A machine by id (any case) or computer name (case-insensitive).
    pub fn find(&self, id_or_name: &str) -> Option<&StoredMachine> {
        let key = id_or_name.trim().to_ascii_lowercase();
        self.machines
            .get(&key)
            .or_else(|| self.names.get(&key).and_then(|id| self.machines.get(id)))
    }

    fn insert(&mut self, catalog: &Catalog, machine: StoredMachine) {
        let id = machine.id.as_str().to_ascii_lowercase();
        let state = catalog.machine_state(&machine.device).state;
        self.fleet.upsert(catalog, &id, state);
        if let Some(old) = self.machines.get(&id) {
            self.names
                .remove(&old.device.computer_dns_name.to_ascii_lowercase());
        }
        self.names.insert(
            machine.device.computer_dns_name.to_ascii_lowercase(),
            id.clone(),
        );
        self.machines.insert(id, machine);
    }
}

impl fmt::Debug for FleetService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetService")
            .field("store", &self.store.describe())
            .finish_non_exhaustive()
    }
}

impl FleetService {
    /// Loads every stored machine and evaluates each distinct state once.
    pub async fn load(store: Arc<dyn Store>, catalog: Arc<Catalog>) -> Result<Self, StoreError> {
        let machines = store.machines().await?;
        let mut view = FleetView::default();
        for m in machines {
            view.insert(&catalog, m);
        }
        Ok(Self {
            store,
            catalog,
            inner: RwLock::new(view),
            ingest: Mutex::new(()),
        })
    }

    /// The compiled catalog the evaluations were made with.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
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

    /// Writes the view (software projections are cached in the fleet, so they need this).
    pub fn write(&self) -> RwLockWriteGuard<'_, FleetView> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores reports (committed before returning) and then updates the view; gives back the
    /// stored machines in the order of `devices`.
    pub async fn ingest(&self, devices: Vec<Device>) -> Result<Vec<StoredMachine>, ApiError> {
        let _gate = self.ingest.lock().await;
        let stored = self
            .store
            .upsert_machines(devices, Utc::now())
            .await
            .map_err(store_error)?;
        let mut view = self.write();
        for m in &stored {
            view.insert(&self.catalog, m.clone());
        }
        Ok(stored)
    }
}

/// A store failure as an answer: invalid reports are the client's fault, the rest is ours.
pub fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Invalid(msg) => ApiError::invalid_input(msg),
        other => ApiError::internal(other),
    }
}
