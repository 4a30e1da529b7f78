//! A compiled catalog as bytes, so a process can load it in milliseconds instead of merging every
//! stored document again. The bytes are a cache: a snapshot from another format version is
//! refused and the caller compiles afresh.
//!
//! Layout: the magic line, the catalog without its fix rows (postcard), then the fix table as
//! fixed-width rows ([`super::fixtable`]), which stay encoded until a product is first used.

use std::sync::Arc;

use super::Catalog;
use super::fixtable::{FixTable, FixTableError};

/// Changes whenever the layout of [`Catalog`] or the compile rules change.
const MAGIC: &[u8] = b"kbgap-catalog-v10\n";

/// Why a snapshot could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Written by another version of kbgap.
    #[error("catalog snapshot is from another kbgap version")]
    Version,
    /// Damaged bytes.
    #[error("catalog snapshot is damaged: {0}")]
    Corrupt(#[from] postcard::Error),
    /// Damaged fix rows.
    #[error("catalog snapshot is damaged: {0}")]
    Rows(#[from] FixTableError),
}

impl Catalog {
    /// The catalog as snapshot bytes.
    pub fn to_snapshot(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        // Serializing plain data into a Vec cannot fail.
        out.extend(postcard::to_allocvec(self).unwrap_or_default());
        self.fixes.encode(&mut out);
        out
    }

    /// A catalog from snapshot bytes, which it keeps: fix rows are decoded from them on demand.
    pub fn from_snapshot(bytes: Vec<u8>) -> Result<Catalog, SnapshotError> {
        let body = bytes.strip_prefix(MAGIC).ok_or(SnapshotError::Version)?;
        let (mut cat, rest): (Catalog, _) = postcard::take_from_bytes(body)?;
        let at = bytes.len() - rest.len();
        let (products, vulns, kbs) = (cat.products.len(), cat.vulns.len(), cat.kbs.len());
        cat.fixes = FixTable::decode_section(Arc::new(bytes), at, products, vulns, kbs)?;
        cat.cumulative_by_product = super::compile::by_product(&cat.cumulative);
        cat.hotpatch_by_product = super::compile::by_product(&cat.hotpatches);
        cat.closures = super::compile::lazy(kbs);
        Ok(cat)
    }
}
