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
// user ref: every open succeeds and the result equals one open.
fn sweep_model() {
    let openers = env("STAMPEDE_LOOM_OPENERS", 2);
    model(move || {
        let store = Arc::new(MemoryStore::graph(
            Some("2"),
            true,
            &[("__run__0", None), ("__run__1", None), ("user", None)],
        ));
        let reports = race(&store, openers, |s, _| open_read_write(s));
        let state = store.snapshot();
        let mut swept = 0;
        for report in &reports {
            hold(
                matches!(report, Ok(r) if r.to == 3),
                Invariant::OpensSucceed,
                &state,
                format!("{report:?}"),
            );
            swept += report.as_ref().map_or(0, |r| r.swept.len());
        }
        hold(
            swept == 2
                && state.main.stamp.as_deref() == Some("3")
                && state.refs.keys().eq(["user"].iter())
                && state.trees.keys().eq(["user"].iter()),
            Invariant::SweptOnce,
            &state,
            format!("{swept} swept; refs {:?}", state.refs.keys()),
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
