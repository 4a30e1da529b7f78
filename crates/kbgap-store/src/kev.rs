//! How a stored KEV catalog is kept: which copy wins, and its stored bytes.
//!
//! Both backends keep one KEV catalog (the newest by `dateReleased`) as the JSON of
//! [`kbgap_core::Kev`]: self-describing, so no payload format to migrate, and small (about
//! 200 KB for 1,400 entries).

use kbgap_core::Kev;

use crate::StoreError;

/// What storing a KEV catalog did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KevOutcome {
    /// It is now the stored copy.
    Stored,
    /// The stored copy is this same release.
    Unchanged,
    /// The stored copy is newer and was kept.
    Older {
        /// The stored copy's `catalogVersion`.
        stored_version: String,
        /// The stored copy's `dateReleased`.
        stored_released: String,
    },
}

/// The identity of the stored copy: (`catalogVersion`, `dateReleased`).
pub type StoredKev = (String, String);

/// Whether `offered` replaces the stored copy: only a later `dateReleased` does (CISA releases
/// the catalog several times a week; the version is a date too, but the timestamp orders releases
/// of one day).
pub fn decide(stored: Option<&StoredKev>, offered: &Kev) -> KevOutcome {
    match stored {
        None => KevOutcome::Stored,
        Some((_, released)) if offered.date_released > *released => KevOutcome::Stored,
        Some((version, released))
            if offered.date_released == *released && offered.catalog_version == *version =>
        {
            KevOutcome::Unchanged
        }
        Some((version, released)) => KevOutcome::Older {
            stored_version: version.clone(),
            stored_released: released.clone(),
        },
    }
}

/// The stored form.
pub fn encode(kev: &Kev) -> Result<String, StoreError> {
    serde_json::to_string(kev).map_err(|e| StoreError::Invalid(format!("KEV catalog: {e}")))
}

/// Reads the stored form back.
pub fn decode(body: &str) -> Result<Kev, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::corrupt("KEV catalog", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kev(version: &str, released: &str) -> Kev {
        Kev {
            catalog_version: version.into(),
            date_released: released.into(),
            entries: vec![],
        }
    }

    #[test]
    fn only_a_later_release_replaces() {
        let stored = ("2025.08.25".to_owned(), "2025-08-25T17:04:19".to_owned());
        assert_eq!(
            decide(None, &kev("1", "2020-01-01T00:00:00")),
            KevOutcome::Stored
        );
        assert_eq!(
            decide(Some(&stored), &kev("2025.08.26", "2025-08-26T10:00:00")),
            KevOutcome::Stored
        );
        assert_eq!(
            decide(Some(&stored), &kev("2025.08.25", "2025-08-25T17:04:19")),
            KevOutcome::Unchanged
        );
        assert!(matches!(
            decide(Some(&stored), &kev("2025.08.01", "2025-08-01T00:00:00")),
            KevOutcome::Older { .. }
        ));
    }
}
