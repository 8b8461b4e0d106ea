//! The concurrent campaign: K actors run one operation each, at once, on
//! one real Lance graph (tokio tasks, each with its own read-write handle).
//! The judge is order-blind: it searches the serial orders of the same ops
//! in the model and accepts the round if one reproduces every observed
//! outcome and the final state, where an actor that failed with a retryable
//! kind (`schema_apply_in_progress`, `blocking_branches`, `conflict`) is
//! allowed to have had no effect.
//!
//! Every actor first opens its own read-write handle, so on a legacy graph
//! all of them race the migration; that open is part of the actor's step in
//! the serial order. Open reports are judged in aggregate: each legacy ref
//! is swept by exactly one actor, and together they swept what the first
//! opener of the serial order sweeps.

mod execute;
mod generate;
pub mod held;
pub mod history;
mod judge;
mod remote_turns;
pub mod schedule;
pub mod shapes;

use stampede_model::{LegacyGraph, Model, Op, Outcome};

use schedule::Turns;

use crate::budgets::Budgets;
use crate::tally::CampaignResult;
use crate::verdict::{Campaign, Failure};
use crate::Replayed;

#[cfg(any(test, feature = "testing"))]
pub use execute::execute;
pub use execute::{
    act, actor_main, execute_history, execute_scheduled, execute_scheduled_with, execute_with,
    Actors, HistoryRun, Scheduled,
};
#[cfg(any(test, feature = "testing"))]
pub use generate::fleet;
pub use generate::{generate, round, swarm_round, Kind, SetupKind, Swarm};
pub use judge::{judge, round_divergence};
pub use schedule::Schedule;

/// One actor's step: its open, then its op (`None`: the open is the op).
#[derive(Clone, Debug)]
pub struct Round {
    pub setup: Option<LegacyGraph>,
    /// Ops run on the set-up graph before the round, through the engine
    /// and in the model alike (a fresh graph's branches and rows).
    pub prelude: Vec<Op>,
    pub actors: Vec<Option<Op>>,
    /// The swarm configuration it was drawn in (`None`: the uniform mix,
    /// or a round written by hand).
    pub swarm: Option<Swarm>,
}

/// The model of the graph a round or history starts from: `setup` (a
/// legacy graph, or a fresh one), then `prelude`, every op of which must
/// succeed; no handle held.
pub fn starting_model(setup: &Option<LegacyGraph>, prelude: &[Op]) -> Result<Model, String> {
    let mut model = Model::default();
    let first = match setup {
        Some(graph) => Op::WriteLegacy(graph.clone()),
        None => Op::Init,
    };
    for op in std::iter::once(&first).chain(prelude) {
        model
            .apply(op)
            .map_err(|e| format!("the model refused the setup's {op:?}: {e:?}"))?;
    }
    model.handle = None;
    Ok(model)
}

/// What one actor saw: its open's swept refs, and its outcome (its open's,
/// when that failed).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Seen {
    pub swept: Vec<String>,
    pub outcome: Outcome,
    /// The outcome is the open's: the actor's op never ran.
    #[serde(default)]
    pub open_failed: bool,
    /// When the actor's open, and its op, were in flight: what the
    /// campaign's shape counts are measured from (`shapes`).
    #[serde(default)]
    pub open: shapes::Span,
    #[serde(default)]
    pub op: shapes::Span,
}

/// The interleaving injectors' seed for round `index` of a run named by
/// `seed` (actor `i` mixes its index in).
pub fn injector_seed(seed: u64, index: u32) -> u64 {
    seed ^ u64::from(index)
}

/// Everything that names one concurrent round and how it ran:
/// `concurrent:SEED:INDEX:ACTORS:MODE:SCHEDULE:INTERLEAVING@VERSION`: the
/// round is round INDEX of root seed SEED with ACTORS actors (`KxN`: a
/// history of up to N ops per actor), MODE is
/// `tasks` or `processes`, SCHEDULE `wild`, `random` or `pct<depth>`,
/// INTERLEAVING the seed of the delay injectors or of the schedule, and
/// VERSION the harness version and git revision that ran it (a replay by
/// another build says so). `concurrent:SEED:INDEX:ACTORS` is tasks, wild;
/// without INTERLEAVING the seed is the campaign's. A held round (`held`)
/// is `concurrent:held:NAME:ACTORS:MODE:SCHEDULE:INTERLEAVING`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub seed: u64,
    pub index: u32,
    pub actors: usize,
    pub mode: Actors,
    pub schedule: Schedule,
    pub interleaving: u64,
    /// Ops per actor of a history round (0: one op each).
    pub history: usize,
    /// The held round it names instead of a generated one.
    pub held: Option<&'static str>,
    /// Drawn from the uniform mix (`--swarm off`), not in a swarm
    /// configuration: `u` after ACTORS.
    pub uniform: bool,
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let round = match self.held {
            Some(name) => format!("held:{name}"),
            None => format!("{}:{}", self.seed, self.index),
        };
        let actors = match self.history {
            0 => self.actors.to_string(),
            n => format!("{}x{n}", self.actors),
        };
        let uniform = if self.uniform { "u" } else { "" };
        write!(
            f,
            "concurrent:{round}:{actors}{uniform}:{}:{}:{}@{}",
            self.mode.name(),
            self.schedule.name(),
            self.interleaving,
            crate::binary::harness_build()
        )
    }
}

impl Token {
    /// Round `index` of a campaign as it runs it: the interleaving seed
    /// comes from the root seed and the index.
    pub fn of_campaign(
        seed: u64,
        index: u32,
        actors: usize,
        mode: Actors,
        schedule: Schedule,
    ) -> Token {
        Token {
            seed,
            index,
            actors,
            mode,
            schedule,
            interleaving: injector_seed(seed, index),
            history: 0,
            held: None,
            uniform: false,
        }
    }

    /// Unit `index` of the concurrent campaign under `budgets`, as a token: its round (or
    /// history), how its actors run, and the schedule it runs under (a
    /// mix's, resolved for this round).
    pub fn of_unit(budgets: &Budgets, index: u32) -> Token {
        let mode = if crate::wire::peer::peer().is_some() {
            Actors::Peers
        } else if budgets.processes && budgets.history == 0 {
            Actors::Processes
        } else {
            Actors::Tasks
        };
        // A peer's actors are its own processes, interleaved by timing.
        let schedule = match mode {
            Actors::Peers => Schedule::Wild,
            _ => budgets.schedule.for_round(index),
        };
        Token {
            history: budgets.history,
            uniform: budgets.uniform,
            ..Token::of_campaign(budgets.seed, index, budgets.actors, mode, schedule)
        }
    }

    /// The held round `name` (see `held`), its actors as tasks.
    pub fn of_held(name: &'static str, schedule: Schedule, interleaving: u64) -> Option<Token> {
        let round = held::round(name)?;
        Some(Token {
            seed: 0,
            index: 0,
            actors: round.actors.len(),
            mode: Actors::Tasks,
            schedule,
            interleaving,
            history: 0,
            held: Some(name),
            uniform: false,
        })
    }

    /// The history the token names (its `history` ops per actor).
    pub fn history_round(&self) -> history::History {
        history::generate(
            self.seed,
            self.index,
            self.actors,
            self.history,
            self.uniform,
        )
    }

    /// The round the token names: held, or generated from its seed.
    pub fn round(&self) -> Round {
        match self.held.and_then(held::round) {
            Some(round) => round,
            None => generate(self.seed, self.index, self.actors, self.uniform),
        }
    }

    /// The token, and the build it names (if it names one).
    pub fn parse(token: &str) -> Option<(Token, Option<String>)> {
        let (body, build) = match token.split_once('@') {
            Some((body, build)) => (body, Some(build.to_string())),
            None => (token, None),
        };
        let body = body.strip_prefix("concurrent:")?;
        let (held, body) = match body.strip_prefix("held:") {
            Some(rest) => {
                let (name, rest) = rest.split_once(':')?;
                let name = held::NAMES.into_iter().find(|n| *n == name)?;
                // A held round has no seed and index: 0 stand for them.
                (Some(name), format!("0:0:{rest}"))
            }
            None => (None, body.to_string()),
        };
        let parts: Vec<&str> = body.split(':').collect();
        let (mode, schedule) = match parts.len() {
            3 => (Actors::Tasks, Schedule::Wild),
            5 | 6 => (Actors::parse(parts[3])?, Schedule::parse(parts[4]).ok()?),
            _ => return None,
        };
        let (seed, index) = (parts[0].parse().ok()?, parts[1].parse().ok()?);
        let interleaving = match parts.get(5) {
            Some(part) => part.parse().ok()?,
            None => injector_seed(seed, index),
        };
        let (shape, uniform) = match parts[2].strip_suffix('u') {
            Some(shape) => (shape, true),
            None => (parts[2], false),
        };
        let (actors, history) = match shape.split_once('x') {
            Some((actors, ops)) => (actors.parse().ok()?, ops.parse().ok()?),
            None => (shape.parse().ok()?, 0),
        };
        let token = Token {
            seed,
            index,
            actors,
            mode,
            schedule,
            interleaving,
            history,
            held,
            uniform,
        };
        Some((token, build))
    }
}

/// One run of a round, however its actors ran: what they saw, the final
/// view, and (scheduled) the granted turns.
pub fn run_round(token: &Token, round: &Round) -> (Vec<Seen>, stampede_model::View, Option<Turns>) {
    let seed = token.interleaving;
    if token.schedule.is_scheduled() {
        let s = execute_scheduled_with(round, token.mode, token.schedule, seed);
        (s.seen, s.view, Some(s.turns))
    } else {
        let (seen, view) = execute_with(round, token.mode, seed);
        (seen, view, None)
    }
}

/// The concurrent campaign's units: `rounds` rounds (or histories).
pub fn units(budgets: &Budgets) -> u32 {
    budgets.rounds
}

/// Round (or history) `index`, run and judged; its ops are the actors'
/// ops, and it counts the shapes its run had and (scheduled) its turns.
pub fn run_unit(budgets: &Budgets, index: u32) -> CampaignResult {
    let token = Token::of_unit(budgets, index);
    let mut unit = CampaignResult {
        units: 1,
        ..CampaignResult::new(Campaign::Concurrent)
    };
    let fail = |why: String| Failure::new(Campaign::Concurrent, token.to_string(), why);
    let (turns, verdict) = if token.history > 0 {
        let h = token.history_round();
        let run = match crate::quiet::caught(|| {
            execute_history(&h, token.schedule, token.interleaving)
        }) {
            Ok(run) => run,
            Err(why) => {
                unit.failures.push(fail(why));
                return unit;
            }
        };
        unit.count_shapes(shapes::of_history(&h, &run.events).iter().map(|s| s.name()));
        let judged = std::time::Instant::now();
        let verdict = history::judge(&h, &run.events, &run.view)
            .map(drop)
            .map_err(fail);
        unit.judge_seconds = judged.elapsed().as_secs_f64();
        let events = run.events.iter().flatten();
        unit.ops = events.clone().count() as u64;
        unit.retryable_ops = events.filter(|e| judge::retryable(&e.outcome)).count() as u64;
        (run.turns, verdict)
    } else {
        let round = token.round();
        let (seen, view, turns) = match crate::quiet::caught(|| run_round(&token, &round)) {
            Ok(run) => run,
            Err(why) => {
                unit.failures.push(fail(why));
                return unit;
            }
        };
        unit.count_shapes(shapes::of_round(&round, &seen).iter().map(|s| s.name()));
        let verdict = judge(&round, &seen, &view)
            .map(drop)
            .map_err(|why| Failure {
                divergence: Some(Box::new(round_divergence(&round, &seen))),
                ..fail(why)
            });
        unit.ops = round.actors.len() as u64;
        unit.retryable_ops = seen.iter().filter(|s| judge::retryable(&s.outcome)).count() as u64;
        (turns, verdict)
    };
    if let Some(turns) = &turns {
        unit.grants = turns.trace.len() as u64;
        unit.escapes = turns.escapes();
    }
    unit.failures.extend(verdict.err());
    unit
}

/// Re-run one round exactly as the token names it, printing each actor's
/// op and outcome, the granted turns (scheduled rounds) and the judge's
/// verdict. With `check_determinism`, run it twice and report the first
/// point where the two runs differ (a wild round's interleaving is the
/// machine's timing: only a scheduled one is expected to repeat).
pub fn replay(token: &str, check_determinism: bool) -> Result<Replayed, String> {
    let (token, build) =
        Token::parse(token).ok_or_else(|| format!("not a concurrent token: {token}"))?;
    if let Some(build) = build.filter(|b| *b != crate::binary::harness_build()) {
        println!(
            "note: the token was made by harness {build}; this is {}",
            crate::binary::harness_build()
        );
    }
    if token.history > 0 && token.mode != Actors::Tasks {
        return Err("histories run their actors as tasks".into());
    }
    if (token.mode == Actors::Peers) != crate::wire::peer::peer().is_some() {
        return Err(match token.mode {
            Actors::Peers => "this round ran on a peer engine: replay it with --engine-cmd 'CMD'",
            _ => "this round ran on our engine: replay it without --engine-cmd",
        }
        .into());
    }
    if token.history > 0 {
        return replay_history(&token, check_determinism);
    }
    let round = token.round();
    if let Some(swarm) = &round.swarm {
        println!("configuration: {swarm}");
    }
    println!("setup: {:?}", round.setup);
    if !round.prelude.is_empty() {
        println!("prelude: {:?}", round.prelude);
    }
    let (seen, final_view, turns) = match crate::quiet::caught(|| run_round(&token, &round)) {
        Ok(run) => run,
        Err(why) => {
            println!("FAIL: {why}");
            return Ok(Replayed::Failed);
        }
    };
    for (i, (op, s)) in round.actors.iter().zip(&seen).enumerate() {
        println!(
            "actor {i}: open rw, then {op:?}\n  => {:?} (swept {:?})",
            s.outcome, s.swept
        );
    }
    if let Some(turns) = &turns {
        print_turns(turns);
    }
    println!("final: {final_view:?}");
    let passed = match judge(&round, &seen, &final_view) {
        Ok(order) => {
            println!("explained by the serial order {order:?}");
            true
        }
        Err(why) => {
            println!("FAIL: {why}");
            false
        }
    };
    if check_determinism {
        let (again, again_view, again_turns) = run_round(&token, &round);
        match divergence(
            (&seen, &final_view, turns.as_ref()),
            (&again, &again_view, again_turns.as_ref()),
        ) {
            None => println!("deterministic: a second run granted the same turns and saw the same"),
            Some(at) => {
                println!("NOT deterministic: {at}");
                return Ok(Replayed::NotDeterministic);
            }
        }
    }
    Ok(Replayed::judged(passed))
}

fn print_turns(turns: &Turns) {
    println!(
        "turns ({} granted, {} escapes):",
        turns.trace.len(),
        turns.escapes()
    );
    for (k, step) in turns.trace.iter().enumerate() {
        println!("  {k:>4} {step}");
    }
    for escape in &turns.escaped {
        println!("  escape: {escape}");
    }
}

/// A history's replay: each actor's events, the turns, the verdict.
fn replay_history(token: &Token, check_determinism: bool) -> Result<Replayed, String> {
    let history = token.history_round();
    if let Some(swarm) = &history.swarm {
        println!("configuration: {swarm}");
    }
    println!("setup: {:?}", history.setup);
    if !history.prelude.is_empty() {
        println!("prelude: {:?}", history.prelude);
    }
    let run = match crate::quiet::caught(|| {
        execute_history(&history, token.schedule, token.interleaving)
    }) {
        Ok(run) => run,
        Err(why) => {
            println!("FAIL: {why}");
            return Ok(Replayed::Failed);
        }
    };
    for (i, (plan, events)) in history.actors.iter().zip(&run.events).enumerate() {
        println!("actor {i} ({:?} handle):", plan.mode);
        for e in events {
            println!(
                "  [{:>9} ns .. {:>9} ns] {:?}\n      => {:?}",
                e.start, e.end, e.op, e.outcome
            );
        }
    }
    if let Some(turns) = &run.turns {
        print_turns(turns);
    }
    println!("final: {:?}", run.view);
    let passed = match history::judge(&history, &run.events, &run.view) {
        Ok(order) => {
            println!("linearized as (actor, op): {order:?}");
            true
        }
        Err(why) => {
            println!("FAIL: {why}");
            false
        }
    };
    if check_determinism {
        let again = execute_history(&history, token.schedule, token.interleaving);
        let outcomes = |run: &HistoryRun| -> Vec<Vec<Outcome>> {
            run.events
                .iter()
                .map(|events| events.iter().map(|e| e.outcome.clone()).collect())
                .collect()
        };
        let differs = if run.turns != again.turns {
            Some("the granted turns differ")
        } else if outcomes(&run) != outcomes(&again) {
            Some("the outcomes differ")
        } else if run.view != again.view {
            Some("the final views differ")
        } else {
            None
        };
        match differs {
            None => println!("deterministic: a second run granted the same turns and saw the same"),
            Some(what) => {
                println!("NOT deterministic: {what}");
                return Ok(Replayed::NotDeterministic);
            }
        }
    }
    Ok(Replayed::judged(passed))
}

type Run<'a> = (&'a [Seen], &'a stampede_model::View, Option<&'a Turns>);

/// The first point where two runs of one round differ, if any.
fn divergence(first: Run, second: Run) -> Option<String> {
    if let (Some(a), Some(b)) = (first.2, second.2) {
        if let Some(k) =
            (0..a.trace.len().max(b.trace.len())).find(|&k| a.trace.get(k) != b.trace.get(k))
        {
            return Some(format!(
                "turn {k}: {:?} then {:?}",
                a.trace.get(k).map(ToString::to_string),
                b.trace.get(k).map(ToString::to_string)
            ));
        }
    }
    for (i, (a, b)) in first.0.iter().zip(second.0).enumerate() {
        if (&a.outcome, &a.swept) != (&b.outcome, &b.swept) {
            return Some(format!("actor {i}: {a:?} then {b:?}"));
        }
    }
    (first.1 != second.1).then(|| "the final views differ".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_everything_and_read_back() {
        let mut token = Token::of_campaign(7, 12, 5, Actors::Tasks, Schedule::Pct { depth: 3 });
        let text = token.to_string();
        assert!(text.starts_with("concurrent:7:12:5:tasks:pct3:"), "{text}");
        assert_eq!(
            Token::parse(&text),
            Some((token, Some(crate::binary::harness_build())))
        );
        token.history = 3;
        token.interleaving = 99;
        token.mode = Actors::Processes;
        let text = token.to_string();
        assert!(
            text.starts_with("concurrent:7:12:5x3:processes:pct3:99@"),
            "{text}"
        );
        assert_eq!(Token::parse(&text).map(|(t, _)| t), Some(token));
        // Shorter forms: the campaign's interleaving seed, tasks, wild.
        let wild = Token::of_campaign(7, 12, 5, Actors::Tasks, Schedule::Wild);
        assert_eq!(Token::parse("concurrent:7:12:5"), Some((wild, None)));
        assert_eq!(
            Token::parse("concurrent:7:12:5:tasks:wild").map(|(t, _)| t),
            Some(wild)
        );
        for bad in [
            "concurrent:7:12",
            "concurrent:7:12:5:threads:wild",
            "seq:1:2",
        ] {
            assert_eq!(Token::parse(bad), None, "{bad}");
        }
    }
}
