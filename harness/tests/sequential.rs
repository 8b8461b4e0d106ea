//! The sequential campaign at the fixed `make test` budget: 64 cases of up
//! to 30 ops, engine on real Lance vs the model, compared after every op.
//! A failure prints the shrunk ops and `stampede replay <token>`; proptest
//! records it in `tests/sequential.proptest-regressions` (committed), which
//! later runs replay first. STAMPEDE_CASES / STAMPEDE_SEED override.

use stampede_harness::env_or;
use stampede_harness::sequential::{run_with, Budget};

#[test]
fn engine_agrees_with_the_model_op_by_op() {
    let budget = Budget {
        seed: env_or("STAMPEDE_SEED", 20261124),
        cases: env_or("STAMPEDE_CASES", 64) as u32,
        max_ops: 30,
    };
    let summary = run_with(
        budget,
        Some("tests/sequential.proptest-regressions"),
        |_, _| {},
    );
    eprintln!(
        "sequential: seed {} cases {} ops {} failures {} ops/s {:.0}",
        budget.seed,
        summary.cases,
        summary.ops,
        summary.failures.len(),
        summary.ops_per_second()
    );
    assert!(
        summary.ops > u64::from(budget.cases),
        "the campaign ran no engine ops"
    );
    if let Some(first) = summary.failures.first() {
        panic!(
            "{} of {} cases failed; first:\n{first}",
            summary.failures.len(),
            summary.cases
        );
    }
}
