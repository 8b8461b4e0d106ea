//! Stampede's graph engine on Lance.
//!
//! The control plane (`__manifest`, its branches, main's internal schema
//! stamp, the open-time migrations) runs the protocols of
//! [`stampede_protocol`] on [`storage::LanceStore`].

pub mod check;
pub mod data;
pub mod error;
pub mod graph;
pub mod legacy;
pub mod manifest;
pub mod probe;
pub mod rows;
pub mod schema;
pub mod schema_apply;
pub mod storage;
pub mod tables;

pub use error::{Error, ErrorKind, Result};
pub use graph::{read_stamp, root_uri, Graph, Mode, StampReport};
/// The Lance this engine is built on, for harnesses that read graphs through
/// Lance's own API.
pub use lance;
pub use stampede_protocol::defects;
pub use stampede_protocol::names;
pub use stampede_protocol::stamp::STAMP_KEY;
pub use stampede_protocol::{OpenReport, PkState, StampState, CURRENT_VERSION};
