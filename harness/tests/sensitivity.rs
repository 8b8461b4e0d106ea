//! The cheap half of the sensitivity table, in `make test`: each defect a
//! sequential, crash or fault campaign should catch is planted and caught
//! within a small budget. `make sensitivity` runs the whole table (all 14,
//! concurrency defects through the concurrent campaign and loom).
//!
//! Defects are planted process-wide, so these tests take a lock.

mod common;

use std::process::Command;
use std::sync::Mutex;

use stampede_engine::defects::{plant, Defect};
use stampede_harness::crash::{run_scenario, scenario, Budget};
use stampede_harness::seeds::derive;
use stampede_harness::sequential::run_case;

static PLANTING: Mutex<()> = Mutex::new(());

fn with_planted<T>(defect: Defect, f: impl FnOnce() -> T) -> T {
    let _one_at_a_time = PLANTING.lock().unwrap_or_else(|e| e.into_inner());
    plant(Some(defect));
    let out = f();
    plant(None);
    out
}

/// The sequential campaign (seed 1) catches `defect` within `cases`.
fn sequential_catches(defect: Defect, cases: u32) {
    let caught = with_planted(defect, || {
        (0..cases).find(|i| run_case(derive(1, *i), 30).is_err())
    });
    assert!(
        caught.is_some(),
        "{cases} sequential cases missed {defect:?}"
    );
}

/// The crash campaign catches `defect` in `scenario_name`.
fn crash_catches(defect: Defect, scenario_name: &str) {
    let scenario = scenario(scenario_name).expect("a scenario");
    let report = with_planted(defect, || {
        run_scenario(
            &scenario,
            Budget {
                second_death_stride: Some(1),
            },
            |_| {},
        )
    });
    assert!(
        !report.violations.is_empty(),
        "crash states of {scenario_name} missed {defect:?}: {report:?}"
    );
}

#[test]
fn migration_deferred_to_the_first_publish_is_caught() {
    sequential_catches(Defect::MigrationDeferred, 40);
}

#[test]
fn primary_key_set_again_on_resume_is_caught() {
    crash_catches(Defect::PkSetAgain, "open-v2-resume");
}

#[test]
fn corrupt_stamp_read_as_v1_is_caught() {
    sequential_catches(Defect::CorruptStampAsV1, 60);
}

#[test]
fn read_only_open_skipping_the_guard_is_caught() {
    sequential_catches(Defect::ReadOnlySkipsGuard, 60);
}

#[test]
fn guard_before_normalization_is_caught() {
    sequential_catches(Defect::GuardBeforeNormalization, 120);
}

#[test]
fn release_error_after_a_committed_apply_is_caught() {
    crash_catches(Defect::ReleaseErrorAfterApply, "apply-add-property");
}

#[test]
fn stamp_in_a_second_commit_after_init_is_caught() {
    crash_catches(Defect::StampInSecondCommit, "init");
}

#[test]
fn loose_sweep_prefix_is_caught() {
    sequential_catches(Defect::LooseSweepPrefix, 60);
}

/// A defect's failure found by one part of a sharded plan reaches the
/// merged report and its JUnit file with a token that replays it: the
/// planted build fails that token again, the clean `stampede` passes it.
#[test]
fn a_failure_in_one_shard_survives_the_merge_and_replays() {
    let planted = env!("CARGO_BIN_EXE_stampede-sensitivity");
    let dir = tempfile::tempdir().unwrap();
    let parts: Vec<_> = (1..=3)
        .map(|k| {
            let json = dir.path().join(format!("part-{k}.json"));
            Command::new(planted)
                .env(
                    "STAMPEDE_DEFECT",
                    Defect::LooseSweepPrefix.number().to_string(),
                )
                .args(["verify", "--quiet", "--campaign", "sequential"])
                .args(["--cases", "30", "--seed", "1", "--shard", &format!("{k}/3")])
                .arg("--json")
                .arg(&json)
                .status()
                .expect("a shard runs");
            json
        })
        .collect();
    let (merged, junit) = (
        dir.path().join("merged.json"),
        dir.path().join("merged.xml"),
    );
    let out = Command::new(planted)
        .args(["report", "merge"])
        .args(&parts)
        .arg("--json")
        .arg(&merged)
        .arg("--junit")
        .arg(&junit)
        .output()
        .expect("merge runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the merge passed a failing plan: {out:?}"
    );
    let report = common::read_report(&merged);
    let failures = &report.results[0].failures;
    assert!(!failures.is_empty(), "no part caught the defect");
    let from_parts: usize = parts
        .iter()
        .map(|p| common::read_report(p).results[0].failures.len())
        .sum();
    assert_eq!(failures.len(), from_parts);
    let token = &failures[0].replay;
    let suites = common::junit_suites(&std::fs::read_to_string(&junit).unwrap());
    assert!(suites[0]
        .failures
        .iter()
        .any(|(case, message)| case == token
            && message.contains(&format!("stampede replay {token}"))));
    let replay = |binary: &str| {
        Command::new(binary)
            .env(
                "STAMPEDE_DEFECT",
                Defect::LooseSweepPrefix.number().to_string(),
            )
            .args(["replay", token])
            .output()
            .expect("replay runs")
            .status
            .code()
    };
    assert_eq!(
        replay(planted),
        Some(1),
        "the token does not replay the failure"
    );
    // The release `stampede` never plants (it ignores STAMPEDE_DEFECT): clean.
    assert_eq!(replay(env!("CARGO_BIN_EXE_stampede")), Some(0));
}
