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
mod judge;

use stampede_model::{LegacyGraph, Op, Outcome};

pub use execute::{act, actor_main, execute, execute_with, stampede_binary, Actors};
pub use generate::{generate, person_with, round};
pub use judge::judge;

/// One actor's step: its open, then its op (`None`: the open is the op).
#[derive(Clone, Debug)]
pub struct Round {
    pub setup: Option<LegacyGraph>,
    pub actors: Vec<Option<Op>>,
}

/// What one actor saw: its open's swept refs, and its outcome.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Seen {
    pub swept: Vec<String>,
    pub outcome: Outcome,
}

/// The interleaving injectors' seed for round `index` of a run named by
/// `seed` (actor `i` mixes its index in).
pub fn injector_seed(seed: u64, index: u32) -> u64 {
    seed ^ u64::from(index)
}

pub fn replay_token(seed: u64, index: u32, actors: usize) -> String {
    format!("concurrent:{seed}:{index}:{actors}")
}

pub fn parse_token(token: &str) -> Option<(u64, u32, usize)> {
    let mut parts = token.strip_prefix("concurrent:")?.split(':');
    let seed = parts.next()?.parse().ok()?;
    let index = parts.next()?.parse().ok()?;
    let actors = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((seed, index, actors))
}

/// Re-run one round (its interleaving is the scheduler's: a race may need
/// a few runs to recur), printing the ops, outcomes and the judge's verdict.
pub fn replay(token: &str) -> Result<bool, String> {
    let (seed, index, actors) =
        parse_token(token).ok_or_else(|| format!("not a concurrent token: {token}"))?;
    let round = generate(seed, index, actors);
    println!("setup: {:?}", round.setup);
    let (seen, final_view) = execute_with(&round, Actors::Tasks, injector_seed(seed, index));
    for (i, (op, s)) in round.actors.iter().zip(&seen).enumerate() {
        println!(
            "actor {i}: open rw, then {op:?}\n  => {:?} (swept {:?})",
            s.outcome, s.swept
        );
    }
    println!("final: {final_view:?}");
    match judge(&round, &seen, &final_view) {
        Ok(order) => {
            println!("explained by the serial order {order:?}");
            Ok(true)
        }
        Err(why) => {
            println!("FAIL: {why}");
            Ok(false)
        }
    }
}
