//! Damaged graphs: nothing hangs, nothing lies, nothing is overwritten.
//! The four damages first tried by hand, each a named regression: a parent
//! cycle once hung `check`, lists and opens; `check` said "healthy" about
//! graphs a scan cannot read; a garbage ref file surfaced as a raw storage
//! error everywhere; and `init` wrote a new graph over an old one's remains.

use crate::common;

use std::time::Duration;

use common::{kind, TempGraph};
use serde_json::json;
use stampede_engine::check::{check, check_with, Depth};
use stampede_engine::legacy::{LegacySpec, LegacyVersion};
use stampede_engine::schema::EXAMPLE_SCHEMA;
use stampede_engine::{ErrorKind, Graph, Mode};

/// Every command on a damaged graph must end; a hang fails the test here.
async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not return within 30 s"))
}

/// Point `name`'s ref at another parent, as an editor (or a restore out of
/// order) would.
fn set_parent(t: &TempGraph, name: &str, parent: &str) {
    let path = t.ref_file(name);
    let mut contents: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    contents["parentBranch"] = json!(parent);
    std::fs::write(&path, contents.to_string()).unwrap();
}

fn problem_kinds(report: &stampede_engine::check::CheckReport) -> Vec<&str> {
    report.problems.iter().map(|p| p.kind).collect()
}

#[tokio::test]
async fn regression_a_parent_cycle_never_hangs_and_is_named() {
    let spec = LegacySpec::new(LegacyVersion::V2)
        .run_branches(2)
        .branch("a", Some("__run__0"))
        .branch("b", None);
    let t = TempGraph::legacy(&spec).await;
    set_parent(&t, "a", "b");
    set_parent(&t, "b", "a");
    let before = t.files();
    let report = bounded("check", check(&t.root)).await.expect("a report");
    assert!(
        problem_kinds(&report).contains(&"parent_cycle"),
        "{report:?}"
    );
    assert!(!report.healthy());
    let listed = bounded("a read-only list", async {
        Graph::open(&t.root, Mode::ReadOnly)
            .await?
            .branch_list()
            .await
    })
    .await;
    assert!(listed.is_ok(), "{listed:?}");
    assert_eq!(t.files(), before, "a read-only command wrote");
    let opened = bounded("a read-write open", Graph::open(&t.root, Mode::ReadWrite)).await;
    assert!(opened.is_ok(), "{:?}", opened.err());
}

#[tokio::test]
async fn regression_check_is_not_healthy_when_a_scan_cannot_read() {
    // One table's data files gone.
    let (t, g) = TempGraph::init().await;
    g.load("main", "Person", &[json!({"name": "ann"})])
        .await
        .unwrap();
    assert!(check(&t.root).await.unwrap().healthy());
    std::fs::remove_dir_all(t.path().join("tables/Person/data")).unwrap();
    let before = t.files();
    let report = check(&t.root).await.unwrap();
    assert!(
        problem_kinds(&report).contains(&"missing_data"),
        "{report:?}"
    );
    assert_eq!(kind(g.scan("main", "Person").await), ErrorKind::MissingData);
    assert_eq!(t.files(), before, "check or scan wrote");

    // Every table gone.
    let (t, g) = TempGraph::init().await;
    std::fs::remove_dir_all(t.path().join("tables")).unwrap();
    let report = check(&t.root).await.unwrap();
    assert!(
        problem_kinds(&report).contains(&"missing_data"),
        "{report:?}"
    );
    assert_eq!(
        kind(g.scan("main", "Company").await),
        ErrorKind::MissingData
    );

    // A branch whose parent has no ref.
    let (t, g) = TempGraph::init().await;
    g.branch_create("a", "main").await.unwrap();
    g.branch_create("b", "a").await.unwrap();
    set_parent(&t, "b", "nowhere");
    let report = check(&t.root).await.unwrap();
    assert!(
        problem_kinds(&report).contains(&"dangling_parent"),
        "{report:?}"
    );
}

#[tokio::test]
async fn deep_check_reads_every_row_of_every_pinned_version() {
    let (t, g) = TempGraph::init().await;
    g.load("main", "Person", &[json!({"name": "ann"})])
        .await
        .unwrap();
    assert!(check_with(&t.root, Depth::Rows, Default::default())
        .await
        .unwrap()
        .healthy());
    // A data file garbled in place: its footer is gone.
    let data = t.path().join("tables/Person/data");
    let file = std::fs::read_dir(&data)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::write(&file, vec![0u8; len as usize]).unwrap();
    let report = check_with(&t.root, Depth::Rows, Default::default())
        .await
        .unwrap();
    assert!(
        problem_kinds(&report).contains(&"missing_data"),
        "{report:?}"
    );
}

#[tokio::test]
async fn regression_a_garbage_ref_is_corrupt_ref_and_check_still_reports() {
    let (t, g) = TempGraph::init().await;
    g.branch_create("a", "main").await.unwrap();
    g.branch_create("b", "main").await.unwrap();
    std::fs::write(t.ref_file("b"), "this is not a ref").unwrap();
    let before = t.files();
    let report = check(&t.root)
        .await
        .expect("check reports on a damaged graph");
    assert!(
        problem_kinds(&report).contains(&"corrupt_ref"),
        "{report:?}"
    );
    assert!(
        !problem_kinds(&report).contains(&"zombie_tree"),
        "{report:?}"
    );
    let g = Graph::open(&t.root, Mode::ReadOnly).await.unwrap();
    assert_eq!(kind(g.branch_list().await), ErrorKind::CorruptRef);
    assert_eq!(t.files(), before, "a read-only command wrote");
    let g = Graph::open(&t.root, Mode::ReadWrite).await.unwrap();
    assert_eq!(kind(g.branch_delete("a").await), ErrorKind::CorruptRef);
    assert_eq!(
        kind(g.branch_create("c", "main").await),
        ErrorKind::CorruptRef
    );
}

#[tokio::test]
async fn regression_init_refuses_the_remains_of_a_graph() {
    let (t, g) = TempGraph::init().await;
    g.branch_create("a", "main").await.unwrap();
    g.load("main", "Person", &[json!({"name": "ann"})])
        .await
        .unwrap();
    std::fs::remove_dir_all(t.path().join("__manifest/_versions")).unwrap();
    let before = t.files();
    assert_eq!(
        kind(Graph::init(&t.root, EXAMPLE_SCHEMA).await),
        ErrorKind::CorruptManifest
    );
    assert_eq!(t.files(), before, "init wrote over the remains");

    // Tables with rows and nothing else of the manifest: refused too.
    std::fs::remove_dir_all(t.path().join("__manifest")).unwrap();
    let before = t.files();
    assert_eq!(
        kind(Graph::init(&t.root, EXAMPLE_SCHEMA).await),
        ErrorKind::CorruptManifest
    );
    assert_eq!(t.files(), before, "init wrote over the remains");
}

/// Found by the damage campaign (`damage:legacy-v2:__manifest/_refs/branches:file`):
/// a file in the place of `_refs/branches` lists as no branch at all, so
/// `check` said healthy about a graph whose every branch was unreachable,
/// and a read-write open swept nothing and stamped 3 over them.
#[tokio::test]
async fn regression_a_file_for_the_refs_directory_is_named_and_stops_a_migration() {
    let spec = LegacySpec::new(LegacyVersion::V2)
        .run_branches(2)
        .branch("u", None);
    let t = TempGraph::legacy(&spec).await;
    // The control: undamaged, the same graph is healthy.
    let report = bounded("check", check(&t.root)).await.expect("a report");
    assert!(report.healthy(), "{report:?}");
    let refs = t.ref_file("u").parent().unwrap().to_path_buf();
    std::fs::remove_dir_all(&refs).unwrap();
    std::fs::write(&refs, "not a directory").unwrap();
    let before = t.files();
    let report = bounded("check", check(&t.root)).await.expect("a report");
    assert_eq!(problem_kinds(&report), ["file_for_directory"], "{report:?}");
    assert!(report.problems[0]
        .detail
        .contains("__manifest/_refs/branches"));
    assert_eq!(report.open_refuses, Some(ErrorKind::CorruptData));
    let opened = bounded("a read-write open", Graph::open(&t.root, Mode::ReadWrite)).await;
    assert_eq!(kind(opened), ErrorKind::CorruptData);
    assert_eq!(t.files(), before, "a refused open changed the graph");
}
