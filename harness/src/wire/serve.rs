//! `stampede serve`: our engine behind the wire protocol, through the same
//! adapter the in-process campaigns use, so a run over the wire and one in
//! process apply every op the same way (`harness/tests/it/wire.rs` holds them
//! to identical outcomes and views). The loop itself is the protocol
//! crate's, which every peer runs too.

use std::io::{BufRead, Write};

use stampede_model::{Op, Outcome, View};

use super::Hello;
use crate::adapter::Stampede;

impl stampede_wire::Engine for Stampede {
    fn apply(&mut self, root: &str, op: &Op) -> Outcome {
        self.apply_at(root, op)
    }

    fn view(&mut self, root: &str) -> View {
        self.view_at(root)
    }
}

/// Serve requests from `input` until it closes, declaring `hello` (all
/// ops and views, or a part of them: what a peer with less looks like to
/// the harness). `Err` only when `output` cannot be written.
pub fn serve(input: impl BufRead, output: impl Write, hello: &Hello) -> std::io::Result<()> {
    stampede_wire::serve(input, output, hello, &mut Stampede::serving())
}
