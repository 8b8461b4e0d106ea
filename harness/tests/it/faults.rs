//! The fault campaign at a small fixed budget (`STAMPEDE_FAULT_CASES`,
//! default 24 cases of up to 20 ops): transient errors, lost
//! acknowledgements, pauses past the claim lease and delays at the storage
//! boundary, judged against the model.

use crate::common;

use stampede_harness::budgets::Budgets;
use stampede_harness::env_or;
use stampede_harness::plan::{run, Shard, Stop};
use stampede_harness::verdict::Campaign;

#[test]
fn fault_campaign_finds_nothing_on_the_clean_engine() {
    let budgets = Budgets {
        seed: env_or("STAMPEDE_SEED", 1),
        fault_cases: env_or("STAMPEDE_FAULT_CASES", 24) as u32,
        max_ops: 20,
        ..Budgets::default()
    };
    let result = run(Campaign::Faults, &budgets, Shard::ALL, Stop::Budget, true);
    let failures: Vec<String> = result
        .failures
        .iter()
        .map(|f| format!("{}\n{}", f.message, f.replay_line()))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        result.faulted_ops * 8 >= result.ops,
        "too few ops met a fault to judge anything: {result:?}"
    );
}

/// A cleaner paused past its claim's lease stops instead of deleting: the
/// delete of `x` paused at its tree listing, a create of `x` that took the
/// name over meanwhile, and the new `x` whole afterwards (one row, the
/// create's). The planted half (defect 21, a holder that ignores its
/// lapse, destroys it) is in `sensitivity.rs`.
#[test]
fn a_cleaner_paused_past_its_lease_stops_instead_of_deleting() {
    assert_eq!(
        common::paused::a_paused_delete_meets_a_create_that_took_its_name_over(),
        Ok(1)
    );
}
