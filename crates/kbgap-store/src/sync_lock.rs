//! The catalog sync lock: with several servers on one database, one syncs at a time.

/// Held while this process syncs the catalog; dropping it releases the lock. What it holds is
/// the backend's business (PostgreSQL: the session owning an advisory lock; SQLite: nothing,
/// its one writer needs no lock).
pub struct SyncLock {
    _held: Box<dyn Send>,
}

impl SyncLock {
    /// A lock kept for as long as `held` lives.
    pub fn new(held: impl Send + 'static) -> Self {
        Self {
            _held: Box::new(held),
        }
    }
}

impl std::fmt::Debug for SyncLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncLock")
    }
}
