//! The one error type of every store.

/// Why a store operation failed.
///
/// Messages name what was being done and on which record, and never carry a password: backends
/// build [`StoreError::Backend`] from driver errors that do not echo the connection URL, and the
/// PostgreSQL backend scrubs its password out of any message it passes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record asked for does not exist (a machine id, for instance).
    #[error("not found: {0}")]
    NotFound(String),
    /// The write conflicts with stored data (a uniqueness violation raced by another writer).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The input cannot be stored as given (a device without a computer name, a document without
    /// an id). Nothing of the batch it came in was written.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Something stored cannot be read back: a payload that does not decompress or decode, a
    /// malformed id or timestamp. `what` names the record.
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt {
        /// The record ("catalog document 2020-Mar", "machine 2339ad…").
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Something stored was written by an older kbgap in a format this build no longer reads
    /// (a catalog document payload): importing it again replaces it.
    #[error(
        "stored {what} was written by an older kbgap (format {found}; this build reads {expected}); import it again"
    )]
    OldFormat {
        /// The record ("catalog document 2020-Mar").
        what: String,
        /// The format it was written in.
        found: i32,
        /// The format this build reads.
        expected: i32,
    },
    /// The database failed (connection, I/O, migration, a statement). The message says what was
    /// being done.
    #[error("database error: {0}")]
    Backend(String),
}

impl StoreError {
    /// A [`StoreError::Corrupt`] for `what`.
    pub fn corrupt(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}
