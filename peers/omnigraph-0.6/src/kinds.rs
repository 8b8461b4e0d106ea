//! The engine's errors in the model's kinds.
//!
//! omnigraph-engine 0.6.2 types its errors coarsely: `Manifest` errors
//! carry a kind of four (bad request, not found, conflict, internal) and a
//! message; `Lance`, `DataFusion` and `Io` carry a raw storage error's
//! text. Where its kind is one of the model's, it is used as it is. A bad
//! request is told apart by its message, against the fixed phrases below,
//! each quoted from the engine's source; any other is `storage`, which is
//! also what a raw storage error is: the judge then reports it against the
//! kind the contract names. Nothing here looks at the graph to decide.

use omnigraph::error::{ManifestErrorKind, OmniError};
use stampede_model::{ErrorKind, Op};

/// A bad request's phrase and the kind it names, checked in order.
const BAD_REQUESTS: [(&str, ErrorKind); 11] = [
    ("upgrade omnigraph", ErrorKind::UpgradeRequired),
    ("does not allow internal system ref", ErrorKind::InternalRef),
    ("cannot create branch 'main'", ErrorKind::ReservedBranch),
    ("cannot delete branch 'main'", ErrorKind::ReservedBranch),
    ("branch name cannot be empty", ErrorKind::InvalidBranchName),
    ("already exists", ErrorKind::BranchExists),
    ("unknown node type", ErrorKind::TypeNotFound),
    ("unknown edge type", ErrorKind::TypeNotFound),
    // An edge row whose endpoint is no node: "src 'a' not found in Person".
    ("src '", ErrorKind::InvalidRow),
    ("dst '", ErrorKind::InvalidRow),
    ("not found", ErrorKind::BranchNotFound),
];

/// Conflicts the model names apart from a plain write conflict.
const CONFLICTS: [(&str, ErrorKind); 4] = [
    (
        "schema apply is already in progress",
        ErrorKind::SchemaApplyInProgress,
    ),
    // A branch op while the lock is held: "branch_create_from is
    // unavailable while schema apply is in progress".
    (
        "while schema apply is in progress",
        ErrorKind::SchemaApplyInProgress,
    ),
    (
        "requires a graph with only main",
        ErrorKind::BlockingBranches,
    ),
    // A delete of a branch something depends on: "cannot delete branch
    // 'a' because descendant branch 'a/b' still depends on it", and the
    // like for its other dependents (omnigraph says conflict; no racer
    // can make it go away).
    ("still depends on it", ErrorKind::DependentBranches),
];

/// The model's kind for `error`, answered to `op`. The engine's own words
/// go to stderr, for whoever reads a violation's replay.
pub fn kind(op: &Op, error: &OmniError) -> ErrorKind {
    let kind = classify(op, error);
    eprintln!("omnigraph-peer: {} answered {kind}: {error}", op.name());
    kind
}

fn classify(op: &Op, error: &OmniError) -> ErrorKind {
    let phrase = |table: &[(&str, ErrorKind)], message: &str| {
        table
            .iter()
            .find(|(phrase, _)| message.contains(phrase))
            .map(|(_, kind)| *kind)
    };
    match error {
        OmniError::AlreadyInitialized { .. } => ErrorKind::AlreadyInitialized,
        // The schema compiler: a schema it cannot read, or rows it cannot.
        OmniError::Compiler(_) => match op {
            Op::Load { .. } => ErrorKind::InvalidRow,
            _ => ErrorKind::InvalidSchema,
        },
        OmniError::Manifest(m) => match m.kind {
            ManifestErrorKind::NotFound => match op {
                Op::Open(_) => ErrorKind::NotInitialized,
                _ => ErrorKind::BranchNotFound,
            },
            ManifestErrorKind::Conflict => {
                phrase(&CONFLICTS, &m.message).unwrap_or(ErrorKind::Conflict)
            }
            ManifestErrorKind::BadRequest => match op {
                Op::ApplySchema(_) if m.message.contains("unsupported") => {
                    ErrorKind::UnsupportedSchemaChange
                }
                _ => phrase(&BAD_REQUESTS, &m.message).unwrap_or(ErrorKind::Storage),
            },
            ManifestErrorKind::Internal => ErrorKind::Storage,
        },
        OmniError::MergeConflicts(_) => ErrorKind::Conflict,
        // A graph that is not there reads as Lance's "not found" at open.
        OmniError::Lance(message) if matches!(op, Op::Open(_)) && message.contains("not found") => {
            ErrorKind::NotInitialized
        }
        OmniError::Io(e)
            if matches!(op, Op::Open(_)) && e.kind() == std::io::ErrorKind::NotFound =>
        {
            ErrorKind::NotInitialized
        }
        OmniError::Lance(_)
        | OmniError::DataFusion(_)
        | OmniError::Io(_)
        | OmniError::Policy(_) => ErrorKind::Storage,
    }
}
