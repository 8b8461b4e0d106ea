//! Generating rounds: the concurrent alphabet and its setups.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use stampede_model::schema::{Prop, PropType};
use stampede_model::{Desired, LegacyGraph, Op, SchemaSpec, Value};

use super::Round;
use crate::sequential::generators::legacy_graph;

pub(super) fn actor_op() -> impl Strategy<Value = Option<Op>> {
    let name = proptest::sample::select(vec!["a", "b", "__run__0", "a/b"]);
    let from = proptest::sample::select(vec!["main", "main", "a", "__run__1"]);
    let person = (proptest::sample::select(vec!["p", "q", "r"]), 0i64..3).prop_map(|(n, age)| {
        vec![
            ("name".to_string(), Value::Str(n.into())),
            ("age".to_string(), Value::Int(age)),
        ]
    });
    let property = proptest::sample::select(vec!["email", "nick"]);
    prop_oneof![
        3 => Just(None),
        3 => (name.clone(), from.clone()).prop_map(|(n, f)| Some(Op::BranchCreate { name: n.into(), from: f.into() })),
        2 => name.prop_map(|n| Some(Op::BranchDelete { name: n.into() })),
        1 => Just(Some(Op::BranchList)),
        1 => Just(Some(Op::Check)),
        2 => (from.clone(), proptest::collection::vec(person, 1..=2)).prop_map(|(b, rows)| Some(Op::Load {
            branch: b.into(),
            type_name: "Person".into(),
            rows,
        })),
        1 => from.prop_map(|s| Some(Op::Merge { source: s.into(), target: "main".into() })),
        1 => property.prop_map(|p| Some(Op::ApplySchema(Desired::Schema(person_with(p))))),
    ]
}

/// The example schema plus an optional `Person` property: the concurrent
/// alphabet's only schema change (and the crash campaign's apply).
pub fn person_with(property: &str) -> SchemaSpec {
    let mut schema = SchemaSpec::example();
    schema
        .types
        .get_mut("Person")
        .expect("the example has Person")
        .props
        .push(Prop::new(property, PropType::String, true, false));
    schema
}

/// Legacy graphs with up to 200 `__run__*` refs: many refs make the sweep
/// long enough for openers to overlap everywhere in it.
pub(super) fn setup() -> impl Strategy<Value = LegacyGraph> {
    let runs = prop_oneof![
        8 => 0usize..=3,
        2 => Just(10usize),
        1 => Just(50usize),
        1 => Just(200usize),
    ];
    (legacy_graph(), runs).prop_map(|(mut graph, runs)| {
        // User branches may fork from `__run__<i>`: keep those within reach.
        graph.run_branches = graph.run_branches.max(runs);
        graph
    })
}

pub fn round(actors: usize) -> impl Strategy<Value = Round> {
    (
        proptest::option::weighted(0.6, setup()),
        proptest::collection::vec(actor_op(), actors..=actors),
    )
        .prop_map(|(setup, actors)| Round {
            setup,
            prelude: Vec::new(),
            actors,
        })
}

/// Generate round `index` of a campaign named by `seed`. For a peer
/// engine (`--engine-cmd`), the same round without what it does not
/// support: an actor whose op it lacks only opens, and a legacy setup it
/// cannot write is a fresh init.
pub fn generate(seed: u64, index: u32, actors: usize) -> Round {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        crate::seeds::round_rng(crate::seeds::derive(seed, index)),
    );
    let mut round = round(actors)
        .new_tree(&mut runner)
        .expect("a round")
        .current();
    if crate::wire::peer::peer().is_some() {
        let supported = |op: &Op| crate::wire::peer::supports(op.name());
        if !crate::wire::peer::supports("WriteLegacy") {
            round.setup = None;
        }
        for op in &mut round.actors {
            *op = op.take().filter(supported);
        }
    }
    round
}

/// The fleet: 8 read-write openers of a v2 graph with 200 `__run__` refs
/// (one kept by a user branch), at once; the round the issue named, run
/// as processes locally and on S3.
pub fn fleet() -> Round {
    Round {
        prelude: Vec::new(),
        setup: Some(LegacyGraph {
            version: 2,
            run_branches: 200,
            branches: vec![
                ("feature".into(), None),
                ("keep".into(), Some("__run__7".into())),
            ],
            stamp: stampede_model::LegacyStamp::Default,
        }),
        actors: vec![None; 8],
    }
}
