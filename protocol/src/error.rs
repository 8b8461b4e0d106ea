//! One error type for every operation. Its [`ErrorKind`] is the shared
//! vocabulary of engine, model and harness; messages are for people and
//! always name the input they are about.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    AlreadyInitialized,
    NotInitialized,
    ReadOnly,
    InvalidBranchName,
    ReservedBranch,
    InternalRef,
    BranchExists,
    BranchNotFound,
    DependentBranches,
    SameBranch,
    SchemaApplyInProgress,
    BlockingBranches,
    CorruptStamp,
    UpgradeRequired,
    CorruptManifest,
    InvalidSchema,
    UnsupportedSchemaChange,
    TypeNotFound,
    InvalidRow,
    Conflict,
    Storage,
}

impl ErrorKind {
    /// The stable snake_case name printed by the CLI as `error[<name>]`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::AlreadyInitialized => "already_initialized",
            ErrorKind::NotInitialized => "not_initialized",
            ErrorKind::ReadOnly => "read_only",
            ErrorKind::InvalidBranchName => "invalid_branch_name",
            ErrorKind::ReservedBranch => "reserved_branch",
            ErrorKind::InternalRef => "internal_ref",
            ErrorKind::BranchExists => "branch_exists",
            ErrorKind::BranchNotFound => "branch_not_found",
            ErrorKind::DependentBranches => "dependent_branches",
            ErrorKind::SameBranch => "same_branch",
            ErrorKind::SchemaApplyInProgress => "schema_apply_in_progress",
            ErrorKind::BlockingBranches => "blocking_branches",
            ErrorKind::CorruptStamp => "corrupt_stamp",
            ErrorKind::UpgradeRequired => "upgrade_required",
            ErrorKind::CorruptManifest => "corrupt_manifest",
            ErrorKind::InvalidSchema => "invalid_schema",
            ErrorKind::UnsupportedSchemaChange => "unsupported_schema_change",
            ErrorKind::TypeNotFound => "type_not_found",
            ErrorKind::InvalidRow => "invalid_row",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Storage => "storage",
        }
    }

    /// Kinds a concurrent operation may return instead of taking effect.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::SchemaApplyInProgress | ErrorKind::BlockingBranches | ErrorKind::Conflict
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    AlreadyInitialized {
        root: String,
    },
    NotInitialized {
        root: String,
    },
    ReadOnly {
        operation: &'static str,
    },
    InvalidBranchName {
        name: String,
        reason: String,
    },
    ReservedBranch {
        name: String,
    },
    InternalRef {
        name: String,
    },
    BranchExists {
        name: String,
    },
    BranchNotFound {
        name: String,
    },
    DependentBranches {
        name: String,
        dependents: Vec<String>,
    },
    SameBranch {
        name: String,
    },
    SchemaApplyInProgress,
    BlockingBranches {
        branches: Vec<String>,
    },
    CorruptStamp {
        raw: String,
    },
    UpgradeRequired {
        found: String,
        supported: u32,
    },
    CorruptManifest {
        detail: String,
    },
    InvalidSchema {
        line: usize,
        column: usize,
        message: String,
    },
    UnsupportedSchemaChange {
        step: String,
    },
    TypeNotFound {
        name: String,
    },
    InvalidRow {
        line: usize,
        field: String,
        message: String,
    },
    Conflict {
        detail: String,
    },
    Storage {
        detail: String,
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
            Error::InvalidSchema { .. } => ErrorKind::InvalidSchema,
            Error::UnsupportedSchemaChange { .. } => ErrorKind::UnsupportedSchemaChange,
            Error::TypeNotFound { .. } => ErrorKind::TypeNotFound,
            Error::InvalidRow { .. } => ErrorKind::InvalidRow,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Storage { .. } => ErrorKind::Storage,
        }
    }

    /// A store failure the protocol had no expectation for.
    pub fn storage(context: &str, error: impl fmt::Display) -> Self {
        Error::Storage {
            detail: format!("{context}: {error}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AlreadyInitialized { root } => {
                write!(f, "graph at {root:?} is already initialized (it has a __manifest)")
            }
            Error::NotInitialized { root } => {
                write!(f, "no graph at {root:?}: __manifest does not exist (run `stampede init`)")
            }
            Error::ReadOnly { operation } => {
                write!(f, "{operation} needs a read-write handle; this one was opened read-only")
            }
            Error::InvalidBranchName { name, reason } => {
                write!(f, "invalid branch name {name:?}: {reason}")
            }
            Error::ReservedBranch { name } => {
                write!(f, "branch name {name:?} is reserved for the default branch")
            }
            Error::InternalRef { name } => {
                write!(f, "{name:?} names an internal system ref and cannot be used as a branch")
            }
            Error::BranchExists { name } => write!(f, "branch {name:?} already exists"),
            Error::BranchNotFound { name } => write!(f, "branch {name:?} does not exist"),
            Error::DependentBranches { name, dependents } => write!(
                f,
                "branch {name:?} cannot be deleted: branches {dependents:?} were forked from it"
            ),
            Error::SameBranch { name } => {
                write!(f, "source and target are the same branch {name:?}")
            }
            Error::SchemaApplyInProgress => write!(
                f,
                "a schema apply holds the __schema_apply_lock__ ref; retry, or run `stampede unlock` if it crashed"
            ),
            Error::BlockingBranches { branches } => write!(
                f,
                "schema apply needs main to be the only branch; delete or merge {branches:?} first"
            ),
            Error::CorruptStamp { raw } => write!(
                f,
                "internal schema stamp {raw:?} on main is not a canonical version number; refusing to read or migrate"
            ),
            Error::UpgradeRequired { found, supported } => write!(
                f,
                "graph has internal schema version {found}, this engine supports up to {supported}: upgrade Stampede"
            ),
            Error::CorruptManifest { detail } => write!(f, "corrupt __manifest: {detail}"),
            Error::InvalidSchema {
                line,
                column,
                message,
            } => write!(f, "schema error at line {line}, column {column}: {message}"),
            Error::UnsupportedSchemaChange { step } => {
                write!(f, "unsupported schema change: {step}")
            }
            Error::TypeNotFound { name } => write!(f, "type {name:?} is not in the schema"),
            Error::InvalidRow {
                line,
                field,
                message,
            } => write!(f, "row {line}: field {field:?}: {message}"),
            Error::Conflict { detail } => {
                write!(f, "concurrent change conflicted; retry: {detail}")
            }
            Error::Storage { detail } => write!(f, "storage error: {detail}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
