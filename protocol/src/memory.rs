//! An in-memory [`RefStore`] with Lance's step boundaries: every method is
//! one atomic step (one lock of the state), so a protocol that calls list,
//! then read, then delete can be interleaved with other actors between any
//! two of them, exactly as on Lance. Where Lance takes several steps the
//! store does too: a tree removal lists the tree, then deletes what it
//! listed (a slow cleaner, which any other actor's steps can overtake); a
//! claim puts its mark, then lists the marks. Under the `loom` feature the
//! state sits behind loom's mutex and `loom::model` explores those
//! interleavings.
//!
//! A claim lapses only when a model says so (`lapse_claims`: the holder was
//! paused past the lease); a step under a claim checks the claim in the
//! same atomic step as its change, which is the lease's assumption (a step
//! ends within half the lease of its check) built into the model.

use std::collections::BTreeMap;

use crate::store::{
    Claim, Fence, MainHead, PkState, RefRecord, RefStore, StoreError, StoreResult, TreeState, Wait,
};
use crate::sync::Mutex;

/// A branch's tree: what it was forked from, and main's schema epoch then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    pub parent: Option<String>,
    pub parent_version: u64,
    pub forked_at_epoch: u64,
    pub version: u64,
    /// Which write made it: a removal deletes the files it listed, which
    /// are another incarnation's if the tree was written again since.
    pub incarnation: u64,
    /// Files of it were deleted by a removal that listed an earlier
    /// incarnation (Lance's version files have the same paths in every
    /// incarnation): the branch's data is lost.
    pub damaged: bool,
    /// The incarnation of its parent's tree it was forked from (`None`:
    /// forked from main): a branch whose parent was deleted and created
    /// again holds data the new parent does not.
    pub forked_from: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryState {
    pub refs: BTreeMap<String, RefRecord>,
    pub trees: BTreeMap<String, Tree>,
    pub main: MainHead,
    /// The main versions that published a schema change: a fork of main at
    /// version v carries the epoch of v, not of main's head.
    pub schema_published_at: Vec<u64>,
    /// Claim marks by name: token → lapsed.
    pub claims: BTreeMap<String, BTreeMap<String, bool>>,
    /// Source of tokens, ref writers and tree incarnations.
    pub issued: u64,
    /// Every step taken, in order, with the (loom) thread that took it: the
    /// interleaving a failing model prints.
    pub trace: Vec<String>,
    /// How often the lease of every claim passed (`lapse_claims`, or a
    /// claimer waiting out a whole wait).
    pub leases_passed: u32,
}

impl MemoryState {
    /// Every claim lapses: the lease passed for each holder.
    fn lapse_claims(&mut self) {
        self.step(format_args!("the lease of every claim passes"));
        self.leases_passed += 1;
        for marks in self.claims.values_mut() {
            marks.values_mut().for_each(|lapsed| *lapsed = true);
        }
    }

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

    fn issue(&mut self) -> u64 {
        self.issued += 1;
        self.issued
    }

    /// Refuse a step whose claim lapsed (checked in the same atomic step as
    /// the change it guards).
    fn fenced(&mut self, fence: Fence<'_>, what: std::fmt::Arguments<'_>) -> StoreResult<()> {
        let Some(claim) = fence else {
            return Ok(());
        };
        if crate::defects::planted(crate::defects::Defect::HolderIgnoresLapse) {
            return Ok(());
        }
        let fresh = self
            .claims
            .get(&claim.name)
            .and_then(|marks| marks.get(&claim.token))
            .is_some_and(|lapsed| !lapsed);
        if fresh {
            return Ok(());
        }
        self.step(format_args!("{what} -> claim lost"));
        Err(StoreError::ClaimLost(format!(
            "claim {} on {:?}",
            claim.token, claim.name
        )))
    }

    /// A tree as a write makes it.
    fn new_tree(&mut self, parent: Option<&str>, version: u64) -> Tree {
        Tree {
            parent: parent.map(str::to_string),
            parent_version: version,
            forked_at_epoch: self.epoch_at(parent, version).unwrap_or(0),
            version: version + 1,
            incarnation: self.issue(),
            damaged: false,
            forked_from: parent
                .and_then(|p| self.trees.get(p))
                .map(|t| t.incarnation),
        }
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
            let tree = state.new_tree(*parent, 1);
            state.trees.insert(name.to_string(), tree);
            state
                .refs
                .insert(name.to_string(), RefRecord::new(name, *parent, 1));
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

    /// Every claim held now lapses, as if each holder had been paused past
    /// the lease: other claimers may take the names over, and the holders'
    /// next steps under them are refused.
    pub fn lapse_claims(&self) {
        self.state.lock().unwrap().lapse_claims();
    }
}

/// How often a waiter polls before it gives up (see `RefStore::backoff`).
pub const WAIT_ATTEMPTS: usize = 64;

/// How often a claimer polls while a lease passes (see
/// `RefStore::backoff`): more polls than a holder's claimed steps, so a
/// holder that runs lapses only when loom starves it, and few, so loom's
/// exploration of two claimers polling each other stays small.
pub const CLAIM_POLLS_PER_LEASE: usize = 8;

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

    async fn delete_ref(&self, name: &str, fence: Fence<'_>) -> StoreResult<()> {
        let mut state = self.state.lock().unwrap();
        state.fenced(fence, format_args!("delete ref {name}"))?;
        let removed = state.refs.remove(name).is_some();
        state.step(format_args!(
            "delete ref {name} -> {}",
            if removed { "ok" } else { "not found" }
        ));
        removed.then_some(()).ok_or_else(|| not_found("ref", name))
    }

    /// Two steps, as on Lance: list the tree's files, then delete them. A
    /// tree written again in between loses files it shares paths with.
    async fn remove_tree(&self, name: &str, fence: Fence<'_>) -> StoreResult<()> {
        let listed = {
            let mut state = self.state.lock().unwrap();
            state.fenced(fence, format_args!("list tree {name}"))?;
            let listed = state.trees.get(name).map(|t| t.incarnation);
            state.step(format_args!("list tree {name} -> {listed:?}"));
            listed.ok_or_else(|| not_found("tree", name))?
        };
        let mut state = self.state.lock().unwrap();
        state.fenced(fence, format_args!("delete the files of tree {name}"))?;
        let found = state.trees.get(name).map(|t| t.incarnation);
        state.step(format_args!(
            "delete the files of tree {name} #{listed} -> {}",
            match found {
                Some(i) if i == listed => "removed".to_string(),
                Some(i) => format!("#{i} damaged"),
                None => "already gone".to_string(),
            }
        ));
        match found {
            Some(i) if i == listed => {
                state.trees.remove(name);
            }
            Some(_) => state.trees.get_mut(name).expect("found").damaged = true,
            None => return Err(not_found("tree", name)),
        }
        Ok(())
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
        fence: Fence<'_>,
    ) -> StoreResult<TreeState> {
        let mut state = self.state.lock().unwrap();
        state.fenced(fence, format_args!("write tree {name}"))?;
        if state.trees.contains_key(name) {
            state.step(format_args!("write tree {name} -> exists"));
            return Ok(TreeState::AlreadyExists);
        }
        let tree = state.new_tree(parent, version);
        state.step(format_args!(
            "write tree {name} #{} -> created",
            tree.incarnation
        ));
        state.trees.insert(name.to_string(), tree);
        Ok(TreeState::Created)
    }

    async fn put_ref_if_absent(
        &self,
        record: &RefRecord,
        fence: Fence<'_>,
    ) -> StoreResult<RefRecord> {
        let mut state = self.state.lock().unwrap();
        state.fenced(fence, format_args!("put ref {}", record.name))?;
        if state.refs.contains_key(&record.name) {
            state.step(format_args!("put ref {} -> exists", record.name));
            return Err(StoreError::AlreadyExists(format!("ref {:?}", record.name)));
        }
        state.step(format_args!("put ref {} -> ok", record.name));
        // A ref put back (a delete backing off) keeps its writer.
        let writer = match &record.writer {
            Some(writer) => writer.clone(),
            None => format!("w{}", state.issue()),
        };
        let written = RefRecord {
            writer: Some(writer),
            ..record.clone()
        };
        state.refs.insert(record.name.clone(), written.clone());
        Ok(written)
    }

    /// Two steps, as on Lance: put this claimer's mark, then list the
    /// name's marks; another live mark means back off (and take the mark
    /// back). Whichever of two claimers lists second sees the other.
    async fn try_claim(&self, name: &str) -> StoreResult<Option<Claim>> {
        let mut claims = self.try_claims(&[name.to_string()]).await?;
        Ok(claims.pop().flatten())
    }

    /// As on Lance: every mark put (a step each), then one listing decides
    /// them all (one step).
    async fn try_claims(&self, names: &[String]) -> StoreResult<Vec<Option<Claim>>> {
        let mut tokens = Vec::with_capacity(names.len());
        for name in names {
            let mut state = self.state.lock().unwrap();
            let token = format!("c{}", state.issue());
            state.step(format_args!("put claim mark {name} {token}"));
            (state.claims.entry(name.clone()).or_default()).insert(token.clone(), false);
            tokens.push(token);
        }
        let mut state = self.state.lock().unwrap();
        let mut claims = Vec::with_capacity(names.len());
        for (name, token) in names.iter().zip(tokens) {
            let marks = state.claims.entry(name.clone()).or_default();
            marks.retain(|t, lapsed| t == &token || !*lapsed);
            let held = marks.len() == 1;
            if !held {
                marks.remove(&token);
            }
            claims.push(held.then(|| Claim {
                name: name.clone(),
                token,
                taken_at: 0,
            }));
        }
        let decided: Vec<_> = (names.iter().zip(&claims))
            .map(|(name, claim)| {
                format!(
                    "{name} {}",
                    if claim.is_some() {
                        "held"
                    } else {
                        "taken, backing off"
                    }
                )
            })
            .collect();
        state.step(format_args!("list claim marks -> {}", decided.join(", ")));
        Ok(claims)
    }

    async fn release_claim(&self, claim: &Claim) -> StoreResult<()> {
        let mut state = self.state.lock().unwrap();
        state.step(format_args!("release claim {} {}", claim.name, claim.token));
        if let Some(marks) = state.claims.get_mut(&claim.name) {
            marks.remove(&claim.token);
        }
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
    /// the yield is what lets a waiter's lock holder run. A claimer waits
    /// longer, as the engine's does: its wait bound is past the lease
    /// (twice it, and more), so a holder that stalls through a whole wait
    /// sees its lease pass first. Loom can starve a holder while others
    /// poll (with three threads, two waiters yielding to each other), and
    /// time is the lease passing here: after `CLAIM_POLLS_PER_LEASE` polls
    /// every claim lapses, and the claimer polls as long again before it
    /// gives up.
    async fn backoff(&self, what: Wait, attempt: usize) -> bool {
        let bound = match what {
            Wait::Lock => WAIT_ATTEMPTS,
            Wait::Claim => 2 * CLAIM_POLLS_PER_LEASE,
        };
        if attempt >= bound {
            return false;
        }
        if what == Wait::Claim && attempt + 1 == CLAIM_POLLS_PER_LEASE {
            self.state.lock().unwrap().lapse_claims();
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
