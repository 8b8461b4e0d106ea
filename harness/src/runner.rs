//! The one mapping from the model's vocabulary to engine calls.
//!
//! Every campaign applies ops through [`Runner::apply`]: the sequential and
//! fault campaigns through the blocking [`crate::adapter::Stampede`], the
//! concurrent actors (tasks and `stampede actor` processes) directly. An op
//! is therefore run the same way wherever it is judged.

use serde_json::Value as Json;
use stampede_engine::lance::io::ObjectStoreParams;
use stampede_engine::legacy::{
    leave_lock, write_legacy, LegacySpec, LegacyStamp as EngineStamp, LegacyVersion,
};
use stampede_engine::schema::EXAMPLE_SCHEMA;
use stampede_engine::{self as engine, Graph};
use stampede_model::{
    Desired, ErrorKind, LegacyGraph, LegacyStamp, Mode, Observation, Op, OpenReport, Outcome, Row,
    StampState, StampView,
};
use stampede_wire::{row_from_json, row_to_json};

/// Text the schema parser refuses, for `Desired::Malformed`.
pub const MALFORMED_SCHEMA: &str = "node {";

/// A client of one graph root: the handle it holds (if any) and the store
/// parameters (a campaign's probe) every handle it opens carries.
pub struct Runner {
    pub root: String,
    pub params: ObjectStoreParams,
    pub handle: Option<Graph>,
}

impl Runner {
    pub fn new(root: &str, params: ObjectStoreParams) -> Self {
        Runner {
            root: root.to_string(),
            params,
            handle: None,
        }
    }

    /// The same store without the campaign's probe: fixture writers stand
    /// for other programs, and the stamp reader is the observer's.
    fn unprobed(&self) -> ObjectStoreParams {
        ObjectStoreParams {
            object_store_wrapper: None,
            ..self.store_params()
        }
    }

    /// The parameters every handle opens with: the campaign's (its probe),
    /// with what the root's store needs (`crate::place`).
    fn store_params(&self) -> ObjectStoreParams {
        crate::place::complete(&self.root, self.params.clone())
    }

    /// Apply one op. Ops through the handle without one held are
    /// `not_initialized`, as in the model.
    pub async fn apply(&mut self, op: &Op) -> Outcome {
        match op {
            Op::Init => {
                let graph = Graph::init_with(&self.root, EXAMPLE_SCHEMA, self.store_params())
                    .await
                    .map_err(kind)?;
                self.handle = Some(graph);
                Ok(Observation::Done)
            }
            Op::Open(mode) => {
                self.handle = None;
                let mode = match mode {
                    Mode::ReadWrite => engine::Mode::ReadWrite,
                    Mode::ReadOnly => engine::Mode::ReadOnly,
                };
                let graph = Graph::open_with(&self.root, mode, self.store_params())
                    .await
                    .map_err(kind)?;
                let report = open_report(graph.report());
                self.handle = Some(graph);
                Ok(Observation::Opened(report))
            }
            Op::WriteLegacy(graph) => {
                self.handle = None;
                write_legacy(&self.root, &legacy_spec(graph), self.unprobed())
                    .await
                    .map_err(kind)?;
                Ok(Observation::Done)
            }
            Op::Stamp => read_stamp(&self.root, self.unprobed())
                .await
                .map(Observation::Stamp),
            Op::LeaveLock => leave_lock(&self.root, self.unprobed())
                .await
                .map(|()| Observation::Done)
                .map_err(kind),
            // Through the campaign's probe: a scheduled round takes its
            // reads in turn with every other actor's calls.
            Op::Check => {
                let depth = engine::check::Depth::Pins;
                engine::check::check_with(&self.root, depth, self.store_params())
                    .await
                    .map(|report| Observation::Checked {
                        healthy: report.healthy(),
                    })
                    .map_err(kind)
            }
            _ => {
                let graph = self.handle.as_ref().ok_or(ErrorKind::NotInitialized)?;
                on_handle(graph, op).await
            }
        }
    }
}

/// An op that goes through a held handle.
async fn on_handle(graph: &Graph, op: &Op) -> Outcome {
    match op {
        Op::BranchCreate { name, from } => graph
            .branch_create(name, from)
            .await
            .map(|()| Observation::Done),
        Op::BranchDelete { name } => graph.branch_delete(name).await.map(|()| Observation::Done),
        Op::BranchList => graph.branch_list().await.map(Observation::Branches),
        Op::ApplySchema(desired) => {
            let source = match desired {
                Desired::Schema(spec) => spec.render(),
                Desired::Malformed => MALFORMED_SCHEMA.to_string(),
            };
            graph
                .apply_schema(&source)
                .await
                .map(|r| Observation::Applied {
                    applied: r.applied,
                    steps: r.steps.iter().map(ToString::to_string).collect(),
                    lock_released: r.lock_released,
                })
        }
        Op::Load {
            branch,
            type_name,
            rows,
        } => {
            let rows: Vec<Json> = rows.iter().map(row_to_json).collect();
            graph
                .load(branch, type_name, &rows)
                .await
                .map(Observation::Loaded)
        }
        Op::Scan { branch, type_name } => {
            return scan(graph, branch, type_name).await.map(Observation::Rows)
        }
        Op::Merge { source, target } => graph
            .branch_merge(source, target)
            .await
            .map(|()| Observation::Done),
        Op::Unlock => graph.unlock().await.map(Observation::Unlocked),
        Op::Init | Op::Open(_) | Op::WriteLegacy(_) | Op::Stamp | Op::LeaveLock | Op::Check => {
            unreachable!("{op:?} needs no handle")
        }
    }
    .map_err(kind)
}

/// A scan whose rows arrive in the model's form. A cell the model has no
/// value for cannot be judged equal to anything: `storage`, never a panic.
pub async fn scan(graph: &Graph, branch: &str, type_name: &str) -> Result<Vec<Row>, ErrorKind> {
    let rows = graph.scan(branch, type_name).await.map_err(kind)?;
    rows.into_iter()
        .map(row_from_json)
        .collect::<Result<_, _>>()
        .map_err(|_| ErrorKind::Storage)
}

/// The engine's error kinds are the model's: one vocabulary.
pub fn kind(error: engine::Error) -> ErrorKind {
    error.kind()
}

pub fn open_report(report: &engine::OpenReport) -> OpenReport {
    OpenReport {
        from: report.from,
        to: report.to,
        swept: report.swept.clone(),
        kept: report.kept.clone(),
    }
}

async fn read_stamp(root: &str, params: ObjectStoreParams) -> Result<StampView, ErrorKind> {
    let report = engine::read_stamp_with(root, params).await.map_err(kind)?;
    Ok(StampView {
        state: match report.state {
            engine::StampState::Unstamped => StampState::Unstamped,
            engine::StampState::PkSetUnstamped => StampState::PkSetUnstamped,
            engine::StampState::Version(v) => StampState::Version(v),
            engine::StampState::Corrupt(raw) => StampState::Corrupt(raw),
        },
        verdict: report.verdict.map_err(kind),
    })
}

pub fn legacy_spec(graph: &LegacyGraph) -> LegacySpec {
    let version =
        LegacyVersion::try_from(graph.version).expect("the model writes versions 1 and 2");
    let mut spec = LegacySpec::new(version)
        .run_branches(graph.run_branches)
        .stamp(match &graph.stamp {
            LegacyStamp::Default => EngineStamp::Default,
            LegacyStamp::Absent => EngineStamp::Absent,
            LegacyStamp::Raw(raw) => EngineStamp::Raw(raw.clone()),
        });
    for (name, parent) in &graph.branches {
        spec = spec.branch(name, parent.as_deref());
    }
    spec
}
