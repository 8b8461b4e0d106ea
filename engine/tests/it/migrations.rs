//! Open-time migrations v1 → v2 → v3, and re-entry after a crash at each
//! migration commit (the intermediate on-disk states are synthesized).

use crate::common;

use common::{strings, TempGraph};
use lance::Dataset;
use stampede_engine::legacy::{LegacySpec, LegacyStamp, LegacyVersion};
use stampede_engine::{read_stamp, Mode, PkState, StampState};

fn legacy(version: LegacyVersion) -> LegacySpec {
    LegacySpec::new(version)
        .run_branches(4)
        .branch("feature", None)
        .branch("fork", Some("__run__2"))
        .branch("fork/deeper", Some("fork"))
}

async fn assert_current(t: &TempGraph) {
    let stamp = read_stamp(&t.root).await.unwrap();
    assert_eq!(stamp.state, StampState::Version(3));
    assert_eq!(stamp.head.pk, PkState::OnObjectId);
}

#[tokio::test]
async fn v1_to_v3_end_to_end() {
    let t = TempGraph::legacy(&legacy(LegacyVersion::V1)).await;
    let g = t.rw().await;
    let report = g.report();
    assert_eq!((report.from, report.to), (1, 3));
    assert_eq!(report.swept, strings(&["__run__0", "__run__1", "__run__3"]));
    assert_eq!(report.kept, strings(&["__run__2"]));
    assert_eq!(
        g.branch_list().await.unwrap(),
        strings(&["main", "__run__2", "feature", "fork", "fork/deeper"])
    );
    assert_current(&t).await;
    for gone in ["__run__0", "__run__1", "__run__3"] {
        // The tree's files go; an emptied directory may stay (removing it
        // could race a nested branch being created inside it).
        let tree = t.tree_dir(gone);
        let left: Vec<_> = t
            .files()
            .into_keys()
            .filter(|f| f.starts_with(&tree))
            .collect();
        assert!(
            !t.ref_file(gone).exists() && left.is_empty(),
            "{gone} left behind: {left:?}"
        );
    }
    // The kept ref and its dependents are intact and readable through Lance.
    let main = Dataset::open(&format!("{}/__manifest", t.root))
        .await
        .unwrap();
    for name in ["__run__2", "fork", "fork/deeper"] {
        main.checkout_branch(name).await.unwrap();
    }
}

#[tokio::test]
async fn a_migrated_graph_reopens_without_writing() {
    let t = TempGraph::legacy(&legacy(LegacyVersion::V2)).await;
    t.rw().await;
    let before = t.files();
    let g = t.rw().await;
    assert_eq!((g.report().from, g.report().to), (3, 3));
    assert!(g.report().swept.is_empty() && g.report().kept.is_empty());
    assert_eq!(t.files(), before);
}

#[tokio::test]
async fn reentry_after_the_primary_key_commit() {
    let t = TempGraph::legacy(&legacy(LegacyVersion::V2).stamp(LegacyStamp::Absent)).await;
    let g = t.rw().await;
    // Lance refuses to set a primary key twice: success proves it was not.
    assert_eq!((g.report().from, g.report().to), (1, 3));
    assert_eq!(g.report().swept.len(), 3);
    assert_current(&t).await;
}

#[tokio::test]
async fn reentry_in_the_middle_of_the_sweep() {
    let t = TempGraph::legacy(&legacy(LegacyVersion::V2)).await;
    // The dead opener had deleted __run__0 entirely, and __run__1's ref but
    // not its tree.
    std::fs::remove_file(t.ref_file("__run__0")).unwrap();
    std::fs::remove_dir_all(t.tree_dir("__run__0")).unwrap();
    std::fs::remove_file(t.ref_file("__run__1")).unwrap();
    let g = t.rw().await;
    assert_eq!((g.report().from, g.report().to), (2, 3));
    assert_eq!(g.report().swept, strings(&["__run__3"]));
    assert_eq!(
        g.branch_list().await.unwrap(),
        strings(&["main", "__run__2", "feature", "fork", "fork/deeper"])
    );
    assert_current(&t).await;
    // The orphaned tree does not block the name.
    g.branch_create("__run__1", "main").await.unwrap();
    let main = Dataset::open(&format!("{}/__manifest", t.root))
        .await
        .unwrap();
    main.checkout_branch("__run__1").await.unwrap();
}

#[tokio::test]
async fn reentry_after_the_sweep_before_the_stamp() {
    let t = TempGraph::legacy(
        &LegacySpec::new(LegacyVersion::V2)
            .run_branches(3)
            .branch("u", None),
    )
    .await;
    for i in 0..3 {
        std::fs::remove_file(t.ref_file(&format!("__run__{i}"))).unwrap();
        std::fs::remove_dir_all(t.tree_dir(&format!("__run__{i}"))).unwrap();
    }
    let g = t.rw().await;
    assert_eq!((g.report().from, g.report().to), (2, 3));
    assert!(g.report().swept.is_empty());
    assert_eq!(g.branch_list().await.unwrap(), strings(&["main", "u"]));
    assert_current(&t).await;
}

#[tokio::test]
async fn user_run_branches_created_after_migration_are_never_swept() {
    let t = TempGraph::legacy(&LegacySpec::new(LegacyVersion::V2).run_branches(2)).await;
    let g = t.rw().await;
    assert_eq!(g.report().swept.len(), 2);
    g.branch_create("__run__0", "main").await.unwrap();
    g.branch_create("__run__mine/x", "__run__0").await.unwrap();
    for _ in 0..2 {
        let g = t.rw().await;
        assert!(g.report().swept.is_empty());
        assert_eq!(
            g.branch_list().await.unwrap(),
            strings(&["main", "__run__0", "__run__mine/x"])
        );
    }
}

#[tokio::test]
async fn read_only_on_a_legacy_graph_shows_the_migrated_view_and_writes_nothing() {
    let t = TempGraph::legacy(&legacy(LegacyVersion::V1)).await;
    let before = t.files();
    let g = t.ro().await;
    assert_eq!((g.report().from, g.report().to), (1, 1));
    assert_eq!(
        g.branch_list().await.unwrap(),
        strings(&["main", "__run__2", "feature", "fork", "fork/deeper"])
    );
    assert_eq!(t.files(), before);
    // A read-write open elsewhere migrates; the read-only handle's list
    // stays right, and it now shows post-migration `__run__*` branches.
    let rw = t.rw().await;
    rw.branch_create("__run__new", "main").await.unwrap();
    assert_eq!(
        g.branch_list().await.unwrap(),
        strings(&[
            "main",
            "__run__2",
            "__run__new",
            "feature",
            "fork",
            "fork/deeper"
        ])
    );
    assert_eq!(t.open(Mode::ReadOnly).await.unwrap().report().from, 3);
}
