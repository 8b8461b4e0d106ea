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
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(WIRE_SCHEMA).unwrap()).unwrap();
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

    let mut cases = SchemaCases::default();
    cases.of_a_real_case();
    cases.one_of_everything();
    cases.broken();
    cases.validate();
}

const WIRE_SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../docs/wire-protocol.schema.json"
);

/// Messages for the schema's validator: which definition each must (or
/// must not) satisfy.
#[derive(Default)]
struct SchemaCases(Vec<serde_json::Value>);

impl SchemaCases {
    fn case(&mut self, def: &str, valid: bool, message: serde_json::Value) {
        (self.0).push(serde_json::json!({"def": def, "valid": valid, "message": message}));
    }

    fn request(&mut self, r: stampede_harness::wire::Request) {
        self.case("Request", true, serde_json::to_value(r).unwrap());
    }

    fn response(&mut self, r: stampede_harness::wire::Response) {
        self.case("Response", true, serde_json::to_value(r).unwrap());
    }

    fn apply(&mut self, op: Op) {
        let root = "/graphs/g0".to_string();
        self.request(stampede_harness::wire::Request::Apply { root, op });
    }

    /// A real case, every message of it, as the harness and `serve` write
    /// them.
    fn of_a_real_case(&mut self) {
        use stampede_harness::wire::{stampede_hello, Request, Response, WireView};
        let mut local = Stampede::new();
        self.request(Request::Hello { protocol: 1 });
        self.response(Response::Hello(stampede_hello()));
        for (op, _) in (0..6).flat_map(|i| case_ops(derive(1, i), 30)) {
            let outcome = local.apply(&op);
            let view = local.view();
            self.apply(op);
            self.response(Response::Outcome(outcome));
            let root = "/graphs/g0".to_string();
            self.request(Request::View { root });
            // A view that names a branch off main's schema (never a model's).
            let mut off = view.clone();
            off.off_schema.insert("a".into());
            self.response(Response::View(WireView::from(off)));
            self.response(Response::View(WireView::from(view)));
        }
    }

    /// One of every op, observation and kind, whatever the case held, and
    /// the shapes the samples leave out.
    fn one_of_everything(&mut self) {
        use stampede_harness::wire::Response;
        use stampede_model::Value as V;
        use stampede_model::{LegacyStamp, Observation, OpenReport, StampState, StampView};
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
                    ("name".into(), V::Str("p".into())),
                    ("age".into(), V::Int(3)),
                    ("ok".into(), V::Bool(true)),
                    ("x".into(), V::Null),
                    ("f".into(), V::f64(1.5)),
                ]],
            },
        ]);
        for op in ops {
            self.apply(op);
        }
        let stamp = |state, verdict| Observation::Stamp(StampView { state, verdict });
        let observations = [
            Observation::Done,
            Observation::Opened(OpenReport {
                from: 2,
                to: 3,
                swept: vec!["__run__0".into()],
                kept: vec!["__run__1".into()],
            }),
            Observation::Branches(vec!["main".into(), "a".into()]),
            stamp(StampState::Unstamped, Ok(1)),
            stamp(StampState::PkSetUnstamped, Ok(1)),
            stamp(StampState::Version(4), Err(ErrorKind::UpgradeRequired)),
            stamp(
                StampState::Corrupt("x".into()),
                Err(ErrorKind::CorruptStamp),
            ),
            Observation::Applied {
                applied: true,
                steps: vec!["add Person.email".into()],
                lock_released: true,
            },
            Observation::Loaded(2),
            Observation::Rows(vec![[("name".to_string(), V::Str("p".into()))]
                .into_iter()
                .collect()]),
            Observation::Unlocked(false),
        ];
        for o in observations {
            self.response(Response::Outcome(Ok(o)));
        }
        for kind in ErrorKind::ALL {
            self.response(Response::Outcome(Err(kind)));
        }
        let message = "no".into();
        self.response(Response::Refused { message });
    }

    /// What breaks the protocol.
    fn broken(&mut self) {
        use serde_json::json;
        for request in [
            json!({"apply": {"root": "r", "op": "Teleport"}}),
            json!({"apply": {"op": "Init"}}),
            json!({"hello": {"protocol": 1, "extra": true}}),
            json!({"apply": {"root": "r", "op": {"Open": "Sideways"}}}),
        ] {
            self.case("Request", false, request);
        }
        for response in [
            json!({"outcome": {"Err": "oops"}}),
            json!({"outcome": {"Ok": "Finished"}}),
            json!({"hello": {"protocol": 2, "engine": "e", "ops": ["Init"], "view": true}}),
            json!({"hello": {"protocol": 1, "engine": "e", "ops": ["Teleport"], "view": true}}),
            json!({"view": {"stamp": {"Err": "not_initialized"}, "refs": {}, "list": null, "rows": {"main": []}}}),
        ] {
            self.case("Response", false, response);
        }
    }

    /// Every case judged by `jsonschema` against the schema.
    fn validate(&self) {
        let dir = tempfile::tempdir().unwrap();
        let cases_path = dir.path().join("cases.jsonl");
        let lines: Vec<String> = self.0.iter().map(|c| c.to_string()).collect();
        std::fs::write(&cases_path, lines.join("\n") + "\n").unwrap();
        let python = venv_python();
        let out = Command::new(&python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../scripts/check_wire_schema.py"
            ))
            .arg(WIRE_SCHEMA)
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
