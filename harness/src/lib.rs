//! The Stampede harness: campaigns that drive the engine and the reference
//! model with the same operations and compare every observation, and the
//! `stampede` CLI that runs them.

pub mod adapter;
pub mod cli;
pub mod concurrent;
pub mod sequential;
