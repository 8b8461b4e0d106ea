//! `check` beside a graph in use (issue #33): a maintainer points it at a
//! live graph, and nothing the contract's operations do in flight may read
//! as damage. Two scenarios, each repeated until enough checks ran:
//!
//! - 8 read-write openers of a v2 graph with 200 `__run__` refs, sweeping
//!   it at once, and a `check` loop beside them;
//! - a current graph with a loop that creates a branch, loads into it and
//!   deletes it, and a `check` loop beside it.
//!
//! Graphs live where the test binary's place puts them (temp dirs, or the
//! S3 lane's server). The clean engine's checks are all healthy; with
//! `check`'s re-read planted away (defect 22) some are not.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use stampede_engine::check::{check_with, CheckReport, Depth};
use stampede_harness::adapter::{Stampede, SystemUnderTest};
use stampede_harness::runner::Runner;
use stampede_model::{LegacyStamp, Mode, Op, Value};

/// What goes on beside the checks.
#[derive(Clone, Copy, Debug)]
pub enum Beside {
    /// 8 read-write openers sweeping a v2 graph with 200 `__run__` refs.
    Sweep,
    /// Creates, loads and deletes of branches on a current graph.
    BranchWork,
}

/// How many checks ran, and every report that was not healthy.
#[derive(Debug, Default)]
pub struct Checked {
    pub checks: usize,
    pub unhealthy: Vec<CheckReport>,
    /// Problems the checks found on a first reading and dropped on the
    /// second (`changed_while_checking`), in all.
    pub changed: u64,
}

/// At least `checks` checks beside each kind of work, every one healthy;
/// `lane` says where the graphs live (`locally`, `on S3`) in what it
/// prints and in a failure.
pub fn every_check_is_healthy(checks: usize, lane: &str) {
    for beside in [Beside::Sweep, Beside::BranchWork] {
        let checked = checks_beside(beside, checks);
        eprintln!(
            "{beside:?} {lane}: {} checks, {} problems changed while checking",
            checked.checks, checked.changed
        );
        assert!(
            checked.unhealthy.is_empty(),
            "{beside:?} {lane}: {} of {} checks unhealthy; first: {:#?}",
            checked.unhealthy.len(),
            checked.checks,
            checked.unhealthy[0]
        );
    }
}

/// Run `beside` with a `check` loop beside it until at least `checks`
/// checks ran.
pub fn checks_beside(beside: Beside, checks: usize) -> Checked {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut checked = Checked::default();
    while checked.checks < checks {
        let mut sut = Stampede::new();
        let setup = match beside {
            Beside::Sweep => Op::legacy(2, 200, &[("feature", None)], LegacyStamp::Default),
            Beside::BranchWork => Op::Init,
        };
        sut.apply(&setup).expect("the setup");
        let root = sut.root().to_string();
        runtime.block_on(async {
            let done = Arc::new(AtomicBool::new(false));
            let work = tokio::spawn(work(beside, root.clone(), done.clone()));
            let params = stampede_harness::place::complete(&root, Default::default());
            // At least one check, and one after the work is done.
            loop {
                let finished = done.load(Ordering::SeqCst);
                let report = check_with(&root, Depth::Pins, params.clone())
                    .await
                    .unwrap_or_else(|e| panic!("check failed: {e}"));
                checked.checks += 1;
                checked.changed += report.changed_while_checking;
                if !report.healthy() {
                    checked.unhealthy.push(report);
                }
                if finished {
                    break;
                }
            }
            work.await.expect("the work's task");
        });
    }
    checked
}

/// The work beside the checks; `done` is set when it is over.
async fn work(beside: Beside, root: String, done: Arc<AtomicBool>) {
    match beside {
        Beside::Sweep => {
            let openers: Vec<_> = (0..8)
                .map(|_| {
                    let root = root.clone();
                    tokio::spawn(async move {
                        let mut runner = Runner::new(&root, Default::default());
                        runner.apply(&Op::Open(Mode::ReadWrite)).await
                    })
                })
                .collect();
            for opener in openers {
                let opened = opener.await.expect("an opener's task");
                assert!(opened.is_ok(), "an opener failed: {opened:?}");
            }
        }
        Beside::BranchWork => {
            let mut runner = Runner::new(&root, Default::default());
            runner
                .apply(&Op::Open(Mode::ReadWrite))
                .await
                .expect("open");
            for i in 0..6 {
                let name = format!("b{}", i % 2);
                let row = vec![("name".to_string(), Value::Str(format!("p{i}")))];
                for op in [
                    Op::create(&name, "main"),
                    Op::Load {
                        branch: name.clone(),
                        type_name: "Person".into(),
                        rows: vec![row],
                    },
                    Op::delete(&name),
                ] {
                    let outcome = runner.apply(&op).await;
                    assert!(outcome.is_ok(), "{op:?}: {outcome:?}");
                }
            }
        }
    }
    done.store(true, Ordering::SeqCst);
}
