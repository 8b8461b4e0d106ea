//! The engine's error type is the protocol crate's: one type, one `kind()`,
//! shared with every campaign. This module adds how Lance and object-store
//! failures are classified on the way in.

pub use stampede_protocol::error::{Error, ErrorKind, Result};
use stampede_protocol::{Cause, StoreError};

/// Classify a Lance failure of one storage step. Unclassified errors stay
/// `Other` and surface as `Storage`.
pub(crate) fn classify_lance(error: lance::Error) -> StoreError {
    use lance::Error as L;
    // A commit Lance could not verify (its write may have landed: on S3 a
    // conditional put answered 5xx is retried into a 412) is neither a
    // conflict, which promises no effect, nor a missing file, whatever its
    // source says: it stays `Storage`, judged invisible XOR applied.
    if error.is_commit_status_unknown() {
        return StoreError::Other(Cause::new(error));
    }
    let message = error.to_string();
    if is_damage(&error, &message) {
        return StoreError::Damaged(message);
    }
    if let Some(refused) = refused_credentials(&message) {
        return refused;
    }
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
        L::IO { .. } if missing(&message) == Some(Missing::InStore) => {
            StoreError::NotFound(message)
        }
        other => StoreError::Other(Cause::new(other)),
    }
}

pub(crate) fn classify_object_store(error: object_store::Error) -> StoreError {
    let message = error.to_string();
    if let Some(refused) = refused_credentials(&message) {
        return refused;
    }
    if is_wrong_kind(&message) {
        return StoreError::Damaged(message);
    }
    match error {
        object_store::Error::NotFound { .. } => StoreError::NotFound(message),
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            StoreError::AlreadyExists(message)
        }
        _ if missing(&message) == Some(Missing::InStore) => StoreError::NotFound(message),
        other => StoreError::Other(Cause::new(other)),
    }
}

/// Whether Lance met a file that is there but is not what any writer
/// wrote: one its reader refused as corrupt (a caught panic included, see
/// `dataset::guarded`), a protobuf that does not decode (garbled bytes), or
/// a read past the end the file itself records (truncated). Each is a
/// property of the bytes on disk, so retrying cannot help; a transient
/// failure (an I/O error, a refused request) says none of these.
fn is_damage(error: &lance::Error, message: &str) -> bool {
    matches!(error, lance::Error::CorruptFile { .. })
        || message.contains("failed to decode Protobuf message")
        || (message.contains("Invalid range") && message.contains("for object of size"))
        // A file shorter than the footer its reader expects (truncated).
        || message.contains("does not have sufficient data")
        || is_wrong_kind(message)
}

/// Whether a local store met the wrong kind of file system object: a file
/// where the path needs a directory (`ENOTDIR`), or a directory where a
/// file belongs (Lance keeps only "Not found: PATH" of object_store's own
/// words; the path then names a directory). No writer of a graph puts
/// either there: damage, never a race.
fn is_wrong_kind(message: &str) -> bool {
    if message.contains("Not a directory (os error 20)")
        || message.contains("Is a directory (os error 21)")
    {
        return true;
    }
    message
        .split("Not found: ")
        .skip(1)
        .filter_map(|rest| rest.split([',', ' ']).next())
        .any(|path| path.starts_with('/') && std::path::Path::new(path).is_dir())
}

/// Whether a local store's `NotFound` was a directory where a file was
/// expected (object_store's local reader says so only in its source):
/// damage, not a file that is gone.
pub(crate) fn is_a_directory(error: &object_store::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.to_string() == "is directory" {
            return true;
        }
        source = cause.source();
    }
    false
}

/// An S3 store that refuses the settings, naming the one that is wrong:
/// by the S3 error code it answered with (Lance and object_store keep only
/// the message), or an endpoint where nothing answers at all (after
/// object_store's own retries).
fn refused_credentials(message: &str) -> Option<StoreError> {
    let option = if message.contains("<Code>SignatureDoesNotMatch</Code>") {
        "aws_secret_access_key"
    } else if message.contains("<Code>InvalidAccessKeyId</Code>") {
        "aws_access_key_id"
    } else if message.contains("S3 error")
        && message.contains("error sending request")
        && message.contains(" retries")
    {
        // Only after object_store's own retries: a single failed send is
        // also what a pooled connection of a dropped runtime answers.
        "aws_endpoint"
    } else {
        return None;
    };
    Some(StoreError::Refused {
        option: option.into(),
        detail: message.into(),
    })
}

/// How an error's message says its object is not there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Missing {
    /// The store's own words, which Lance wraps into IO errors with only
    /// the message left: a file that vanished under a reader.
    InStore,
    /// Lance's "Not found" (capitalised), which it also says of a data
    /// file a pinned table version needs: missing data when reading a
    /// pinned version, otherwise a storage failure (it says nothing of
    /// why the file is gone).
    InLance,
}

fn missing(message: &str) -> Option<Missing> {
    if message.contains("No such file or directory") || message.contains("not found") {
        Some(Missing::InStore)
    } else if message.contains("Not found") {
        Some(Missing::InLance)
    } else {
        None
    }
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

/// A failed read of a table version a manifest pins: a missing file is
/// `missing_data`, a garbled or truncated one `corrupt_data`, each named by
/// the object; anything else is `Storage`.
pub(crate) fn read_failed(object: &str, error: lance::Error) -> Error {
    let gone = matches!(&error, lance::Error::IO { .. } if missing(&error.to_string()).is_some());
    match classify_lance(error) {
        StoreError::NotFound(detail) => Error::MissingData {
            object: object.to_string(),
            detail,
        },
        StoreError::Other(cause) if gone => Error::MissingData {
            object: object.to_string(),
            detail: cause.to_string(),
        },
        StoreError::Damaged(detail) => Error::CorruptData {
            object: object.to_string(),
            detail,
        },
        other => Error::storage(&format!("reading {object}"), other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Its source says "not found" (the read-back failed), and a conflict
    /// would promise no effect: neither is what an unverified commit is.
    #[test]
    fn a_commit_of_unknown_status_is_storage_never_conflict_or_not_found() {
        let unknown = || {
            lance::Error::commit_status_unknown_source(3, "manifest not found on read-back".into())
        };
        assert!(matches!(classify_lance(unknown()), StoreError::Other(_)));
        assert_eq!(
            write_failed("committing", unknown()).kind(),
            ErrorKind::Storage
        );
        // The control: a plain conflict is retryable.
        let conflict = lance::Error::retryable_commit_conflict_source(3, "lost the race".into());
        assert_eq!(
            write_failed("committing", conflict).kind(),
            ErrorKind::Conflict
        );
    }
}
