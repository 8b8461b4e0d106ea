//! Generating rounds: the concurrent alphabet and its setups.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use stampede_model::{Desired, LegacyGraph, Op, Value};

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
        1 => property.prop_map(|p| Some(Op::ApplySchema(Desired::Schema(crate::fixtures::person_with(p))))),
    ]
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

/// The uniform mix: every actor draws from the whole alphabet, on a fresh
/// or legacy graph (`--swarm off`).
pub fn round(actors: usize) -> impl Strategy<Value = Round> {
    (
        proptest::option::weighted(0.6, setup()),
        proptest::collection::vec(actor_op(), actors..=actors),
    )
        .prop_map(|(setup, actors)| Round {
            setup,
            prelude: Vec::new(),
            actors,
            swarm: None,
        })
}

/// An op kind of the concurrent alphabet (`Open`: the actor only opens).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Open,
    Create,
    Delete,
    List,
    Load,
    Merge,
    Apply,
    Check,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Open,
        Kind::Create,
        Kind::Delete,
        Kind::List,
        Kind::Load,
        Kind::Merge,
        Kind::Apply,
        Kind::Check,
    ];

    /// How often a configuration includes this kind. The kinds whose
    /// races the contract is about (creates and deletes of a name, loads
    /// of a key, applies beside creates) come up in most configurations;
    /// the bystanders (a listing, a check, an open alone) in fewer, so a
    /// round is mostly the few kinds it races.
    fn inclusion(self) -> f64 {
        match self {
            Kind::Create => 0.6,
            Kind::Apply | Kind::Load => 0.5,
            Kind::Delete => 0.4,
            Kind::Check => 0.25,
            Kind::Merge => 0.2,
            // Every actor opens before its op, so an actor that only opens
            // adds little but another sweeper.
            Kind::List | Kind::Open => 0.15,
        }
    }
}

/// The graph a swarm round starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetupKind {
    Fresh,
    /// A fresh graph with branch `a` (three loads of its own) and `a/b`
    /// forked from it: deletes and creates meet trees with history.
    Branched,
    Legacy(LegacyGraph),
}

/// A swarm configuration (Groce et al., "Swarm Testing", ISSTA 2012):
/// what a round may hold, drawn before its ops. Leaving kinds out and
/// shrinking the pools makes shapes a uniform mix almost never draws
/// common: an apply beside creates of one name, two loads of one new key,
/// a delete racing a create from it, a sweep beside a create of a swept
/// name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Swarm {
    /// The op kinds actors draw from.
    pub kinds: Vec<Kind>,
    /// The branch names ops name.
    pub names: Vec<&'static str>,
    /// The row keys loads write.
    pub keys: Vec<&'static str>,
    pub setup: SetupKind,
}

impl std::fmt::Display for Swarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let setup = match &self.setup {
            SetupKind::Fresh => "fresh".to_string(),
            SetupKind::Branched => "branched".to_string(),
            SetupKind::Legacy(g) => {
                format!("legacy v{} with {} __run__ refs", g.version, g.run_branches)
            }
        };
        write!(
            f,
            "kinds {:?}, names {:?}, keys {:?}, {setup}",
            self.kinds, self.names, self.keys
        )
    }
}

/// Names ops draw from: collisions with each other, nesting, a legacy ref.
const NAME_POOL: [&str; 4] = ["a", "__run__0", "a/b", "b"];
const KEY_POOL: [&str; 3] = ["p", "q", "r"];

/// A pool of `1..=pool.len()` entries, small ones most often: one name or
/// one key is what makes actors collide.
fn pool_of(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<&'static str>> {
    let sizes = prop_oneof![5 => Just(1usize), 3 => Just(2usize), 2 => 3..=pool.len()];
    (Just(pool.to_vec()).prop_shuffle(), sizes).prop_map(|(pool, n)| pool[..n].to_vec())
}

fn swarm() -> impl Strategy<Value = Swarm> {
    let kinds = Kind::ALL
        .map(|k| proptest::bool::weighted(k.inclusion()))
        .prop_map(|on| {
            let mut kinds: Vec<Kind> = Kind::ALL
                .iter()
                .zip(on)
                .filter_map(|(k, on)| on.then_some(*k))
                .collect();
            if kinds.iter().all(|k| *k == Kind::Open) {
                kinds.push(Kind::Create);
            }
            kinds
        });
    (kinds, pool_of(&NAME_POOL), pool_of(&KEY_POOL)).prop_flat_map(|(kinds, names, keys)| {
        // An apply succeeds only on a graph without branches: with applies
        // in the configuration, start fresh most of the time.
        let fresh = if kinds.contains(&Kind::Apply) { 6 } else { 2 };
        let setup = prop_oneof![
            fresh => Just(SetupKind::Fresh),
            2 => Just(SetupKind::Branched),
            3 => self::setup().prop_map(SetupKind::Legacy),
        ];
        (Just(kinds), Just(names), Just(keys), setup).prop_map(|(kinds, names, keys, setup)| {
            Swarm {
                kinds,
                names,
                keys,
                setup,
            }
        })
    })
}

/// One op inside a configuration (`None`: the actor only opens).
fn op_in(config: &Swarm) -> impl Strategy<Value = Option<Op>> {
    let names = config.names.clone();
    // `main` as often as all the pool's names together: a load or a create
    // on a branch the round never made fails before it races anything.
    let froms: Vec<&'static str> = std::iter::repeat_n("main", names.len())
        .chain(names.clone())
        .collect();
    let person = (proptest::sample::select(config.keys.clone()), 0i64..3).prop_map(|(n, age)| {
        vec![
            ("name".to_string(), Value::Str(n.into())),
            ("age".to_string(), Value::Int(age)),
        ]
    });
    let property = proptest::sample::select(vec!["email", "nick"]);
    (
        proptest::sample::select(config.kinds.clone()),
        proptest::sample::select(names),
        proptest::sample::select(froms),
        proptest::collection::vec(person, 1..=2),
        property,
    )
        .prop_map(|(kind, name, from, rows, property)| match kind {
            Kind::Open => None,
            Kind::Create => Some(Op::create(name, from)),
            Kind::Delete => Some(Op::delete(name)),
            Kind::List => Some(Op::BranchList),
            Kind::Load => Some(Op::Load {
                branch: from.into(),
                type_name: "Person".into(),
                rows,
            }),
            Kind::Merge => Some(Op::Merge {
                source: name.into(),
                target: "main".into(),
            }),
            Kind::Apply => Some(Op::ApplySchema(Desired::Schema(
                crate::fixtures::person_with(property),
            ))),
            Kind::Check => Some(Op::Check),
        })
}

/// The prelude of a `Branched` setup: `a` with three loads, `a/b` from it.
fn branched_prelude() -> Vec<Op> {
    let load = |key: &str| Op::Load {
        branch: "a".into(),
        type_name: "Person".into(),
        rows: vec![vec![("name".to_string(), Value::Str(key.into()))]],
    };
    vec![
        Op::create("a", "main"),
        load("s"),
        load("t"),
        load("u"),
        Op::create("a/b", "a"),
    ]
}

/// A swarm round: its configuration, then its actors' ops inside it.
pub fn swarm_round(actors: usize) -> impl Strategy<Value = Round> {
    swarm()
        .prop_flat_map(move |config| {
            let ops = proptest::collection::vec(op_in(&config), actors..=actors);
            (Just(config), ops)
        })
        .prop_map(|(config, actors)| {
            let (setup, prelude) = match &config.setup {
                SetupKind::Fresh => (None, Vec::new()),
                SetupKind::Branched => (None, branched_prelude()),
                SetupKind::Legacy(graph) => (Some(graph.clone()), Vec::new()),
            };
            Round {
                setup,
                prelude,
                actors,
                swarm: Some(config),
            }
        })
}

/// The ops of one history actor inside a configuration: up to `ops`.
pub(super) fn actor_ops_in(config: &Swarm, ops: usize) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op_in(config), 1..=ops).prop_map(|ops| {
        ops.into_iter()
            .map(|op| op.unwrap_or(Op::BranchList))
            .collect()
    })
}

/// Generate round `index` of a campaign named by `seed`: a swarm round, or
/// from the uniform mix. For a peer engine (`--engine-cmd`), the same round
/// without what it does not support: an actor whose op it lacks only
/// opens, and a setup it cannot write is a fresh init.
pub fn generate(seed: u64, index: u32, actors: usize, uniform: bool) -> Round {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        crate::seeds::round_rng(crate::seeds::derive(seed, index)),
    );
    let strategy = if uniform {
        round(actors).boxed()
    } else {
        swarm_round(actors).boxed()
    };
    let mut round = strategy.new_tree(&mut runner).expect("a round").current();
    if crate::wire::peer::peer().is_some() {
        let supported = |op: &Op| crate::wire::peer::supports(op.name());
        if !crate::wire::peer::supports("WriteLegacy") {
            round.setup = None;
        }
        if !round.prelude.iter().all(supported) {
            round.prelude.clear();
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
#[cfg(any(test, feature = "testing"))]
pub fn fleet() -> Round {
    Round {
        swarm: None,
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
