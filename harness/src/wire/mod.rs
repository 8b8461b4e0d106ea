//! The wire protocol (`stampede-wire`: the messages) on the harness's
//! side:
//! - [`peer`]: a [`crate::adapter::SystemUnderTest`] over a peer process
//!   (`stampede verify --engine-cmd`);
//! - [`serve`]: our engine behind the wire (`stampede serve`).

pub mod peer;
pub mod serve;

pub use stampede_wire::*;

use stampede_model::Op;

/// Our engine's `hello`: every op, and views.
pub fn stampede_hello() -> Hello {
    Hello {
        protocol: PROTOCOL,
        engine: format!("stampede {}", crate::binary::harness_build()),
        ops: Op::NAMES.iter().map(ToString::to_string).collect(),
        view: true,
        reports_sweeps: true,
    }
}
