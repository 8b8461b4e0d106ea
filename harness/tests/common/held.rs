//! Histories that regression tests hold as they were generated (setup and
//! ops as JSON), so a later change to the generator cannot change what the
//! tests run. (Held single-op rounds, which tokens name, are the harness's
//! own: `stampede_harness::concurrent::held`.)

/// A history held as it was generated (setup and ops as JSON, the actors'
/// modes), so a later change to the generator cannot change what a
/// regression test runs.
fn held_history(
    setup: &str,
    actors: &[(stampede_model::Mode, &str)],
) -> stampede_harness::concurrent::history::History {
    use stampede_harness::concurrent::history::{ActorOps, History};
    History {
        prelude: Vec::new(),
        swarm: None,
        setup: serde_json::from_str(setup).expect("a setup"),
        actors: actors
            .iter()
            .map(|(mode, ops)| ActorOps {
                mode: *mode,
                ops: serde_json::from_str(ops).expect("ops"),
            })
            .collect(),
    }
}

/// The history of `concurrent:1:18:5x3:tasks:pct3:19`, held.
pub fn history_of_finding_30() -> stampede_harness::concurrent::history::History {
    use stampede_model::Mode::{ReadOnly, ReadWrite};
    held_history(
        "null",
        &[
            (
                ReadWrite,
                r#"["BranchList",{"BranchDelete":{"name":"__run__0"}},{"Merge":{"source":"a","target":"main"}}]"#,
            ),
            (
                ReadWrite,
                r#"["BranchList",{"BranchCreate":{"name":"a","from":"main"}}]"#,
            ),
            (
                ReadWrite,
                r#"[{"Load":{"branch":"main","type_name":"Person","rows":[[["name","p"],["age",0]],[["name","p"],["age",1]]]}}]"#,
            ),
            (
                ReadWrite,
                r#"[{"BranchCreate":{"name":"a","from":"__run__1"}}]"#,
            ),
            (
                ReadOnly,
                r#"["BranchList",{"Scan":{"branch":"a","type_name":"Person"}},"BranchList"]"#,
            ),
        ],
    )
}

/// The history of `concurrent:1:186:5x3:tasks:wild:187`, held: a v2 graph
/// with ten `__run__` refs, a delete, a re-create of `__run__0`, an apply
/// and loads racing the migration.
pub fn history_186() -> stampede_harness::concurrent::history::History {
    use stampede_model::Mode::{ReadOnly, ReadWrite};
    held_history(
        r#"{"version":2,"run_branches":10,"branches":[["a","__run__1"]],"stamp":"Default"}"#,
        &[
            (ReadWrite, r#"["BranchList"]"#),
            (
                ReadWrite,
                r#"[{"Load":{"branch":"main","type_name":"Person","rows":[[["name","q"],["age",2]]]}},"BranchList"]"#,
            ),
            (
                ReadWrite,
                r#"[{"BranchDelete":{"name":"a"}},{"BranchCreate":{"name":"__run__0","from":"main"}},{"ApplySchema":{"Schema":{"types":{"Company":{"kind":"Node","props":[{"name":"name","ty":"String","optional":false,"key":true}]},"Person":{"kind":"Node","props":[{"name":"name","ty":"String","optional":false,"key":true},{"name":"age","ty":"I32","optional":true,"key":false},{"name":"nick","ty":"String","optional":true,"key":false}]},"WorksAt":{"kind":{"Edge":{"src":"Person","dst":"Company"}},"props":[{"name":"since","ty":"I32","optional":true,"key":false}]}}}}}]"#,
            ),
            (ReadWrite, r#"["BranchList"]"#),
            (ReadOnly, r#"["BranchList","BranchList","BranchList"]"#),
        ],
    )
}
