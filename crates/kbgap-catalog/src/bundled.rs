//! The offline copy of MSRC's documents, compiled into the binary.
//!
//! A fresh install with no network must still answer, so the 190 documents of
//! `data/msrc-cvrf/` (every MSRC CVRF document as served on 2026-07-06, zstd-compressed, 6.4 MB)
//! are embedded by `build.rs`. They are parsed on demand, never at start-up.

use kbgap_core::Document;

use crate::error::CatalogError;

include!(concat!(env!("OUT_DIR"), "/bundled_files.rs"));

/// The bundled documents as `(file name, zstd bytes)`, sorted by file name (`2020-Mar.xml.zst`).
///
/// The file name is only a label for messages: a document's identity comes from its content.
pub fn files() -> &'static [(&'static str, &'static [u8])] {
    FILES
}

/// Parses every bundled document, in file-name order, one at a time (so that a caller can show
/// progress and stop at the first error).
pub fn read_all() -> impl Iterator<Item = Result<Document, CatalogError>> {
    FILES
        .iter()
        .map(|(name, bytes)| crate::read_bytes(bytes, name))
}
