//! One error type for every operation. Its [`ErrorKind`] is the vocabulary
//! engine, model and harness share (`stampede-vocabulary`); messages are
//! for people and always name the input they are about.

pub use stampede_vocabulary::ErrorKind;

use crate::cause::Cause;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("graph at {root:?} is already initialized (it has a __manifest)")]
    AlreadyInitialized { root: String },
    #[error("no graph at {root:?}: __manifest does not exist (run `stampede init`)")]
    NotInitialized { root: String },
    #[error("invalid root {root:?}: {why}")]
    InvalidRoot { root: String, why: String },
    #[error("storage option {option}: {why}")]
    InvalidStorageOption { option: String, why: String },
    #[error("{operation} needs a read-write handle; this one was opened read-only")]
    ReadOnly { operation: &'static str },
    #[error("invalid branch name {name:?}: {reason}")]
    InvalidBranchName { name: String, reason: String },
    #[error("branch name {name:?} is reserved for the default branch")]
    ReservedBranch { name: String },
    #[error("{name:?} names an internal system ref and cannot be used as a branch")]
    InternalRef { name: String },
    #[error("branch {name:?} already exists")]
    BranchExists { name: String },
    #[error("branch {name:?} does not exist")]
    BranchNotFound { name: String },
    #[error("branch {name:?} cannot be deleted: branches {dependents:?} were forked from it")]
    DependentBranches {
        name: String,
        dependents: Vec<String>,
    },
    #[error("source and target are the same branch {name:?}")]
    SameBranch { name: String },
    #[error(
        "a schema apply holds the __schema_apply_lock__ ref; retry, or run `stampede unlock` if it crashed"
    )]
    SchemaApplyInProgress,
    #[error("schema apply needs main to be the only branch; delete or merge {branches:?} first")]
    BlockingBranches { branches: Vec<String> },
    #[error(
        "internal schema stamp {raw:?} on main is not a canonical version number; refusing to read or migrate"
    )]
    CorruptStamp { raw: String },
    #[error(
        "graph has internal schema version {found}, this engine supports up to {supported}: upgrade Stampede"
    )]
    UpgradeRequired { found: String, supported: u32 },
    #[error("corrupt __manifest: {detail}")]
    CorruptManifest { detail: String },
    #[error("corrupt ref {name:?}: {detail}")]
    CorruptRef { name: String, detail: String },
    #[error("missing data: {object}: {detail}")]
    MissingData { object: String, detail: String },
    #[error("corrupt data: {object}: {detail}")]
    CorruptData { object: String, detail: String },
    #[error("schema error at line {line}, column {column}: {message}")]
    InvalidSchema {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("unsupported schema change: {step}")]
    UnsupportedSchemaChange { step: String },
    #[error("type {name:?} is not in the schema")]
    TypeNotFound { name: String },
    #[error("row {line}: field {field:?}: {message}")]
    InvalidRow {
        line: usize,
        field: String,
        message: String,
    },
    #[error("concurrent change conflicted; retry: {detail}")]
    Conflict { detail: String },
    /// A failure the engine could not classify: what it was doing, and the
    /// underlying store error (Lance's or object_store's) as `source()`.
    #[error("storage error: {context}: {source}")]
    Storage {
        context: String,
        #[source]
        source: Cause,
    },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::AlreadyInitialized { .. } => ErrorKind::AlreadyInitialized,
            Error::NotInitialized { .. } => ErrorKind::NotInitialized,
            Error::ReadOnly { .. } => ErrorKind::ReadOnly,
            Error::InvalidBranchName { .. } => ErrorKind::InvalidBranchName,
            Error::ReservedBranch { .. } => ErrorKind::ReservedBranch,
            Error::InternalRef { .. } => ErrorKind::InternalRef,
            Error::BranchExists { .. } => ErrorKind::BranchExists,
            Error::BranchNotFound { .. } => ErrorKind::BranchNotFound,
            Error::DependentBranches { .. } => ErrorKind::DependentBranches,
            Error::SameBranch { .. } => ErrorKind::SameBranch,
            Error::SchemaApplyInProgress => ErrorKind::SchemaApplyInProgress,
            Error::BlockingBranches { .. } => ErrorKind::BlockingBranches,
            Error::CorruptStamp { .. } => ErrorKind::CorruptStamp,
            Error::UpgradeRequired { .. } => ErrorKind::UpgradeRequired,
            Error::CorruptManifest { .. } => ErrorKind::CorruptManifest,
            Error::CorruptRef { .. } => ErrorKind::CorruptRef,
            Error::MissingData { .. } => ErrorKind::MissingData,
            Error::CorruptData { .. } => ErrorKind::CorruptData,
            Error::InvalidSchema { .. } => ErrorKind::InvalidSchema,
            Error::UnsupportedSchemaChange { .. } => ErrorKind::UnsupportedSchemaChange,
            Error::TypeNotFound { .. } => ErrorKind::TypeNotFound,
            Error::InvalidRow { .. } => ErrorKind::InvalidRow,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Storage { .. } => ErrorKind::Storage,
            Error::InvalidRoot { .. } => ErrorKind::InvalidRoot,
            Error::InvalidStorageOption { .. } => ErrorKind::InvalidStorageOption,
        }
    }

    /// A store failure the protocol had no expectation for, keeping the
    /// failure itself as the source. Damage the store recognised (a ref
    /// that does not parse) is named instead, whatever step met it, and a
    /// step refused under a lapsed claim is a retryable conflict.
    pub fn storage(context: &str, error: impl std::error::Error + Send + Sync + 'static) -> Self {
        let any: &dyn std::any::Any = &error;
        match any.downcast_ref() {
            Some(crate::store::StoreError::CorruptRef { name, detail }) => {
                return Error::CorruptRef {
                    name: name.clone(),
                    detail: detail.clone(),
                }
            }
            Some(crate::store::StoreError::Damaged(detail)) => {
                return Error::CorruptData {
                    object: context.to_string(),
                    detail: detail.clone(),
                }
            }
            // The holder of a claim stopped before changing anything: a
            // retry takes the claim afresh.
            Some(crate::store::StoreError::ClaimLost(detail)) => {
                return Error::Conflict {
                    detail: format!("{context} stopped: its claim lapsed ({detail})"),
                }
            }
            Some(crate::store::StoreError::Refused { option, detail }) => {
                return Error::InvalidStorageOption {
                    option: option.clone(),
                    why: format!("the store refused it while {context}: {detail}"),
                }
            }
            _ => {}
        }
        Error::Storage {
            context: context.to_string(),
            source: Cause::new(error),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn a_storage_error_keeps_the_store_failure_as_its_source() {
        let error = Error::storage(
            "reading main's head",
            StoreError::Other(Cause::message("disk on fire")),
        );
        assert_eq!(error.kind(), ErrorKind::Storage);
        let source = std::error::Error::source(&error).expect("a source");
        assert_eq!(source.to_string(), "disk on fire");
        assert_eq!(
            error.to_string(),
            "storage error: reading main's head: disk on fire"
        );
    }
}
