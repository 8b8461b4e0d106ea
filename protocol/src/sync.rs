//! One place that decides which synchronization primitives the in-memory
//! store uses: std's, or loom's under the `loom` feature (tokio's facade
//! pattern; a feature rather than `--cfg loom`, so that Lance's fingerprint
//! is untouched and a loom build compiles this crate alone). Nothing else
//! in the crate names `loom` or `std::sync`/`std::thread` directly.

#[cfg(feature = "loom")]
pub use loom::{sync::Mutex, thread};
#[cfg(not(feature = "loom"))]
pub use std::{sync::Mutex, thread};

/// Whether this build uses loom's primitives. They panic outside
/// `loom::model`, so the engine refuses to compile against such a build
/// (`cargo build --all-features` would otherwise make one).
pub const LOOM: bool = cfg!(feature = "loom");
