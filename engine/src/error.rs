//! The engine's error type is the protocol crate's: one type, one `kind()`,
//! shared with every campaign. This module adds how Lance and object-store
//! failures are classified on the way in.

pub use stampede_protocol::error::{Error, ErrorKind, Result};
use stampede_protocol::{Cause, StoreError};

/// Classify a Lance failure of one storage step. Unclassified errors stay
/// `Other` and surface as `Storage`.
pub(crate) fn classify_lance(error: lance::Error) -> StoreError {
    use lance::Error as L;
    let message = error.to_string();
    match error {
        L::NotFound { .. }
        | L::DatasetNotFound { .. }
        | L::RefNotFound { .. }
        | L::VersionNotFound { .. } => StoreError::NotFound(message),
        L::DatasetAlreadyExists { .. } => StoreError::AlreadyExists(message),
        L::CommitConflict { .. }
        | L::IncompatibleTransaction { .. }
        | L::RetryableCommitConflict { .. }
        | L::TooMuchWriteContention { .. } => StoreError::Conflict(message),
        L::IO { .. } if is_not_found_message(&message) => StoreError::NotFound(message),
        other => StoreError::Other(Cause::new(other)),
    }
}

pub(crate) fn classify_object_store(error: object_store::Error) -> StoreError {
    let message = error.to_string();
    match error {
        object_store::Error::NotFound { .. } => StoreError::NotFound(message),
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            StoreError::AlreadyExists(message)
        }
        _ if is_not_found_message(&message) => StoreError::NotFound(message),
        other => StoreError::Other(Cause::new(other)),
    }
}

/// Lance wraps some object-store NotFounds into IO errors with only a
/// message left; a file that vanished under a reader reads like this.
fn is_not_found_message(message: &str) -> bool {
    message.contains("No such file or directory") || message.contains("not found")
}

/// A failed table or manifest write: a lost commit race is the retryable
/// `Conflict` (the operation had no effect), anything else `Storage`.
pub(crate) fn write_failed(context: &str, error: lance::Error) -> Error {
    match classify_lance(error) {
        StoreError::Conflict(detail) => Error::Conflict {
            detail: format!("{context}: {detail}"),
        },
        other => Error::storage(context, other),
    }
}

/// A failed read of a table version a manifest pins: a missing or garbled
/// file is damage, named by the object (`missing_data`); anything else is
/// `Storage`.
pub(crate) fn read_failed(object: &str, error: lance::Error) -> Error {
    // Lance reports a data file that is gone as an IO error whose message
    // says "Not found" (capitalised, unlike the object store's own).
    let garbled = matches!(error, lance::Error::CorruptFile { .. })
        || matches!(&error, lance::Error::IO { .. } if error.to_string().contains("Not found"));
    match classify_lance(error) {
        StoreError::NotFound(detail) => Error::MissingData {
            object: object.to_string(),
            detail,
        },
        StoreError::Other(cause) if garbled => Error::MissingData {
            object: object.to_string(),
            detail: cause.to_string(),
        },
        other => Error::storage(&format!("reading {object}"), other),
    }
}
