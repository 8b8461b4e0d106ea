//! The `stampede` CLI as separate OS processes on one graph, and its
//! contract (exit codes, `error[<kind>]` on stderr, `--json`).
//! Rounds: STAMPEDE_PROCESS_ROUNDS.

use std::process::{Command, Output};

use serde_json::Value;

fn stampede(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(args)
        .output()
        .expect("the stampede binary runs")
}

fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the stampede binary starts")
}

fn ok(args: &[&str]) -> String {
    let out = stampede(args);
    assert!(
        out.status.success(),
        "stampede {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn error_kind(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().next().unwrap_or_default();
    line.strip_prefix("error[")
        .and_then(|rest| rest.split_once(']'))
        .map(|(kind, _)| kind.to_string())
        .unwrap_or_else(|| panic!("no `error[<kind>]` line on stderr: {stderr}"))
}

fn rounds() -> usize {
    stampede_harness::env_or("STAMPEDE_PROCESS_ROUNDS", 30) as usize
}

/// A schema or rows file that cannot be read is the caller's input: once
/// `error[storage]` and exit 1, now a usage error (exit 2) that names the
/// file, and nothing is written.
#[test]
fn regression_an_unreadable_input_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("g");
    let root = root.to_str().unwrap();
    let missing = dir.path().join("no-such.schema");
    let missing = missing.to_str().unwrap();
    let out = stampede(&["init", root, "--schema", missing]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such.schema"));
    assert!(!std::path::Path::new(root).exists(), "init wrote a graph");
}

/// 8 processes open a v2 graph with 50 `__run__*` refs and 2 user branches
/// read-write at once: all succeed, each legacy ref is swept exactly once.
#[test]
fn concurrent_read_write_opens_as_processes() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..rounds() {
        let root = dir.path().join(format!("g{round}"));
        let root = root.to_str().unwrap();
        ok(&[
            "legacy",
            root,
            "--version",
            "2",
            "--run-branches",
            "50",
            "--branch",
            "feature",
            "--branch",
            "fork:__run__3",
        ]);
        let children: Vec<_> = (0..8).map(|_| spawn(&["open", root, "--json"])).collect();
        let (mut swept, mut sweepers) = (0, 0);
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: an opener failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let report: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(report["to"], 3);
            // An opener either ran the sweep (and kept __run__3) or found
            // another opener had finished it.
            if report["kept"] == serde_json::json!(["__run__3"]) {
                assert_eq!(report["from"], 2);
                sweepers += 1;
            } else {
                assert_eq!(report["kept"], serde_json::json!([]), "round {round}");
            }
            swept += report["swept"].as_array().unwrap().len();
        }
        assert!(sweepers >= 1, "round {round}: nobody ran the sweep");
        assert_eq!(
            swept, 49,
            "round {round}: each legacy ref swept by exactly one process"
        );
        let list: Value =
            serde_json::from_str(&ok(&["branch", "list", root, "--read-only", "--json"])).unwrap();
        assert_eq!(
            list,
            serde_json::json!(["main", "__run__3", "feature", "fork"])
        );
        let stamp: Value = serde_json::from_str(&ok(&["stamp", root, "--json"])).unwrap();
        assert_eq!(stamp["state"], "v3");
    }
}

#[test]
fn racing_creates_and_deletes_as_processes() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.pg");
    std::fs::write(&schema, "node A { k: I64 @key }\n").unwrap();
    for round in 0..rounds() {
        let root = dir.path().join(format!("g{round}"));
        let root = root.to_str().unwrap();
        ok(&["init", root, "--schema", schema.to_str().unwrap()]);
        for (op, loser) in [("create", "branch_exists"), ("delete", "branch_not_found")] {
            let children: Vec<_> = (0..4).map(|_| spawn(&["branch", op, root, "x"])).collect();
            let outs: Vec<Output> = children
                .into_iter()
                .map(|c| c.wait_with_output().unwrap())
                .collect();
            let wins = outs.iter().filter(|o| o.status.success()).count();
            assert_eq!(wins, 1, "round {round}: {op} had {wins} winners");
            for out in outs.iter().filter(|o| !o.status.success()) {
                assert_eq!(out.status.code(), Some(1));
                assert_eq!(error_kind(out), loser, "round {round}: {op}");
            }
        }
        assert_eq!(
            ok(&["branch", "list", root, "--json"]).trim(),
            r#"["main"]"#
        );
    }
}

#[test]
fn errors_and_usage() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("g");
    let root = root.to_str().unwrap();
    let missing = stampede(&["open", root]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(error_kind(&missing), "not_initialized");

    let usage = stampede(&["branch", "frobnicate", root]);
    assert_eq!(usage.status.code(), Some(2));
    // Where a graph lives is checked before anything runs, named by kind.
    for (args, kind) in [
        (vec!["open", "gs://bucket/g"], "invalid_root"),
        (
            vec!["--storage-option", "nonsense", "open", root],
            "invalid_storage_option",
        ),
        (
            vec!["--storage-option", "aws_region=x", "open", root],
            "invalid_storage_option",
        ),
        (
            vec![
                "open",
                "s3://b/g",
                "--storage-option",
                "aws_endpoint=http://127.0.0.1:1",
            ],
            "invalid_storage_option",
        ),
    ] {
        let out = stampede(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(error_kind(&out), kind, "{args:?}");
    }
    assert!(
        !std::path::Path::new(root).exists(),
        "a refused root was written"
    );
    // The damage campaign rewrites files on disk: refused on S3 before any
    // server starts.
    let usage = stampede(&["verify", "--s3", "--campaign", "damage"]);
    assert_eq!(usage.status.code(), Some(2));
    let usage = stampede(&["legacy", root, "--version", "7"]);
    assert_eq!(usage.status.code(), Some(2));

    let bad_schema = dir.path().join("bad.pg");
    std::fs::write(&bad_schema, "node A {\n  k: Strin @key\n}\n").unwrap();
    let out = stampede(&["init", root, "--schema", bad_schema.to_str().unwrap()]);
    assert_eq!(error_kind(&out), "invalid_schema");
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2, column 6"));
}

/// A corrupt stamp: every open refuses it by kind, and `stamp` shows it.
#[test]
fn a_corrupt_stamp_is_refused_by_every_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("g");
    let root = root.to_str().unwrap();
    ok(&["legacy", root, "--version", "2", "--stamp", " 3"]);
    for args in [
        vec!["open", root],
        vec!["open", root, "--read-only"],
        vec!["branch", "list", root],
    ] {
        let out = stampede(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(error_kind(&out), "corrupt_stamp", "{args:?}");
    }
    let stamp: Value = serde_json::from_str(&ok(&["stamp", root, "--json"])).unwrap();
    assert_eq!(stamp["raw"], " 3");
    assert_eq!(stamp["guard"]["kind"], "corrupt_stamp");
}

/// Branch commands on a v1 graph answer their typed errors (each one's
/// read-write open migrates it).
#[test]
fn branch_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let root2 = dir.path().join("h");
    let root2 = root2.to_str().unwrap();
    ok(&[
        "legacy",
        root2,
        "--version",
        "1",
        "--run-branches",
        "2",
        "--branch",
        "u:__run__1",
        "--branch",
        "v:u",
    ]);
    let ro: Value = serde_json::from_str(&ok(&["open", root2, "--read-only", "--json"])).unwrap();
    assert_eq!((ro["from"].as_u64(), ro["to"].as_u64()), (Some(1), Some(1)));
    for (args, kind) in [
        (vec!["branch", "create", root2, "main"], "reserved_branch"),
        (
            vec!["branch", "create", root2, "__schema_apply_lock__/x"],
            "internal_ref",
        ),
        (vec!["branch", "create", root2, " x"], "invalid_branch_name"),
        (
            vec!["branch", "create", root2, "y", "--from", "nope"],
            "branch_not_found",
        ),
        (vec!["branch", "delete", root2, "u"], "dependent_branches"),
        (vec!["branch", "delete", root2, "nope"], "branch_not_found"),
        (vec!["branch", "create", root2, "v"], "branch_exists"),
    ] {
        let out = stampede(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(error_kind(&out), kind, "{args:?}");
    }
    let rw: Value = serde_json::from_str(&ok(&["open", root2, "--json"])).unwrap();
    assert_eq!(
        rw["from"], 3,
        "the failed commands above already migrated it"
    );
    assert_eq!(ok(&["branch", "list", root2]), "main\n__run__1\nu\nv\n");
}

/// Four processes, each applying a different added optional property to a
/// graph with only main. Judged against serial orders: an apply either
/// commits, or is refused with a retryable kind, or (when it runs after
/// another committed) sees `base+pJ → base+pI` as removing pJ, which a
/// serial order refuses as unsupported too. Main's schema is the base plus
/// exactly the applied one, and no lock is left behind.
#[test]
fn racing_schema_applies_as_processes() {
    let dir = tempfile::tempdir().unwrap();
    let base = "node Person {\n    name: String @key\n    age: I32?\n}\n";
    let base_file = dir.path().join("base.pg");
    std::fs::write(&base_file, base).unwrap();
    let props = ["p0", "p1", "p2", "p3"];
    let files: Vec<String> = props
        .iter()
        .map(|p| {
            let path = dir.path().join(format!("{p}.pg"));
            std::fs::write(
                &path,
                base.replace("age: I32?", &format!("age: I32?\n    {p}: String?")),
            )
            .unwrap();
            path.to_string_lossy().into_owned()
        })
        .collect();
    for round in 0..rounds() {
        let root = dir.path().join(format!("g{round}"));
        let root = root.to_str().unwrap();
        ok(&["init", root, "--schema", base_file.to_str().unwrap()]);
        let children: Vec<_> = files
            .iter()
            .map(|f| spawn(&["schema", "apply", root, f, "--json"]))
            .collect();
        let mut applied = Vec::new();
        for (child, p) in children.into_iter().zip(props) {
            let out = child.wait_with_output().unwrap();
            if out.status.success() {
                let report: Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(report["applied"], true);
                assert_eq!(report["lock_released"], true);
                applied.push(p);
            } else {
                match error_kind(&out).as_str() {
                    // Unsupported only after another apply committed: the
                    // single-winner assertion below checks that one did.
                    "schema_apply_in_progress" | "conflict" | "unsupported_schema_change" => {}
                    kind => panic!("round {round}: {p} failed with {kind}"),
                }
            }
        }
        // In any serial order the first apply commits and every later one
        // sees a removal: exactly one commits.
        assert_eq!(applied.len(), 1, "round {round}: {applied:?}");
        let schema: Value = serde_json::from_str(&ok(&["schema", "show", root, "--json"])).unwrap();
        let source = schema["source"].as_str().unwrap();
        for p in props {
            assert_eq!(
                source.contains(&format!("{p}: String?")),
                applied.contains(&p),
                "round {round}"
            );
        }
        assert_eq!(
            ok(&["unlock", root]).trim(),
            "no lock was held",
            "round {round}"
        );
    }
}

fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                out.push((entry.path(), meta.len()));
            }
        }
    }
    out.sort();
    out
}

/// `stampede check` on a legacy graph, then migrated, locked and damaged:
/// exit 0 exactly when healthy, problems named with their fix, nothing
/// written.
#[test]
fn check_reports_healthy_legacy_locked_and_damaged_graphs() {
    let dir = tempfile::tempdir().unwrap();

    let legacy = dir.path().join("legacy");
    let legacy = legacy.to_str().unwrap();
    ok(&[
        "legacy",
        legacy,
        "--version",
        "1",
        "--run-branches",
        "3",
        "--branch",
        "u:__run__1",
    ]);
    let before = files(std::path::Path::new(legacy));
    let (code, report) = check(legacy);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(
        report["would_sweep"],
        serde_json::json!(["__run__0", "__run__2"])
    );
    assert_eq!(report["would_keep"], serde_json::json!(["__run__1"]));
    assert_eq!(report["pending"].as_array().unwrap().len(), 2);
    assert_eq!(
        files(std::path::Path::new(legacy)),
        before,
        "check wrote something"
    );

    ok(&["open", legacy]);
    let (code, report) = check(legacy);
    assert_eq!(
        (code, report["pending"].clone()),
        (Some(0), serde_json::json!([]))
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(stampede_engine::legacy::leave_lock(
            legacy,
            Default::default(),
        ))
        .unwrap();
    let (code, report) = check(legacy);
    assert_eq!(
        (code, kinds(&report)),
        (Some(1), vec!["lock_left_behind".to_string()])
    );
    ok(&["unlock", legacy]);

    std::fs::remove_file(std::path::Path::new(legacy).join("__manifest/_refs/branches/u.json"))
        .unwrap();
    std::fs::remove_dir_all(std::path::Path::new(legacy).join("__manifest/tree/__run__1")).unwrap();
    let (code, report) = check(legacy);
    assert_eq!(code, Some(1));
    assert_eq!(
        kinds(&report),
        vec!["zombie_tree", "ref_without_tree"],
        "{report}"
    );
    assert!(report["problems"][0]["fix"]
        .as_str()
        .unwrap()
        .contains("\"u\""));
    let (_, report) = check(legacy);
    assert_eq!(
        (&report["state"], &report["open_refuses"]),
        (&serde_json::json!("v3"), &serde_json::Value::Null)
    );
}

/// `stampede check` on a corrupt stamp and on one from a newer engine: the
/// open refuses, and the text says so in words, not in Rust's Debug forms.
#[test]
fn check_reports_the_stamps_an_open_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt");
    let corrupt = corrupt.to_str().unwrap();
    ok(&["legacy", corrupt, "--version", "2", "--stamp", " 3"]);
    let (code, report) = check(corrupt);
    assert_eq!(
        (code, kinds(&report)),
        (Some(1), vec!["corrupt_stamp".to_string()])
    );
    assert_eq!(
        (&report["state"], &report["open_refuses"]),
        (
            &serde_json::json!("corrupt"),
            &serde_json::json!("corrupt_stamp")
        )
    );

    // A stamp from a newer engine: the open refuses, and the text says so
    // in words, not in Rust's Debug forms.
    let future = dir.path().join("future");
    let future = future.to_str().unwrap();
    ok(&["legacy", future, "--version", "2", "--stamp", "4"]);
    let (code, report) = check(future);
    assert_eq!(
        (code, kinds(&report)),
        (Some(1), vec!["upgrade_required".to_string()])
    );
    assert_eq!(
        (&report["state"], &report["open_refuses"]),
        (
            &serde_json::json!("v4"),
            &serde_json::json!("upgrade_required")
        )
    );
    for (root, kind) in [(future, "upgrade_required"), (corrupt, "corrupt_stamp")] {
        let text = String::from_utf8(stampede(&["check", root]).stdout).unwrap();
        assert!(
            text.contains(&format!("a read-write open would: refuse with {kind}")),
            "{text}"
        );
        assert!(
            !text.contains("Some(") && !text.contains("Version("),
            "{text}"
        );
    }
}

/// `stampede check ROOT --json`: its exit code and report.
fn check(root: &str) -> (Option<i32>, Value) {
    let out = stampede(&["check", root, "--json"]);
    (
        out.status.code(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

/// The kinds of a check report's problems.
fn kinds(report: &Value) -> Vec<String> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap().to_string())
        .collect()
}
