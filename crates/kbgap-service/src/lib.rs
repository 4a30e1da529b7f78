//! kbgap's application layer, between the adapters (HTTP API, CLI, dashboard) and the pure
//! engine in `kbgap-core`.
//!
//! Each adapter parses its input, calls one function here, and shapes the answer for its wire;
//! none of them loads catalogs, commits reports or walks the fleet itself. So the API, the CLI
//! and the dashboard cannot disagree: they ask the same questions of the same code.
//!
//! - [`catalog`]: the compiled catalog from a store (bundled documents and KEV imported on
//!   first use, a sealed snapshot cached on disk).
//! - [`FleetService`]: every stored machine and its group's evaluation in memory, kept in step
//!   with the store by group-committed intake.
//! - [`intake`]: inventory bytes (one report, NDJSON, files with hotfix lists) to devices.
//! - [`queries`]: fleet questions answered as plain rows (deploy-first KBs, machines, KB and
//!   CVE details, posture, ingest health, software counts).
//! - [`refusals`]: the recently refused reports, for the ingest-health page.
//! - [`reload`]: a running server follows catalog changes made by other processes.
//! - [`replica`]: a running server follows machine changes made by other processes and other
//!   replicas on the same database (the store's change sequence, LISTEN/NOTIFY where it exists).
//! - [`sync`]: `catalog sync` (MSRC and KEV), once or on a schedule with backoff.
//! - [`tokens`]: token revocation followed by running servers; `kbgap token revoke`.
//! - [`freshness`]: how old the catalog and KEV are (stale past 60 days).
//! - [`clock`]: the time activity (Defender's 30 days) and the daily snapshot are decided by;
//!   tests move it.
//! - [`history`]: the fleet's daily snapshot ([`queries::counts::FleetCounts`]) and its trend.
//! - [`tags`]: how a machine's tags are matched (the CLI's `--tag`, the dashboard's filter).
//! - [`webhook`]: signed POSTs when a reload or a report brings work.
#![warn(missing_docs)]

pub mod cache;
pub mod catalog;
pub mod clock;
mod error;
mod fleet;
pub mod freshness;
pub mod history;
pub mod intake;
pub mod private;
pub mod queries;
pub mod refusals;
pub mod reload;
pub mod replica;
pub mod sync;
pub mod tags;
pub mod tokens;
mod view;
pub mod webhook;

pub use error::ServiceError;
pub use fleet::FleetService;
pub use view::{FleetView, Machines};
