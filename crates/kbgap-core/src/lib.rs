//! kbgap's domain model and engine.
//!
//! Everything here is pure: no files, no network, no database, no async. The catalog crate turns
//! MSRC CVRF documents into [`Document`]s, the inventory crate turns machine reports into
//! [`MachineFacts`], and this crate compiles documents into a [`Catalog`] and decides which KBs a
//! machine misses. Keeping it pure is what lets the engine answer in microseconds and be tested
//! with plain values.
#![warn(missing_docs)]

pub mod build;
pub mod catalog;
pub mod document;
pub mod engine;
pub mod ids;
pub mod kinds;
pub mod machine;
pub mod product;
pub mod report;
pub mod risk;

pub use build::Build;
pub use document::{Document, DocumentInfo, Revision, VendorFix, Vulnerability};
pub use ids::{KbId, MachineId, ProductId, SoftwareId, VulnId};
pub use kinds::{Architecture, InstallationType, ServicingKind, Severity};
pub use machine::{Device, InputFormat, InstalledSoftware, OsVersion};
pub use risk::{DefenderSeverity, ExploitStatus, Impact, Kev, KevEntry};
