//! The control-plane protocols under loom: the engine's own protocol code
//! (not a copy) on the in-memory store, every interleaving of its steps
//! explored within a preemption bound.
//!
//! `make loom` runs this in release:
//! `cargo test -p stampede-protocol --features loom,defects --release --test loom`.
//! LOOM_MAX_PREEMPTIONS sets the bound (default 2); STAMPEDE_LOOM_OPENERS
//! the number of concurrent openers in the sweep model (default 2).
//!
//! Each model asserts the outcomes a serial order of the same operations
//! allows (retryable conflicts allowed where DESIGN.md allows them) and the
//! invariants of the final state. The `defective_*` tests plant one
//! historical defect each and assert that loom finds a failing execution;
//! the failing interleaving is printed from the store's trace.
#![cfg(feature = "loom")]

use std::sync::Arc;

use loom::future::block_on;
use stampede_protocol::branches::{create_branch, delete_branch};
use stampede_protocol::defects::{plant, Defect};
use stampede_protocol::lock::{apply_under_lock, SchemaChange};
use stampede_protocol::memory::{MemoryState, MemoryStore};
use stampede_protocol::migrate::{migrate, write_stamp_at_least};
use stampede_protocol::names::SCHEMA_APPLY_LOCK;
use stampede_protocol::{Error, ErrorKind, OpenReport, RefStore, StoreError};

fn env(name: &str, default: usize) -> usize {
    stampede_vocabulary::env_budget(name, default as u64) as usize
}

static EXECUTIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn model(f: impl Fn() + Sync + Send + 'static) {
    model_at_least(0, f)
}

/// `model` with a preemption bound of at least `min`, for a model whose
/// failing interleaving needs more preemptions than the suite's default.
fn model_at_least(min: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(env("LOOM_MAX_PREEMPTIONS", 2).max(min));
    EXECUTIONS.store(0, std::sync::atomic::Ordering::SeqCst);
    builder.check(move || {
        EXECUTIONS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        f()
    });
    eprintln!(
        "explored {} executions",
        EXECUTIONS.load(std::sync::atomic::Ordering::SeqCst)
    );
}

fn trace(state: &MemoryState) -> String {
    state.trace.iter().map(|s| format!("\n    {s}")).collect()
}

/// The invariants the defect-planting tests expect to break: a planted
/// test passes only when loom breaks the one its defect breaks, not when
/// anything panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Invariant {
    /// Every concurrent read-write open of a legacy graph succeeds.
    OpensSucceed,
    /// Together the openers swept each legacy ref once and nothing else.
    SweptOnce,
    /// Racing stamp writes all succeed, in one commit.
    StampWritten,
    /// A racing apply or create fails only retryably.
    RetryableOnly,
    /// No branch stands across a schema change; every ref has a tree; no
    /// lock is left.
    NoStaleBranch,
    /// `branch_exists` only for a name a create made stand.
    ExistsMeansStands,
    /// Every ref has its tree, with no file deleted by a removal that
    /// listed an earlier incarnation of it (finding 39).
    NoLostTree,
}

/// A broken invariant: the panic payload the planted tests match.
#[derive(Debug)]
struct Broken(Invariant);

/// Hold `invariant`, or print what broke it (with the interleaving) and
/// panic with it as the payload.
fn hold(ok: bool, invariant: Invariant, state: &MemoryState, detail: impl std::fmt::Display) {
    if !ok {
        eprintln!(
            "{invariant:?} broken: {detail}; interleaving:{}",
            trace(state)
        );
        std::panic::panic_any(Broken(invariant));
    }
}

/// Run `f` on `threads` loom threads against one store; return their results.
fn race<T: Send + 'static>(
    store: &Arc<MemoryStore>,
    threads: usize,
    f: impl Fn(&MemoryStore, usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = Arc::new(f);
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (store, f) = (store.clone(), f.clone());
            loom::thread::spawn(move || f(&store, i))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

fn open_read_write(store: &MemoryStore) -> Result<OpenReport, Error> {
    block_on(async {
        let head = store
            .read_main()
            .await
            .map_err(|e| Error::storage("read main", e))?;
        migrate(store, &head).await
    })
}

// (1) Read-write openers sweeping a v2 graph with 2 `__run__` refs and one
// user ref: every open succeeds and the result equals one open. One
// exception, the contract's: when loom starves a claim's holder through a
// whole wait (three openers: two waiters yielding to each other), the
// lease passes, and an opener whose claim lapsed under it answers a
// retryable `conflict`; it is only right if a retry then succeeds.
fn sweep_model() {
    let openers = env("STAMPEDE_LOOM_OPENERS", 2);
    model(move || {
        let store = Arc::new(MemoryStore::graph(
            Some("2"),
            true,
            &[("__run__0", None), ("__run__1", None), ("user", None)],
        ));
        let reports = race(&store, openers, |s, _| open_read_write(s));
        let leases_passed = store.snapshot().leases_passed > 0;
        let mut swept = Vec::new();
        for report in reports {
            let report = match report {
                Err(Error::Conflict { .. }) if leases_passed => open_read_write(&store),
                report => report,
            };
            hold(
                matches!(report, Ok(ref r) if r.to == 3),
                Invariant::OpensSucceed,
                &store.snapshot(),
                format!("{report:?}"),
            );
            swept.extend(report.map_or(Vec::new(), |r| r.swept));
        }
        let state = store.snapshot();
        assert_no_lost_tree(&state);
        // Each legacy ref reported swept once; by none, when the opener
        // that swept it answered `conflict` (its lease passed under it).
        swept.sort();
        let reported_once = swept.windows(2).all(|w| w[0] != w[1]);
        hold(
            reported_once
                && (swept.len() == 2 || leases_passed)
                && state.main.stamp.as_deref() == Some("3")
                && state.refs.keys().eq(["user"].iter())
                && state.trees.keys().eq(["user"].iter()),
            Invariant::SweptOnce,
            &state,
            format!("swept {swept:?}; refs {:?}", state.refs.keys()),
        );
    });
}

#[test]
fn sweep_by_concurrent_openers() {
    plant(None);
    sweep_model();
}

// (2) Two openers racing the stamp write.
fn stamp_model() {
    model(|| {
        let store = Arc::new(MemoryStore::graph(Some("2"), true, &[]));
        let results = race(&store, 2, |s, _| block_on(write_stamp_at_least(s, 3)));
        let state = store.snapshot();
        hold(
            results.iter().all(|r| r.is_ok())
                && state.main.stamp.as_deref() == Some("3")
                && state.main.version == 2,
            Invariant::StampWritten,
            &state,
            format!("{results:?}, main at version {}", state.main.version),
        );
    });
}

#[test]
fn stamp_write_by_racing_openers() {
    plant(None);
    stamp_model();
}

/// A schema change on the in-memory store: publish is a compare-and-swap
/// on the main version `write` read, bumping the schema epoch.
struct EpochBump<'a>(&'a MemoryStore);

impl SchemaChange for EpochBump<'_> {
    type Staged = u64;

    async fn write(&self) -> stampede_protocol::Result<u64> {
        Ok(self
            .0
            .read_main()
            .await
            .map_err(|e| Error::storage("read main", e))?
            .version)
    }

    async fn publish(&self, staged: u64) -> stampede_protocol::Result<()> {
        self.0.publish_schema(staged).map_err(|e| match e {
            StoreError::Conflict(detail) => Error::Conflict { detail },
            other => Error::storage("publish", other),
        })
    }
}

/// No public branch stands across a schema change: every branch has a
/// tree, forked at main's current schema epoch. And no lock is left behind.
/// (A tree without a ref is a zombie, reused by the next create of its name.)
fn assert_schema_invariant(state: &MemoryState) {
    assert_no_lost_tree(state);
    for name in state.refs.keys() {
        let tree = state.trees.get(name);
        hold(
            tree.is_some_and(|t| t.forked_at_epoch == state.main.schema_epoch),
            Invariant::NoStaleBranch,
            state,
            format!(
                "branch {name}: tree {tree:?} at schema epoch {}",
                state.main.schema_epoch
            ),
        );
    }
    hold(
        !state.refs.contains_key(SCHEMA_APPLY_LOCK),
        Invariant::NoStaleBranch,
        state,
        "lock left behind",
    );
}

/// Every branch ref stands over a whole tree of its own.
fn assert_no_lost_tree(state: &MemoryState) {
    for name in state.refs.keys().filter(|n| *n != SCHEMA_APPLY_LOCK) {
        let tree = state.trees.get(name);
        hold(
            tree.is_some_and(|t| !t.damaged),
            Invariant::NoLostTree,
            state,
            format!("branch {name}: tree {tree:?}"),
        );
    }
}

/// Only retryable failures.
fn assert_retryable_only<T: std::fmt::Debug>(results: &[Result<T, Error>], state: &MemoryState) {
    for r in results {
        hold(
            r.as_ref().err().is_none_or(|e| e.kind().is_retryable()),
            Invariant::RetryableOnly,
            state,
            format!("{r:?}"),
        );
    }
}

// (3) Lock acquire racing a branch create, and racing a second apply.
fn apply_vs_create_model() {
    model(|| {
        let store = Arc::new(MemoryStore::graph(Some("3"), true, &[]));
        let results = race(&store, 2, |s, i| match i {
            0 => block_on(apply_under_lock(s, &EpochBump(s))).map(|_| ()),
            _ => block_on(create_branch(s, "b", "main")).map(|_| ()),
        });
        let state = store.snapshot();
        assert_retryable_only(&results, &state);
        assert_schema_invariant(&state);
    });
}

#[test]
fn apply_racing_create() {
    plant(None);
    apply_vs_create_model();
}

#[test]
fn apply_racing_apply() {
    plant(None);
    model(|| {
        let store = Arc::new(MemoryStore::graph(Some("3"), true, &[]));
        let results = race(&store, 2, |s, _| {
            block_on(apply_under_lock(s, &EpochBump(s)))
        });
        let state = store.snapshot();
        let applied = results.iter().filter(|r| r.is_ok()).count();
        assert_retryable_only(&results, &state);
        assert!(applied >= 1, "both applies backed off:{}", trace(&state));
        assert_eq!(
            state.main.schema_epoch as usize,
            applied,
            "{}",
            trace(&state)
        );
        assert_schema_invariant(&state);
    });
}

// (4) Same-name create ×2, and delete ×2.
#[test]
fn same_name_creates() {
    plant(None);
    model(|| {
        let store = Arc::new(MemoryStore::graph(Some("3"), true, &[]));
        let results = race(&store, 2, |s, _| {
            block_on(create_branch(s, "x", "main")).map(|_| ())
        });
        let state = store.snapshot();
        let kinds: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().map_err(|e| e.kind()))
            .collect();
        assert_eq!(
            kinds.iter().filter(|k| k.is_ok()).count(),
            1,
            "{kinds:?}:{}",
            trace(&state)
        );
        assert!(
            kinds.contains(&Err(ErrorKind::BranchExists)),
            "{kinds:?}:{}",
            trace(&state)
        );
        assert!(
            state.refs.contains_key("x") && state.trees.contains_key("x"),
            "{}",
            trace(&state)
        );
    });
}

#[test]
fn same_name_deletes() {
    plant(None);
    model(|| {
        let store = Arc::new(MemoryStore::graph(Some("3"), true, &[("x", None)]));
        let results = race(&store, 2, |s, _| block_on(delete_branch(s, "x")));
        let state = store.snapshot();
        let kinds: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().map_err(|e| e.kind()))
            .collect();
        assert_eq!(
            kinds.iter().filter(|k| k.is_ok()).count(),
            1,
            "{kinds:?}:{}",
            trace(&state)
        );
        assert!(
            kinds.contains(&Err(ErrorKind::BranchNotFound)),
            "{kinds:?}:{}",
            trace(&state)
        );
        assert!(
            state.refs.is_empty() && state.trees.is_empty(),
            "{}",
            trace(&state)
        );
    });
}

/// Loom must find an execution of `model` with `defect` planted that
/// breaks `invariant` (any other panic fails the test: it is not the
/// planted reason).
fn assert_loom_catches(defect: Defect, model: fn(), invariant: Invariant) {
    plant(Some(defect));
    let found = std::panic::catch_unwind(model);
    plant(None);
    match found {
        Ok(()) => panic!("loom explored every interleaving and missed {defect:?}"),
        Err(panic) => match panic.downcast_ref::<Broken>() {
            Some(Broken(broken)) => assert_eq!(
                *broken, invariant,
                "{defect:?} broke another invariant than the planted one"
            ),
            None => std::panic::resume_unwind(panic),
        },
    }
}

#[test]
fn defective_sweep_plain_delete_is_caught() {
    assert_loom_catches(
        Defect::SweepPlainDelete,
        sweep_model,
        Invariant::OpensSucceed,
    );
}

#[test]
fn defective_sweep_force_delete_not_absorbing_not_found_is_caught() {
    assert_loom_catches(
        Defect::SweepForceDeleteNotFound,
        sweep_model,
        Invariant::OpensSucceed,
    );
}

#[test]
fn defective_enumeration_without_retry_is_caught() {
    assert_loom_catches(
        Defect::NoEnumerationRetry,
        sweep_model,
        Invariant::OpensSucceed,
    );
}

#[test]
fn defective_stamp_write_without_reread_is_caught() {
    assert_loom_catches(
        Defect::StampWriteNotIdempotent,
        stamp_model,
        Invariant::StampWritten,
    );
}

#[test]
fn defective_lock_without_recheck_is_caught() {
    assert_loom_catches(
        Defect::LockWithoutRecheck,
        apply_vs_create_model,
        Invariant::NoStaleBranch,
    );
}

/// Defect 11 planted alone: loom explores every interleaving of an apply
/// racing a create and finds nothing, the masking `Defect::masked_by`
/// states, proven (so the sensitivity table reports it masked, not caught).
#[test]
fn defect_11_alone_is_masked() {
    plant(Some(Defect::NoRecheckBeforePublish));
    let found = std::panic::catch_unwind(apply_vs_create_model);
    plant(None);
    assert!(found.is_ok(), "defect 11 alone is observable after all");
}

#[test]
fn defective_create_without_recheck_is_caught() {
    assert_loom_catches(
        Defect::CreateWithoutRecheck,
        apply_vs_create_model,
        Invariant::NoStaleBranch,
    );
}

// (5) A child created while its parent is deleted: never an orphan.
#[test]
fn create_racing_delete_of_its_parent() {
    plant(None);
    model(|| {
        let store = Arc::new(MemoryStore::graph(Some("3"), true, &[("a", None)]));
        let results = race(&store, 2, |s, i| match i {
            0 => block_on(create_branch(s, "b", "a")).map(|_| ()),
            _ => block_on(delete_branch(s, "a")),
        });
        let state = store.snapshot();
        let kinds: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().map_err(|e| e.kind()))
            .collect();
        // Serial orders: create then delete (ok, dependent_branches), delete
        // then create (branch_not_found, ok); or a retryable conflict that
        // had no effect.
        let explained = match (kinds[0], kinds[1]) {
            (Ok(()), Err(ErrorKind::DependentBranches)) | (Ok(()), Err(ErrorKind::Conflict)) => {
                state.refs.contains_key("a") && state.refs.contains_key("b")
            }
            (Err(ErrorKind::BranchNotFound), Ok(())) | (Err(ErrorKind::Conflict), Ok(())) => {
                state.refs.is_empty()
            }
            (Err(ErrorKind::Conflict), Err(ErrorKind::Conflict)) => {
                state.refs.keys().collect::<Vec<_>>() == vec!["a"]
            }
            _ => false,
        };
        assert!(
            explained,
            "{kinds:?} with refs {:?}:{}",
            state.refs.keys().collect::<Vec<_>>(),
            trace(&state)
        );
        for (name, record) in &state.refs {
            if let Some(parent) = &record.parent {
                assert!(
                    state.refs.contains_key(parent),
                    "{name} orphaned:{}",
                    trace(&state)
                );
            }
        }
        for name in state.refs.keys() {
            assert!(
                state.trees.contains_key(name),
                "ref {name} without a tree:{}",
                trace(&state)
            );
        }
    });
}

// (6) Same-name creates racing an apply. Finding 15: a create saw the ref
// of its racer, answered `branch_exists`, and the racer then met the lock
// and withdrew: the name never stood. `branch_exists` must mean a create of
// the same name succeeded (every other answer here may be retryable).
#[test]
fn same_name_creates_racing_an_apply() {
    plant(None);
    same_name_creates_vs_apply_model();
}

/// Bound 3 at least: finding 15's interleaving (apply checks, create
/// writes its ref and meets the lock, the second create sees the ref, the
/// apply publishes, the owner withdraws) needs three preemptions.
fn same_name_creates_vs_apply_model() {
    model_at_least(3, || {
        let store = Arc::new(MemoryStore::graph(Some("3"), true, &[]));
        let results = race(&store, 3, |s, i| match i {
            0 => block_on(apply_under_lock(s, &EpochBump(s))).map(|_| ()),
            _ => block_on(create_branch(s, "x", "main")).map(|_| ()),
        });
        let state = store.snapshot();
        let kinds: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().map_err(|e| e.kind()))
            .collect();
        let created = kinds[1..].iter().filter(|k| k.is_ok()).count();
        for kind in &kinds[1..] {
            match kind {
                Ok(()) => {}
                Err(ErrorKind::BranchExists) => hold(
                    created == 1,
                    Invariant::ExistsMeansStands,
                    &state,
                    format!("branch_exists for a name that never stood: {kinds:?}"),
                ),
                Err(e) => hold(
                    e.is_retryable(),
                    Invariant::RetryableOnly,
                    &state,
                    format!("{kinds:?}"),
                ),
            }
        }
        hold(
            state.refs.contains_key("x") == (created == 1),
            Invariant::ExistsMeansStands,
            &state,
            format!("{kinds:?}"),
        );
        assert_schema_invariant(&state);
    });
}

/// Finding 15 planted back: loom finds the create that answers
/// `branch_exists` for a name whose owner then withdraws.
#[test]
fn defective_exists_before_settled_is_caught() {
    assert_loom_catches(
        Defect::ExistsBeforeSettled,
        same_name_creates_vs_apply_model,
        Invariant::ExistsMeansStands,
    );
}

// (7) Finding 39: an opener of a v2 graph sweeps `__run__0` while a second
// opener, finding nothing left to sweep, stamps 3 and creates `__run__0`
// anew. The first opener's tree removal must never reach the new branch's
// tree: both run under the name's claim.
fn sweep_vs_recreate_model() {
    model(|| {
        let store = Arc::new(MemoryStore::graph(Some("2"), true, &[("__run__0", None)]));
        let results = race(&store, 2, |s, i| {
            let opened = open_read_write(s).map(|_| ());
            match i {
                0 => opened,
                _ => {
                    opened.and_then(|()| block_on(create_branch(s, "__run__0", "main")).map(|_| ()))
                }
            }
        });
        let state = store.snapshot();
        assert_no_lost_tree(&state);
        hold(
            results.iter().all(|r| r.is_ok()) && state.refs.contains_key("__run__0"),
            Invariant::OpensSucceed,
            &state,
            format!("{results:?}"),
        );
    });
}

#[test]
fn sweep_racing_a_create_of_the_swept_name() {
    plant(None);
    sweep_vs_recreate_model();
}

/// Finding 39's sweep planted back (the ref, then the tree, under no
/// claim): loom finds the late removal of the re-created tree.
#[test]
fn defective_sweep_without_claim_is_caught() {
    assert_loom_catches(
        Defect::SweepWithoutClaim,
        sweep_vs_recreate_model,
        Invariant::NoLostTree,
    );
}

// (8) A delete of `x` racing a create of `x`: the delete's tree removal
// runs after its ref is gone, when the name is free again; the create's
// tree is written under the same claim, so it waits the removal out.
fn delete_vs_create_model() {
    model(|| {
        let store = Arc::new(MemoryStore::graph(Some("3"), true, &[("x", None)]));
        let results = race(&store, 2, |s, i| match i {
            0 => block_on(delete_branch(s, "x")),
            _ => block_on(create_branch(s, "x", "main")).map(|_| ()),
        });
        let state = store.snapshot();
        assert_no_lost_tree(&state);
        let kinds: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().map_err(|e| e.kind()))
            .collect();
        // Delete then create (ok, ok: x stands), or create then delete
        // (branch_exists, ok: x gone); a retryable answer changed nothing.
        let explained = match (kinds[0], kinds[1]) {
            (Ok(()), Ok(())) => state.refs.contains_key("x"),
            (Ok(()), Err(ErrorKind::BranchExists)) => !state.refs.contains_key("x"),
            (Ok(()), Err(e)) if e.is_retryable() => !state.refs.contains_key("x"),
            _ => false,
        };
        hold(
            explained,
            Invariant::RetryableOnly,
            &state,
            format!(
                "{kinds:?} with refs {:?}",
                state.refs.keys().collect::<Vec<_>>()
            ),
        );
    });
}

#[test]
fn delete_racing_a_create_of_the_same_name() {
    plant(None);
    delete_vs_create_model();
}

/// Finding 39's create planted back (its tree written or replaced under no
/// claim): loom finds the delete's removal reaching the new tree.
#[test]
fn defective_create_without_claim_is_caught() {
    assert_loom_catches(
        Defect::CreateWithoutClaim,
        delete_vs_create_model,
        Invariant::NoLostTree,
    );
}

// (9) The lease: the deleter of `x` may be paused past its claim's lease
// at any point (the clock thread lapses every claim held then), and a
// create of `x` may take the name over. The paused deleter then changes
// nothing more: no tree is lost, whatever answers the two get.
#[test]
fn a_claim_that_lapses_stops_its_holder() {
    plant(None);
    lapse_model();
}

/// A holder that goes on after its claim lapsed (defect 21): loom finds the
/// paused deleter's removal reaching the tree of the create that took the
/// name over.
#[test]
fn defective_holder_ignoring_its_lapse_is_caught() {
    assert_loom_catches(
        Defect::HolderIgnoresLapse,
        lapse_model,
        Invariant::NoLostTree,
    );
}

fn lapse_model() {
    model(|| {
        let store = Arc::new(MemoryStore::graph(Some("3"), true, &[("x", None)]));
        let results = race(&store, 3, |s, i| match i {
            0 => block_on(delete_branch(s, "x")),
            1 => block_on(create_branch(s, "x", "main")).map(|_| ()),
            _ => {
                s.lapse_claims();
                Ok(())
            }
        });
        let state = store.snapshot();
        assert_no_lost_tree(&state);
        let created = results[1].is_ok();
        hold(
            results.iter().all(|r| {
                r.as_ref()
                    .err()
                    .is_none_or(|e| e.kind().is_retryable() || e.kind() == ErrorKind::BranchExists)
            }) && state.refs.contains_key("x") == (created || results[0].is_err()),
            Invariant::RetryableOnly,
            &state,
            format!("{results:?}"),
        );
    });
}

// (10) A child created from `a` while `a` is deleted and created again:
// the new `a` has other data (its old tree went with the delete), so a
// child that stands must have been forked from the `a` that stands.
#[test]
fn create_racing_a_delete_and_recreate_of_its_parent() {
    plant(None);
    model(|| {
        let store = Arc::new(MemoryStore::graph(Some("3"), true, &[("a", None)]));
        let results = race(&store, 2, |s, i| match i {
            0 => block_on(create_branch(s, "b", "a")).map(|_| ()),
            _ => block_on(async {
                delete_branch(s, "a").await?;
                create_branch(s, "a", "main").await.map(|_| ())
            }),
        });
        let state = store.snapshot();
        assert_no_lost_tree(&state);
        for (name, record) in &state.refs {
            let Some(parent) = &record.parent else {
                continue;
            };
            let (tree, parent_tree) = (state.trees.get(name), state.trees.get(parent));
            hold(
                tree.zip(parent_tree)
                    .is_some_and(|(t, p)| t.forked_from == Some(p.incarnation)),
                Invariant::NoLostTree,
                &state,
                format!(
                    "{name} forked from another {parent} than the one that stands: {results:?}"
                ),
            );
        }
    });
}

// (10) Finding 47: a create's ref stands, a delete removes it, and an apply
// publishes while the create waits out its lock. The delete answered ok,
// so the branch stood: the create took effect and must say so (it answered
// `conflict` when the epoch change sent it to withdraw a ref already gone).
#[test]
fn a_create_whose_branch_a_delete_removed_took_effect() {
    plant(None);
    create_delete_apply_model();
}

fn create_delete_apply_model() {
    model_at_least(3, || {
        let store = Arc::new(MemoryStore::graph(Some("3"), true, &[]));
        let results = race(&store, 3, |s, i| match i {
            0 => block_on(apply_under_lock(s, &EpochBump(s))).map(|_| ()),
            1 => block_on(create_branch(s, "x", "main")).map(|_| ()),
            _ => block_on(delete_branch(s, "x")),
        });
        let state = store.snapshot();
        let kinds: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().map_err(|e| e.kind()))
            .collect();
        // A delete that answered ok removed a branch that stood, which only
        // the create can have made; a retryable answer changed nothing.
        let (create, delete) = (kinds[1], kinds[2]);
        hold(
            delete.is_err() || create.is_ok(),
            Invariant::RetryableOnly,
            &state,
            format!("the delete removed x, yet its create answered {create:?}: {kinds:?}"),
        );
        hold(
            state.refs.contains_key("x") == (create.is_ok() && delete.is_err()),
            Invariant::RetryableOnly,
            &state,
            format!("{kinds:?}"),
        );
        assert_schema_invariant(&state);
    });
}
