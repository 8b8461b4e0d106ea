//! The reference model of Stampede's contract.
//!
//! A value that is cheap to clone: main's stamp as written on disk, whether
//! the primary key is set, the refs (name → parent; the schema-apply lock is
//! one of them), the schema, the rows per branch and type, and the handle
//! the client holds. [`Model::apply`] implements `DESIGN.md` and nothing else;
//! [`Model::view`] derives everything an observer may see, in one place.
//! It never imports the engine: it is the expectation half of every verdict.

pub mod names;
pub mod rows;
pub mod schema;
pub mod stamp;
pub mod state;
pub mod vocabulary;

pub use rows::{Row, RowInput, Value, F64};
pub use schema::{Desired, SchemaSpec};
pub use state::{Fork, Model};
pub use vocabulary::{
    ErrorKind, LegacyGraph, LegacyStamp, Mode, Observation, Op, OpenReport, Outcome, StampState,
    StampView, View,
};
