//! A plan spread across machines: `verify --shard K/N` runs disjoint parts
//! whose merged report (`stampede report merge`) is the unsharded run's,
//! and the JUnit report CI systems read. Runs the `stampede` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common;

use common::{junit_suites, read_report as read};

const PLAN: &[&str] = &[
    "verify",
    "--quiet",
    "--seed",
    "5",
    "--cases",
    "8",
    "--rounds",
    "4",
    "--actors",
    "3",
    "--fault-cases",
    "4",
    "--second-death-stride",
    "0",
];

fn stampede() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stampede"))
}

/// A quick plan of the sequential campaign alone.
fn sequential_plan(cases: u32) -> Command {
    let mut command = stampede();
    command
        .args(["verify", "--quiet", "--campaign", "sequential", "--cases"])
        .arg(cases.to_string());
    command
}

fn finish(command: &mut Command) -> Output {
    command.output().expect("stampede runs")
}

/// What must be equal between a merged and an unsharded report: per
/// campaign the counts, the failures with their tokens, the crash figures.
/// Times differ, and so do the fault campaign's faulted ops: which calls a
/// seeded plan hits depends on the order Lance issues concurrent reads.
fn essence(report: &stampede_harness::report::Report) -> Vec<String> {
    report
        .results
        .iter()
        .map(|r| {
            let crash: Vec<_> = r
                .crash
                .iter()
                .map(|d| (&d.operation, d.writes, d.states, d.violations, &d.residue))
                .collect();
            let failures: Vec<_> = r.failures.iter().map(|f| (&f.replay, f.unit)).collect();
            format!(
                "{:?} units {} ops {} failures {failures:?} crash {crash:?}",
                r.campaign, r.units, r.ops
            )
        })
        .collect()
}

fn shard_reports(dir: &Path, extra: &[&str]) -> Vec<PathBuf> {
    // The three parts run at once, as on three machines; one of them also
    // shards its part across two processes.
    let children: Vec<_> = (1..=3)
        .map(|k| {
            let json = dir.join(format!("part-{k}.json"));
            let mut command = stampede();
            command
                .args(PLAN)
                .args(extra)
                .args(["--shard", &format!("{k}/3"), "--json"])
                .arg(&json);
            if k == 2 {
                command.args(["--jobs", "2"]);
            }
            (command.spawn().expect("stampede starts"), json)
        })
        .collect();
    children
        .into_iter()
        .map(|(mut child, json)| {
            child.wait().expect("a shard finishes");
            json
        })
        .collect()
}

#[test]
fn three_shards_merge_into_the_unsharded_report() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.json");
    let out = finish(stampede().args(PLAN).arg("--json").arg(&whole));
    assert!(out.status.success(), "{out:?}");
    let parts = shard_reports(dir.path(), &[]);
    let merged = dir.path().join("merged.json");
    let junit = dir.path().join("merged.xml");
    let out = finish(
        stampede()
            .args(["report", "merge"])
            .args(&parts)
            .arg("--json")
            .arg(&merged)
            .arg("--junit")
            .arg(&junit),
    );
    assert!(out.status.success(), "{out:?}");
    let (whole, merged) = (read(&whole), read(&merged));
    assert_eq!(essence(&merged), essence(&whole));
    assert!(merged.passed && merged.shard.is_none());
    // Every part ran something of every campaign but loom.
    for part in &parts {
        assert!(read(part).results.iter().all(|r| r.units > 0), "{part:?}");
    }
    let suites = junit_suites(&std::fs::read_to_string(&junit).unwrap());
    assert_eq!(suites.len(), merged.results.len());
    assert!(suites
        .iter()
        .all(|s| s.failures.is_empty() && s.passing == 1));

    // A missing part is named, and the merge fails.
    let out = finish(stampede().args(["report", "merge"]).args(&parts[..2]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("shard 3/3 is missing"));
    // Reports of another plan are refused.
    let other = dir.path().join("other.json");
    let out = finish(
        sequential_plan(3)
            .args(["--seed", "6", "--shard", "3/3", "--json"])
            .arg(&other),
    );
    assert!(out.status.success(), "{out:?}");
    let out = finish(
        stampede()
            .args(["report", "merge"])
            .args(&parts[..2])
            .arg(&other),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn a_seed_chosen_by_date_is_printed_first_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = finish(
        sequential_plan(2)
            .args(["--seed", "date", "--json"])
            .arg(&json),
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().next().unwrap_or_default();
    let seed = read(&json).budgets.seed;
    assert!(first.starts_with(&format!("seed: {seed} ")), "{first}");
}

/// `report merge` runs in a process of its own: the replay lines it prints
/// and writes into JUnit take the place and the peer from the parts'
/// budgets, not from its own settings (it had neither, and printed lines
/// that replayed a moto or peer failure locally on our engine).
#[test]
fn a_merged_report_replays_on_the_place_and_peer_its_plan_ran_on() {
    let dir = tempfile::tempdir().unwrap();
    let parts: Vec<PathBuf> = (1..=2)
        .map(|k| {
            let json = dir.path().join(format!("part-{k}.json"));
            let out = finish(
                sequential_plan(2)
                    .args(["--shard", &format!("{k}/2"), "--json"])
                    .arg(&json),
            );
            assert!(out.status.success(), "{out:?}");
            // As a plan on moto against a peer would have written it, with
            // a failure in the first part.
            let mut report: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
            report["budgets"]["engine_cmd"] = "my-engine serve".into();
            report["budgets"]["s3"] =
                serde_json::json!({"prefix": null, "options": {}, "server": "moto"});
            if k == 1 {
                report["results"][0]["failures"] = serde_json::json!([{
                    "campaign": "sequential", "unit": 0,
                    "replay": "seq:0b331645445bcd27:30", "message": "planted",
                }]);
                report["passed"] = false.into();
            }
            std::fs::write(&json, report.to_string()).unwrap();
            json
        })
        .collect();
    let junit = dir.path().join("junit.xml");
    let out = finish(
        stampede()
            .args(["report", "merge"])
            .args(&parts)
            .arg("--junit")
            .arg(&junit),
    );
    assert_eq!(out.status.code(), Some(1), "a part failed: {out:?}");
    let line = "stampede replay --s3=moto --engine-cmd 'my-engine serve' seq:0b331645445bcd27:30";
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(line), "{stdout}");
    let suites = junit_suites(&std::fs::read_to_string(&junit).unwrap());
    let failures: Vec<&String> = suites
        .iter()
        .flat_map(|s| &s.failures)
        .map(|(_, m)| m)
        .collect();
    assert!(
        failures.iter().any(|m| m.contains(line)),
        "JUnit failures: {failures:?}"
    );
}
