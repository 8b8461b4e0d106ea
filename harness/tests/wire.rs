//! The wire protocol (`docs/wire-protocol.md`): our engine behind it
//! (`stampede serve`) answers exactly what it answers in process, the
//! campaigns judge a peer through it (`verify --engine-cmd`), and a peer
//! that breaks the protocol is named, never judged.

use std::process::Command;

use stampede_harness::adapter::{Stampede, SystemUnderTest};
use stampede_harness::seeds::derive;
use stampede_harness::sequential::case_ops;
use stampede_harness::wire::peer::{Peer, PeerError};
use stampede_model::{ErrorKind, Op};

const STAMPEDE: &str = env!("CARGO_BIN_EXE_stampede");

fn serve(args: &str) -> String {
    format!("'{STAMPEDE}' serve {args}")
}

/// The same sequential cases, in process and over the wire: every outcome
/// and every view after an op are identical (not only the model's: the
/// wire must lose nothing the model does not look at either).
#[test]
fn the_same_cases_in_process_and_over_the_wire() {
    let mut ops_compared = 0;
    for case in 0..12 {
        let ops = case_ops(derive(1, case), 30);
        let mut local = Stampede::new();
        let mut wired = Peer::start(&serve("")).unwrap_or_else(|e| panic!("{e}"));
        for (i, (op, _)) in ops.iter().enumerate() {
            let (here, there) = (local.apply(op), wired.apply(op));
            assert_eq!(
                here, there,
                "case {case} op {i} {op:?}: in process, over the wire"
            );
            assert_eq!(
                local.view(),
                wired.view(),
                "case {case} view after op {i} {op:?}"
            );
            ops_compared += 1;
        }
    }
    assert!(ops_compared > 100, "only {ops_compared} ops compared");
}

fn verify(args: &[&str]) -> std::process::Output {
    Command::new(STAMPEDE)
        .args(["verify", "--quiet", "--seed", "1"])
        .args(args)
        .output()
        .expect("stampede verify runs")
}

/// `verify --engine-cmd` judges our engine over the wire with both
/// campaigns, and passes.
#[test]
fn verify_judges_a_peer_over_the_wire() {
    let out = verify(&[
        "--campaign",
        "sequential",
        "--campaign",
        "concurrent",
        "--cases",
        "12",
        "--rounds",
        "6",
        "--engine-cmd",
        &serve(""),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// A peer that declares fewer ops is sent only those: `serve --ops`
/// refuses any other, and a refusal fails the case. The control: such a
/// peer does refuse an op it did not declare.
#[test]
fn a_peer_is_sent_only_the_ops_it_declares() {
    let ops = "--ops Init,Open,BranchCreate,BranchDelete,BranchList --no-view";
    let peer = Peer::start(&serve(ops)).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("g").to_string_lossy().into_owned();
    assert_eq!(
        peer.apply_at(&root, &Op::Stamp)
            .map_err(|e| matches!(e, PeerError::Refused { .. })),
        Err(true)
    );
    assert!(matches!(
        peer.view_at(&root),
        Err(PeerError::Refused { .. })
    ));
    assert_eq!(
        peer.apply_at(&root, &Op::BranchList).unwrap(),
        Err(ErrorKind::NotInitialized)
    );

    let out = verify(&[
        "--campaign",
        "sequential",
        "--cases",
        "12",
        "--engine-cmd",
        &serve(ops),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // The concurrent campaign needs the views it judges rounds by.
    let out = verify(&["--campaign", "concurrent", "--engine-cmd", &serve(ops)]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// A peer that cannot be judged is named with why, before any op.
#[test]
fn a_peer_that_breaks_the_protocol_is_named() {
    let hello = |protocol: u32, ops: &str| {
        format!(
            r#"printf '%s\n' '{{"hello":{{"protocol":{protocol},"engine":"fake","ops":[{ops}],"view":true}}}}'; cat >/dev/null"#
        )
    };
    type Expected = fn(&PeerError) -> bool;
    let cases: [(String, Expected); 6] = [
        ("/nonexistent/peer".into(), |e| {
            matches!(e, PeerError::Broken { .. })
        }),
        ("echo not json; cat >/dev/null".into(), |e| {
            matches!(e, PeerError::Broken { .. })
        }),
        (hello(2, r#""Init""#), |e| {
            matches!(e, PeerError::Protocol { found: 2, .. })
        }),
        (
            hello(1, r#""Init","Teleport""#),
            |e| matches!(e, PeerError::UnknownOps { ops, .. } if ops == &["Teleport"]),
        ),
        (hello(1, r#""Open""#), |e| {
            matches!(e, PeerError::NoInit { .. })
        }),
        (
            // Greets, then never answers: a hang is reported, not waited out.
            format!(
                "{}; exec sleep 60",
                hello(1, r#""Init""#).replace("cat >/dev/null", "true")
            ),
            |e| matches!(e, PeerError::Broken { .. }),
        ),
    ];
    for (command, expected) in cases {
        let started = if command.contains("sleep 60") {
            // The greeting passes; the first op finds the hang.
            let mut peer = Peer::start(&command).unwrap_or_else(|e| panic!("{command}: {e}"));
            peer.set_answer_timeout(std::time::Duration::from_secs(2));
            peer.apply_at("/nowhere", &Op::Init).map(|_| ())
        } else {
            Peer::start(&command).map(|_| ())
        };
        match started {
            Err(e) => assert!(expected(&e), "{command}: {e}"),
            Ok(()) => panic!("{command}: accepted"),
        }
    }
    // The CLI: a usage error (exit 2), and campaigns a peer cannot run.
    let out = verify(&[
        "--campaign",
        "sequential",
        "--engine-cmd",
        "/nonexistent/peer",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = verify(&["--campaign", "crash", "--engine-cmd", &serve("")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// `docs/wire-protocol.schema.json` is the protocol as serde writes it:
/// every message the harness and `serve` exchange for a real case, one
/// of every op, observation and error kind, is valid; messages that break
/// it are refused (the control: a schema that accepted anything would
/// fail here). Validated by `jsonschema` from `make deps`' virtualenv.
#[test]
fn the_schema_accepts_every_message_and_refuses_broken_ones() {
    use serde_json::{json, Value};
    use stampede_harness::wire::{stampede_hello, Request, Response, WireView};
    use stampede_model::{LegacyStamp, Observation, OpenReport, StampState, StampView};

    let schema_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/wire-protocol.schema.json"
    );
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    // The schema's closed lists are the vocabulary's.
    let listed = |def: &str| -> Vec<String> {
        serde_json::from_value(schema["$defs"][def]["enum"].clone()).unwrap()
    };
    let kinds: Vec<String> = ErrorKind::ALL
        .iter()
        .map(|k| k.name().to_string())
        .collect();
    assert_eq!(listed("ErrorKind"), kinds);
    assert_eq!(listed("OpName"), Op::NAMES);

    let mut cases: Vec<Value> = Vec::new();
    let mut case = |def: &str, valid: bool, message: Value| {
        cases.push(json!({"def": def, "valid": valid, "message": message}));
    };
    let request = |r: Request| serde_json::to_value(r).unwrap();
    let response = |r: Response| serde_json::to_value(r).unwrap();
    let root = "/graphs/g0".to_string();
    let apply = |op: Op| {
        request(Request::Apply {
            root: root.clone(),
            op,
        })
    };

    // A real case, every message of it, as the harness and `serve` write them.
    let mut local = Stampede::new();
    case("Request", true, request(Request::Hello { protocol: 1 }));
    case(
        "Response",
        true,
        response(Response::Hello(stampede_hello())),
    );
    for (op, _) in (0..6).flat_map(|i| case_ops(derive(1, i), 30)) {
        let outcome = local.apply(&op);
        let view = local.view();
        case("Request", true, apply(op));
        case("Response", true, response(Response::Outcome(outcome)));
        case(
            "Request",
            true,
            request(Request::View { root: root.clone() }),
        );
        // A view that names a branch off main's schema (never a model's).
        let mut off = view.clone();
        off.off_schema.insert("a".into());
        case(
            "Response",
            true,
            response(Response::View(WireView::from(off))),
        );
        case(
            "Response",
            true,
            response(Response::View(WireView::from(view))),
        );
    }
    // One of every op, observation and kind, whatever the case held, and
    // the shapes the samples leave out.
    let ops = Op::one_of_each().into_iter().chain([
        Op::legacy(
            2,
            3,
            &[("u", Some("__run__1")), ("v", None)],
            LegacyStamp::Raw(" 3".into()),
        ),
        Op::legacy(1, 0, &[], LegacyStamp::Absent),
        Op::ApplySchema(stampede_model::Desired::Schema(
            stampede_harness::fixtures::person_with("email"),
        )),
        Op::Load {
            branch: "main".into(),
            type_name: "Person".into(),
            rows: vec![vec![
                ("name".into(), stampede_model::Value::Str("p".into())),
                ("age".into(), stampede_model::Value::Int(3)),
                ("ok".into(), stampede_model::Value::Bool(true)),
                ("x".into(), stampede_model::Value::Null),
                ("f".into(), stampede_model::Value::f64(1.5)),
            ]],
        },
    ]);
    for op in ops {
        case("Request", true, apply(op));
    }
    let stamp = |state, verdict| StampView { state, verdict };
    let observations = [
        Observation::Done,
        Observation::Opened(OpenReport {
            from: 2,
            to: 3,
            swept: vec!["__run__0".into()],
            kept: vec!["__run__1".into()],
        }),
        Observation::Branches(vec!["main".into(), "a".into()]),
        Observation::Stamp(stamp(StampState::Unstamped, Ok(1))),
        Observation::Stamp(stamp(StampState::PkSetUnstamped, Ok(1))),
        Observation::Stamp(stamp(
            StampState::Version(4),
            Err(ErrorKind::UpgradeRequired),
        )),
        Observation::Stamp(stamp(
            StampState::Corrupt("x".into()),
            Err(ErrorKind::CorruptStamp),
        )),
        Observation::Applied {
            applied: true,
            steps: vec!["add Person.email".into()],
            lock_released: true,
        },
        Observation::Loaded(2),
        Observation::Rows(vec![[(
            "name".to_string(),
            stampede_model::Value::Str("p".into()),
        )]
        .into_iter()
        .collect()]),
        Observation::Unlocked(false),
    ];
    for o in observations {
        case("Response", true, response(Response::Outcome(Ok(o))));
    }
    for kind in ErrorKind::ALL {
        case("Response", true, response(Response::Outcome(Err(kind))));
    }
    case(
        "Response",
        true,
        response(Response::Refused {
            message: "no".into(),
        }),
    );

    // What breaks the protocol.
    case(
        "Request",
        false,
        json!({"apply": {"root": "r", "op": "Teleport"}}),
    );
    case("Request", false, json!({"apply": {"op": "Init"}}));
    case(
        "Request",
        false,
        json!({"hello": {"protocol": 1, "extra": true}}),
    );
    case(
        "Request",
        false,
        json!({"apply": {"root": "r", "op": {"Open": "Sideways"}}}),
    );
    case("Response", false, json!({"outcome": {"Err": "oops"}}));
    case("Response", false, json!({"outcome": {"Ok": "Finished"}}));
    case(
        "Response",
        false,
        json!({"hello": {"protocol": 2, "engine": "e", "ops": ["Init"], "view": true}}),
    );
    case(
        "Response",
        false,
        json!({"hello": {"protocol": 1, "engine": "e", "ops": ["Teleport"], "view": true}}),
    );
    case(
        "Response",
        false,
        json!({"view": {"stamp": {"Err": "not_initialized"}, "refs": {}, "list": null, "rows": {"main": []}}}),
    );

    let dir = tempfile::tempdir().unwrap();
    let cases_path = dir.path().join("cases.jsonl");
    let lines: Vec<String> = cases.iter().map(|c| c.to_string()).collect();
    std::fs::write(&cases_path, lines.join("\n") + "\n").unwrap();
    let python = venv_python();
    let out = Command::new(&python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/check_wire_schema.py"
        ))
        .arg(schema_path)
        .arg(&cases_path)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run `make deps`)", python.display()));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Python of `make deps`' virtualenv (which has `jsonschema`).
fn venv_python() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/stampede/target")
        });
    let python = target.join("venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `make deps` (it installs jsonschema there)",
        python.display()
    );
    python
}
