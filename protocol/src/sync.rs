//! One place that decides which synchronization primitives the in-memory
//! store uses: std's, or loom's under the `loom` feature (tokio's facade
//! pattern; a feature rather than `--cfg loom`, so that Lance's fingerprint
//! is untouched and a loom build compiles this crate alone).

#[cfg(feature = "loom")]
pub use loom::sync::Mutex;
#[cfg(not(feature = "loom"))]
pub use std::sync::Mutex;
