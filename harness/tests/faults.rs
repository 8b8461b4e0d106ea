//! The fault campaign at a small fixed budget (`STAMPEDE_FAULT_CASES`,
//! default 24 cases of up to 20 ops): transient errors, lost
//! acknowledgements and delays at the storage boundary, judged against the
//! model.

use stampede_harness::env_or;
use stampede_harness::faults::{run, Budget};

#[test]
fn fault_campaign_finds_nothing_on_the_clean_engine() {
    let budget = Budget::new(
        env_or("STAMPEDE_SEED", 1),
        env_or("STAMPEDE_FAULT_CASES", 24) as u32,
        20,
    );
    let summary = run(budget, |_, _| {});
    let failures: Vec<String> = summary
        .failures
        .iter()
        .map(|f| format!("{}\nreplay: stampede replay {}", f.message, f.replay))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        summary.faulted_ops * 8 >= summary.ops,
        "too few ops met a fault to judge anything: {summary:?}"
    );
}
