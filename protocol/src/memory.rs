//! An in-memory [`RefStore`] with Lance's step boundaries: every method is
//! one atomic step (one lock of the state), so a protocol that calls list,
//! then read, then delete can be interleaved with other actors between any
//! two of them, exactly as on Lance. Under the `loom` feature the state sits
//! behind loom's mutex and `loom::model` explores those interleavings.

use std::collections::BTreeMap;

use crate::store::{MainHead, PkState, RefRecord, RefStore, StoreError, StoreResult, TreeState};
use crate::sync::Mutex;

/// A branch's tree: what it was forked from, and main's schema epoch then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    pub parent: Option<String>,
    pub parent_version: u64,
    pub forked_at_epoch: u64,
    pub version: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryState {
    pub refs: BTreeMap<String, RefRecord>,
    pub trees: BTreeMap<String, Tree>,
    pub main: MainHead,
    /// The main versions that published a schema change: a fork of main at
    /// version v carries the epoch of v, not of main's head.
    pub schema_published_at: Vec<u64>,
    /// Every step taken, in order, with the (loom) thread that took it: the
    /// interleaving a failing model prints.
    pub trace: Vec<String>,
}

impl MemoryState {
    /// The schema epoch a fork of `branch` (`None`: main) at `version`
    /// carries; `None` when the branch has no tree.
    fn epoch_at(&self, branch: Option<&str>, version: u64) -> Option<u64> {
        match branch {
            None => Some(
                self.schema_published_at
                    .iter()
                    .filter(|&&v| v <= version)
                    .count() as u64,
            ),
            Some(b) => self.trees.get(b).map(|t| t.forked_at_epoch),
        }
    }

    fn step(&mut self, what: std::fmt::Arguments<'_>) {
        let who = crate::sync::thread::current().id();
        self.trace.push(format!("{who:?}: {what}"));
    }
}

impl Default for MainHead {
    fn default() -> Self {
        MainHead {
            version: 1,
            stamp: None,
            pk: PkState::Absent,
            schema_epoch: 0,
        }
    }
}

#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<MemoryState>,
}

impl MemoryStore {
    pub fn new(state: MemoryState) -> Self {
        MemoryStore {
            state: Mutex::new(state),
        }
    }

    /// A graph at `stamp` with refs (name, parent) forked from main, each
    /// with its tree.
    pub fn graph(stamp: Option<&str>, pk: bool, refs: &[(&str, Option<&str>)]) -> Self {
        let mut state = MemoryState::default();
        state.main.stamp = stamp.map(str::to_string);
        state.main.pk = if pk {
            PkState::OnObjectId
        } else {
            PkState::Absent
        };
        for (name, parent) in refs {
            let record = RefRecord {
                name: name.to_string(),
                parent: parent.map(str::to_string),
                parent_version: 1,
            };
            state.trees.insert(
                name.to_string(),
                Tree {
                    parent: record.parent.clone(),
                    parent_version: 1,
                    forked_at_epoch: 0,
                    version: 2,
                },
            );
            state.refs.insert(name.to_string(), record);
        }
        MemoryStore::new(state)
    }

    pub fn snapshot(&self) -> MemoryState {
        self.state.lock().unwrap().clone()
    }

    /// One step that commits on main (a schema publish): compare-and-swap
    /// on main's version, bumping the schema epoch.
    pub fn publish_schema(&self, expected_version: u64) -> StoreResult<()> {
        let mut state = self.state.lock().unwrap();
        if state.main.version != expected_version {
            state.step(format_args!(
                "publish schema on v{expected_version} -> conflict"
            ));
            return Err(StoreError::Conflict(format!(
                "main is at {}, not {expected_version}",
                state.main.version
            )));
        }
        state.step(format_args!("publish schema on v{expected_version} -> ok"));
        state.main.version += 1;
        state.main.schema_epoch += 1;
        let published = state.main.version;
        state.schema_published_at.push(published);
        Ok(())
    }
}

/// How often a waiter polls before it gives up (see `RefStore::backoff`).
pub const WAIT_ATTEMPTS: usize = 64;

fn not_found(what: &str, name: &str) -> StoreError {
    StoreError::NotFound(format!("{what} {name:?}"))
}

impl RefStore for MemoryStore {
    async fn list_ref_names(&self) -> StoreResult<Vec<String>> {
        let mut state = self.state.lock().unwrap();
        let names: Vec<String> = state.refs.keys().cloned().collect();
        state.step(format_args!("list refs -> {names:?}"));
        Ok(names)
    }

    async fn read_ref(&self, name: &str) -> StoreResult<RefRecord> {
        let mut state = self.state.lock().unwrap();
        let read = state.refs.get(name).cloned();
        state.step(format_args!(
            "read ref {name} -> {}",
            if read.is_some() { "ok" } else { "not found" }
        ));
        read.ok_or_else(|| not_found("ref", name))
    }

    async fn delete_ref(&self, name: &str) -> StoreResult<()> {
        let mut state = self.state.lock().unwrap();
        let removed = state.refs.remove(name).is_some();
        state.step(format_args!(
            "delete ref {name} -> {}",
            if removed { "ok" } else { "not found" }
        ));
        removed.then_some(()).ok_or_else(|| not_found("ref", name))
    }

    async fn remove_tree(&self, name: &str) -> StoreResult<()> {
        let mut state = self.state.lock().unwrap();
        let removed = state.trees.remove(name).is_some();
        state.step(format_args!(
            "remove tree {name} -> {}",
            if removed { "ok" } else { "not found" }
        ));
        removed.then_some(()).ok_or_else(|| not_found("tree", name))
    }

    async fn tree_exists(&self, name: &str) -> StoreResult<bool> {
        let mut state = self.state.lock().unwrap();
        let exists = state.trees.contains_key(name);
        state.step(format_args!("tree {name} exists -> {exists}"));
        Ok(exists)
    }

    async fn head_version(&self, branch: Option<&str>) -> StoreResult<u64> {
        let state = self.state.lock().unwrap();
        match branch {
            None => Ok(state.main.version),
            Some(b) => state
                .trees
                .get(b)
                .map(|t| t.version)
                .ok_or_else(|| not_found("tree", b)),
        }
    }

    async fn write_tree(
        &self,
        name: &str,
        parent: Option<&str>,
        version: u64,
    ) -> StoreResult<TreeState> {
        let mut state = self.state.lock().unwrap();
        if state.trees.contains_key(name) {
            state.step(format_args!("write tree {name} -> exists"));
            return Ok(TreeState::AlreadyExists);
        }
        state.step(format_args!("write tree {name} -> created"));
        let forked_at_epoch = state.epoch_at(parent, version).unwrap_or(0);
        state.trees.insert(
            name.to_string(),
            Tree {
                parent: parent.map(str::to_string),
                parent_version: version,
                forked_at_epoch,
                version: version + 1,
            },
        );
        Ok(TreeState::Created)
    }

    async fn put_ref_if_absent(&self, record: &RefRecord) -> StoreResult<()> {
        let mut state = self.state.lock().unwrap();
        if state.refs.contains_key(&record.name) {
            state.step(format_args!("put ref {} -> exists", record.name));
            return Err(StoreError::AlreadyExists(format!("ref {:?}", record.name)));
        }
        state.step(format_args!("put ref {} -> ok", record.name));
        state.refs.insert(record.name.clone(), record.clone());
        Ok(())
    }

    async fn read_main(&self) -> StoreResult<MainHead> {
        let mut state = self.state.lock().unwrap();
        let main = state.main.clone();
        state.step(format_args!(
            "read main -> v{} stamp {:?} epoch {}",
            main.version, main.stamp, main.schema_epoch
        ));
        Ok(main)
    }

    async fn epoch_at(&self, branch: Option<&str>, version: u64) -> StoreResult<u64> {
        let mut state = self.state.lock().unwrap();
        let epoch = state.epoch_at(branch, version);
        state.step(format_args!(
            "read epoch of {branch:?} v{version} -> {epoch:?}"
        ));
        epoch.ok_or_else(|| not_found("tree", branch.unwrap_or_default()))
    }

    /// Yield to the other threads; give up after `WAIT_ATTEMPTS`. Under loom
    /// the yield is what lets a waiter's lock holder run.
    async fn backoff(&self, attempt: usize) -> bool {
        if attempt >= WAIT_ATTEMPTS {
            return false;
        }
        crate::sync::thread::yield_now();
        true
    }

    async fn write_stamp(&self, expected_version: u64, value: &str) -> StoreResult<()> {
        let mut state = self.state.lock().unwrap();
        if state.main.version != expected_version {
            state.step(format_args!(
                "write stamp {value} on v{expected_version} -> conflict"
            ));
            return Err(StoreError::Conflict(format!(
                "stamp write on stale version {expected_version}"
            )));
        }
        state.step(format_args!(
            "write stamp {value} on v{expected_version} -> ok"
        ));
        state.main.version += 1;
        state.main.stamp = Some(value.to_string());
        Ok(())
    }

    async fn set_primary_key(&self, expected_version: u64) -> StoreResult<()> {
        let mut state = self.state.lock().unwrap();
        if state.main.version != expected_version {
            return Err(StoreError::Conflict(format!(
                "PK write on stale version {expected_version}"
            )));
        }
        if state.main.pk != PkState::Absent {
            return Err(StoreError::other("the primary key is already set"));
        }
        state.main.version += 1;
        state.main.pk = PkState::OnObjectId;
        Ok(())
    }
}
