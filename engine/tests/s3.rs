//! The engine on a real S3-compatible server (SeaweedFS's `weed mini` on
//! 127.0.0.1, one per test binary; `make deps` installs it): the whole
//! lifecycle of a graph, a legacy graph's migration, `check`, and every
//! missing or wrong setting refused as a typed error naming it.

use std::collections::HashMap;
use std::sync::OnceLock;

use stampede_engine::lance::io::ObjectStoreParams;
use stampede_engine::legacy::{write_legacy, LegacySpec, LegacyVersion};
use stampede_engine::location::with_storage_options;
use stampede_engine::schema::EXAMPLE_SCHEMA;
use stampede_engine::{Error, ErrorKind, Graph, Mode};
use stampede_s3server::SeaweedFs;

/// One server for the binary. A static is never dropped: the server's
/// watchdog stops it when this process exits.
fn server() -> &'static SeaweedFs {
    static SERVER: OnceLock<SeaweedFs> = OnceLock::new();
    SERVER.get_or_init(|| SeaweedFs::start().unwrap_or_else(|e| panic!("{e}")))
}

fn params() -> ObjectStoreParams {
    with_storage_options(
        ObjectStoreParams::default(),
        server().storage_options().into_iter().collect(),
    )
}

fn root(name: &str) -> String {
    server().root(&format!("engine/{name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_lives_its_whole_life_on_s3() {
    let root = root("life");
    let graph = Graph::init_with(&root, EXAMPLE_SCHEMA, params())
        .await
        .unwrap();
    assert_eq!(
        Graph::init_with(&root, EXAMPLE_SCHEMA, params())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::AlreadyInitialized
    );
    graph.branch_create("a/b", "main").await.unwrap();
    graph.branch_create("c", "a/b").await.unwrap();
    assert_eq!(
        graph.branch_create("c", "main").await.unwrap_err().kind(),
        ErrorKind::BranchExists
    );
    let rows = vec![serde_json::json!({"name": "ada", "age": 36})];
    assert_eq!(graph.load("a/b", "Person", &rows).await.unwrap(), 1);
    let reopened = Graph::open_with(&root, Mode::ReadOnly, params())
        .await
        .unwrap();
    assert_eq!(reopened.branch_list().await.unwrap(), ["main", "a/b", "c"]);
    assert_eq!(reopened.scan("a/b", "Person").await.unwrap().len(), 1);
    assert!(reopened.scan("main", "Person").await.unwrap().is_empty());
    assert_eq!(
        graph.branch_delete("a/b").await.unwrap_err().kind(),
        ErrorKind::DependentBranches
    );
    graph.branch_delete("c").await.unwrap();
    graph.branch_delete("a/b").await.unwrap();
    // A delete of a missing key succeeds on S3, where a local delete says
    // NotFound: the engine's answer must not change with the store.
    assert_eq!(
        graph.branch_delete("a/b").await.unwrap_err().kind(),
        ErrorKind::BranchNotFound
    );
    graph.branch_create("a/b", "main").await.unwrap();
    assert!(graph.scan("a/b", "Person").await.unwrap().is_empty());
    let report =
        stampede_engine::check::check_with(&root, stampede_engine::check::Depth::Rows, params())
            .await
            .unwrap();
    assert!(report.healthy(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_graph_on_s3_is_swept_at_its_first_read_write_open() {
    let root = root("legacy");
    let spec = LegacySpec::new(LegacyVersion::V2)
        .run_branches(3)
        .branch("u", None);
    write_legacy(&root, &spec, params()).await.unwrap();
    let ro = Graph::open_with(&root, Mode::ReadOnly, params())
        .await
        .unwrap();
    assert_eq!(ro.branch_list().await.unwrap(), ["main", "u"]);
    let rw = Graph::open_with(&root, Mode::ReadWrite, params())
        .await
        .unwrap();
    assert_eq!(rw.report().swept.len(), 3);
    let again = Graph::open_with(&root, Mode::ReadWrite, params())
        .await
        .unwrap();
    assert!(again.report().swept.is_empty());
    assert_eq!(again.branch_list().await.unwrap(), ["main", "u"]);
}

/// Each refusal names its setting, and comes before any request: nothing
/// is written, and nothing but the endpoint is ever asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_missing_or_wrong_setting_is_a_typed_error_naming_it() {
    let root = root("settings");
    let complete: HashMap<String, String> = server().storage_options().into_iter().collect();
    let without = |key: &str| {
        let mut options = complete.clone();
        options.remove(key);
        with_storage_options(ObjectStoreParams::default(), options)
    };
    for key in [
        "aws_region",
        "aws_access_key_id",
        "aws_secret_access_key",
        "allow_http",
    ] {
        let error = Graph::init_with(&root, EXAMPLE_SCHEMA, without(key))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidStorageOption, "{error}");
        assert!(error.to_string().contains(key), "{error}");
    }
    // Nothing was written by any refusal: the root is still free.
    Graph::init_with(&root, EXAMPLE_SCHEMA, params())
        .await
        .unwrap();
    // Settings the server refuses are named too.
    for key in ["aws_secret_access_key", "aws_access_key_id"] {
        let mut wrong = complete.clone();
        wrong.insert(key.into(), "not-the-one".into());
        let error = Graph::open_with(
            &root,
            Mode::ReadOnly,
            with_storage_options(ObjectStoreParams::default(), wrong),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&error, Error::InvalidStorageOption { option, .. } if option == key),
            "{error}"
        );
    }
}
