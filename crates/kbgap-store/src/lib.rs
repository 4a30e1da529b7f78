//! The storage interface: catalog documents and machines, behind one trait with one
//! implementation per backend.
//!
//! This crate holds what every backend shares — the [`Store`] trait, [`StoreError`], the stored
//! shapes ([`StoredMachine`], [`ImportOutcome`]), the URL that chooses a backend ([`StoreUrl`]),
//! the document payload codec and the *pure* decisions that give both backends the same
//! semantics (which document revision wins, which stored machine a report updates, when a
//! machine is inactive). It depends on
//! no database driver: `kbgap-store-sqlite` and `kbgap-store-postgres` depend on it, never the
//! reverse, so the binary picks a backend by URL scheme and holds an `Arc<dyn Store>`.
//!
//! With the `testing` feature, [`testing::store_story`] runs one contract test against any
//! backend, and [`testing::synth`] makes realistic synthetic documents and devices for benches.
#![warn(missing_docs)]

pub mod changes;
pub mod codec;
mod error;
pub mod history;
pub mod import;
pub mod kev;
pub mod lifecycle;
pub mod machines;
mod model;
mod store;
mod sync_lock;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tokens;
mod url;

pub use error::StoreError;
pub use model::{ExposureCounts, FleetSnapshot, ImportOutcome, StoredMachine};
pub use store::Store;
pub use sync_lock::SyncLock;
pub use url::{DEFAULT_SQLITE_FILE, StoreUrl, redact_url};
