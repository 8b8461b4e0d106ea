//! The sequential campaign: random op sequences over the whole alphabet,
//! engine vs model, compared after every op.
//!
//! One `u64` seed names a run; case `i` runs with a seed derived from it,
//! so a failing case replays alone: `stampede replay seq:<case seed>:<max ops>`.

pub mod generators;
pub mod machine;

use std::fmt::Write as _;

use proptest::test_runner::{
    Config, FailurePersistence, FileFailurePersistence, TestError, TestRunner,
};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use stampede_model::{Model, Op, Outcome};

use crate::adapter::{Stampede, SystemUnderTest};
use crate::budgets::Budgets;
use crate::tally::CampaignResult;
use crate::verdict::{Campaign, Divergence, Failure, ViewDiff};
use machine::{EngineTest, ModelMachine, Reference, Step};

/// The engine this process's sequential cases judge: ours, or the peer
/// `stampede verify --engine-cmd` names (`crate::wire::peer`), one fresh
/// system per case.
pub fn system_under_test() -> Box<dyn SystemUnderTest> {
    match crate::wire::peer::peer() {
        None => Box::new(Stampede::new()),
        Some(spec) => Box::new(
            crate::wire::peer::Peer::start(&spec.command).unwrap_or_else(|e| panic!("{e}")),
        ),
    }
}

/// A failing case, shrunk: what broke, and the ops that show it.
struct Shrunk {
    message: String,
    /// The shrunk sequence, as concrete ops with the model's outcomes.
    ops: Vec<(Op, Outcome)>,
}

impl Shrunk {
    fn into_failure(self, replay: String) -> Failure {
        let mut message = format!(
            "{}\nshrunk to {} ops (model outcomes):",
            self.message,
            self.ops.len()
        );
        for (i, (op, outcome)) in self.ops.iter().enumerate() {
            let _ = write!(message, "\n  {:>2}. {op:?} => {outcome:?}", i + 1);
        }
        // The shrunk ops, once more, name the divergence in a table's
        // words. A case that failed by panicking (a broken peer) panics
        // again here: it then names none, and the failure still stands.
        let ops: Vec<Op> = self.ops.into_iter().map(|(op, _)| op).collect();
        let compared = std::panic::catch_unwind(|| crate::quiet::quietly(|| compare_ops(&ops)));
        Failure {
            divergence: compared
                .ok()
                .and_then(Result::err)
                .map(|(_, divergence)| Box::new(divergence)),
            ..Failure::new(Campaign::Sequential, replay, message)
        }
    }
}

/// The sequential campaign's units: `cases` cases.
pub fn units(budgets: &Budgets) -> u32 {
    budgets.cases
}

/// Case `index`, its seed drawn from the root seed and the index; its ops
/// are the engine ops it ran (shrinking included).
pub fn run_unit(budgets: &Budgets, index: u32) -> CampaignResult {
    let before = machine::engine_ops();
    let seed = crate::seeds::derive(budgets.seed, index);
    let failure = case(seed, budgets.max_ops, REGRESSIONS.get().copied()).err();
    CampaignResult {
        units: 1,
        ops: machine::engine_ops() - before,
        failures: failure.into_iter().collect(),
        ..CampaignResult::new(Campaign::Sequential)
    }
}

/// Generate, run and (on failure) shrink one case.
pub fn run_case(case_seed: u64, max_ops: usize) -> Result<(), Failure> {
    case(case_seed, max_ops, None)
}

/// One case, its shrunk failure named by its token; `regressions` is the
/// file it replays first and records in, if any.
fn case(case_seed: u64, max_ops: usize, regressions: Option<&'static str>) -> Result<(), Failure> {
    shrink(case_seed, max_ops, regressions)
        .map_err(|shrunk| shrunk.into_failure(Campaign::Sequential.case_token(case_seed, max_ops)))
}

/// The proptest regression file the sequential campaign's cases replay
/// first and record failures in, in the test suite (never a `stampede
/// verify` run's, and never a single case's or a replay's).
static REGRESSIONS: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// The sequential campaign replays and records failures in `path` from
/// now on, in this process.
#[cfg(any(test, feature = "testing"))]
pub fn keep_regressions_in(path: &'static str) {
    let kept = *REGRESSIONS.get_or_init(|| path);
    assert_eq!(kept, path, "one regression file per process");
}

fn shrink(case_seed: u64, max_ops: usize, regressions: Option<&'static str>) -> Result<(), Shrunk> {
    let config = Config {
        cases: 1,
        failure_persistence: regressions.map(|path| {
            Box::new(FileFailurePersistence::Direct(path)) as Box<dyn FailurePersistence>
        }),
        max_shrink_iters: 2048,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config.clone(), crate::seeds::case_rng(case_seed));
    let strategy = ModelMachine::sequential_strategy(1..=max_ops);
    // The case's value (model state and steps) is large; box the error.
    let result = crate::quiet::quietly(|| {
        runner
            .run(&strategy, |(initial, steps, seen)| {
                EngineTest::test_sequential(config.clone(), initial, steps, seen);
                Ok(())
            })
            .map_err(Box::new)
    });
    match result.map_err(|e| *e) {
        Ok(()) => Ok(()),
        Err(TestError::Fail(reason, (_, steps, _))) => Err(Shrunk {
            message: reason.to_string(),
            ops: model_trace(&steps),
        }),
        Err(TestError::Abort(reason)) => Err(Shrunk {
            message: format!("proptest aborted: {reason}"),
            ops: Vec::new(),
        }),
    }
}

/// The steps case `case_seed` generates (unshrunk), for campaigns that run
/// the sequential alphabet their own way.
pub fn generate_steps(case_seed: u64, max_ops: usize) -> Vec<Step> {
    use proptest::strategy::{Strategy, ValueTree};
    let mut runner = TestRunner::new_with_rng(Config::default(), crate::seeds::case_rng(case_seed));
    let (_, steps, _) = ModelMachine::sequential_strategy(1..=max_ops)
        .new_tree(&mut runner)
        .expect("a case")
        .current();
    steps
}

/// The concrete ops of case `case_seed` (unshrunk), with the model's
/// outcomes: what any system under test is sent for it.
pub fn case_ops(case_seed: u64, max_ops: usize) -> Vec<(Op, Outcome)> {
    model_trace(&generate_steps(case_seed, max_ops))
}

fn model_trace(steps: &[Step]) -> Vec<(Op, Outcome)> {
    let mut reference = Reference::default();
    steps
        .iter()
        .map(|step| {
            reference = ModelMachine::apply(reference.clone(), step);
            reference.last.clone().expect("applied")
        })
        .collect()
}

/// Apply concrete ops to a fresh engine and to the model, comparing the
/// outcome and the whole view after each. `Err` says where they parted.
#[cfg(any(test, feature = "testing"))]
pub fn check_ops(ops: &[Op]) -> Result<(), String> {
    compare_ops(ops).map_err(|(message, _)| message)
}

/// As `check_ops`, with where they parted also as a [`Divergence`].
pub fn compare_ops(ops: &[Op]) -> Result<(), (String, Divergence)> {
    let mut engine = system_under_test();
    let mut model = Model::default();
    for (i, op) in ops.iter().enumerate() {
        let expected = model.apply(op);
        let observed = engine.apply(op);
        if observed != expected {
            return Err((
                format!(
                    "op {} {op:?}: engine {observed:?}, model {expected:?}",
                    i + 1
                ),
                Divergence::of_outcomes(op, &expected, &observed),
            ));
        }
        if !engine.observes_views() {
            continue;
        }
        let (seen, derived) = (engine.view(), model.view());
        if seen != derived {
            return Err((
                format!(
                    "after op {} {op:?}: {}",
                    i + 1,
                    ViewDiff::of(&seen, &derived)
                ),
                Divergence::of_views(op, &derived, &seen),
            ));
        }
    }
    Ok(())
}

/// A readable transcript: each op, its outcome, and the state after it.
/// Fails (with the divergence) when engine and model disagree.
#[cfg(any(test, feature = "testing"))]
pub fn transcript(ops: &[Op]) -> Result<String, String> {
    check_ops(ops)?;
    let mut model = Model::default();
    let mut out = String::new();
    for op in ops {
        let outcome = model.apply(op);
        let view = model.view();
        let _ = writeln!(out, "op: {op:?}");
        let _ = writeln!(out, "  outcome: {outcome:?}");
        let _ = writeln!(out, "  stamp: {:?}", view.stamp);
        let _ = writeln!(out, "  refs: {:?}", view.refs);
        if let Some(list) = &view.list {
            let _ = writeln!(out, "  list: {list:?}");
        }
        for ((branch, type_name), rows) in &view.rows {
            if !matches!(rows, Ok(r) if r.is_empty()) {
                let _ = writeln!(out, "  rows {branch}/{type_name}: {rows:?}");
            }
        }
    }
    Ok(out)
}

/// Re-run one case and print each op with both outcomes and any view diff.
pub fn replay(token: &str) -> Result<bool, String> {
    let (seed, max_ops) = Campaign::Sequential
        .parse_case_token(token)
        .ok_or_else(|| {
            format!("not a replay token: {token:?} (expected seq:<16 hex digits>:<max ops>)")
        })?;
    let Err(failure) = shrink(seed, max_ops, None) else {
        println!("{token}: passes (engine and model agree on every op)");
        return Ok(true);
    };
    println!("{token}: fails; shrunk case, op by op:");
    let mut engine = system_under_test();
    let mut model = Model::default();
    for (i, (op, _)) in failure.ops.iter().enumerate() {
        let expected = model.apply(op);
        let observed = engine.apply(op);
        let mark = if observed == expected { "  " } else { "!!" };
        println!("{mark}{:>2}. {op:?}", i + 1);
        println!("      model:  {expected:?}");
        println!("      engine: {observed:?}");
        if !engine.observes_views() {
            continue;
        }
        let (seen, derived) = (engine.view(), model.view());
        if seen != derived {
            println!("      view differs: {}", ViewDiff::of(&seen, &derived));
        }
    }
    println!("{}", failure.message);
    Ok(false)
}
