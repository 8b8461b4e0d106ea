//! Reading the set of refs, and what that set means.
//!
//! Listing is two steps (list the refs directory, then read each ref), so a
//! ref deleted in between is listed but cannot be read. Lance's own
//! `list_branches` fails on that with `Not found`; here a vanished ref makes
//! the enumeration start over, a bounded number of times.

use std::collections::{BTreeMap, BTreeSet};

use crate::defects::{planted, Defect};
use crate::error::{Error, Result};
use crate::names::{is_internal, is_legacy_run, MAIN};
use crate::store::{RefRecord, RefStore, StoreError};

/// How many times an enumeration starts over when refs vanish under it.
pub const ENUMERATION_ATTEMPTS: usize = 8;

/// Every ref, sorted by name.
///
/// When refs keep vanishing past the bound, the last snapshot is returned
/// without them: a ref file disappears only when a delete of it completed,
/// so that snapshot is the state after those deletes.
pub async fn enumerate<S: RefStore>(store: &S) -> Result<Refs> {
    enumerate_refs(store, Corrupt::Refuse)
        .await
        .map(|(refs, _)| refs)
}

/// As [`enumerate`], for an inspection (`check`): a ref file that does not
/// read as a ref is set aside with what is wrong with it instead of failing
/// the whole enumeration, so everything else can still be reported.
pub async fn enumerate_for_inspection<S: RefStore>(
    store: &S,
) -> Result<(Refs, Vec<(String, String)>)> {
    enumerate_refs(store, Corrupt::SetAside).await
}

/// What an enumeration does with a ref it cannot read as a ref.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Corrupt {
    /// Fail with `CorruptRef` naming it: an operation must not act on a
    /// graph it cannot see whole.
    Refuse,
    SetAside,
}

async fn enumerate_refs<S: RefStore>(
    store: &S,
    corrupt: Corrupt,
) -> Result<(Refs, Vec<(String, String)>)> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let names = store
            .list_ref_names()
            .await
            .map_err(|e| Error::storage("listing refs", e))?;
        let mut refs = Vec::with_capacity(names.len());
        let mut set_aside = Vec::new();
        let mut vanished = false;
        for (name, read) in names.iter().zip(store.read_refs(&names).await) {
            match read {
                Ok(record) => refs.push(record),
                Err(StoreError::CorruptRef { name, detail }) if corrupt == Corrupt::SetAside => {
                    set_aside.push((name, detail))
                }
                Err(e @ StoreError::NotFound(_)) if planted(Defect::NoEnumerationRetry) => {
                    return Err(Error::storage(&format!("reading ref {name:?}"), e))
                }
                Err(StoreError::NotFound(_)) => vanished = true,
                Err(e) => return Err(Error::storage(&format!("reading ref {name:?}"), e)),
            }
        }
        if !vanished || attempt >= ENUMERATION_ATTEMPTS {
            return Ok((Refs::new(refs), set_aside));
        }
    }
}

/// A snapshot of the refs of `__manifest`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refs {
    by_name: BTreeMap<String, RefRecord>,
}

/// Where a ref's parent chain leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ancestry {
    /// The refs on the way, nearest first (each once).
    pub chain: Vec<String>,
    pub end: ChainEnd,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainEnd {
    /// A ref forked from main: the chain is whole.
    Main,
    /// A parent named by the last ref of the chain has no ref.
    Dangling(String),
    /// The chain comes back to this ref: the parent pointers form a cycle.
    Cycle(String),
}

/// What the v2→v3 sweep does to a snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepPlan {
    /// Legacy `__run__*` refs to delete.
    pub sweep: Vec<String>,
    /// Legacy refs a surviving non-`__run__` branch descends from.
    pub keep: Vec<String>,
}

impl Refs {
    pub fn new(records: impl IntoIterator<Item = RefRecord>) -> Self {
        Refs {
            by_name: records.into_iter().map(|r| (r.name.clone(), r)).collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&RefRecord> {
        self.by_name.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    pub fn lock_held(&self) -> bool {
        self.names().any(is_internal)
    }

    /// Branches forked directly from `name`.
    pub fn children_of(&self, name: &str) -> Vec<String> {
        self.by_name
            .values()
            .filter(|r| r.parent.as_deref() == Some(name))
            .map(|r| r.name.clone())
            .collect()
    }

    /// The refs `name` descends from, nearest first, as far as the chain
    /// leads: it ends at main, at a parent with no ref (dangling), or where
    /// it would come back to a ref already on it (a cycle, which only a
    /// damaged graph has). On-disk pointers are never trusted to end.
    pub fn ancestors(&self, name: &str) -> Ancestry {
        let mut seen = BTreeSet::from([name]);
        let mut chain = Vec::new();
        let mut parent = self.get(name).and_then(|r| r.parent.as_deref());
        while let Some(next) = parent {
            let Some(record) = self.by_name.get(next) else {
                return Ancestry {
                    chain,
                    end: ChainEnd::Dangling(next.to_string()),
                };
            };
            if !seen.insert(next) {
                return Ancestry {
                    chain,
                    end: ChainEnd::Cycle(next.to_string()),
                };
            }
            chain.push(next.to_string());
            parent = record.parent.as_deref();
        }
        Ancestry {
            chain,
            end: ChainEnd::Main,
        }
    }

    /// Every legacy `__run__*` ref goes, except those a surviving
    /// non-`__run__` branch was forked from, directly or through other
    /// kept `__run__*` refs: the sweep loses no user data.
    pub fn sweep_plan(&self) -> SweepPlan {
        let mut keep = BTreeSet::new();
        for record in self.by_name.values().filter(|r| !is_legacy_run(&r.name)) {
            keep.extend(
                self.ancestors(&record.name)
                    .chain
                    .into_iter()
                    .filter(|name| is_legacy_run(name)),
            );
        }
        let sweep = self
            .names()
            .filter(|n| is_legacy_run(n) && !keep.contains(*n))
            .map(str::to_string)
            .collect();
        SweepPlan {
            sweep,
            keep: keep.into_iter().collect(),
        }
    }

    /// What `branch_list` shows: main, then every public branch sorted
    /// bytewise. `hide` removes refs a pending migration will sweep.
    pub fn public_list(&self, hide: &[String]) -> Vec<String> {
        let mut out = vec![MAIN.to_string()];
        out.extend(
            self.names()
                .filter(|n| !is_internal(n) && !hide.iter().any(|h| h == n))
                .map(str::to_string),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, parent: Option<&str>) -> RefRecord {
        RefRecord::new(name, parent, 1)
    }

    #[test]
    fn sweep_keeps_ancestors_of_user_branches_transitively() {
        let refs = Refs::new([
            r("__run__a", None),
            r("__run__b", Some("__run__a")),
            r("user", Some("__run__b")),
            r("__run__c", None),
            r("__run__d", Some("__run__c")),
            r("other", None),
        ]);
        let plan = refs.sweep_plan();
        assert_eq!(plan.keep, vec!["__run__a", "__run__b"]);
        assert_eq!(plan.sweep, vec!["__run__c", "__run__d"]);
    }

    /// Parent pointers that form a cycle (only a damaged graph has them)
    /// once made the sweep's walk loop forever: `check`, a read-only list
    /// and a read-write open of such a graph never returned.
    #[test]
    fn regression_a_parent_cycle_ends_the_walk_and_is_named() {
        let refs = Refs::new([
            r("a", Some("b")),
            r("b", Some("a")),
            r("c", Some("__run__0")),
            r("__run__0", Some("gone")),
        ]);
        assert_eq!(
            refs.ancestors("a"),
            Ancestry {
                chain: vec!["b".into()],
                end: ChainEnd::Cycle("a".into()),
            }
        );
        assert_eq!(
            refs.ancestors("c"),
            Ancestry {
                chain: vec!["__run__0".into()],
                end: ChainEnd::Dangling("gone".into()),
            }
        );
        let plan = refs.sweep_plan();
        assert_eq!(plan.keep, vec!["__run__0"]);
        assert!(plan.sweep.is_empty());
    }

    #[test]
    fn public_list_is_main_then_bytewise_without_internal_refs() {
        let refs = Refs::new([
            r("b", None),
            r("__schema_apply_lock__", None),
            r("B", None),
            r("a/b", None),
            r("__run__1", None),
        ]);
        assert_eq!(
            refs.public_list(&[]),
            vec!["main", "B", "__run__1", "a/b", "b"]
        );
        assert_eq!(
            refs.public_list(&["__run__1".into()]),
            vec!["main", "B", "a/b", "b"]
        );
        assert!(refs.lock_held());
    }
}
