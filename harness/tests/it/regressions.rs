//! Shrunk failures, kept as named tests. Each names what broke in one line.

use stampede_harness::sequential::check_ops;
use stampede_model::{LegacyStamp, Mode, Op};

/// A read-only list on a v1 graph showed `__run__0`, which the next
/// read-write open sweeps (planted while proving the campaign catches it).
#[test]
fn regression_read_only_list_hides_what_the_sweep_takes() {
    check_ops(&[
        Op::legacy(1, 1, &[], LegacyStamp::Default),
        Op::Open(Mode::ReadOnly),
    ])
    .unwrap();
}

/// A 211-byte name passed Lance's rules and died in the filesystem with a
/// raw storage error ("File name too long").
#[test]
fn regression_name_too_long_for_a_ref_file_is_invalid() {
    check_ops(&[
        Op::Init,
        Op::create(&"x".repeat(211), "main"),
        Op::create(&"x".repeat(210), "main"),
        Op::BranchDelete {
            name: "x".repeat(210),
        },
        Op::create(&"é".repeat(36), "main"),
    ])
    .unwrap();
}

/// Concurrent openers each reported refs another opener swept; a single
/// opener must report exactly its own deletions, and nothing on reopen.
#[test]
fn regression_reopen_reports_nothing_swept() {
    check_ops(&[
        Op::legacy(2, 3, &[("u", Some("__run__1"))], LegacyStamp::Default),
        Op::Open(Mode::ReadWrite),
        Op::Open(Mode::ReadWrite),
        Op::create("__run__0", "u"),
        Op::Open(Mode::ReadWrite),
        Op::BranchList,
    ])
    .unwrap();
}

/// The model's starting schema must be the one the engine writes at init
/// and in legacy graphs, or every rows comparison is off by a column.
#[test]
fn the_models_example_schema_is_the_engines() {
    use stampede_engine::schema::{Schema, EXAMPLE_SCHEMA};
    let rendered = stampede_model::SchemaSpec::example().render();
    assert_eq!(
        Schema::parse(&rendered).unwrap(),
        Schema::parse(EXAMPLE_SCHEMA).unwrap()
    );
}

/// `F64` was in the schema language and the engine but not in the model,
/// and the adapter panicked on a scanned float: a property of type F64 now
/// loads floats and integers (read back as floats) on both sides alike.
#[test]
fn regression_f64_properties_agree_with_the_model() {
    use stampede_model::schema::{Prop, PropType};
    use stampede_model::{Desired, SchemaSpec, Value};
    let mut schema = SchemaSpec::example();
    schema
        .types
        .get_mut("Person")
        .expect("Person")
        .props
        .push(Prop::new("score", PropType::F64, true, false));
    let person = |name: &str, score: Value| {
        vec![
            ("name".to_string(), Value::Str(name.into())),
            ("score".to_string(), score),
        ]
    };
    check_ops(&[
        Op::Init,
        Op::ApplySchema(Desired::Schema(schema)),
        Op::Load {
            branch: "main".into(),
            type_name: "Person".into(),
            rows: vec![person("a", Value::f64(1.5)), person("b", Value::Int(2))],
        },
        Op::Load {
            branch: "main".into(),
            type_name: "Person".into(),
            rows: vec![person("c", Value::Str("high".into()))],
        },
        Op::Scan {
            branch: "main".into(),
            type_name: "Person".into(),
        },
    ])
    .unwrap();
}
