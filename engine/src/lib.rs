//! Stampede's graph engine on Lance.
//!
//! The control plane (`__manifest`, its branches, main's internal schema
//! stamp, the open-time migrations) runs the protocols of
//! [`stampede_protocol`] on [`storage::LanceStore`].

pub mod check;
pub mod claims;
pub mod commit;
pub mod data;
pub mod dataset;
pub mod error;
mod exclusive;
pub mod graph;
pub mod legacy;
pub mod location;
pub mod manifest;
mod nonce;
#[cfg(feature = "instrument")]
pub mod probe;
pub mod rows;
pub mod schema;
pub mod schema_apply;
pub mod storage;
pub mod tables;

pub use error::{Error, ErrorKind, Result};

// The protocol crate's `loom` feature swaps its primitives for loom's, which
// panic outside `loom::model`: a build of the engine must never carry it.
const _: () = assert!(
    !stampede_protocol::sync::LOOM,
    "stampede-protocol's `loom` feature is for `make loom` only; build the engine without it"
);
pub use graph::{read_stamp, read_stamp_with, Graph, Mode, StampReport};
/// The Lance this engine is built on, for harnesses that read graphs through
/// Lance's own API.
pub use lance;
pub use location::root_uri;
pub use stampede_protocol::defects;
pub use stampede_protocol::names;
pub use stampede_protocol::stamp::STAMP_KEY;
pub use stampede_protocol::{OpenReport, PkState, StampState, CURRENT_VERSION};
