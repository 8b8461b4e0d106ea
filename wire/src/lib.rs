//! The wire protocol for a system under test: JSON Lines over a peer's
//! stdin and stdout, so the model can judge an engine we did not write
//! (`docs/wire-protocol.md`, whose JSON Schema is
//! `docs/wire-protocol.schema.json`).
//!
//! Every message is derived from the model's vocabulary with serde: an op
//! is [`Op`] as the model serializes it, an outcome is [`Outcome`], a view
//! is [`View`] with its rows listed instead of keyed by pairs. Nothing is
//! translated, so a peer answers exactly in the model's terms.
//!
//! This crate depends on the model alone, so a server for another engine,
//! in a workspace of its own, can use these types without our engine or
//! its Lance: [`serve`] is the whole server loop, given an [`Engine`]. The
//! harness's side (`stampede verify --engine-cmd`) and our engine's
//! adapter (`stampede serve`) live in `stampede-harness`; the published
//! seed engine's is `peers/omnigraph-0.6`.

mod rows;
mod serve;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use stampede_model::{ErrorKind, Op, Outcome, Row, StampView, View};

pub use rows::{row_from_json, row_to_json};
pub use serve::{serve, Engine};

/// The protocol's version. A peer that answers `hello` with another one is
/// refused before any op is sent.
pub const PROTOCOL: u32 = 1;

/// What the harness sends, one per line. A peer answers each with exactly
/// one [`Response`] line, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The first request: the harness's protocol version.
    Hello { protocol: u32 },
    /// Apply `op` to the graph at `root` with the one handle the peer holds
    /// (ops that open or init replace it; `WriteLegacy` names a fresh root).
    Apply { root: String, op: Op },
    /// Observe the graph at `root` (stamp, refs with parents) and, through
    /// the held handle, what it lists and every type's rows on every
    /// branch it lists.
    View { root: String },
}

/// What a peer answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Response {
    Hello(Hello),
    /// The op's outcome, in the model's vocabulary: a value or an error kind.
    Outcome(Outcome),
    View(WireView),
    /// A request the peer cannot serve (unreadable, or an op it did not
    /// declare): the harness stops and reports the message.
    Refused {
        message: String,
    },
}

/// A peer's answer to `hello`: who it is and what it supports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    pub protocol: u32,
    /// The engine and its version, for reports.
    pub engine: String,
    /// The ops it supports, by [`Op::name`]; no other op is ever sent.
    pub ops: Vec<String>,
    /// Whether it answers `view` (without it, only outcomes are judged).
    pub view: bool,
    /// Whether an open's report names what *this* open swept. An engine
    /// that does not say (its peer derives the report from the refs before
    /// and after) is exact alone, but in a concurrent round would credit
    /// every opener with one sweep: there, who swept what is not judged,
    /// only that the refs are gone. Absent means true.
    #[serde(default = "reports_sweeps_by_default")]
    pub reports_sweeps: bool,
}

fn reports_sweeps_by_default() -> bool {
    true
}

impl Hello {
    pub fn supports(&self, op: &str) -> bool {
        self.ops.iter().any(|o| o == op)
    }

    /// The names it lists that are no op of the model's.
    pub fn unknown_ops(&self) -> Vec<&str> {
        self.ops
            .iter()
            .map(String::as_str)
            .filter(|o| !Op::NAMES.contains(o))
            .collect()
    }
}

/// [`View`] on the wire: the same fields, the rows as a list (JSON keys
/// are strings, and a view's rows are keyed by branch and type).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireView {
    pub stamp: Result<StampView, ErrorKind>,
    pub refs: BTreeMap<String, Option<String>>,
    pub list: Option<Result<Vec<String>, ErrorKind>>,
    pub rows: Vec<TypeRows>,
    /// Listed branches whose own schema is not main's; absent from a peer
    /// that cannot tell (it is then judged on none).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub off_schema: BTreeSet<String>,
}

/// One type's rows on one branch, through the handle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeRows {
    pub branch: String,
    pub type_name: String,
    pub rows: Result<Vec<Row>, ErrorKind>,
}

impl From<View> for WireView {
    fn from(view: View) -> Self {
        WireView {
            stamp: view.stamp,
            refs: view.refs,
            list: view.list,
            rows: view
                .rows
                .into_iter()
                .map(|((branch, type_name), rows)| TypeRows {
                    branch,
                    type_name,
                    rows,
                })
                .collect(),
            off_schema: view.off_schema,
        }
    }
}

impl From<WireView> for View {
    fn from(view: WireView) -> Self {
        View {
            stamp: view.stamp,
            refs: view.refs,
            list: view.list,
            rows: view
                .rows
                .into_iter()
                .map(|r| ((r.branch, r.type_name), r.rows))
                .collect(),
            off_schema: view.off_schema,
        }
    }
}
