//! Storage calls per operation, by kind, counted through the probe at the
//! storage boundary and kept as insta goldens in `snapshots/`: a change in
//! any count fails `make test` until the snapshot is reviewed. Counts, not
//! times: they are the same on every machine. Graphs live behind Lance's
//! `file-object-store://` scheme so that every call (version listings, tree
//! removals) goes through the probe, as on a remote store; on plain local
//! paths Lance takes direct-filesystem shortcuts no wrapper sees. A delete
//! counts once per path (a batched delete of n files is n), the unit a
//! crash can interrupt.

use crate::common;

use common::{golden, probed, TempGraph};
use serde_json::json;
use stampede_engine::legacy::{LegacySpec, LegacyVersion};
use stampede_engine::probe::{Call, FaultPlan, Probe};
use stampede_engine::schema::EXAMPLE_SCHEMA;
use stampede_engine::{Graph, Mode};

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
    // On a branch: published under the branch's claim (finding 51): a put
    // of the claim's mark, a listing of the name's marks, a re-read of the
    // ref and the mark's delete on release. A first load on a branch also
    // forks the table it writes.
    g.branch_create("b", "main").await.unwrap();
    probe.reset();
    g.load("b", "Person", &[json!({"name": "c", "age": 5})])
        .await
        .unwrap();
    golden("cost_load_on_branch", &probe);
    g.branch_delete("b").await.unwrap();
    probe.reset();
    let desired = EXAMPLE_SCHEMA.replace("age: I32?", "age: I32?\n    email: String?");
    g.apply_schema(&desired).await.unwrap();
    golden("cost_apply_add_property", &probe);
}

/// A process that died calls nothing more: each call after the death is
/// refused once, never retried. Lance retries a listing that fails with an
/// I/O-like error 5 times, 0.1 to 1.6 s apart, which once made a crash state
/// of `open-v1` wait 1.2 s for a process that was already dead; the control
/// is the same open with every call a transient error, whose refused
/// listings Lance does retry.
// A paused clock: the control's retries wait 3 s of Lance's backoff.
#[tokio::test(start_paused = true)]
async fn a_dead_process_calls_each_refused_listing_once() {
    let (t, _) = TempGraph::object_store().with_init().await;
    let probe = Probe::new();
    let g = probed(&t, Mode::ReadWrite, &probe).await;
    probe.die_at_write(1);
    let _ = g.branch_create("a", "main").await;
    assert!(probe.died(), "the create's first write is the death");
    probe.reset();
    let dead = Graph::open_with(&t.root, Mode::ReadOnly, probe.params()).await;
    assert!(dead.is_err(), "a dead process opens nothing");
    let dead_listings = probe.counts().get(&Call::List).copied().unwrap_or(0);

    let flaky = Probe::new();
    flaky.set_plan(Some(FaultPlan::faults(1, 1000, 0, 0)));
    let failed = Graph::open_with(&t.root, Mode::ReadOnly, flaky.params()).await;
    assert!(failed.is_err(), "every call failed");
    let flaky_listings = flaky.counts().get(&Call::List).copied().unwrap_or(0);
    assert!(
        flaky_listings > 1,
        "control: transient errors are retried ({flaky_listings} listings)"
    );
    assert_eq!(dead_listings, 1, "the dead open lists once and stops");
}
