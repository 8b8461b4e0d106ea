//! Storage calls per operation, by kind, counted through the probe at the
//! storage boundary and kept as insta goldens in `snapshots/`: a change in
//! any count fails `make test` until the snapshot is reviewed. Counts, not
//! times: they are the same on every machine. Graphs live behind Lance's
//! `file-object-store://` scheme so that every call (version listings, tree
//! removals) goes through the probe, as on a remote store; on plain local
//! paths Lance takes direct-filesystem shortcuts no wrapper sees. A delete
//! counts once per path (a batched delete of n files is n), the unit a
//! crash can interrupt.

mod common;

use std::sync::Arc;

use common::TempGraph;
use serde_json::json;
use stampede_engine::legacy::{LegacySpec, LegacyVersion};
use stampede_engine::probe::Probe;
use stampede_engine::schema::EXAMPLE_SCHEMA;
use stampede_engine::{Graph, Mode};

fn golden(name: &str, probe: &Arc<Probe>) {
    let counts: String = probe
        .counts()
        .iter()
        .map(|(call, n)| format!("{call:?}: {n}\n"))
        .collect();
    insta::with_settings!({snapshot_path => "../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, counts);
    });
}

async fn probed(t: &TempGraph, mode: Mode, probe: &Arc<Probe>) -> Graph {
    Graph::open_with(&t.root, mode, probe.params())
        .await
        .unwrap()
}

#[tokio::test]
async fn cost_of_opening_a_current_graph() {
    let (t, _) = TempGraph::object_store().with_init().await;
    for (mode, name) in [
        (Mode::ReadWrite, "cost_open_read_write"),
        (Mode::ReadOnly, "cost_open_read_only"),
    ] {
        let probe = Probe::new();
        probed(&t, mode, &probe).await;
        golden(name, &probe);
    }
}

#[tokio::test]
async fn cost_of_opening_a_legacy_graph_with_10_run_refs() {
    let t = TempGraph::object_store()
        .with_legacy(
            &LegacySpec::new(LegacyVersion::V2)
                .run_branches(10)
                .branch("u", None),
        )
        .await;
    let probe = Probe::new();
    let g = probed(&t, Mode::ReadWrite, &probe).await;
    assert_eq!(g.report().swept.len(), 10);
    golden("cost_open_legacy_v2_10_run_refs", &probe);
}

#[tokio::test]
async fn cost_of_branch_operations() {
    let (t, g) = TempGraph::object_store().with_init().await;
    g.branch_create("a", "main").await.unwrap();
    let probe = Probe::new();
    let g = probed(&t, Mode::ReadWrite, &probe).await;
    probe.reset();
    g.branch_list().await.unwrap();
    golden("cost_branch_list", &probe);
    probe.reset();
    g.branch_create("b", "main").await.unwrap();
    golden("cost_branch_create", &probe);
    probe.reset();
    g.branch_delete("b").await.unwrap();
    golden("cost_branch_delete", &probe);
}

#[tokio::test]
async fn cost_of_load_and_apply() {
    let (t, g) = TempGraph::object_store().with_init().await;
    g.load("main", "Person", &[json!({"name": "a"})])
        .await
        .unwrap();
    let probe = Probe::new();
    let g = probed(&t, Mode::ReadWrite, &probe).await;
    probe.reset();
    g.load("main", "Person", &[json!({"name": "b", "age": 3})])
        .await
        .unwrap();
    golden("cost_load_append", &probe);
    probe.reset();
    g.load("main", "Person", &[json!({"name": "a", "age": 4})])
        .await
        .unwrap();
    golden("cost_load_upsert", &probe);
    probe.reset();
    let desired = EXAMPLE_SCHEMA.replace("age: I32?", "age: I32?\n    email: String?");
    g.apply_schema(&desired).await.unwrap();
    golden("cost_apply_add_property", &probe);
}
