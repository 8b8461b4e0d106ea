//! Every JSON the harness reads or writes is derived (serde) from one type;
//! these snapshots pin each shape, so a change to a wire or report format
//! is a reviewed diff, never an accident: the `--json` verify report (and a
//! shard's), the actor wire (an op in, what it saw out), and the operator
//! commands' `--json` outputs.

use crate::common;
use stampede_engine::check::{CheckReport, Problem};

use stampede_harness::budgets::Budgets;
use stampede_harness::cli::shapes::{Applied, Checked, Guard, Opened, SchemaShown, StampShown};
use stampede_harness::concurrent::Seen;
use stampede_harness::fixtures::person_with;
use stampede_harness::report::Report;
use stampede_harness::tally::{CampaignResult, CrashDetail};
use stampede_harness::verdict::{Campaign, Divergence, Failure};
use stampede_model::{Desired, ErrorKind, Observation, Op, OpenReport, Value};

fn pinned(name: &str, json: String) {
    insta::with_settings!({snapshot_path => "../../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, json);
    });
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("serializes")
}

#[test]
fn the_verify_report_shape() {
    let crash = CampaignResult {
        campaign: Campaign::Crash,
        units: 9,
        ops: 9,
        faulted_ops: 0,
        retryable_ops: 0,
        grants: 0,
        escapes: 0,
        judge_seconds: 0.0,
        shapes: Default::default(),
        failures: vec![Failure {
            campaign: Campaign::Crash,
            unit: 11,
            replay: "crash:apply-add-property:8".into(),
            message: "a lock was left behind and check does not report it".into(),
            divergence: None,
        }],
        seconds: 1.5,
        crash: vec![CrashDetail {
            operation: "apply-add-property".into(),
            writes: 9,
            states: 9,
            violations: 1,
            residue: [("lock_left_behind".to_string(), 8)].into(),
            seconds: 1.5,
        }],
    };
    // A sequential failure also says where engine and model parted.
    let sequential = CampaignResult {
        campaign: Campaign::Sequential,
        units: 1,
        ops: 3,
        failures: vec![Failure {
            campaign: Campaign::Sequential,
            unit: 4,
            replay: "seq:00000000000000ff:30".into(),
            message: "op 3 BranchCreate: engine Err(Storage), model Err(BranchExists)".into(),
            divergence: Some(Box::new(Divergence {
                op: "BranchCreate".into(),
                model: "branch_exists".into(),
                engine: "storage".into(),
            })),
        }],
        crash: vec![],
        ..crash.clone()
    };
    // Histories that all passed.
    let histories = CampaignResult {
        campaign: Campaign::Concurrent,
        units: 100,
        ops: 1420,
        retryable_ops: 31,
        grants: 52_000,
        judge_seconds: 0.8,
        failures: vec![],
        crash: vec![],
        ..crash.clone()
    };
    let mut report = Report::new(&Budgets::default(), 2, vec![crash, sequential, histories]);
    report.shard = Some([2, 3]);
    // The build's own commit: pinned out of the snapshot.
    report.revision = "<revision>".into();
    let text = pretty(&report);
    pinned("json_verify_report", text.clone());
    // A shard's report reads back as what was written.
    let read: Report = serde_json::from_str(&text).expect("reads back");
    assert_eq!(read, report);
    // In JUnit, each failure is a failing case named by its replay, and
    // nothing is skipped.
    let suites = common::junit_suites(&stampede_harness::junit::render(&report));
    let concurrent = suites.iter().find(|s| s.name == "concurrent").unwrap();
    assert_eq!(concurrent.failures, vec![]);
    assert!(suites.iter().all(|s| s.skipped.is_empty()));
    assert_eq!(suites.iter().map(|s| s.failures.len()).sum::<usize>(), 2);
}

#[test]
fn the_actor_wire_shape() {
    let ops = vec![
        None,
        Some(Op::create("a", "main")),
        Some(Op::delete("a")),
        Some(Op::BranchList),
        Some(Op::Load {
            branch: "main".into(),
            type_name: "Person".into(),
            rows: vec![vec![
                ("name".to_string(), Value::Str("p".into())),
                ("age".to_string(), Value::Int(1)),
            ]],
        }),
        Some(Op::Merge {
            source: "a".into(),
            target: "main".into(),
        }),
        Some(Op::ApplySchema(Desired::Schema(person_with("email")))),
    ];
    let seen = [
        Seen {
            swept: vec!["__run__0".into()],
            outcome: Ok(Observation::Opened(OpenReport {
                from: 2,
                to: 3,
                swept: vec!["__run__0".into()],
                kept: vec![],
            })),
            open_failed: false,
            open: Default::default(),
            op: Default::default(),
        },
        Seen {
            swept: vec![],
            outcome: Err(ErrorKind::SchemaApplyInProgress),
            open_failed: false,
            open: Default::default(),
            op: Default::default(),
        },
    ];
    let text = format!(
        "ops (one per line):\n{}\nseen:\n{}",
        ops.iter()
            .map(|op| serde_json::to_string(op).expect("serializes"))
            .collect::<Vec<_>>()
            .join("\n"),
        seen.iter()
            .map(|s| serde_json::to_string(s).expect("serializes"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    pinned("json_actor_wire", text);
    // Lossless: every op reads back as itself (schema applies included).
    for op in &ops {
        let line = serde_json::to_string(op).expect("serializes");
        let read: Option<Op> = serde_json::from_str(&line).expect("reads back");
        assert_eq!(&read, op);
    }
}

#[test]
fn the_cli_json_shapes() {
    let report = CheckReport {
        stamp: Some("2".into()),
        state: "v2".into(),
        pending: vec!["v2→v3: sweep the legacy __run__ refs, write stamp 3".into()],
        would_sweep: vec!["__run__0".into()],
        branches: vec!["main".into()],
        legacy_refs: vec!["__run__0".into()],
        problems: vec![Problem {
            kind: "lock_left_behind",
            detail: "the schema-apply lock is held".into(),
            fix: "run `stampede unlock`".into(),
        }],
        ..CheckReport::default()
    };
    let shapes = [
        (
            "check",
            pretty(&Checked {
                healthy: false,
                report: &report,
            }),
        ),
        (
            "open",
            pretty(&Opened {
                from: 2,
                to: 3,
                swept: vec!["__run__0".into()],
                kept: vec!["__run__1".into()],
            }),
        ),
        (
            "schema show",
            pretty(&SchemaShown {
                source: "node A { k: String @key }\n".into(),
                types: vec!["A".into()],
            }),
        ),
        (
            "schema apply",
            pretty(&Applied {
                applied: true,
                steps: vec!["add property Person.email".into()],
                lock_released: true,
            }),
        ),
        (
            "stamp",
            pretty(&StampShown {
                raw: Some("abc".into()),
                state: "corrupt".into(),
                primary_key: "object_id".into(),
                main_version: 3,
                guard: Guard::Refused {
                    ok: false,
                    kind: ErrorKind::CorruptStamp,
                    message:
                        "internal schema stamp \"abc\" on main is not a canonical version number"
                            .into(),
                },
            }),
        ),
        (
            "stamp, current",
            pretty(&Guard::Ok {
                ok: true,
                version: 3,
            }),
        ),
    ];
    let text = shapes
        .iter()
        .map(|(command, json)| format!("{command}:\n{json}"))
        .collect::<Vec<_>>()
        .join("\n\n");
    pinned("json_cli_outputs", text);
}
