//! Rounds held as they were when they found something, by name: a round a
//! regression test or a targeted catch runs must not change when the
//! generator does (a new op in the alphabet, swarm configurations), so it
//! is written here, setup and ops, as the generator once made it. A token
//! names one as `concurrent:held:NAME:...` and replays exactly it.

use stampede_model::{LegacyGraph, LegacyStamp, Op, Value};

use super::Round;

/// Every held round's name.
pub const NAMES: [&str; 9] = [
    "finding-14",
    "finding-14b",
    "finding-15",
    "finding-39",
    "delete-recreate",
    "s3-31",
    "apply-beside-create",
    "finding-51",
    "check-beside-delete",
];

/// The held round `name`, if there is one.
pub fn round(name: &str) -> Option<Round> {
    Some(match name {
        // Finding 14 (round 776 of seed 9 before `Check` joined the
        // alphabet): two loads of one new key among five actors.
        "finding-14" => held(
            r#"{"version":1,"run_branches":1,"branches":[["w/x","__run__0"],["u",null]],"stamp":"Default"}"#,
            r#"[{"ApplySchema":{"Schema":{"types":{"Company":{"kind":"Node","props":[{"name":"name","ty":"String","optional":false,"key":true}]},"Person":{"kind":"Node","props":[{"name":"name","ty":"String","optional":false,"key":true},{"name":"age","ty":"I32","optional":true,"key":false},{"name":"nick","ty":"String","optional":true,"key":false}]},"WorksAt":{"kind":{"Edge":{"src":"Person","dst":"Company"}},"props":[{"name":"since","ty":"I32","optional":true,"key":false}]}}}}},{"Merge":{"source":"__run__1","target":"main"}},{"Load":{"branch":"main","type_name":"Person","rows":[[["name","r"],["age",2]]]}},{"BranchDelete":{"name":"a"}},{"Load":{"branch":"main","type_name":"Person","rows":[[["name","r"],["age",0]]]}}]"#,
        ),
        // Finding 14 again (round 848 of seed 9).
        "finding-14b" => held(
            "null",
            r#"[null,{"Load":{"branch":"main","type_name":"Person","rows":[[["name","p"],["age",0]],[["name","p"],["age",2]]]}},{"BranchDelete":{"name":"a/b"}},{"BranchCreate":{"name":"a/b","from":"a"}},{"Load":{"branch":"main","type_name":"Person","rows":[[["name","p"],["age",0]]]}}]"#,
        ),
        // Finding 15 (round 837 of seed 9): two applies and two creates of
        // one name.
        "finding-15" => held(
            "null",
            r#"[{"ApplySchema":{"Schema":{"types":{"Company":{"kind":"Node","props":[{"name":"name","ty":"String","optional":false,"key":true}]},"Person":{"kind":"Node","props":[{"name":"name","ty":"String","optional":false,"key":true},{"name":"age","ty":"I32","optional":true,"key":false},{"name":"email","ty":"String","optional":true,"key":false}]},"WorksAt":{"kind":{"Edge":{"src":"Person","dst":"Company"}},"props":[{"name":"since","ty":"I32","optional":true,"key":false}]}}}}},{"BranchCreate":{"name":"__run__0","from":"main"}},{"ApplySchema":{"Schema":{"types":{"Company":{"kind":"Node","props":[{"name":"name","ty":"String","optional":false,"key":true}]},"Person":{"kind":"Node","props":[{"name":"name","ty":"String","optional":false,"key":true},{"name":"age","ty":"I32","optional":true,"key":false},{"name":"email","ty":"String","optional":true,"key":false}]},"WorksAt":{"kind":{"Edge":{"src":"Person","dst":"Company"}},"props":[{"name":"since","ty":"I32","optional":true,"key":false}]}}}}},{"BranchCreate":{"name":"__run__0","from":"main"}},{"BranchDelete":{"name":"a/b"}}]"#,
        ),
        // Finding 39: two read-write openers of a v2 graph with one
        // `__run__` ref, and a third that creates `__run__0` after its open.
        "finding-39" => finding_39(),
        // Finding 39's create: a delete of a branch with history (eight
        // versions of its own, so its tree's removal takes many steps)
        // racing a create of its name.
        "delete-recreate" => delete_recreate(),
        // Finding 39 on S3 (`concurrent:1:31:5:tasks:wild:30`): an apply, a
        // re-create of `__run__0` and a load racing the migration.
        "s3-31" => held(
            r#"{"version":2,"run_branches":3,"branches":[["__RUN__y",null]],"stamp":"Default"}"#,
            r#"["BranchList",{"ApplySchema":{"Schema":{"types":{"Company":{"kind":"Node","props":[{"name":"name","ty":"String","optional":false,"key":true}]},"Person":{"kind":"Node","props":[{"name":"name","ty":"String","optional":false,"key":true},{"name":"age","ty":"I32","optional":true,"key":false},{"name":"nick","ty":"String","optional":true,"key":false}]},"WorksAt":{"kind":{"Edge":{"src":"Person","dst":"Company"}},"props":[{"name":"since","ty":"I32","optional":true,"key":false}]}}}}},{"BranchCreate":{"name":"__run__0","from":"main"}},"BranchList",{"Load":{"branch":"main","type_name":"Person","rows":[[["name","p"],["age",0]],[["name","p"],["age",0]]]}}]"#,
        ),
        // Defects 10 and 15 (an apply that trusts its first look for
        // branches; a create that never looks for an apply): an apply and
        // a create, alone.
        "apply-beside-create" => held(
            "null",
            r#"[{"ApplySchema":{"Schema":{"types":{"Company":{"kind":"Node","props":[{"name":"name","ty":"String","optional":false,"key":true}]},"Person":{"kind":"Node","props":[{"name":"name","ty":"String","optional":false,"key":true},{"name":"age","ty":"I32","optional":true,"key":false},{"name":"email","ty":"String","optional":true,"key":false}]},"WorksAt":{"kind":{"Edge":{"src":"Person","dst":"Company"}},"props":[{"name":"since","ty":"I32","optional":true,"key":false}]}}}}},{"BranchCreate":{"name":"x","from":"main"}}]"#,
        ),
        // Finding 51 (`concurrent:2:566:5x3:tasks:random:564`: a load of
        // `a/b` published after a delete of `a/b` removed its tree): a load
        // of a branch with rows of its own racing its delete and a create
        // of its name. A late publish of the load lands in the new
        // branch's tree as its head, with the deleted branch's rows.
        "finding-51" => finding_51(),
        // Defect 22 (a check that reads once): a check beside a delete of
        // a branch with history, whose tree's removal takes many steps. A
        // check that reads the graph half way sees the ref gone and its
        // tree there; only a second reading tells that work from damage.
        "check-beside-delete" => check_beside_delete(),
        _ => return None,
    })
}

fn finding_39() -> Round {
    Round {
        setup: Some(LegacyGraph {
            version: 2,
            run_branches: 1,
            branches: vec![],
            stamp: LegacyStamp::Default,
        }),
        prelude: Vec::new(),
        swarm: None,
        actors: vec![None, None, Some(Op::create("__run__0", "main"))],
    }
}

fn delete_recreate() -> Round {
    Round {
        setup: None,
        prelude: branch_with_history("x"),
        actors: vec![Some(Op::delete("x")), Some(Op::create("x", "main"))],
        swarm: None,
    }
}

fn check_beside_delete() -> Round {
    Round {
        setup: None,
        prelude: branch_with_history("x"),
        actors: vec![Some(Op::delete("x")), Some(Op::Check)],
        swarm: None,
    }
}

/// A branch `name` with eight versions of its own.
fn branch_with_history(name: &str) -> Vec<Op> {
    let load = |i: usize| Op::Load {
        branch: name.into(),
        type_name: "Person".into(),
        rows: vec![vec![("name".to_string(), Value::Str(format!("p{i}")))]],
    };
    std::iter::once(Op::create(name, "main"))
        .chain((0..8).map(load))
        .collect()
}

fn finding_51() -> Round {
    let load = |name: &str| Op::Load {
        branch: "a/b".into(),
        type_name: "Person".into(),
        rows: vec![vec![("name".to_string(), Value::Str(name.into()))]],
    };
    Round {
        setup: None,
        prelude: vec![Op::create("a", "main"), Op::create("a/b", "a"), load("z")],
        actors: vec![
            Some(load("q")),
            Some(Op::delete("a/b")),
            Some(Op::create("a/b", "a")),
        ],
        swarm: None,
    }
}

/// A round from its setup and actors' ops as the generator wrote them.
fn held(setup: &str, actors: &str) -> Round {
    Round {
        setup: serde_json::from_str(setup).expect("a held setup reads back"),
        prelude: Vec::new(),
        swarm: None,
        actors: serde_json::from_str(actors).expect("held ops read back"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_held_round_reads_back() {
        for name in super::NAMES {
            let round = super::round(name).expect("a held round");
            assert!(!round.actors.is_empty(), "{name}");
        }
        assert!(super::round("nope").is_none());
    }
}
