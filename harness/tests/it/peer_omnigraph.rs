//! Graphs the published seed engine (omnigraph-engine 0.6.2) wrote, as
//! ours meets them: `check` reports each correctly, a read-write open
//! migrates what it should and refuses what it must, and a graph ours
//! migrated still opens in that engine.
//!
//! The engine is reached through its peer (`peers/omnigraph-0.6`), which
//! builds in a workspace of its own; `make peer-omnigraph` builds it and
//! runs these with `STAMPEDE_OMNIGRAPH_PEER` naming it. Without the peer
//! they are ignored; asked to run without it, they fail and say why.

use stampede_engine::check::{check, CheckReport};
use stampede_harness::adapter::{Stampede, SystemUnderTest};
use stampede_harness::wire::peer::Peer;
use stampede_model::{ErrorKind, LegacyStamp, Mode, Observation, Op, OpenReport};

/// The peer, started: its command from the environment.
fn omnigraph() -> Peer {
    let command = std::env::var("STAMPEDE_OMNIGRAPH_PEER").unwrap_or_else(|_| {
        panic!("STAMPEDE_OMNIGRAPH_PEER names no peer: run these through `make peer-omnigraph`")
    });
    Peer::start(&command).unwrap_or_else(|e| panic!("{e}"))
}

/// A graph root in a fresh temp dir, written by the peer with `ops`.
fn written_by_omnigraph(ops: &[Op]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path().join("g").to_string_lossy().into_owned();
    let peer = omnigraph();
    for op in ops {
        let outcome = peer.apply_at(&root, op).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            outcome.is_ok(),
            "omnigraph could not write {op:?}: {outcome:?}"
        );
    }
    (dir, root)
}

fn checked(root: &str) -> CheckReport {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime
        .block_on(check(root))
        .unwrap_or_else(|e| panic!("check {root}: {e}"))
}

/// Our engine's read-write open of `root`.
fn ours_open(root: &str) -> Result<Observation, ErrorKind> {
    Stampede::observing(root).apply(&Op::Open(Mode::ReadWrite))
}

/// The published engine's read-write open of `root`, and what it lists.
fn omnigraph_opens(root: &str) -> Result<Vec<String>, ErrorKind> {
    let peer = omnigraph();
    let open = |op: &Op| peer.apply_at(root, op).unwrap_or_else(|e| panic!("{e}"));
    open(&Op::Open(Mode::ReadWrite))?;
    match open(&Op::BranchList)? {
        Observation::Branches(names) => Ok(names),
        other => panic!("a list answered {other:?}"),
    }
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(ToString::to_string).collect()
}

#[test]
#[ignore = "needs the omnigraph peer: make peer-omnigraph"]
fn a_current_graph_of_omnigraph_is_current_to_us_and_stays_its() {
    let (_dir, root) = written_by_omnigraph(&[Op::Init, Op::create("a", "main")]);
    let report = checked(&root);
    assert_eq!(report.state, "v3");
    assert_eq!(report.open_refuses, None);
    assert!(report.pending.is_empty() && report.legacy_refs.is_empty());
    assert!(!report.lock_held);
    let opened = ours_open(&root);
    assert!(
        matches!(&opened, Ok(Observation::Opened(OpenReport { from: 3, to: 3, swept, .. })) if swept.is_empty()),
        "{opened:?}"
    );
    assert_eq!(omnigraph_opens(&root), Ok(names(&["main", "a"])));
}

/// v1 and v2 graphs with two `__run__` refs and a user branch: `check`
/// reports the refs and the pending steps before our open (the control),
/// none after it, and omnigraph then opens the migrated graph.
#[test]
#[ignore = "needs the omnigraph peer: make peer-omnigraph"]
fn a_legacy_graph_of_omnigraph_is_migrated_by_us_and_opens_in_omnigraph() {
    for version in [1, 2] {
        let legacy = Op::legacy(version, 2, &[("u", None)], LegacyStamp::Default);
        let (_dir, root) = written_by_omnigraph(&[legacy]);
        let before = checked(&root);
        let state = if version == 1 { "unstamped" } else { "v2" };
        assert_eq!(before.state, state, "v{version}");
        assert_eq!(before.legacy_refs, names(&["__run__0", "__run__1"]));
        assert_eq!(before.would_sweep, names(&["__run__0", "__run__1"]));
        assert!(
            !before.pending.is_empty(),
            "v{version}: {:?}",
            before.pending
        );

        let opened = ours_open(&root);
        let expected = OpenReport {
            from: version,
            to: 3,
            swept: names(&["__run__0", "__run__1"]),
            kept: vec![],
        };
        assert_eq!(opened, Ok(Observation::Opened(expected)), "v{version}");
        let after = checked(&root);
        assert_eq!(after.state, "v3", "v{version}");
        assert!(after.legacy_refs.is_empty() && after.pending.is_empty());

        assert_eq!(
            omnigraph_opens(&root),
            Ok(names(&["main", "u"])),
            "v{version}"
        );
    }
}

#[test]
#[ignore = "needs the omnigraph peer: make peer-omnigraph"]
fn a_lock_omnigraph_left_is_reported_and_kept() {
    let (_dir, root) = written_by_omnigraph(&[Op::Init, Op::LeaveLock]);
    assert!(checked(&root).lock_held);
    assert!(matches!(ours_open(&root), Ok(Observation::Opened(_))));
    // An open neither takes nor clears another engine's lock.
    assert!(checked(&root).lock_held);
    // The control: a graph without one reports none.
    let (_clean, clean) = written_by_omnigraph(&[Op::Init]);
    assert!(!checked(&clean).lock_held);
}

#[test]
#[ignore = "needs the omnigraph peer: make peer-omnigraph"]
fn a_future_or_corrupt_stamp_is_refused_and_left_as_it_is() {
    for (raw, state, kind) in [
        ("9", "v9", ErrorKind::UpgradeRequired),
        ("abc", "corrupt", ErrorKind::CorruptStamp),
    ] {
        let legacy = Op::legacy(2, 1, &[], LegacyStamp::Raw(raw.into()));
        let (_dir, root) = written_by_omnigraph(&[legacy]);
        let report = checked(&root);
        assert_eq!(report.state, state);
        assert_eq!(report.open_refuses, Some(kind));
        assert_eq!(report.stamp.as_deref(), Some(raw));
        assert_eq!(ours_open(&root), Err(kind), "stamp {raw:?}");
        let after = checked(&root);
        assert_eq!(after.stamp.as_deref(), Some(raw), "a refused open wrote");
        assert_eq!(after.legacy_refs, names(&["__run__0"]));
    }
}
