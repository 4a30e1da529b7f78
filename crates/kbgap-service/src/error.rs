//! The one error type of the application layer.

use kbgap_store::StoreError;

/// Why a service call failed. Adapters map it to their own answers: the API to a 400 or a 500,
/// the CLI to a message and exit code 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The input cannot be used as given (a report the store refuses, an NDJSON body without a
    /// report): the caller's fault. The message names what is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// A background task of the service failed.
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    /// Invalid reports are the caller's fault; every other store failure is the service's.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(msg) => Self::Invalid(msg),
            other => Self::Store(other),
        }
    }
}
