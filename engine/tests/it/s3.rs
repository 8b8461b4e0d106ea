//! The engine on a real S3-compatible server (SeaweedFS's `weed mini` on
//! 127.0.0.1, one per test binary; `make deps` installs it): the whole
//! lifecycle of a graph, a legacy graph's migration, `check`, every missing
//! or wrong setting refused as a typed error naming it, and the requests
//! each operation makes, by kind, as insta goldens beside the local ones
//! (`snapshots/cost_s3_*`): on S3 every call is a request.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::json;
use stampede_engine::probe::Probe;

use common::golden;
use stampede_engine::lance::io::ObjectStoreParams;
use stampede_engine::legacy::{write_legacy, LegacySpec, LegacyVersion};
use stampede_engine::location::with_storage_options;
use stampede_engine::schema::EXAMPLE_SCHEMA;
use stampede_engine::{Error, ErrorKind, Graph, Mode};
use stampede_s3server::S3Server;

/// One server for the binary. A static is never dropped: the server's
/// watchdog stops it when this process exits.
fn server() -> &'static S3Server {
    static SERVER: OnceLock<S3Server> = OnceLock::new();
    SERVER.get_or_init(|| S3Server::start().unwrap_or_else(|e| panic!("{e}")))
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
    // Settings the server refuses, or an endpoint where nothing answers,
    // are named too.
    for (key, value) in [
        ("aws_secret_access_key", "not-the-one"),
        ("aws_access_key_id", "not-the-one"),
        ("aws_endpoint", "http://127.0.0.1:1"),
    ] {
        let mut wrong = complete.clone();
        wrong.insert(key.into(), value.into());
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

fn probed(probe: &Arc<Probe>) -> ObjectStoreParams {
    with_storage_options(
        probe.params(),
        server().storage_options().into_iter().collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_operation_on_s3() {
    let root = root("costs");
    let g = Graph::init_with(&root, EXAMPLE_SCHEMA, params())
        .await
        .unwrap();
    g.branch_create("a", "main").await.unwrap();
    g.load("main", "Person", &[json!({"name": "a"})])
        .await
        .unwrap();
    for (mode, name) in [
        (Mode::ReadWrite, "cost_s3_open_read_write"),
        (Mode::ReadOnly, "cost_s3_open_read_only"),
    ] {
        let probe = Probe::new();
        Graph::open_with(&root, mode, probed(&probe)).await.unwrap();
        golden(name, &probe);
    }
    let probe = Probe::new();
    let g = Graph::open_with(&root, Mode::ReadWrite, probed(&probe))
        .await
        .unwrap();
    probe.reset();
    g.branch_list().await.unwrap();
    golden("cost_s3_branch_list", &probe);
    probe.reset();
    g.branch_create("b", "main").await.unwrap();
    golden("cost_s3_branch_create", &probe);
    probe.reset();
    g.branch_delete("b").await.unwrap();
    golden("cost_s3_branch_delete", &probe);
    probe.reset();
    g.load("main", "Person", &[json!({"name": "b", "age": 3})])
        .await
        .unwrap();
    golden("cost_s3_load_append", &probe);
    probe.reset();
    g.scan("main", "Person").await.unwrap();
    golden("cost_s3_scan", &probe);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_of_a_read_write_open_of_a_legacy_graph_with_10_run_refs_on_s3() {
    let root = root("costs-legacy");
    let spec = LegacySpec::new(LegacyVersion::V2)
        .run_branches(10)
        .branch("u", None);
    write_legacy(&root, &spec, params()).await.unwrap();
    let probe = Probe::new();
    let g = Graph::open_with(&root, Mode::ReadWrite, probed(&probe))
        .await
        .unwrap();
    assert_eq!(g.report().swept.len(), 10);
    golden("cost_s3_open_legacy_v2_10_run_refs", &probe);
}

/// The goal, counted: a read-write open of a current graph makes
/// at most one request more than Lance's own `Dataset::open` of the same
/// `__manifest`. Both are warm: the engine's process-wide Lance session
/// has read this graph (its init), so the raw open is a second open in a
/// session of its own. The raw open is the control: it must make some.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_write_open_costs_at_most_one_request_more_than_a_raw_open() {
    use stampede_engine::lance::dataset::builder::DatasetBuilder;
    let root = root("open-vs-raw");
    Graph::init_with(&root, EXAMPLE_SCHEMA, params())
        .await
        .unwrap();
    let session = Arc::new(stampede_engine::lance::session::Session::default());
    let raw = Probe::new();
    for _ in 0..2 {
        raw.reset();
        DatasetBuilder::from_uri(format!("{root}/__manifest"))
            .with_session(session.clone())
            .with_store_params(probed(&raw))
            .load()
            .await
            .unwrap();
    }
    let raw_requests = golden("cost_s3_raw_dataset_open_warm", &raw);
    let ours = Probe::new();
    Graph::open_with(&root, Mode::ReadWrite, probed(&ours))
        .await
        .unwrap();
    let our_requests: u64 = ours.counts().values().sum();
    assert!(raw_requests > 0, "control: the raw open made no request");
    assert!(
        our_requests <= raw_requests + 1,
        "a read-write open made {our_requests} requests, a raw open {raw_requests}"
    );
}

/// A conditional put that landed but lost its answer: the proxy forwards
/// it, then answers 503; object_store retries the put, which the server
/// refuses (412: the object is there). Each op must still answer as if the
/// answer had come (Lance reads a commit back to tell its own from a
/// racer's), or fail with `storage` having been invisible or applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_put_that_landed_but_answered_5xx() {
    use stampede_s3server::{FaultProxy, Rule};
    let proxy = FaultProxy::start(server().endpoint()).unwrap();
    let mut options: HashMap<String, String> = server().storage_options().into_iter().collect();
    options.insert("aws_endpoint".into(), proxy.endpoint().into());
    let params = || with_storage_options(ObjectStoreParams::default(), options.clone());
    let lose = |path_part: &str| {
        proxy.lose_next_answer(Rule {
            scope: String::new(),
            method: "PUT",
            path_part: path_part.into(),
            header: Some("if-none-match"),
            skip: 0,
        })
    };
    let root = root("lost-answers");
    let g = Graph::init_with(&root, EXAMPLE_SCHEMA, params())
        .await
        .unwrap();

    // A branch's ref: the create once answered `branch_exists` for the
    // branch it had just made itself.
    lose("/_refs/branches/");
    g.branch_create("a", "main").await.unwrap();
    assert_eq!(
        proxy.injected(),
        1,
        "control: the ref's put lost its answer"
    );
    assert_eq!(g.branch_list().await.unwrap(), ["main", "a"]);

    // A delete's claim on S3 (`exclusive`): its own claim, not a racer's
    // to wait out (it took the lease, 30 s, before it knew its nonce).
    lose("/_stampede_delete_claims/");
    g.branch_delete("a").await.unwrap();
    assert_eq!(
        proxy.injected(),
        2,
        "control: the claim's put lost its answer"
    );
    assert_eq!(g.branch_list().await.unwrap(), ["main"]);

    // A commit's manifest: Lance reads it back and finds its own.
    lose("/_versions/");
    assert_eq!(
        g.load("main", "Person", &[json!({"name": "ada"})])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        proxy.injected(),
        3,
        "control: a commit's put lost its answer"
    );
    assert_eq!(g.scan("main", "Person").await.unwrap().len(), 1);

    // The schema-apply lock's ref: the apply takes its own lock.
    lose("/_refs/branches/");
    let desired = EXAMPLE_SCHEMA.replace("age: I32?", "age: I32?\n    email: String?");
    let applied = g.apply_schema(&desired).await.unwrap();
    assert_eq!(
        proxy.injected(),
        4,
        "control: the lock's put lost its answer"
    );
    assert!(applied.applied && applied.lock_released, "{applied:?}");
}
