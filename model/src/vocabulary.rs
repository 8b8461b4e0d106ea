//! The operations and observations shared by model, engine adapter and
//! harness. Outcomes carry an error *kind*, never a message.

use std::collections::{BTreeMap, BTreeSet};

pub use stampede_vocabulary::ErrorKind;

use crate::rows::{Row, RowInput};
use crate::schema::Desired;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Mode {
    ReadWrite,
    ReadOnly,
}

/// Main's stamp as written by a legacy engine.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum LegacyStamp {
    /// None for v1, "2" for v2.
    Default,
    /// No stamp key (v2: a v1→v2 step stopped after its PK commit).
    Absent,
    Raw(String),
}

/// A graph as an older engine left it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LegacyGraph {
    pub version: u32,
    /// `__run__0` .. `__run__{n-1}`, forked from main.
    pub run_branches: usize,
    /// (name, parent) in creation order; a parent of `None` is main.
    pub branches: Vec<(String, Option<String>)>,
    pub stamp: LegacyStamp,
}

/// One operation, with every target already a concrete name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Op {
    /// Create a graph at the current root and take a read-write handle.
    Init,
    /// Open the current root; the handle is replaced (or dropped on error).
    Open(Mode),
    /// Replace the graph with a fresh root written by the legacy writer;
    /// drops the handle.
    WriteLegacy(LegacyGraph),
    BranchCreate {
        name: String,
        from: String,
    },
    BranchDelete {
        name: String,
    },
    BranchList,
    /// Read main's stamp without a handle; never writes.
    Stamp,
    ApplySchema(Desired),
    Load {
        branch: String,
        type_name: String,
        rows: Vec<RowInput>,
    },
    Scan {
        branch: String,
        type_name: String,
    },
    Merge {
        source: String,
        target: String,
    },
    Unlock,
    /// What an apply that died holding the lock leaves: the lock ref.
    LeaveLock,
    /// `stampede check` of the graph, as an operator runs it beside the
    /// graph's users: whether it calls the graph healthy. Never writes.
    Check,
}

impl Op {
    /// Every op's name, as [`Op::name`] gives it: what a peer engine lists
    /// as the ops it supports (`docs/wire-protocol.md`).
    pub const NAMES: [&'static str; 14] = [
        "Init",
        "Open",
        "WriteLegacy",
        "BranchCreate",
        "BranchDelete",
        "BranchList",
        "Stamp",
        "ApplySchema",
        "Load",
        "Scan",
        "Merge",
        "Unlock",
        "LeaveLock",
        "Check",
    ];

    /// One op of every kind, in [`Op::NAMES`]' order: samples for tests of
    /// whatever carries ops (the names, the wire protocol's schema).
    pub fn one_of_each() -> Vec<Op> {
        vec![
            Op::Init,
            Op::Open(Mode::ReadOnly),
            Op::legacy(2, 0, &[], LegacyStamp::Default),
            Op::create("a", "main"),
            Op::delete("a"),
            Op::BranchList,
            Op::Stamp,
            Op::ApplySchema(Desired::Malformed),
            Op::Load {
                branch: "main".into(),
                type_name: "Person".into(),
                rows: vec![],
            },
            Op::Scan {
                branch: "main".into(),
                type_name: "Person".into(),
            },
            Op::Merge {
                source: "a".into(),
                target: "main".into(),
            },
            Op::Unlock,
            Op::LeaveLock,
            Op::Check,
        ]
    }

    /// The op's name: its variant's, as on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Init => "Init",
            Op::Open(_) => "Open",
            Op::WriteLegacy(_) => "WriteLegacy",
            Op::BranchCreate { .. } => "BranchCreate",
            Op::BranchDelete { .. } => "BranchDelete",
            Op::BranchList => "BranchList",
            Op::Stamp => "Stamp",
            Op::ApplySchema(_) => "ApplySchema",
            Op::Load { .. } => "Load",
            Op::Scan { .. } => "Scan",
            Op::Merge { .. } => "Merge",
            Op::Unlock => "Unlock",
            Op::LeaveLock => "LeaveLock",
            Op::Check => "Check",
        }
    }

    pub fn create(name: &str, from: &str) -> Op {
        Op::BranchCreate {
            name: name.into(),
            from: from.into(),
        }
    }

    pub fn delete(name: &str) -> Op {
        Op::BranchDelete { name: name.into() }
    }

    /// Write a legacy graph: `version`, `runs` `__run__` refs, user
    /// branches as (name, parent), and a stamp.
    pub fn legacy(
        version: u32,
        runs: usize,
        branches: &[(&str, Option<&str>)],
        stamp: LegacyStamp,
    ) -> Op {
        Op::WriteLegacy(LegacyGraph {
            version,
            run_branches: runs,
            branches: branches
                .iter()
                .map(|(n, p)| (n.to_string(), p.map(str::to_string)))
                .collect(),
            stamp,
        })
    }
}

/// What one read-write open did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OpenReport {
    pub from: u32,
    pub to: u32,
    pub swept: Vec<String>,
    pub kept: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum StampState {
    Unstamped,
    PkSetUnstamped,
    Version(u64),
    Corrupt(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StampView {
    pub state: StampState,
    /// The version an open starts from, or the guard's refusal.
    pub verdict: Result<u32, ErrorKind>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Observation {
    Done,
    Opened(OpenReport),
    Branches(Vec<String>),
    Stamp(StampView),
    Applied {
        applied: bool,
        steps: Vec<String>,
        lock_released: bool,
    },
    /// Distinct keys written.
    Loaded(usize),
    Rows(Vec<Row>),
    /// Whether a lock was there to remove.
    Unlocked(bool),
    /// Whether `check` called the graph healthy.
    Checked {
        healthy: bool,
    },
}

pub type Outcome = Result<Observation, ErrorKind>;

/// Everything an observer can see of the graph, compared after every op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// Main's stamp, or `NotInitialized`.
    pub stamp: Result<StampView, ErrorKind>,
    /// Every ref on `__manifest` (including legacy and internal ones) with
    /// its parent (`None`: main).
    pub refs: BTreeMap<String, Option<String>>,
    /// What the held handle lists, if a handle is held.
    pub list: Option<Result<Vec<String>, ErrorKind>>,
    /// Through the held handle: the rows of every type of main's schema on
    /// every branch it lists, keyed by (branch, type).
    pub rows: BTreeMap<(String, String), Result<Vec<Row>, ErrorKind>>,
    /// Through the held handle: the listed branches whose own schema is not
    /// main's. None, ever: every branch has main's schema (what the
    /// schema-apply lock is for). An observer that cannot tell reports none.
    pub off_schema: BTreeSet<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `NAMES` lists every op's name once, in declaration order.
    #[test]
    fn every_op_is_named_once() {
        let names: Vec<&str> = Op::one_of_each().iter().map(Op::name).collect();
        assert_eq!(names, Op::NAMES);
    }
}
