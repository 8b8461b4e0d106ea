//! The Stampede harness: campaigns that drive the engine and the reference
//! model with the same operations and compare every observation, and the
//! `stampede` CLI that runs them.

pub mod adapter;
pub mod binary;
pub mod budgets;
pub mod cli;
pub mod concurrent;
pub mod crash;
pub mod damage;
pub mod effects;
pub mod faults;
pub mod figures;
pub mod files;
pub mod fixtures;
pub mod junit;
pub mod loom;
pub mod place;
pub mod plan;
pub mod quiet;
pub mod report;
pub mod runner;
pub mod seeds;
#[cfg(feature = "defects")]
pub mod sensitivity;
pub mod sequential;
pub mod summary;
pub mod tally;
pub mod verdict;
pub mod wire;

/// A budget from the environment (`STAMPEDE_CASES`, `STAMPEDE_ROUNDS`,
/// `STAMPEDE_SEED`, ...), or its default: the workspace's one reader.
pub use stampede_vocabulary::env_budget as env_or;

/// Re-run one failure from the token a campaign printed: `seq:…`,
/// `faults:…`, `crash:…`, `concurrent:…` or `damage:…`. With
/// `check_determinism`, run it twice and fail if the two runs differ (a
/// concurrent round compares its turns, outcomes and final view; the
/// other campaigns are single-threaded and compare their verdicts).
pub fn replay(token: &str, check_determinism: bool) -> Result<Replayed, String> {
    let once = || match token.split(':').next() {
        Some("seq") => sequential::replay(token),
        Some("faults") => faults::replay(token),
        Some("crash") => crash::replay(token),
        Some("damage") => damage::replay(token),
        _ => Err(format!(
            "not a replay token: {token:?} (seq:…, faults:…, crash:…, concurrent:…, damage:…)"
        )),
    };
    if token.starts_with("concurrent:") {
        return concurrent::replay(token, check_determinism);
    }
    let verdict = once()?;
    if check_determinism {
        let again = once()?;
        if again != verdict {
            println!("NOT deterministic: the second run's verdict differs");
            return Ok(Replayed::NotDeterministic);
        }
        println!("deterministic: a second run gave the same verdict");
    }
    Ok(Replayed::judged(verdict))
}

/// What a replay found: the verdict, or (with `--check-determinism`) that
/// two runs differ. `stampede replay` exits 0, 1 or 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replayed {
    Passed,
    Failed,
    NotDeterministic,
}

impl Replayed {
    pub fn judged(passed: bool) -> Replayed {
        if passed {
            Replayed::Passed
        } else {
            Replayed::Failed
        }
    }

    pub fn exit_code(self) -> u8 {
        match self {
            Replayed::Passed => 0,
            Replayed::Failed => 1,
            Replayed::NotDeterministic => 3,
        }
    }
}
