//! Fixed scenarios recorded as transcripts (op, outcome, state after) under
//! `snapshots/`, so a change to the contract shows up as a reviewed diff.
//! Each transcript is only written after engine and model agreed on it.

use stampede_harness::sequential::transcript;
use stampede_model::schema::{Prop, PropType};
use stampede_model::{Desired, LegacyStamp, Mode, Op, SchemaSpec, Value};

fn snapshot(name: &str, ops: &[Op]) {
    let text = transcript(ops).unwrap_or_else(|divergence| panic!("{name}: {divergence}"));
    insta::with_settings!({snapshot_path => "../../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn fresh_graph_lifecycle() {
    snapshot(
        "transcript_fresh_graph_lifecycle",
        &[
            Op::Stamp,
            Op::Open(Mode::ReadWrite),
            Op::Init,
            Op::Init,
            Op::create("a", "main"),
            Op::create("a/b", "a"),
            Op::create("a", "main"),
            Op::delete("a"),
            Op::create("main", "main"),
            Op::create(" a", "main"),
            Op::create("__schema_apply_lock__/x", "main"),
            Op::create("c", "nope"),
            Op::BranchList,
            Op::delete("a/b"),
            Op::delete("a"),
            Op::Open(Mode::ReadOnly),
            Op::create("d", "main"),
            Op::BranchList,
        ],
    );
}

#[test]
fn legacy_v1_opened_read_write() {
    snapshot(
        "transcript_legacy_v1_open",
        &[
            Op::legacy(1, 2, &[("feature", None)], LegacyStamp::Default),
            Op::Stamp,
            Op::Open(Mode::ReadWrite),
            Op::Stamp,
            Op::Open(Mode::ReadWrite),
        ],
    );
}

#[test]
fn legacy_v2_with_a_user_branch_forked_from_a_run_ref() {
    snapshot(
        "transcript_legacy_v2_dependent_branch",
        &[
            Op::legacy(
                2,
                3,
                &[("fork", Some("__run__1")), ("fork/deeper", Some("fork"))],
                LegacyStamp::Default,
            ),
            Op::Open(Mode::ReadWrite),
            Op::delete("__run__1"),
            Op::delete("fork/deeper"),
            Op::delete("fork"),
            Op::delete("__run__1"),
            Op::create("__run__7", "main"),
            Op::Open(Mode::ReadWrite),
            Op::BranchList,
        ],
    );
}

#[test]
fn read_only_on_a_legacy_graph() {
    snapshot(
        "transcript_read_only_legacy",
        &[
            Op::legacy(2, 2, &[("u", Some("__run__0"))], LegacyStamp::Default),
            Op::Open(Mode::ReadOnly),
            Op::BranchList,
            Op::create("x", "main"),
            Op::delete("u"),
            Op::Stamp,
            Op::Open(Mode::ReadWrite),
            Op::Open(Mode::ReadOnly),
            Op::BranchList,
        ],
    );
}

#[test]
fn every_stamp_state() {
    let mut ops = Vec::new();
    let stamps = [
        (1, LegacyStamp::Default),
        (2, LegacyStamp::Absent),
        (2, LegacyStamp::Default),
        (2, LegacyStamp::Raw("3".into())),
        (2, LegacyStamp::Raw("4".into())),
        (2, LegacyStamp::Raw("99".into())),
        (2, LegacyStamp::Raw("abc".into())),
        (2, LegacyStamp::Raw(" 3".into())),
        (2, LegacyStamp::Raw("0".into())),
        (1, LegacyStamp::Raw("".into())),
    ];
    for (version, stamp) in stamps {
        ops.push(Op::legacy(version, 1, &[], stamp));
        ops.push(Op::Stamp);
        ops.push(Op::Open(Mode::ReadOnly));
        ops.push(Op::Open(Mode::ReadWrite));
    }
    snapshot("transcript_every_stamp_state", &ops);
}

fn load(branch: &str, type_name: &str, rows: &[&[(&str, Value)]]) -> Op {
    Op::Load {
        branch: branch.into(),
        type_name: type_name.into(),
        rows: rows
            .iter()
            .map(|r| r.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
            .collect(),
    }
}

fn with_email() -> Desired {
    let mut schema = SchemaSpec::example();
    schema
        .types
        .get_mut("Person")
        .unwrap()
        .props
        .push(Prop::new("email", PropType::String, true, false));
    Desired::Schema(schema)
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

#[test]
fn apply_blocked_by_a_branch_then_applied_after_deleting_it() {
    snapshot(
        "transcript_apply_blocked_then_applied",
        &[
            Op::Init,
            load(
                "main",
                "Person",
                &[&[("name", s("a")), ("age", Value::Int(1))]],
            ),
            Op::create("dev", "main"),
            Op::ApplySchema(with_email()),
            Op::ApplySchema(Desired::Malformed),
            Op::ApplySchema(Desired::Schema(SchemaSpec::example())),
            Op::delete("dev"),
            Op::ApplySchema(with_email()),
            Op::ApplySchema(with_email()),
            load(
                "main",
                "Person",
                &[&[("name", s("b")), ("email", s("b@x"))]],
            ),
            Op::Scan {
                branch: "main".into(),
                type_name: "Person".into(),
            },
        ],
    );
}

#[test]
fn a_lock_left_behind_then_unlock() {
    snapshot(
        "transcript_lock_left_behind",
        &[
            Op::Init,
            Op::LeaveLock,
            Op::BranchList,
            Op::create("dev", "main"),
            load("main", "Company", &[&[("name", s("acme"))]]),
            Op::ApplySchema(with_email()),
            Op::Scan {
                branch: "main".into(),
                type_name: "Company".into(),
            },
            Op::Open(Mode::ReadOnly),
            Op::Unlock,
            Op::Open(Mode::ReadWrite),
            Op::Unlock,
            Op::Unlock,
            Op::create("dev", "main"),
        ],
    );
}

#[test]
fn merge_with_key_collisions() {
    snapshot(
        "transcript_merge_collisions",
        &[
            Op::Init,
            load(
                "main",
                "Person",
                &[
                    &[("name", s("a")), ("age", Value::Int(1))],
                    &[("name", s("b"))],
                ],
            ),
            Op::create("dev", "main"),
            load(
                "dev",
                "Person",
                &[
                    &[("name", s("a")), ("age", Value::Int(9))],
                    &[("name", s("c"))],
                ],
            ),
            load(
                "main",
                "Person",
                &[&[("name", s("b")), ("age", Value::Int(5))]],
            ),
            load(
                "dev",
                "WorksAt",
                &[&[
                    ("src", s("a")),
                    ("dst", s("acme")),
                    ("since", Value::Int(3)),
                ]],
            ),
            load("dev", "Person", &[&[("name", s("x")), ("age", s("old"))]]),
            Op::Merge {
                source: "dev".into(),
                target: "main".into(),
            },
            Op::Merge {
                source: "dev".into(),
                target: "dev".into(),
            },
            Op::Merge {
                source: "nope".into(),
                target: "main".into(),
            },
            Op::Scan {
                branch: "main".into(),
                type_name: "Person".into(),
            },
        ],
    );
}
