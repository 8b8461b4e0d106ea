//! init: atomic birth, AlreadyInitialized, leftovers, bad schemas.

use crate::common;

use common::{kind, TempGraph};
use lance::Dataset;
use stampede_engine::manifest::MANIFEST_DIR;
use stampede_engine::schema::{Schema, EXAMPLE_SCHEMA};
use stampede_engine::{tables, ErrorKind, Graph, Mode, StampState};

#[tokio::test]
async fn init_is_born_stamped_in_a_single_commit() {
    let (t, g) = TempGraph::init().await;
    assert_eq!((g.report().from, g.report().to), (3, 3));
    let manifest = Dataset::open(&format!("{}/{MANIFEST_DIR}", t.root))
        .await
        .unwrap();
    // One commit, and that first version already carries stamp and PK: no
    // crash point exists where an unstamped manifest is on disk.
    assert_eq!(manifest.version().version, 1);
    assert_eq!(
        manifest
            .schema()
            .metadata
            .get("omnigraph:internal_schema_version"),
        Some(&"3".to_string())
    );
    let pk = manifest.schema().unenforced_primary_key();
    assert_eq!(pk.len(), 1);
    assert_eq!(pk[0].name, "object_id");
    assert_eq!(
        manifest.count_rows(None).await.unwrap(),
        4,
        "schema row + 3 table rows"
    );
    for table in ["Person", "Company", "WorksAt"] {
        let ds = Dataset::open(&format!("{}/tables/{table}", t.root))
            .await
            .unwrap();
        assert_eq!(ds.count_rows(None).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn second_init_is_refused_and_changes_nothing() {
    let (t, _) = TempGraph::init().await;
    let before = t.files();
    assert_eq!(
        kind(Graph::init(&t.root, EXAMPLE_SCHEMA).await),
        ErrorKind::AlreadyInitialized
    );
    assert_eq!(t.files(), before);
}

#[tokio::test]
async fn bad_schema_writes_nothing() {
    let t = TempGraph::new();
    let err = Graph::init(&t.root, "node A {\n  k: Strin @key\n}")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSchema);
    assert!(err.to_string().contains("line 2, column 6"), "{err}");
    assert!(t.files().is_empty());
    assert_eq!(
        kind(t.open(Mode::ReadOnly).await),
        ErrorKind::NotInitialized
    );
}

#[tokio::test]
async fn leftovers_of_an_init_that_died_before_its_manifest_do_not_block_a_retry() {
    let t = TempGraph::new();
    let schema = Schema::parse(EXAMPLE_SCHEMA).unwrap();
    // The first attempt wrote its tables, then died before the manifest.
    let root = stampede_engine::root_uri(&t.root);
    tables::create_all(&root, &schema, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        kind(t.open(Mode::ReadWrite).await),
        ErrorKind::NotInitialized
    );
    let g = Graph::init(&t.root, EXAMPLE_SCHEMA).await.unwrap();
    assert_eq!(g.branch_list().await.unwrap(), vec!["main"]);
    let stamp = stampede_engine::read_stamp(&t.root).await.unwrap();
    assert_eq!(stamp.state, StampState::Version(3));
}

#[tokio::test]
async fn opening_a_root_without_a_graph_is_not_initialized_in_both_modes() {
    let t = TempGraph::new();
    for mode in [Mode::ReadOnly, Mode::ReadWrite] {
        assert_eq!(kind(t.open(mode).await), ErrorKind::NotInitialized);
    }
    assert!(t.files().is_empty(), "an open never creates a graph");
}

/// Lance rebases the loser of two racing `Create`s into an Overwrite at
/// version 2 (found here, racing 4 inits): the birth must be exclusive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_inits_have_exactly_one_winner_and_one_manifest_version() {
    for _ in 0..common::rounds("STAMPEDE_ROUNDS", 10) {
        let t = TempGraph::new();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let root = t.root.clone();
                tokio::spawn(async move { Graph::init(&root, EXAMPLE_SCHEMA).await.map(|_| ()) })
            })
            .collect();
        let mut kinds = Vec::new();
        for task in tasks {
            kinds.push(task.await.unwrap().map_err(|e| e.kind()));
        }
        assert_eq!(kinds.iter().filter(|k| k.is_ok()).count(), 1, "{kinds:?}");
        assert!(
            kinds
                .iter()
                .all(|k| k.is_ok() || *k == Err(ErrorKind::AlreadyInitialized)),
            "{kinds:?}"
        );
        let manifest = Dataset::open(&format!("{}/{MANIFEST_DIR}", t.root))
            .await
            .unwrap();
        let versions: Vec<u64> = manifest
            .versions()
            .await
            .unwrap()
            .iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(versions, vec![1], "a losing init committed over the winner");
        assert_eq!(t.rw().await.branch_list().await.unwrap(), vec!["main"]);
    }
}
