//! The crash campaign over every writing operation: each killed at each of
//! its durable writes, judged against the model. The recovering open is
//! killed too, at a stride (`STAMPEDE_SECOND_DEATH_STRIDE`, default 4;
//! `make verify` kills it at every write).

use stampede_harness::crash::{run_scenario, scenario, Budget};
use stampede_harness::env_or;

fn enumerate(name: &str) {
    let scenario = scenario(name).expect("a scenario");
    let budget = Budget {
        second_death_stride: Some(env_or("STAMPEDE_SECOND_DEATH_STRIDE", 4)),
    };
    let report = run_scenario(&scenario, budget, |_| {});
    assert!(report.writes > 0, "{name} writes nothing: {report:?}");
    assert!(report.states >= report.writes, "{report:?}");
    let violations: Vec<String> = report
        .violations
        .iter()
        .map(|v| format!("{}\n{}", v.replay_line(), v.message))
        .collect();
    assert!(violations.is_empty(), "{}", violations.join("\n\n"));
}

/// One test per scenario (they run in parallel), and the list of names they
/// cover, which `every_scenario_has_a_test` holds to `scenarios()`.
macro_rules! crash_tests {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(#[test] fn $test() { enumerate($name); })*
        const TESTED: &[&str] = &[$($name),*];
    };
}

/// A scenario added to `crash::scenarios()` without a test here would go
/// silently untested.
#[test]
fn every_scenario_has_a_test() {
    let names: Vec<&str> = stampede_harness::crash::scenarios()
        .iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(TESTED, names.as_slice());
}

crash_tests! {
    init => "init",
    open_v1 => "open-v1",
    open_v2 => "open-v2",
    open_v2_resume => "open-v2-resume",
    create => "create",
    create_from_branch => "create-from-branch",
    delete => "delete",
    load_append => "load-append",
    load_upsert => "load-upsert",
    load_branch => "load-branch",
    merge => "merge",
    apply_add_property => "apply-add-property",
    apply_add_type => "apply-add-type",
    unlock => "unlock",
}
