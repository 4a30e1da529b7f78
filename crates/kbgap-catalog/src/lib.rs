//! MSRC CVRF documents: streaming reader, bundled offline copy, and sync from the MSRC API.
//!
//! Microsoft publishes one CVRF 1.1 security-update document per month (IDs such as `2020-Mar`).
//! This crate turns such documents, plain or gzip/zstd-compressed, into [`kbgap_core::Document`]s:
//! [`read_document`], [`read_bytes`] and [`read_path`] read one; [`collect_paths`] expands import
//! arguments; [`bundled`] holds the 190 documents shipped inside the binary; [`sync`] fetches newer
//! revisions from the MSRC API. It does no storage and no catalog compilation: those belong to the
//! store and core crates.
#![warn(missing_docs)]

pub mod bundled;
mod error;
pub mod kev;
mod position;
mod reader;
mod source;
pub mod sync;
pub mod text;
mod value;

pub use error::{CatalogError, Compression, Position};
pub use reader::{collect_paths, read_bytes, read_document, read_path};
pub use value::normalize_date;
