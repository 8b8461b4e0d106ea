//! The branch API: names, errors and their order, zombie trees, nesting.

use crate::common;

use common::{kind, strings, TempGraph};
use lance::Dataset;
use stampede_engine::names::check_public_branch;
use stampede_engine::{ErrorKind, Mode};

const LOCK: &str = "__schema_apply_lock__";

async fn hold_lock(t: &TempGraph) {
    let mut main = Dataset::open(&format!("{}/__manifest", t.root))
        .await
        .unwrap();
    let v = main.version().version;
    main.create_branch(LOCK, ("main", v), None).await.unwrap();
}

#[tokio::test]
async fn create_list_delete() {
    let (_t, g) = TempGraph::init().await;
    for name in ["b", "a", "B", "a/b", "é", "__run__x", "Main", "z.9-_"] {
        g.branch_create(name, "main").await.unwrap();
    }
    assert_eq!(
        g.branch_list().await.unwrap(),
        strings(&["main", "B", "Main", "__run__x", "a", "a/b", "b", "z.9-_", "é"]),
        "main first, then bytewise"
    );
    assert_eq!(
        kind(g.branch_create("a", "main").await),
        ErrorKind::BranchExists
    );
    assert_eq!(
        kind(g.branch_delete("nope").await),
        ErrorKind::BranchNotFound
    );
    g.branch_delete("a").await.unwrap();
    assert_eq!(kind(g.branch_delete("a").await), ErrorKind::BranchNotFound);
}

#[tokio::test]
async fn every_name_rule_and_bad_names_change_nothing() {
    let (t, g) = TempGraph::init().await;
    let longest = "x".repeat(210);
    let too_long = "x".repeat(211);
    let too_long_unicode = "数".repeat(24);
    let cases: Vec<(&str, Option<ErrorKind>)> = vec![
        ("main", Some(ErrorKind::ReservedBranch)),
        (LOCK, Some(ErrorKind::InternalRef)),
        ("/__schema_apply_lock__", Some(ErrorKind::InternalRef)),
        ("__schema_apply_lock__/x", Some(ErrorKind::InternalRef)),
        (" __schema_apply_lock__", Some(ErrorKind::InvalidBranchName)),
        (" feature", Some(ErrorKind::InvalidBranchName)),
        ("feature ", Some(ErrorKind::InvalidBranchName)),
        ("", Some(ErrorKind::InvalidBranchName)),
        ("/a", Some(ErrorKind::InvalidBranchName)),
        ("a/", Some(ErrorKind::InvalidBranchName)),
        ("a//b", Some(ErrorKind::InvalidBranchName)),
        ("..", Some(ErrorKind::InvalidBranchName)),
        ("a\\b", Some(ErrorKind::InvalidBranchName)),
        ("a.lock", Some(ErrorKind::InvalidBranchName)),
        ("a:b", Some(ErrorKind::InvalidBranchName)),
        ("tab\t", Some(ErrorKind::InvalidBranchName)),
        (too_long.as_str(), Some(ErrorKind::InvalidBranchName)),
        (
            too_long_unicode.as_str(),
            Some(ErrorKind::InvalidBranchName),
        ),
        ("x/__schema_apply_lock__", None),
        ("__RUN__x", None),
        ("Main", None),
        ("数据/ü", None),
        (longest.as_str(), None),
    ];
    for (name, expected) in cases {
        // The engine agrees with the shared rule table.
        assert_eq!(
            check_public_branch(name).err().map(|e| e.kind()),
            expected,
            "{name:?}"
        );
        match expected {
            Some(expected) => {
                let before = t.files();
                assert_eq!(
                    kind(g.branch_create(name, "main").await),
                    expected,
                    "{name:?}"
                );
                assert_eq!(kind(g.branch_delete(name).await), expected, "{name:?}");
                assert_eq!(t.files(), before, "refusing {name:?} wrote something");
            }
            None => {
                g.branch_create(name, "main").await.unwrap();
                assert!(g.branch_list().await.unwrap().contains(&name.to_string()));
                g.branch_delete(name).await.unwrap();
            }
        }
    }
    assert_eq!(g.branch_list().await.unwrap(), strings(&["main"]));
    // Deletes removed every tree, non-ASCII names included (their trees
    // were once looked for under a percent-encoded path, and left behind).
    let left: Vec<_> = t
        .files()
        .into_keys()
        .filter(|p| p.starts_with(t.path().join("__manifest/tree")))
        .collect();
    assert!(left.is_empty(), "trees left behind: {left:?}");
}

#[tokio::test]
async fn from_is_checked() {
    let (_t, g) = TempGraph::init().await;
    assert_eq!(
        kind(g.branch_create("x", "nope").await),
        ErrorKind::BranchNotFound
    );
    assert_eq!(
        kind(g.branch_create("x", LOCK).await),
        ErrorKind::InternalRef
    );
    assert_eq!(
        kind(g.branch_create("x", " main").await),
        ErrorKind::InvalidBranchName
    );
    // The name is checked before `from`.
    assert_eq!(
        kind(g.branch_create("main", "nope").await),
        ErrorKind::ReservedBranch
    );
    g.branch_create("a", "main").await.unwrap();
    g.branch_create("b", "a").await.unwrap();
    let err = g.branch_delete("a").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DependentBranches);
    assert!(err.to_string().contains("\"b\""), "{err}");
    g.branch_delete("b").await.unwrap();
    g.branch_delete("a").await.unwrap();
}

#[tokio::test]
async fn nested_names_are_independent_branches() {
    let (t, g) = TempGraph::init().await;
    g.branch_create("a", "main").await.unwrap();
    g.branch_create("a/b", "main").await.unwrap();
    g.branch_create("a/b/c", "a/b").await.unwrap();
    // `a`'s tree holds `a/b`'s: deleting `a` must leave it intact.
    g.branch_delete("a").await.unwrap();
    let main = Dataset::open(&format!("{}/__manifest", t.root))
        .await
        .unwrap();
    main.checkout_branch("a/b").await.unwrap();
    main.checkout_branch("a/b/c").await.unwrap();
    assert_eq!(
        g.branch_list().await.unwrap(),
        strings(&["main", "a/b", "a/b/c"])
    );
    g.branch_create("a", "a/b/c").await.unwrap();
    main.checkout_branch("a").await.unwrap();
}

#[tokio::test]
async fn a_tree_left_by_a_dead_create_does_not_block_the_name() {
    let (t, g) = TempGraph::init().await;
    g.branch_create("z", "main").await.unwrap();
    // The create died after its tree and before its ref.
    std::fs::remove_file(t.ref_file("z")).unwrap();
    assert!(t.tree_dir("z").exists());
    assert_eq!(g.branch_list().await.unwrap(), strings(&["main"]));
    // Main moves on, so the zombie is a fork of a stale version.
    let mut main = Dataset::open(&format!("{}/__manifest", t.root))
        .await
        .unwrap();
    main.update_schema_metadata([("test:marker", "after-zombie")])
        .await
        .unwrap();
    g.branch_create("z", "main").await.unwrap();
    let z = main.checkout_branch("z").await.unwrap();
    assert_eq!(
        z.schema().metadata.get("test:marker").map(String::as_str),
        Some("after-zombie"),
        "the new branch must fork main's head, not the zombie's version"
    );
}

#[tokio::test]
async fn the_lock_blocks_branch_writes_and_is_never_listed() {
    let (t, g) = TempGraph::init().await;
    g.branch_create("a", "main").await.unwrap();
    hold_lock(&t).await;
    assert_eq!(g.branch_list().await.unwrap(), strings(&["main", "a"]));
    let before = t.files();
    assert_eq!(
        kind(g.branch_create("b", "main").await),
        ErrorKind::SchemaApplyInProgress
    );
    assert_eq!(
        kind(g.branch_delete("a").await),
        ErrorKind::SchemaApplyInProgress
    );
    // Check order: name validity before the lock, the lock before existence.
    assert_eq!(
        kind(g.branch_create(" b", "main").await),
        ErrorKind::InvalidBranchName
    );
    assert_eq!(
        kind(g.branch_create("a", "main").await),
        ErrorKind::SchemaApplyInProgress
    );
    assert_eq!(
        kind(g.branch_delete("nope").await),
        ErrorKind::SchemaApplyInProgress
    );
    assert_eq!(kind(g.branch_delete(LOCK).await), ErrorKind::InternalRef);
    assert_eq!(t.files(), before);
}

#[tokio::test]
async fn read_only_handles_refuse_writes_first_and_write_nothing() {
    let (t, g) = TempGraph::init().await;
    g.branch_create("a", "main").await.unwrap();
    let ro = t.open(Mode::ReadOnly).await.unwrap();
    let before = t.files();
    assert_eq!(
        kind(ro.branch_create("b", "main").await),
        ErrorKind::ReadOnly
    );
    assert_eq!(
        kind(ro.branch_create(" bad", "main").await),
        ErrorKind::ReadOnly
    );
    assert_eq!(kind(ro.branch_delete("a").await), ErrorKind::ReadOnly);
    assert_eq!(kind(ro.branch_delete("main").await), ErrorKind::ReadOnly);
    assert_eq!(ro.branch_list().await.unwrap(), strings(&["main", "a"]));
    assert_eq!(t.files(), before);
}
