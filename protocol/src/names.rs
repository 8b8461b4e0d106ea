//! Branch names: Lance's rules, the reserved default branch, internal refs
//! and the legacy `__run__` prefix. Names are never trimmed or rewritten:
//! `" feature"` is invalid, not `"feature"`.

use crate::defects::{planted, Defect};
use crate::error::{Error, Result};

pub const MAIN: &str = "main";
/// The ref a schema apply holds while it runs.
pub const SCHEMA_APPLY_LOCK: &str = "__schema_apply_lock__";
/// Staging branches of the seed engine's removed Run state machine.
pub const LEGACY_RUN_PREFIX: &str = "__run__";

/// The first path segment after stripping leading `/`. Guards look here so
/// that `/__schema_apply_lock__` and `__schema_apply_lock__/x` are caught
/// before any other rule could accept or rewrite them.
fn first_segment(name: &str) -> &str {
    let stripped = name.trim_start_matches('/');
    stripped.split('/').next().unwrap_or(stripped)
}

/// Internal system refs are never listed and never accepted by public
/// branch operations.
pub fn is_internal(name: &str) -> bool {
    first_segment(name) == SCHEMA_APPLY_LOCK
}

/// Refs the v2→v3 migration sweeps.
pub fn is_legacy_run(name: &str) -> bool {
    let prefix = if planted(Defect::LooseSweepPrefix) {
        "__run"
    } else {
        LEGACY_RUN_PREFIX
    };
    name.trim_start_matches('/').starts_with(prefix)
}

/// Exactly the names Lance accepts for a new branch (Lance 14's
/// `check_valid_branch`), returning the reason a name is refused.
pub fn lance_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("a branch name cannot be empty");
    }
    if name.starts_with('/') || name.ends_with('/') {
        return Some("a branch name cannot start or end with '/'");
    }
    if name.contains("//") {
        return Some("a branch name cannot contain consecutive '/'");
    }
    if name.contains("..") || name.contains('\\') {
        return Some("a branch name cannot contain '..' or '\\'");
    }
    let bad_char = |c: char| !(c.is_alphanumeric() || c == '.' || c == '-' || c == '_');
    if name.split('/').any(|segment| segment.chars().any(bad_char)) {
        return Some("segments may hold only alphanumerics, '.', '-' and '_'");
    }
    if name.ends_with(".lock") {
        return Some("a branch name cannot end with '.lock'");
    }
    if encoded_len(name) > MAX_ENCODED_NAME {
        return Some("too long: its ref file name would exceed the filesystem's 255 bytes");
    }
    None
}

/// The ref file is `<encoded name>.json`, staged by Lance's local
/// put-if-absent as `<encoded name>.json.tmp.<32 hex digits>`, which
/// object_store's local put stages again as `…#<n>` (3 bytes allowed); a
/// file name holds 255 bytes. Syntactically valid longer names fail inside
/// Lance with "File name too long".
pub const MAX_ENCODED_NAME: usize = 255 - ".json.tmp.".len() - 32 - "#NN".len();

/// Length of a (valid) name as Lance writes it into a ref file name: `/`
/// and every byte of a non-ASCII character are percent-encoded.
pub fn encoded_len(name: &str) -> usize {
    name.bytes()
        .map(|b| if b == b'/' || !b.is_ascii() { 3 } else { 1 })
        .sum()
}

/// The name check of a public branch operation that creates, deletes or
/// merges `name`. Order: internal ref, then reserved, then Lance's rules.
pub fn check_public_branch(name: &str) -> Result<()> {
    if is_internal(name) {
        return Err(Error::InternalRef { name: name.into() });
    }
    if name == MAIN {
        return Err(Error::ReservedBranch { name: name.into() });
    }
    check_lance_rules(name)
}

/// The name a public create or delete works on, checked. With the
/// `GuardBeforeNormalization` defect planted, the seed's order: the
/// internal-ref guard sees the raw name, the rest sees it trimmed.
pub fn checked_public_name(name: &str) -> Result<std::borrow::Cow<'_, str>> {
    if !planted(Defect::GuardBeforeNormalization) {
        return check_public_branch(name).map(|()| name.into());
    }
    if is_internal(name) {
        return Err(Error::InternalRef { name: name.into() });
    }
    let trimmed = name.trim();
    if trimmed == MAIN {
        return Err(Error::ReservedBranch { name: name.into() });
    }
    check_lance_rules(trimmed).map(|()| trimmed.into())
}

/// The check for a branch that is only read or forked from: `main` is fine.
pub fn check_branch_reference(name: &str) -> Result<()> {
    if is_internal(name) {
        return Err(Error::InternalRef { name: name.into() });
    }
    if name == MAIN {
        return Ok(());
    }
    check_lance_rules(name)
}

fn check_lance_rules(name: &str) -> Result<()> {
    match lance_name_problem(name) {
        Some(reason) => Err(Error::InvalidBranchName {
            name: name.into(),
            reason: reason.into(),
        }),
        None => Ok(()),
    }
}

/// `None` for main, the name otherwise: how refs name their parent.
pub fn as_parent(name: &str) -> Option<&str> {
    (name != MAIN).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn kind(name: &str) -> Option<ErrorKind> {
        check_public_branch(name).err().map(|e| e.kind())
    }

    #[test]
    fn internal_refs_are_caught_before_any_other_rule() {
        for name in [
            "__schema_apply_lock__",
            "/__schema_apply_lock__",
            "//__schema_apply_lock__/x",
            "__schema_apply_lock__/x",
        ] {
            assert_eq!(kind(name), Some(ErrorKind::InternalRef), "{name}");
        }
        // Not the first segment, or not exactly it: ordinary names.
        assert_eq!(kind("x/__schema_apply_lock__"), None);
        assert_eq!(kind("__schema_apply_lock__x"), None);
        assert_eq!(
            kind(" __schema_apply_lock__"),
            Some(ErrorKind::InvalidBranchName)
        );
    }

    #[test]
    fn names_are_never_trimmed() {
        for name in [" feature", "feature ", "a b", "\tx", ""] {
            assert_eq!(kind(name), Some(ErrorKind::InvalidBranchName), "{name:?}");
        }
    }

    #[test]
    fn lance_rules() {
        for ok in [
            "a",
            "a/b",
            "__run__1",
            "__run__a/x",
            "Main",
            "é",
            "数据",
            "a.b-c_d",
            "a1/2",
        ] {
            assert_eq!(kind(ok), None, "{ok}");
        }
        for bad in [
            "/a", "a/", "a//b", "a..b", "a\\b", "a/.lock", "x.lock", "a:b", "a b", "ü!",
        ] {
            assert_eq!(kind(bad), Some(ErrorKind::InvalidBranchName), "{bad}");
        }
        assert_eq!(MAX_ENCODED_NAME, 210);
        assert_eq!(kind(&"x".repeat(210)), None);
        assert_eq!(kind(&"x".repeat(211)), Some(ErrorKind::InvalidBranchName));
        assert_eq!(kind(&"é".repeat(35)), None, "35 × 2 bytes × 3 = 210");
        assert_eq!(kind(&"é".repeat(36)), Some(ErrorKind::InvalidBranchName));
        assert_eq!(kind("a/".repeat(53).trim_end_matches('/')), None);
        assert_eq!(kind("main"), Some(ErrorKind::ReservedBranch));
        assert_eq!(check_branch_reference("main"), Ok(()));
    }

    #[test]
    fn legacy_run_prefix_is_exact() {
        assert!(is_legacy_run("__run__"));
        assert!(is_legacy_run("__run__x/y"));
        assert!(!is_legacy_run("__RUN__x"));
        assert!(!is_legacy_run("__run_x"));
        assert!(!is_legacy_run("run__x"));
        assert!(!is_legacy_run("x/__run__"));
    }
}
