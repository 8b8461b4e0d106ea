//! The system under test, seen through the shared vocabulary.
//!
//! Every campaign drives an engine only through [`SystemUnderTest`], so any
//! engine that implements it (an older release, a fork) is judged by the
//! same model. [`Stampede`] is this workspace's engine on real Lance, one
//! temp directory per case.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use stampede_engine::lance::dataset::builder::DatasetBuilder;
use stampede_engine::lance::io::ObjectStoreParams;
use stampede_engine::lance::session::Session;

use serde_json::Value as Json;
use stampede_engine::legacy::{
    leave_lock, write_legacy, LegacySpec, LegacyStamp as EngineLegacyStamp,
};
use stampede_engine::schema::EXAMPLE_SCHEMA;
use stampede_engine::STAMP_KEY;
use stampede_engine::{self as engine, Graph};
use stampede_model::{
    Desired, ErrorKind, LegacyGraph, LegacyStamp, Mode, Observation, Op, OpenReport, Outcome, Row,
    RowInput, StampState, StampView, Value, View,
};

/// Text the schema parser refuses, for `Desired::Malformed`.
pub const MALFORMED_SCHEMA: &str = "node {";

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
    /// Rows per type seen through the handle, by the manifest file they were
    /// read at (root, branch, version, e-tag). Lance versions are immutable,
    /// so an unchanged manifest file means unchanged rows.
    seen_rows: RefCell<HashMap<ManifestFile, RowsByType>>,
    /// Main's type names, by main's manifest file.
    seen_types: RefCell<HashMap<ManifestFile, Vec<String>>>,
    /// Store parameters for the handles it opens (a campaign's probe).
    params: ObjectStoreParams,
    /// Prefix of every root: `""` (a plain path, where Lance takes local
    /// shortcuts) or `file-object-store://` (every call through the store,
    /// so a probe sees all of them).
    scheme: &'static str,
}

type ManifestFile = (String, String, u64, Option<String>);
type RowsByType = BTreeMap<String, Result<Vec<Row>, ErrorKind>>;

impl Stampede {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir for the graph");
        let root = dir.path().join("g0").to_string_lossy().into_owned();
        Stampede {
            scheme: "",
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime"),
            dir,
            generation: 0,
            root,
            handle: None,
            session: Arc::new(Session::default()),
            seen_rows: RefCell::default(),
            seen_types: RefCell::default(),
            params: ObjectStoreParams::default(),
        }
    }

    /// An adapter whose graphs live behind `file-object-store://`, so that a
    /// probe installed with [`Stampede::use_params`] sees every call.
    pub fn through_object_store() -> Self {
        let mut sut = Self::new();
        sut.scheme = "file-object-store://";
        sut.root = sut.root_of(0);
        sut
    }

    fn root_of(&self, generation: usize) -> String {
        let path = self.dir.path().join(format!("g{generation}"));
        format!("{}{}", self.scheme, path.to_string_lossy())
    }

    /// Open (and init) the next handles with these store parameters.
    pub fn use_params(&mut self, params: ObjectStoreParams) {
        self.params = params;
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    /// An adapter observing an existing graph root (a campaign's shared
    /// graph), with no handle yet.
    pub fn observing(root: &str) -> Self {
        Stampede {
            root: root.to_string(),
            ..Self::new()
        }
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
                    .block_on(Graph::init_with(
                        &self.root,
                        EXAMPLE_SCHEMA,
                        self.params.clone(),
                    ))
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
                    .block_on(Graph::open_with(&self.root, mode, self.params.clone()))
                    .map_err(kind)?;
                let report = report(graph.report());
                self.handle = Some(graph);
                Ok(Observation::Opened(report))
            }
            Op::WriteLegacy(spec) => {
                self.handle = None;
                self.generation += 1;
                self.root = self.root_of(self.generation);
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
            Op::ApplySchema(desired) => {
                let source = match desired {
                    Desired::Schema(spec) => spec.render(),
                    Desired::Malformed => MALFORMED_SCHEMA.to_string(),
                };
                self.with_handle(async |g| g.apply_schema(&source).await)
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
                let rows: Vec<Json> = rows.iter().map(to_json).collect();
                self.with_handle(async |g| g.load(branch, type_name, &rows).await)
                    .map(Observation::Loaded)
            }
            Op::Scan { branch, type_name } => self
                .with_handle(async |g| g.scan(branch, type_name).await)
                .map(|rows| Observation::Rows(rows.into_iter().map(from_json).collect())),
            Op::Merge { source, target } => self
                .with_handle(async |g| g.branch_merge(source, target).await)
                .map(|()| Observation::Done),
            Op::Unlock => self
                .with_handle(async |g| g.unlock().await)
                .map(Observation::Unlocked),
            Op::LeaveLock => self
                .runtime
                .block_on(leave_lock(&self.root))
                .map(|()| Observation::Done)
                .map_err(kind),
        }
    }

    fn view(&self) -> View {
        let (stamp, refs) = self.observe_lance();
        let list = self
            .handle
            .is_some()
            .then(|| self.with_handle(async |g| g.branch_list().await));
        let rows = match &list {
            Some(Ok(branches)) => self.observe_rows(branches),
            _ => BTreeMap::new(),
        };
        View {
            stamp,
            refs,
            list,
            rows,
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

impl Stampede {
    /// Every type of main's schema on every listed branch, through the handle.
    #[allow(clippy::type_complexity)]
    fn observe_rows(
        &self,
        branches: &[String],
    ) -> BTreeMap<(String, String), Result<Vec<Row>, ErrorKind>> {
        let files: Vec<Option<ManifestFile>> =
            branches.iter().map(|b| self.manifest_file(b)).collect();
        let main_file = branches
            .iter()
            .position(|b| b == "main")
            .and_then(|i| files[i].clone());
        let cached = main_file
            .as_ref()
            .and_then(|f| self.seen_types.borrow().get(f).cloned());
        let types = match cached {
            Some(types) => types,
            None => {
                let Ok((_, schema)) = self.with_handle(async |g| g.schema().await) else {
                    return BTreeMap::new();
                };
                let types: Vec<String> = schema.types.keys().cloned().collect();
                if let Some(f) = main_file {
                    self.seen_types.borrow_mut().insert(f, types.clone());
                }
                types
            }
        };
        let mut out = BTreeMap::new();
        for (branch, file) in branches.iter().zip(files) {
            let cached = file
                .as_ref()
                .and_then(|f| self.seen_rows.borrow().get(f).cloned());
            let by_type = cached.unwrap_or_else(|| {
                let by_type: BTreeMap<_, _> = types
                    .iter()
                    .map(|type_name| {
                        let rows = self
                            .with_handle(async |g| g.scan(branch, type_name).await)
                            .map(|rows| rows.into_iter().map(from_json).collect());
                        (type_name.clone(), rows)
                    })
                    .collect();
                if let Some(f) = file {
                    self.seen_rows.borrow_mut().insert(f, by_type.clone());
                }
                by_type
            });
            for (type_name, rows) in by_type {
                out.insert((branch.clone(), type_name), rows);
            }
        }
        out
    }

    /// Which manifest file a branch's head is, read through Lance.
    fn manifest_file(&self, branch: &str) -> Option<ManifestFile> {
        let uri = format!("{}/__manifest", self.root);
        self.runtime.block_on(async {
            let builder = DatasetBuilder::from_uri(&uri).with_session(self.session.clone());
            let builder = if branch == "main" {
                builder
            } else {
                builder.with_branch(branch, None)
            };
            let dataset = builder.load().await.ok()?;
            let location = dataset.manifest_location();
            Some((
                self.root.clone(),
                branch.to_string(),
                location.version,
                location.e_tag.clone(),
            ))
        })
    }
}

pub(crate) fn to_json(row: &RowInput) -> Json {
    let mut object = serde_json::Map::new();
    for (field, value) in row {
        let json = match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::from(*b),
            Value::Int(n) => Json::from(*n),
            Value::Str(s) => Json::from(s.as_str()),
        };
        object.insert(field.clone(), json);
    }
    Json::Object(object)
}

pub(crate) fn from_json(row: serde_json::Map<String, Json>) -> Row {
    row.into_iter()
        .map(|(field, json)| {
            let value = match json {
                Json::Null => Value::Null,
                Json::Bool(b) => Value::Bool(b),
                Json::String(s) => Value::Str(s),
                Json::Number(n) => Value::Int(n.as_i64().expect("tables hold integers only here")),
                other => panic!("a scan returned {other} for {field}"),
            };
            (field, value)
        })
        .collect()
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
