//! The vocabulary engine, model and harness share: the kind of every
//! expected failure, named once. The engine's errors carry one, the
//! model's outcomes are one, and the harness compares them without any
//! translation. Which kinds are retryable is part of the contract
//! (DESIGN.md, "Concurrency outcomes"), so it is stated here too.

use std::fmt;

/// What went wrong, without the message: the unit of every comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum ErrorKind {
    AlreadyInitialized,
    NotInitialized,
    /// A root that names no place a graph can live (an unsupported scheme,
    /// an `s3://` root without a bucket).
    InvalidRoot,
    /// A storage option that is unknown, malformed, or missing where the
    /// others require it (an endpoint without a region or keys).
    InvalidStorageOption,
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
    /// A ref file that does not read as a ref (garbage, truncated) or whose
    /// parent pointers dangle or form a cycle: names the ref.
    CorruptRef,
    /// A file a manifest or a pinned table version needs is missing or
    /// unreadable: names the object.
    MissingData,
    /// A file of the graph that is there but cannot be what its writer
    /// wrote (garbled, truncated): names what was being read.
    CorruptData,
    InvalidSchema,
    UnsupportedSchemaChange,
    TypeNotFound,
    InvalidRow,
    Conflict,
    Storage,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 26] = [
        ErrorKind::AlreadyInitialized,
        ErrorKind::NotInitialized,
        ErrorKind::InvalidRoot,
        ErrorKind::InvalidStorageOption,
        ErrorKind::ReadOnly,
        ErrorKind::InvalidBranchName,
        ErrorKind::ReservedBranch,
        ErrorKind::InternalRef,
        ErrorKind::BranchExists,
        ErrorKind::BranchNotFound,
        ErrorKind::DependentBranches,
        ErrorKind::SameBranch,
        ErrorKind::SchemaApplyInProgress,
        ErrorKind::BlockingBranches,
        ErrorKind::CorruptStamp,
        ErrorKind::UpgradeRequired,
        ErrorKind::CorruptManifest,
        ErrorKind::CorruptRef,
        ErrorKind::MissingData,
        ErrorKind::CorruptData,
        ErrorKind::InvalidSchema,
        ErrorKind::UnsupportedSchemaChange,
        ErrorKind::TypeNotFound,
        ErrorKind::InvalidRow,
        ErrorKind::Conflict,
        ErrorKind::Storage,
    ];

    /// The stable snake_case name the CLI prints as `error[<name>]` (and
    /// the serde form, when that feature is on).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::AlreadyInitialized => "already_initialized",
            ErrorKind::NotInitialized => "not_initialized",
            ErrorKind::InvalidRoot => "invalid_root",
            ErrorKind::InvalidStorageOption => "invalid_storage_option",
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
            ErrorKind::CorruptRef => "corrupt_ref",
            ErrorKind::MissingData => "missing_data",
            ErrorKind::CorruptData => "corrupt_data",
            ErrorKind::InvalidSchema => "invalid_schema",
            ErrorKind::UnsupportedSchemaChange => "unsupported_schema_change",
            ErrorKind::TypeNotFound => "type_not_found",
            ErrorKind::InvalidRow => "invalid_row",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Storage => "storage",
        }
    }

    pub fn from_name(name: &str) -> Option<ErrorKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Kinds a concurrent operation may answer instead of taking effect,
    /// having had no effect, when it overlapped a conflicting operation.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::SchemaApplyInProgress | ErrorKind::BlockingBranches | ErrorKind::Conflict
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A budget (cases, rounds, a bound) from the environment variable `name`
/// (`STAMPEDE_ROUNDS`, `LOOM_MAX_PREEMPTIONS`, ...), or `default` when it is
/// unset or not a number: the one reader every test suite uses, so
/// `make verify` raises every budget the same way.
pub fn env_budget(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::ErrorKind;

    #[test]
    fn every_kind_has_one_distinct_name_that_reads_back() {
        let mut names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_name(kind.name()), Some(kind));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }

    #[test]
    fn only_the_contracts_three_kinds_are_retryable() {
        let retryable: Vec<ErrorKind> = ErrorKind::ALL
            .into_iter()
            .filter(|k| k.is_retryable())
            .collect();
        assert_eq!(
            retryable,
            [
                ErrorKind::SchemaApplyInProgress,
                ErrorKind::BlockingBranches,
                ErrorKind::Conflict
            ]
        );
    }
}
