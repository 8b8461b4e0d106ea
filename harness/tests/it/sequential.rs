//! The sequential campaign at the fixed `make test` budget: 64 cases of up
//! to 30 ops, engine on real Lance vs the model, compared after every op.
//! A failure prints the shrunk ops and `stampede replay <token>`; proptest
//! records it in `tests/sequential.proptest-regressions` (committed), which
//! later runs replay first. STAMPEDE_CASES / STAMPEDE_SEED override.

use stampede_harness::budgets::Budgets;
use stampede_harness::env_or;
use stampede_harness::plan::{run, Shard, Stop};
use stampede_harness::verdict::Campaign;

#[test]
fn engine_agrees_with_the_model_op_by_op() {
    stampede_harness::sequential::keep_regressions_in("tests/sequential.proptest-regressions");
    let budgets = Budgets {
        seed: env_or("STAMPEDE_SEED", 20261124),
        cases: env_or("STAMPEDE_CASES", 64) as u32,
        ..Budgets::default()
    };
    let result = run(
        Campaign::Sequential,
        &budgets,
        Shard::ALL,
        Stop::Budget,
        true,
    );
    eprintln!(
        "sequential: seed {} cases {} ops {} failures {} ops/s {:.0}",
        budgets.seed,
        result.units,
        result.ops,
        result.failures.len(),
        result.ops_per_second()
    );
    assert!(
        result.ops > u64::from(budgets.cases),
        "the campaign ran no engine ops"
    );
    if let Some(first) = result.failures.first() {
        panic!(
            "{} of {} cases failed; first:\n{}\n{}",
            result.failures.len(),
            result.units,
            first.message,
            first.replay_line()
        );
    }
}
