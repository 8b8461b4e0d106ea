//! Branch-name rules, as the contract states them.

use crate::vocabulary::ErrorKind;

pub const MAIN: &str = "main";
pub const LOCK: &str = "__schema_apply_lock__";
pub const RUN_PREFIX: &str = "__run__";
/// A ref file name holds 255 bytes, less Lance's and object_store's staging
/// suffixes (`.json.tmp.<32 hex>#NN`).
pub const MAX_ENCODED: usize = 210;

fn first_segment(name: &str) -> &str {
    name.trim_start_matches('/').split('/').next().unwrap_or("")
}

pub fn is_internal(name: &str) -> bool {
    first_segment(name) == LOCK
}

pub fn is_legacy_run(name: &str) -> bool {
    name.trim_start_matches('/').starts_with(RUN_PREFIX)
}

fn is_lance_valid(name: &str) -> bool {
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    let encoded: usize = name
        .bytes()
        .map(|b| if b == b'/' || !b.is_ascii() { 3 } else { 1 })
        .sum();
    !name.contains("..")
        && !name.ends_with(".lock")
        && name.split('/').all(segment_ok)
        && encoded <= MAX_ENCODED
}

/// A name a public operation creates or deletes.
pub fn check_public(name: &str) -> Result<(), ErrorKind> {
    if is_internal(name) {
        Err(ErrorKind::InternalRef)
    } else if name == MAIN {
        Err(ErrorKind::ReservedBranch)
    } else if !is_lance_valid(name) {
        Err(ErrorKind::InvalidBranchName)
    } else {
        Ok(())
    }
}

/// A name a public operation only reads or forks from: `main` is fine.
pub fn check_reference(name: &str) -> Result<(), ErrorKind> {
    if name == MAIN {
        Ok(())
    } else {
        check_public(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules() {
        assert_eq!(
            check_public("/__schema_apply_lock__"),
            Err(ErrorKind::InternalRef)
        );
        assert_eq!(
            check_public("__schema_apply_lock__/x"),
            Err(ErrorKind::InternalRef)
        );
        assert_eq!(
            check_public(" __schema_apply_lock__"),
            Err(ErrorKind::InvalidBranchName)
        );
        assert_eq!(check_public("main"), Err(ErrorKind::ReservedBranch));
        assert_eq!(check_reference("main"), Ok(()));
        for bad in [
            "", " a", "a ", "/a", "a/", "a//b", "..", "a.lock", "a:b", "a\\b",
        ] {
            assert_eq!(
                check_public(bad),
                Err(ErrorKind::InvalidBranchName),
                "{bad:?}"
            );
        }
        for good in ["a", "a/b", "Main", "__RUN__x", "é/数", "__run__"] {
            assert_eq!(check_public(good), Ok(()), "{good:?}");
        }
        assert_eq!(check_public(&"x".repeat(210)), Ok(()));
        assert_eq!(
            check_public(&"x".repeat(211)),
            Err(ErrorKind::InvalidBranchName)
        );
    }
}
