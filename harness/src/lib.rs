//! The Stampede harness: the `stampede` CLI today; the campaigns that
//! drive engine and model with the same operations grow here.

pub mod cli;
