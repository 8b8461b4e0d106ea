//! Rows: load, scan, merge, on main and on branches, on real Lance.

use crate::common;

use common::{kind, TempGraph};
use serde_json::{json, Value};
use stampede_engine::{ErrorKind, Graph, Mode};

fn rows(v: Value) -> Vec<Value> {
    v.as_array().unwrap().clone()
}

fn scanned(rows: Vec<serde_json::Map<String, Value>>) -> Value {
    Value::Array(rows.into_iter().map(Value::Object).collect())
}

#[tokio::test]
async fn load_upserts_by_key_and_scan_returns_key_order() {
    let (_t, g) = TempGraph::init().await;
    assert_eq!(
        g.load(
            "main",
            "Person",
            &rows(json!([{"name": "b", "age": 2}, {"name": "a"}]))
        )
        .await
        .unwrap(),
        2
    );
    g.load("main", "Person", &rows(json!([{"name": "b", "age": 3}])))
        .await
        .unwrap();
    assert_eq!(
        scanned(g.scan("main", "Person").await.unwrap()),
        json!([{"name": "a", "age": null}, {"name": "b", "age": 3}])
    );
    g.load("main", "Company", &rows(json!([{"name": "acme"}])))
        .await
        .unwrap();
    g.load("main", "WorksAt", &rows(json!([{"src": "a", "dst": "acme", "since": 2020}, {"src": "a", "dst": "acme", "since": 2021}]))).await.unwrap();
    assert_eq!(
        scanned(g.scan("main", "WorksAt").await.unwrap()),
        json!([{"src": "a", "dst": "acme", "since": 2021}])
    );
}

#[tokio::test]
async fn bad_rows_and_bad_targets_write_nothing() {
    let (t, g) = TempGraph::init().await;
    g.load("main", "Person", &rows(json!([{"name": "a"}])))
        .await
        .unwrap();
    let before = t.files();
    let err = g
        .load(
            "main",
            "Person",
            &rows(json!([{"name": "b"}, {"name": "c", "age": "old"}])),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRow);
    assert!(
        err.to_string().contains("row 2") && err.to_string().contains("\"age\""),
        "{err}"
    );
    assert_eq!(
        kind(g.load("main", "Nope", &[json!({"name": "x"})]).await),
        ErrorKind::TypeNotFound
    );
    assert_eq!(
        kind(g.load("nope", "Person", &[json!({"name": "x"})]).await),
        ErrorKind::BranchNotFound
    );
    assert_eq!(
        kind(g.load(" main", "Person", &[json!({"name": "x"})]).await),
        ErrorKind::InvalidBranchName
    );
    assert_eq!(kind(g.scan("main", "Nope").await), ErrorKind::TypeNotFound);
    assert_eq!(t.files(), before);
    let ro = t.open(Mode::ReadOnly).await.unwrap();
    assert_eq!(
        kind(ro.load("main", "Person", &[json!({"name": "x"})]).await),
        ErrorKind::ReadOnly
    );
    assert_eq!(
        kind(ro.branch_merge("main", "x").await),
        ErrorKind::ReadOnly
    );
    assert_eq!(ro.scan("main", "Person").await.unwrap().len(), 1);
    assert_eq!(t.files(), before);
}

#[tokio::test]
async fn branches_fork_rows_and_merge_back_with_source_winning() {
    let (_t, g) = TempGraph::init().await;
    g.load(
        "main",
        "Person",
        &rows(json!([{"name": "a", "age": 1}, {"name": "b", "age": 1}])),
    )
    .await
    .unwrap();
    g.branch_create("dev", "main").await.unwrap();
    g.load(
        "dev",
        "Person",
        &rows(json!([{"name": "a", "age": 9}, {"name": "c"}])),
    )
    .await
    .unwrap();
    g.load(
        "main",
        "Person",
        &rows(json!([{"name": "b", "age": 5}, {"name": "d"}])),
    )
    .await
    .unwrap();
    // Branches are isolated.
    assert_eq!(
        scanned(g.scan("dev", "Person").await.unwrap()),
        json!([{"name": "a", "age": 9}, {"name": "b", "age": 1}, {"name": "c", "age": null}])
    );
    g.branch_merge("dev", "main").await.unwrap();
    assert_eq!(
        scanned(g.scan("main", "Person").await.unwrap()),
        json!([
            {"name": "a", "age": 9}, {"name": "b", "age": 1},
            {"name": "c", "age": null}, {"name": "d", "age": null}
        ])
    );
    // A second write on the branch goes in place on its fork.
    g.load("dev", "Person", &rows(json!([{"name": "e"}])))
        .await
        .unwrap();
    assert_eq!(g.scan("dev", "Person").await.unwrap().len(), 4);
    assert_eq!(
        kind(g.branch_merge("dev", "dev").await),
        ErrorKind::SameBranch
    );
    assert_eq!(
        kind(g.branch_merge("dev", "nope").await),
        ErrorKind::BranchNotFound
    );
    assert_eq!(
        kind(g.branch_merge("__schema_apply_lock__", "main").await),
        ErrorKind::InternalRef
    );
    // A deleted and re-created branch starts from its new fork point.
    g.branch_delete("dev").await.unwrap();
    g.branch_create("dev", "main").await.unwrap();
    assert_eq!(g.scan("dev", "Person").await.unwrap().len(), 4);
}

/// Concurrent loads of the same type on one branch: no lost update.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_loads_lose_no_update() {
    for round in 0..common::rounds("STAMPEDE_ROUNDS", 10) {
        let (t, g) = TempGraph::init().await;
        if round % 2 == 1 {
            g.branch_create("dev", "main").await.unwrap();
        }
        let branch = if round % 2 == 1 { "dev" } else { "main" };
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let root = t.root.clone();
                tokio::spawn(async move {
                    let g = Graph::open(&root, Mode::ReadWrite).await.unwrap();
                    g.load(
                        branch,
                        "Person",
                        &[json!({"name": format!("p{i}"), "age": i})],
                    )
                    .await
                })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => assert_eq!(e.kind(), ErrorKind::Conflict, "round {round}: {e}"),
            }
        }
        let names: Vec<Value> = g
            .scan(branch, "Person")
            .await
            .unwrap()
            .into_iter()
            .map(|r| r["name"].clone())
            .collect();
        assert_eq!(
            names.len(),
            ok,
            "round {round}: every successful load is visible: {names:?}"
        );
    }
}

/// A load that died after appending to main's table and before publishing
/// leaves a version no manifest pins: invisible, named by `check` as
/// residue (not a problem), and written past by the next load.
#[tokio::test]
async fn a_dead_loads_table_version_is_invisible_and_named_by_check() {
    use arrow_array::{Int32Array, RecordBatch, RecordBatchIterator, StringArray};
    use std::sync::Arc;
    let (t, g) = TempGraph::init().await;
    g.load("main", "Person", &rows(json!([{"name": "a"}])))
        .await
        .unwrap();
    let kinds = |found: &[stampede_engine::check::Problem]| -> Vec<&str> {
        found.iter().map(|p| p.kind).collect()
    };
    let clean = stampede_engine::check::check(&t.root).await.unwrap();
    assert!(kinds(&clean.notes).is_empty(), "{:?}", clean.notes);

    // What the dead load wrote: one append to tables/Person, never published.
    let table = lance::Dataset::open(&format!("{}/tables/Person", t.root))
        .await
        .unwrap();
    let schema = Arc::new(arrow_schema::Schema::from(table.schema()));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["ghost"])),
            Arc::new(Int32Array::from(vec![None::<i32>])),
        ],
    )
    .unwrap();
    let reader = RecordBatchIterator::new(vec![Ok(batch)], schema);
    let params = lance::dataset::WriteParams {
        mode: lance::dataset::WriteMode::Append,
        ..Default::default()
    };
    lance::Dataset::write(reader, &format!("{}/tables/Person", t.root), Some(params))
        .await
        .unwrap();

    let report = stampede_engine::check::check(&t.root).await.unwrap();
    assert!(report.healthy(), "{:?}", report.problems);
    assert_eq!(kinds(&report.notes), ["unpublished_table_versions"]);
    assert!(
        report.notes[0].detail.contains("tables/Person"),
        "{}",
        report.notes[0].detail
    );
    g.load("main", "Person", &rows(json!([{"name": "b"}])))
        .await
        .unwrap();
    assert_eq!(
        scanned(g.scan("main", "Person").await.unwrap()),
        json!([{"name": "a", "age": null}, {"name": "b", "age": null}])
    );
}

/// A manifest whose schema names a type it pins no table for (a damaged
/// or foreign manifest): scan and merge once indexed the pins and panicked,
/// where load answered `corrupt_manifest`. Now all three name the type.
#[tokio::test]
async fn regression_a_type_without_a_pin_is_corrupt_manifest_not_a_panic() {
    use stampede_engine::commit::{publish, read_manifest};
    let (_t, g) = TempGraph::init().await;
    g.branch_create("a", "main").await.unwrap();
    g.load("a", "Person", &rows(json!([{"name": "on-a"}])))
        .await
        .unwrap();
    let main = read_manifest(g.store(), None).await.unwrap();
    let mut pins = main.pins.clone();
    pins.remove("Person").expect("Person is pinned");
    publish(g.store(), &main, &main.schema_source, &pins)
        .await
        .unwrap();
    assert_eq!(
        kind(g.scan("main", "Person").await),
        ErrorKind::CorruptManifest
    );
    assert_eq!(
        kind(g.branch_merge("a", "main").await),
        ErrorKind::CorruptManifest
    );
    assert_eq!(
        kind(
            g.load("main", "Person", &rows(json!([{"name": "x"}])))
                .await
        ),
        ErrorKind::CorruptManifest
    );
}
