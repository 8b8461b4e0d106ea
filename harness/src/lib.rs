//! The Stampede harness: campaigns that drive the engine and the reference
//! model with the same operations and compare every observation, and the
//! `stampede` CLI that runs them.

pub mod adapter;
pub mod cli;
pub mod concurrent;
pub mod crash;
pub mod damage;
pub mod effects;
pub mod faults;
pub mod figures;
pub mod junit;
pub mod plan;
pub mod quiet;
pub mod runner;
pub mod seeds;
#[cfg(feature = "defects")]
pub mod sensitivity;
pub mod sequential;

/// A budget from the environment (`STAMPEDE_CASES`, `STAMPEDE_ROUNDS`,
/// `STAMPEDE_SEED`, ...), or its default: the workspace's one reader.
pub use stampede_vocabulary::env_budget as env_or;

/// Re-run one failure from the token a campaign printed: `seq:…`,
/// `faults:…`, `crash:…`, `concurrent:…` or `damage:…`.
pub fn replay(token: &str) -> Result<bool, String> {
    match token.split(':').next() {
        Some("seq") => sequential::replay(token),
        Some("faults") => faults::replay(token),
        Some("crash") => crash::replay(token),
        Some("concurrent") => concurrent::replay(token),
        Some("damage") => damage::replay(token),
        _ => Err(format!(
            "not a replay token: {token:?} (seq:…, faults:…, crash:…, concurrent:…, damage:…)"
        )),
    }
}
