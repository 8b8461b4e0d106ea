//! The Stampede harness: campaigns that drive the engine and the reference
//! model with the same operations and compare every observation, and the
//! `stampede` CLI that runs them.

pub mod adapter;
pub mod cli;
pub mod concurrent;
pub mod sequential;

/// A budget from the environment (`STAMPEDE_CASES`, `STAMPEDE_ROUNDS`,
/// `STAMPEDE_SEED`, ...), or its default.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
