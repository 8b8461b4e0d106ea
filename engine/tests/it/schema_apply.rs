//! Schema apply and the lock: supported changes, check order, blocking
//! branches, a lock left behind, and applies racing each other.

use crate::common;

use common::{kind, strings, TempGraph};
use serde_json::json;
use stampede_engine::schema::EXAMPLE_SCHEMA;
use stampede_engine::schema_apply::SchemaStep;
use stampede_engine::{ErrorKind, Graph, Mode};

const WITH_EMAIL: &str = "\
node Person {
    name: String @key
    age: I32?
    email: String?
}
node Company { name: String @key }
edge WorksAt: Person -> Company { since: I32? }
";

fn with_extra(extra: &str) -> String {
    format!("{EXAMPLE_SCHEMA}{extra}\n")
}

async fn leave_lock(t: &TempGraph) {
    let mut main = lance::Dataset::open(&format!("{}/__manifest", t.root))
        .await
        .unwrap();
    let v = main.version().version;
    main.create_branch("__schema_apply_lock__", ("main", v), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn add_an_optional_property_and_a_type() {
    let (_t, g) = TempGraph::init().await;
    g.load("main", "Person", &[json!({"name": "a", "age": 1})])
        .await
        .unwrap();
    let report = g.apply_schema(WITH_EMAIL).await.unwrap();
    assert!(report.applied && report.lock_released);
    assert_eq!(
        report.steps,
        vec![SchemaStep::AddProperty {
            type_name: "Person".into(),
            property: "email".into()
        }]
    );
    // Existing rows read the new property as null; new rows can set it.
    assert_eq!(
        g.scan("main", "Person").await.unwrap()[0],
        json!({"name": "a", "age": 1, "email": null})
            .as_object()
            .unwrap()
            .clone()
    );
    g.load("main", "Person", &[json!({"name": "b", "email": "b@x"})])
        .await
        .unwrap();
    assert_eq!(g.schema().await.unwrap().0, WITH_EMAIL);
    // The same schema again touches nothing.
    let again = g.apply_schema(WITH_EMAIL).await.unwrap();
    assert!(!again.applied);
    let with_project =
        format!("{WITH_EMAIL}node Project {{ id: I64 @key }}\nedge Funds: Company -> Project\n");
    let report = g.apply_schema(&with_project).await.unwrap();
    assert_eq!(
        report.steps,
        vec![
            SchemaStep::AddType("Funds".into()),
            SchemaStep::AddType("Project".into())
        ]
    );
    g.load("main", "Project", &[json!({"id": 7})])
        .await
        .unwrap();
    g.load("main", "Funds", &[json!({"src": "acme", "dst": 7})])
        .await
        .unwrap();
    assert_eq!(g.scan("main", "Funds").await.unwrap().len(), 1);
}

#[tokio::test]
async fn check_order_and_unsupported_changes_write_nothing() {
    let (t, g) = TempGraph::init().await;
    let before = t.files();
    let ro = t.open(Mode::ReadOnly).await.unwrap();
    assert_eq!(
        kind(ro.apply_schema("garbage {").await),
        ErrorKind::ReadOnly
    );
    assert_eq!(kind(ro.unlock().await), ErrorKind::ReadOnly);
    assert_eq!(
        kind(g.apply_schema("node {").await),
        ErrorKind::InvalidSchema
    );
    for (desired, step) in [
        ("node Person { name: String @key }\nnode Company { name: String @key }\nedge WorksAt: Person -> Company { since: I32? }", "remove property Person.age"),
        ("node Person { name: String @key\n age: I64? }\nnode Company { name: String @key }\nedge WorksAt: Person -> Company { since: I32? }", "change property Person.age"),
        ("node Person { name: String @key\n age: I32? }\nnode Company { name: String @key }", "remove type WorksAt"),
        (&with_extra("node Extra { k: I32 @key }\n").replace("age: I32?", "age: I32?\n    height: I32"), "add required property Person.height"),
    ] {
        let err = g.apply_schema(desired).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnsupportedSchemaChange, "{desired}");
        assert!(err.to_string().contains(step), "{err} should name {step}");
    }
    assert_eq!(t.files(), before);
    // Unsupported beats blocking; blocking beats the lock.
    g.branch_create("dev", "main").await.unwrap();
    leave_lock(&t).await;
    let removed = "node Person { name: String @key }\nnode Company { name: String @key }\nedge WorksAt: Person -> Company { since: I32? }";
    assert_eq!(
        kind(g.apply_schema(removed).await),
        ErrorKind::UnsupportedSchemaChange
    );
    let err = g.apply_schema(WITH_EMAIL).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BlockingBranches);
    assert!(err.to_string().contains("dev"), "{err}");
    // No change is a pure read, even while the lock is held.
    assert!(!g.apply_schema(EXAMPLE_SCHEMA).await.unwrap().applied);
}

#[tokio::test]
async fn blocked_then_applied_after_the_branch_is_gone() {
    let (t, g) = TempGraph::init().await;
    g.branch_create("dev", "main").await.unwrap();
    assert_eq!(
        kind(g.apply_schema(WITH_EMAIL).await),
        ErrorKind::BlockingBranches
    );
    assert_eq!(
        g.branch_list().await.unwrap(),
        strings(&["main", "dev"]),
        "no lock left behind"
    );
    g.branch_delete("dev").await.unwrap();
    assert!(g.apply_schema(WITH_EMAIL).await.unwrap().applied);
    // Branches created after the change have main's new schema.
    g.branch_create("dev", "main").await.unwrap();
    g.load("dev", "Person", &[json!({"name": "z", "email": "z@x"})])
        .await
        .unwrap();
    let _ = t;
}

#[tokio::test]
async fn a_lock_left_behind_blocks_writes_until_unlock() {
    let (t, g) = TempGraph::init().await;
    g.load("main", "Person", &[json!({"name": "a"})])
        .await
        .unwrap();
    leave_lock(&t).await;
    assert_eq!(g.branch_list().await.unwrap(), strings(&["main"]));
    assert_eq!(
        kind(g.apply_schema(WITH_EMAIL).await),
        ErrorKind::SchemaApplyInProgress
    );
    assert_eq!(
        kind(g.load("main", "Person", &[json!({"name": "b"})]).await),
        ErrorKind::SchemaApplyInProgress
    );
    assert_eq!(
        kind(g.branch_create("x", "main").await),
        ErrorKind::SchemaApplyInProgress
    );
    assert_eq!(
        kind(g.branch_merge("main", "x").await),
        ErrorKind::SchemaApplyInProgress
    );
    assert_eq!(
        g.scan("main", "Person").await.unwrap().len(),
        1,
        "reads work under the lock"
    );
    assert!(g.unlock().await.unwrap());
    assert!(!g.unlock().await.unwrap());
    assert!(g.apply_schema(WITH_EMAIL).await.unwrap().applied);
}

/// Four applies of different optional properties at once: each is applied
/// or refused with a retryable kind, main ends with exactly the applied
/// ones, and no lock is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_applies_serialize() {
    for round in 0..common::rounds("STAMPEDE_ROUNDS", 10) {
        let (t, g) = TempGraph::init().await;
        let props = ["p0", "p1", "p2", "p3"];
        let tasks: Vec<_> = props
            .iter()
            .map(|p| {
                let root = t.root.clone();
                let desired =
                    EXAMPLE_SCHEMA.replace("age: I32?", &format!("age: I32?\n    {p}: String?"));
                tokio::spawn(async move {
                    let g = Graph::open(&root, Mode::ReadWrite).await.unwrap();
                    g.apply_schema(&desired).await
                })
            })
            .collect();
        let mut applied = Vec::new();
        for (task, p) in tasks.into_iter().zip(props) {
            match task.await.unwrap() {
                Ok(report) => {
                    assert!(report.applied && report.lock_released);
                    applied.push(p);
                }
                Err(e) => assert!(e.kind().is_retryable(), "round {round}: {p}: {e}"),
            }
        }
        assert_eq!(
            applied.len(),
            1,
            "round {round}: each apply starts from the base schema, so one wins"
        );
        let (source, _) = g.schema().await.unwrap();
        assert!(
            source.contains(&format!("{}: String?", applied[0])),
            "round {round}"
        );
        assert_eq!(g.branch_list().await.unwrap(), strings(&["main"]));
        assert!(
            !g.unlock().await.unwrap(),
            "round {round}: a lock was left behind"
        );
    }
}

/// The invariant the lock exists for: every public branch always has
/// main's schema, when creates race an apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn branches_racing_an_apply_never_stand_across_it() {
    use stampede_engine::commit::read_manifest;
    for round in 0..common::rounds("STAMPEDE_ROUNDS", 10) {
        let (t, g) = TempGraph::init().await;
        let apply = {
            let root = t.root.clone();
            tokio::spawn(async move {
                let g = Graph::open(&root, Mode::ReadWrite).await.unwrap();
                g.apply_schema(WITH_EMAIL).await
            })
        };
        let creates: Vec<_> = (0..3)
            .map(|i| {
                let root = t.root.clone();
                tokio::spawn(async move {
                    let g = Graph::open(&root, Mode::ReadWrite).await.unwrap();
                    g.branch_create(&format!("b{i}"), "main").await
                })
            })
            .collect();
        let applied = apply.await.unwrap();
        if let Err(e) = &applied {
            assert!(e.kind().is_retryable(), "round {round}: apply: {e}");
        }
        for create in creates {
            if let Err(e) = create.await.unwrap() {
                assert!(e.kind().is_retryable(), "round {round}: create: {e}");
            }
        }
        let (main_schema, _) = g.schema().await.unwrap();
        for branch in g.branch_list().await.unwrap().into_iter().skip(1) {
            let manifest = read_manifest(g.store(), Some(&branch)).await.unwrap();
            assert_eq!(
                manifest.schema_source, main_schema,
                "round {round}: {branch} stands across a schema change (apply: {applied:?})"
            );
        }
        assert!(
            !g.unlock().await.unwrap(),
            "round {round}: lock left behind"
        );
    }
}
