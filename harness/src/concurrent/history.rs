//! Histories: each actor opens its own handle and runs a sequence of ops
//! on it, so handles go stale (opened before another actor deleted and
//! re-created a branch) and a read-only bystander reads the graph while it
//! changes. The history is judged for linearizability against the model
//! with real-time order (Wing & Gong's search, with failed prefixes
//! memoized by model state, as Porcupine does): some total order of all
//! ops must respect each actor's program order and every "a returned
//! before b began", and reproduce every outcome and the final graph. The
//! aggregate rules stay: each legacy ref is swept by at most one open, and
//! together the opens swept what the model's opens sweep; a retryable
//! outcome may have had no effect only with a cause among the other
//! actors' ops. Two operations take effect at two instants, as the
//! contract says: a read-write open of a v1 graph (v1→v2, then the sweep to
//! v3), so a reader may see v2 between them; and a create, whose contents
//! are `from` at one instant of its interval (its fork, [`Model::fork`])
//! and which becomes visible at a later one ([`Model::publish_create`]).
//! Nothing else is relaxed: a history passes or fails.

use std::collections::{BTreeSet, HashSet};
use std::time::Instant;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde::{Deserialize, Serialize};
use stampede_engine::lance::io::ObjectStoreParams;
use stampede_model::{ErrorKind, Fork, LegacyGraph, Mode, Model, Observation, Op, Outcome, View};

use super::judge::{caused, ends_as_seen, retried, same_outcome, swept_once, withdrawn};
use crate::runner::Runner;

/// What each actor runs: a handle of `mode`, then `ops` on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorOps {
    pub mode: Mode,
    pub ops: Vec<Op>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History {
    pub setup: Option<LegacyGraph>,
    /// As a round's (`Round::prelude`).
    pub prelude: Vec<Op>,
    pub actors: Vec<ActorOps>,
    /// As a round's (`Round::swarm`).
    pub swarm: Option<super::Swarm>,
}

/// One op of one actor as it happened: its outcome, and when it began and
/// returned (nanoseconds since the round began).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub op: Op,
    pub outcome: Outcome,
    /// The refs an open swept.
    pub swept: Vec<String>,
    pub start: u64,
    pub end: u64,
}

/// The ops of a history's read-only bystander: reads only (`check` among
/// them, as an operator runs it beside the graph's users).
fn read_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::BranchList),
        Just(Op::Check),
        (
            proptest::sample::select(vec!["main", "a", "b"]),
            proptest::sample::select(vec!["Person", "Company"])
        )
            .prop_map(|(b, t)| Op::Scan {
                branch: b.into(),
                type_name: t.into(),
            }),
    ]
}

/// The uniform mix's history (`--swarm off`).
fn history(actors: usize, ops: usize) -> impl Strategy<Value = History> {
    let writer = proptest::collection::vec(super::generate::actor_op(), 1..=ops).prop_map(|ops| {
        ActorOps {
            mode: Mode::ReadWrite,
            // An actor whose draw was "open only" lists instead.
            ops: ops
                .into_iter()
                .map(|op| op.unwrap_or(Op::BranchList))
                .collect(),
        }
    });
    (
        proptest::option::weighted(0.4, super::generate::setup()),
        proptest::collection::vec(writer, actors.saturating_sub(1)..=actors.saturating_sub(1)),
        bystander(ops),
    )
        .prop_map(|(setup, mut actors, bystander)| {
            actors.push(bystander);
            History {
                setup,
                prelude: Vec::new(),
                swarm: None,
                actors,
            }
        })
}

/// A read-only bystander of `ops` reads.
fn bystander(ops: usize) -> impl Strategy<Value = ActorOps> {
    proptest::collection::vec(read_op(), ops..=ops).prop_map(|ops| ActorOps {
        mode: Mode::ReadOnly,
        ops,
    })
}

/// A swarm history: a configuration (as a swarm round's), the writers'
/// ops inside it, and the read-only bystander.
fn swarm_history(actors: usize, ops: usize) -> impl Strategy<Value = History> {
    super::generate::swarm_round(0)
        .prop_flat_map(move |round| {
            let config = round
                .swarm
                .clone()
                .expect("a swarm round has its configuration");
            let writer = super::generate::actor_ops_in(&config, ops).prop_map(|ops| ActorOps {
                mode: Mode::ReadWrite,
                ops,
            });
            let writers = proptest::collection::vec(
                writer,
                actors.saturating_sub(1)..=actors.saturating_sub(1),
            );
            (Just(round), writers, bystander(ops))
        })
        .prop_map(|(round, mut actors, bystander)| {
            actors.push(bystander);
            History {
                setup: round.setup,
                prelude: round.prelude,
                swarm: round.swarm,
                actors,
            }
        })
}

/// History `index` of a campaign named by `seed`: `actors` actors (the
/// last a read-only bystander), up to `ops` ops each; a swarm history, or
/// from the uniform mix.
pub fn generate(seed: u64, index: u32, actors: usize, ops: usize, uniform: bool) -> History {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        crate::seeds::round_rng(crate::seeds::derive(seed, index)),
    );
    let strategy = if uniform {
        history(actors, ops).boxed()
    } else {
        swarm_history(actors, ops).boxed()
    };
    strategy.new_tree(&mut runner).expect("a history").current()
}

/// One actor: open its handle, then run its ops, timing each.
pub async fn act(
    root: &str,
    plan: ActorOps,
    params: ObjectStoreParams,
    epoch: Instant,
) -> Vec<Event> {
    let now = || epoch.elapsed().as_nanos() as u64;
    let mut runner = Runner::new(root, params);
    let mut events = Vec::new();
    for op in std::iter::once(Op::Open(plan.mode)).chain(plan.ops) {
        let start = now();
        let outcome = runner.apply(&op).await;
        let end = now();
        let swept = match &outcome {
            Ok(Observation::Opened(report)) => report.swept.clone(),
            _ => Vec::new(),
        };
        events.push(Event {
            op,
            outcome,
            swept,
            start,
            end,
        });
    }
    events
}

/// Judge a history: a linearization, as (actor, op index) in order.
pub fn judge(
    history: &History,
    events: &[Vec<Event>],
    final_view: &View,
) -> Result<Vec<(usize, usize)>, String> {
    let base = super::starting_model(&history.setup, &history.prelude)?;
    let swept = swept_once(events.iter().flatten().map(|e| &e.swept))?;
    let withdrawn = withdrawn(events.iter().flatten().map(|e| (&e.op, &e.outcome)));
    let mut search = Search {
        history,
        events,
        final_view,
        swept: &swept,
        withdrawn,
        failed: HashSet::new(),
    };
    let mut state = SearchState {
        model: base,
        handles: vec![None; events.len()],
        next: vec![0; events.len()],
        forks: vec![None; events.len()],
        swept: BTreeSet::new(),
    };
    let mut order = Vec::new();
    if search.extend(&mut state, &mut order) {
        Ok(order)
    } else {
        Err(format!(
            "no linearization explains the history\n  setup: {:?}\n  events: {events:#?}\n  final: {final_view:?}",
            history.setup
        ))
    }
}

#[derive(Clone)]
struct SearchState {
    model: Model,
    /// Each actor's handle in the model.
    handles: Vec<Option<Mode>>,
    /// Each actor's next op.
    next: Vec<usize>,
    /// What an actor's next op, a create that answered `Ok`, forked of its
    /// `from`, if its fork instant has passed and it is not yet visible.
    forks: Vec<Option<Fork>>,
    swept: BTreeSet<String>,
}

impl SearchState {
    fn key(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}",
            self.next, self.handles, self.model.graph, self.swept, self.forks
        )
    }

    /// Actor `a`'s next op, if it is a create that answered `Ok`, takes
    /// its fork instant now: what its later, visible instant publishes.
    /// `false` when it cannot (`from` does not exist now).
    fn fork(&mut self, a: usize, event: &Event) -> bool {
        let (Op::BranchCreate { from, .. }, Ok(_)) = (&event.op, &event.outcome) else {
            return false;
        };
        self.forks[a] = self.model.fork(from);
        self.forks[a].is_some()
    }
}

struct Search<'a> {
    history: &'a History,
    events: &'a [Vec<Event>],
    final_view: &'a View,
    swept: &'a BTreeSet<String>,
    withdrawn: BTreeSet<String>,
    /// States from which no linearization was found.
    failed: HashSet<String>,
}

impl Search<'_> {
    fn extend(&mut self, state: &mut SearchState, order: &mut Vec<(usize, usize)>) -> bool {
        if state
            .next
            .iter()
            .zip(self.events)
            .all(|(n, e)| *n == e.len())
        {
            return ends_as_seen(
                &state.model,
                &state.swept,
                Some(self.swept),
                self.final_view,
            );
        }
        let key = state.key();
        if self.failed.contains(&key) {
            return false;
        }
        for a in 0..self.events.len() {
            if !self.may_go_next(state, a) {
                continue;
            }
            let mut next = state.clone();
            if self.step(&mut next, a) {
                order.push((a, state.next[a]));
                if self.extend(&mut next, order) {
                    return true;
                }
                order.pop();
            }
            // Or an in-flight read-write open of a v1 graph has taken its
            // first step (DESIGN: main migrates step by step), and a reader
            // may see main at v2 before the open's sweep.
            if matches!(self.events[a][state.next[a]].op, Op::Open(Mode::ReadWrite)) {
                let mut next = state.clone();
                if next.model.migrate_to_v2() && self.extend(&mut next, order) {
                    return true;
                }
            }
            // Or a create takes its fork instant now and becomes visible
            // later.
            if state.forks[a].is_none() {
                let mut next = state.clone();
                if next.fork(a, &self.events[a][state.next[a]]) && self.extend(&mut next, order) {
                    return true;
                }
            }
        }
        self.failed.insert(key);
        false
    }

    /// Actor `a`'s next op may be linearized now: no other actor's next op
    /// returned before it began.
    fn may_go_next(&self, state: &SearchState, a: usize) -> bool {
        let Some(event) = self.events[a].get(state.next[a]) else {
            return false;
        };
        (0..self.events.len()).filter(|b| *b != a).all(|b| {
            self.events[b]
                .get(state.next[b])
                .is_none_or(|other| other.end >= event.start)
        })
    }

    /// Apply actor `a`'s next op to the model; whether its outcome is the
    /// one seen.
    fn step(&self, state: &mut SearchState, a: usize) -> bool {
        let event = &self.events[a][state.next[a]];
        state.next[a] += 1;
        state.model.handle = state.handles[a];
        let legacy = self.history.setup.is_some();
        if let (Err(kind), false) = (&event.outcome, matches!(event.op, Op::Open(_))) {
            if kind.is_retryable() {
                let caused = || self.caused(a, &event.op, *kind, legacy);
                let explained = retried(&mut state.model, &event.op, &event.outcome, caused);
                state.handles[a] = state.model.handle;
                return explained;
            }
        }
        let expected = match (state.forks[a].take(), &event.op) {
            // A create that forked earlier becomes visible now.
            (Some(fork), Op::BranchCreate { name, from }) => {
                match state.model.publish_create(name, from, fork) {
                    Some(published) => published,
                    None => return false,
                }
            }
            _ => state.model.apply(&event.op),
        };
        if let Ok(Observation::Opened(report)) = &expected {
            state.swept.extend(report.swept.iter().cloned());
        }
        state.handles[a] = state.model.handle;
        same_outcome(&expected, &event.outcome, &self.withdrawn)
    }

    /// Whether another actor's ops could have caused actor `a`'s
    /// retryable `kind` for `op`.
    fn caused(&self, a: usize, op: &Op, kind: ErrorKind, legacy: bool) -> bool {
        let others: Vec<Option<&Op>> = self
            .events
            .iter()
            .enumerate()
            .filter(|(b, _)| *b != a)
            .flat_map(|(_, events)| events.iter().map(|e| Some(&e.op)))
            .collect();
        caused(Some(op), &others, legacy, kind)
    }
}
