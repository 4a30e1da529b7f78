//! A compiled catalog as bytes, so a process can load it in milliseconds instead of merging every
//! stored document again. The bytes are a cache: a snapshot from another format version is
//! refused and the caller compiles afresh.

use super::Catalog;

/// Changes whenever the layout of [`Catalog`] or the compile rules change.
const MAGIC: &[u8] = b"kbgap-catalog-v5\n";

/// Why a snapshot could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Written by another version of kbgap.
    #[error("catalog snapshot is from another kbgap version")]
    Version,
    /// Damaged bytes.
    #[error("catalog snapshot is damaged: {0}")]
    Corrupt(#[from] postcard::Error),
}

impl Catalog {
    /// The catalog as snapshot bytes.
    pub fn to_snapshot(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        // Serializing plain data into a Vec cannot fail.
        out.extend(postcard::to_allocvec(self).unwrap_or_default());
        out
    }

    /// A catalog from snapshot bytes.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Catalog, SnapshotError> {
        let body = bytes.strip_prefix(MAGIC).ok_or(SnapshotError::Version)?;
        let mut cat: Catalog = postcard::from_bytes(body)?;
        cat.applicable_by_product = super::compile::applicable(&cat.fixes_by_product);
        cat.rows_by_kb = super::compile::lazy_indexes(cat.applicable_by_product.len());
        cat.cumulative_by_product = super::compile::by_product(&cat.cumulative);
        Ok(cat)
    }
}
