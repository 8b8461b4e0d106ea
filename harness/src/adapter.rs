//! The system under test, seen through the shared vocabulary.
//!
//! Every campaign drives an engine only through [`SystemUnderTest`], so any
//! engine that implements it (an older release, a fork) is judged by the
//! same model. [`Stampede`] is this workspace's engine on real Lance, one
//! temp directory per case.

use std::collections::BTreeMap;
use std::sync::Arc;

use stampede_engine::lance::dataset::builder::DatasetBuilder;
use stampede_engine::lance::session::Session;

use stampede_engine::legacy::{write_legacy, LegacySpec, LegacyStamp as EngineLegacyStamp};
use stampede_engine::schema::EXAMPLE_SCHEMA;
use stampede_engine::STAMP_KEY;
use stampede_engine::{self as engine, Graph};
use stampede_model::{
    ErrorKind, LegacyGraph, LegacyStamp, Mode, Observation, Op, OpenReport, Outcome, StampState,
    StampView, View,
};

pub trait SystemUnderTest {
    /// Apply one op. Ops through the handle without one held are
    /// `not_initialized`, on both sides.
    fn apply(&mut self, op: &Op) -> Outcome;
    /// Observe everything the model's [`View`] covers.
    fn view(&self) -> View;
}

pub struct Stampede {
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    generation: usize,
    root: String,
    handle: Option<Graph>,
    /// The observer's own Lance session (its cache, not the engine's).
    session: Arc<Session>,
}

impl Stampede {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir for the graph");
        let root = dir.path().join("g0").to_string_lossy().into_owned();
        Stampede {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
            dir,
            generation: 0,
            root,
            handle: None,
            session: Arc::new(Session::default()),
        }
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    fn with_handle<T>(
        &self,
        f: impl AsyncFnOnce(&Graph) -> engine::Result<T>,
    ) -> Result<T, ErrorKind> {
        let graph = self.handle.as_ref().ok_or(ErrorKind::NotInitialized)?;
        self.runtime.block_on(f(graph)).map_err(kind)
    }
}

impl Default for Stampede {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemUnderTest for Stampede {
    fn apply(&mut self, op: &Op) -> Outcome {
        match op {
            Op::Init => {
                let graph = self
                    .runtime
                    .block_on(Graph::init(&self.root, EXAMPLE_SCHEMA))
                    .map_err(kind)?;
                self.handle = Some(graph);
                Ok(Observation::Done)
            }
            Op::Open(mode) => {
                let mode = match mode {
                    Mode::ReadWrite => engine::Mode::ReadWrite,
                    Mode::ReadOnly => engine::Mode::ReadOnly,
                };
                self.handle = None;
                let graph = self
                    .runtime
                    .block_on(Graph::open(&self.root, mode))
                    .map_err(kind)?;
                let report = report(graph.report());
                self.handle = Some(graph);
                Ok(Observation::Opened(report))
            }
            Op::WriteLegacy(spec) => {
                self.handle = None;
                self.generation += 1;
                self.root = self
                    .dir
                    .path()
                    .join(format!("g{}", self.generation))
                    .to_string_lossy()
                    .into_owned();
                self.runtime
                    .block_on(write_legacy(&self.root, &legacy_spec(spec)))
                    .map_err(kind)?;
                Ok(Observation::Done)
            }
            Op::BranchCreate { name, from } => self
                .with_handle(async |g| g.branch_create(name, from).await)
                .map(|()| Observation::Done),
            Op::BranchDelete { name } => self
                .with_handle(async |g| g.branch_delete(name).await)
                .map(|()| Observation::Done),
            Op::BranchList => self
                .with_handle(async |g| g.branch_list().await)
                .map(Observation::Branches),
            Op::Stamp => self.read_stamp().map(Observation::Stamp),
        }
    }

    fn view(&self) -> View {
        let (stamp, refs) = self.observe_lance();
        View {
            stamp,
            refs,
            list: self
                .handle
                .is_some()
                .then(|| self.with_handle(async |g| g.branch_list().await)),
        }
    }
}

impl Stampede {
    fn read_stamp(&self) -> Result<StampView, ErrorKind> {
        let report = self
            .runtime
            .block_on(engine::read_stamp(&self.root))
            .map_err(kind)?;
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

    /// Main's raw stamp and primary key, and the refs as Lance itself lists
    /// them: an observer independent of the engine's own reading code (the
    /// engine's reading is judged through `Op::Stamp`).
    #[allow(clippy::type_complexity)]
    fn observe_lance(
        &self,
    ) -> (
        Result<StampView, ErrorKind>,
        BTreeMap<String, Option<String>>,
    ) {
        let uri = format!("{}/__manifest", self.root);
        self.runtime.block_on(async {
            let opened = DatasetBuilder::from_uri(&uri)
                .with_session(self.session.clone())
                .load()
                .await;
            let Ok(manifest) = opened else {
                return (Err(ErrorKind::NotInitialized), BTreeMap::new());
            };
            let schema = manifest.schema();
            let raw = schema.metadata.get(STAMP_KEY).map(String::as_str);
            let pk = schema
                .unenforced_primary_key()
                .iter()
                .any(|f| f.name == "object_id");
            let refs = manifest
                .list_branches()
                .await
                .expect("Lance lists the refs of a quiescent graph")
                .into_iter()
                .map(|(name, contents)| (name, contents.parent_branch))
                .collect();
            (Ok(stampede_model::stamp::view(raw, pk)), refs)
        })
    }
}

/// Kinds cross by name: the model shares no type with the engine.
pub fn kind(error: engine::Error) -> ErrorKind {
    let name = error.kind().as_str();
    ErrorKind::from_name(name).unwrap_or_else(|| panic!("the model has no error kind {name:?}"))
}

fn report(report: &engine::OpenReport) -> OpenReport {
    OpenReport {
        from: report.from,
        to: report.to,
        swept: report.swept.clone(),
        kept: report.kept.clone(),
    }
}

pub fn legacy_spec(graph: &LegacyGraph) -> LegacySpec {
    let mut spec = LegacySpec::new(graph.version)
        .run_branches(graph.run_branches)
        .stamp(match &graph.stamp {
            LegacyStamp::Default => EngineLegacyStamp::Default,
            LegacyStamp::Absent => EngineLegacyStamp::Absent,
            LegacyStamp::Raw(raw) => EngineLegacyStamp::Raw(raw.clone()),
        });
    for (name, parent) in &graph.branches {
        spec = spec.branch(name, parent.as_deref());
    }
    spec
}
