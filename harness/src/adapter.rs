//! The system under test, seen through the shared vocabulary.
//!
//! Every campaign drives an engine only through [`SystemUnderTest`], so any
//! engine that implements it (an older release, a fork) is judged by the
//! same model. [`Stampede`] is this workspace's engine on real Lance, one
//! temp directory per case; `crate::wire::peer::Peer` is any engine that
//! speaks the wire protocol.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use stampede_engine::lance::dataset::builder::DatasetBuilder;
use stampede_engine::lance::io::ObjectStoreParams;
use stampede_engine::lance::session::Session;
use stampede_engine::schema::Schema;
use stampede_engine::{Graph, STAMP_KEY};
use stampede_model::{ErrorKind, Op, Outcome, Row, StampView, View};

use crate::runner::{self, Runner};

pub trait SystemUnderTest {
    /// Apply one op. Ops through the handle without one held are
    /// `not_initialized`, on both sides.
    fn apply(&mut self, op: &Op) -> Outcome;
    /// Observe everything the model's [`View`] covers.
    fn view(&self) -> View;
    /// Whether [`SystemUnderTest::view`] observes anything: a peer engine
    /// may answer ops only (`docs/wire-protocol.md`), and is then judged on
    /// outcomes alone.
    fn observes_views(&self) -> bool {
        true
    }
}

impl<T: SystemUnderTest + ?Sized> SystemUnderTest for Box<T> {
    fn apply(&mut self, op: &Op) -> Outcome {
        (**self).apply(op)
    }

    fn view(&self) -> View {
        (**self).view()
    }

    fn observes_views(&self) -> bool {
        (**self).observes_views()
    }
}

pub struct Stampede {
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    generation: usize,
    /// The root, the handle and the store parameters (a campaign's probe).
    runner: Runner,
    /// The observer's own Lance session (its cache, not the engine's).
    session: Arc<Session>,
    /// Rows per type seen through the handle, by the manifest file they were
    /// read at (root, branch, version, e-tag). Lance versions are immutable,
    /// so an unchanged manifest file means unchanged rows.
    seen_rows: RefCell<HashMap<ManifestFile, RowsByType>>,
    /// Each branch's own schema, by its manifest file.
    seen_schemas: RefCell<HashMap<ManifestFile, Option<Schema>>>,
    /// Prefix of every root: `""` (a plain path, where Lance takes local
    /// shortcuts) or `file-object-store://` (every call through the store,
    /// so a probe sees all of them).
    scheme: &'static str,
    /// This adapter's own name on S3, when the process's graphs live there
    /// (`crate::place`); its roots are `NAME/g<generation>`.
    s3_base: Option<String>,
    /// How far its ops' claim clock runs ahead of the wall clock
    /// ([`Stampede::after_leases`]).
    clock_ahead: std::time::Duration,
}

type ManifestFile = (String, String, u64, Option<String>);
type RowsByType = BTreeMap<String, Result<Vec<Row>, ErrorKind>>;
type ViewRows = BTreeMap<(String, String), Result<Vec<Row>, ErrorKind>>;

impl Stampede {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir for the graph");
        let root = dir.path().join("g0").to_string_lossy().into_owned();
        let s3_base = crate::place::fresh_s3_root();
        let root = match &s3_base {
            Some(base) => format!("{base}/g0"),
            None => root,
        };
        Stampede {
            scheme: "",
            s3_base,
            runtime: serial_runtime(),
            dir,
            generation: 0,
            runner: Runner::new(&root, ObjectStoreParams::default()),
            session: Arc::new(Session::default()),
            seen_rows: RefCell::default(),
            seen_schemas: RefCell::default(),
            clock_ahead: std::time::Duration::ZERO,
        }
    }

    /// This adapter as a process started once every claim an earlier one
    /// held has lapsed (its claim clock runs two leases ahead): what a
    /// recovery after a death is, though it runs at once.
    pub fn after_leases(mut self) -> Self {
        self.clock_ahead = stampede_engine::claims::CLAIM_LEASE * 2;
        self
    }

    /// An adapter whose graphs live behind `file-object-store://`, so that a
    /// probe installed with [`Stampede::use_params`] sees every call (on S3,
    /// every call goes through the store already).
    pub fn through_object_store() -> Self {
        let mut sut = Self::new();
        sut.scheme = "file-object-store://";
        sut.runner.root = sut.root_of(0);
        sut
    }

    /// The parameters the observer's own Lance reads use: none but what
    /// the root's store needs.
    fn observer_params(&self) -> ObjectStoreParams {
        crate::place::complete(self.root(), ObjectStoreParams::default())
    }

    fn root_of(&self, generation: usize) -> String {
        if let Some(base) = &self.s3_base {
            return format!("{base}/g{generation}");
        }
        let path = self.dir.path().join(format!("g{generation}"));
        format!("{}{}", self.scheme, path.to_string_lossy())
    }

    /// Open (and init) the next handles with these store parameters.
    pub fn use_params(&mut self, params: ObjectStoreParams) {
        self.runner.params = params;
    }

    pub fn root(&self) -> &str {
        &self.runner.root
    }

    /// The directory of this adapter's own graph (not of one it observes).
    /// A graph on S3 has none.
    pub fn graph_path(&self) -> std::path::PathBuf {
        assert!(
            self.s3_base.is_none(),
            "a graph on S3 has no local directory"
        );
        self.dir.path().join(format!("g{}", self.generation))
    }

    /// An adapter observing an existing graph root (a campaign's shared
    /// graph), with no handle yet.
    pub fn observing(root: &str) -> Self {
        let mut sut = Self::new();
        sut.runner.root = root.to_string();
        sut
    }

    /// An adapter for `stampede serve`, where the wire client names every
    /// root: its clock runs, since other processes act on the same graph
    /// (a paused clock would skip a wait for them).
    pub fn serving() -> Self {
        let mut sut = Self::new();
        sut.runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        sut
    }

    /// Apply `op` to the graph at `root` with the held handle.
    pub fn apply_at(&mut self, root: &str, op: &Op) -> Outcome {
        self.runner.root = root.to_string();
        // Always in a scope of the claim clock, so a fault plan's pause can
        // move it (`probe::FaultPlan::pause`).
        let ahead = self.clock_ahead;
        self.runtime
            .block_on(stampede_engine::claims::with_clock_ahead(
                ahead,
                self.runner.apply(op),
            ))
    }

    /// The view of the graph at `root`, through the held handle.
    pub fn view_at(&mut self, root: &str) -> View {
        self.runner.root = root.to_string();
        self.view()
    }

    fn with_handle<T>(
        &self,
        f: impl AsyncFnOnce(&Graph) -> Result<T, ErrorKind>,
    ) -> Result<T, ErrorKind> {
        let graph = self
            .runner
            .handle
            .as_ref()
            .ok_or(ErrorKind::NotInitialized)?;
        self.runtime.block_on(f(graph))
    }
}

/// The runtime of a serial campaign (sequential, crash, faults, and every
/// observer): one thread, and a paused clock, so that a wait of the engine
/// or of Lance (a retry's backoff after an injected error, a create polling
/// a lock left behind) passes at once: nothing else in the process could
/// act during it. Storage calls run on tokio's blocking pool, which holds
/// the clock while they run, so no timeout fires early because of one.
///
/// On S3 the clock runs: requests are network I/O on this runtime, whose
/// waits a paused clock would skip as idle, timing every request out.
pub fn serial_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(crate::place::s3().is_none())
        .build()
        .expect("a tokio runtime")
}

impl Default for Stampede {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemUnderTest for Stampede {
    fn apply(&mut self, op: &Op) -> Outcome {
        let mut root = self.runner.root.clone();
        if let Op::WriteLegacy(_) = op {
            // A legacy graph is written at a fresh root, never over the last.
            self.generation += 1;
            root = self.root_of(self.generation);
        }
        self.apply_at(&root, op)
    }

    fn view(&self) -> View {
        let (stamp, refs) = self.observe_lance();
        let list = self
            .runner
            .handle
            .is_some()
            .then(|| self.with_handle(async |g| g.branch_list().await.map_err(runner::kind)));
        let (rows, off_schema) = match &list {
            Some(Ok(branches)) => self.observe_rows(branches),
            _ => Default::default(),
        };
        View {
            stamp,
            refs,
            list,
            rows,
            off_schema,
        }
    }
}

impl Stampede {
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
        let uri = format!("{}/__manifest", self.root());
        self.runtime.block_on(async {
            let opened = DatasetBuilder::from_uri(&uri)
                .with_session(self.session.clone())
                .with_store_params(self.observer_params())
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
    /// Every type of main's schema on every listed branch, and the listed
    /// branches whose own schema is not main's, through the handle.
    fn observe_rows(&self, branches: &[String]) -> (ViewRows, BTreeSet<String>) {
        let files: Vec<Option<ManifestFile>> =
            branches.iter().map(|b| self.manifest_file(b)).collect();
        let schemas: Vec<Option<Schema>> = branches
            .iter()
            .zip(&files)
            .map(|(branch, file)| self.schema_on(branch, file.as_ref()))
            .collect();
        let Some(main) = branches
            .iter()
            .position(|b| b == "main")
            .and_then(|i| schemas[i].clone())
        else {
            return Default::default();
        };
        // A branch whose schema cannot be read shows it in its rows.
        let off_schema = (branches.iter().zip(&schemas))
            .filter(|(_, schema)| schema.as_ref().is_some_and(|s| *s != main))
            .map(|(branch, _)| branch.clone())
            .collect();
        let types: Vec<String> = main.types.keys().cloned().collect();
        let mut out = BTreeMap::new();
        for (branch, file) in branches.iter().zip(files) {
            let cached = file
                .as_ref()
                .and_then(|f| self.seen_rows.borrow().get(f).cloned());
            let by_type = cached.unwrap_or_else(|| {
                let by_type: BTreeMap<_, _> = types
                    .iter()
                    .map(|type_name| {
                        let rows =
                            self.with_handle(async |g| runner::scan(g, branch, type_name).await);
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
        (out, off_schema)
    }

    /// `branch`'s own schema through the handle (`None`: unreadable), by
    /// its manifest file when that is known.
    fn schema_on(&self, branch: &str, file: Option<&ManifestFile>) -> Option<Schema> {
        if let Some(seen) = file.and_then(|f| self.seen_schemas.borrow().get(f).cloned()) {
            return seen;
        }
        let schema = self
            .with_handle(async |g| g.schema_on(branch).await.map_err(runner::kind))
            .ok()
            .map(|(_, schema)| schema);
        if let Some(f) = file {
            self.seen_schemas
                .borrow_mut()
                .insert(f.clone(), schema.clone());
        }
        schema
    }

    /// Which manifest file a branch's head is, read through Lance.
    fn manifest_file(&self, branch: &str) -> Option<ManifestFile> {
        let uri = format!("{}/__manifest", self.root());
        self.runtime.block_on(async {
            let builder = DatasetBuilder::from_uri(&uri)
                .with_session(self.session.clone())
                .with_store_params(self.observer_params());
            let builder = if branch == "main" {
                builder
            } else {
                builder.with_branch(branch, None)
            };
            let dataset = builder.load().await.ok()?;
            let location = dataset.manifest_location();
            Some((
                self.root().to_string(),
                branch.to_string(),
                location.version,
                location.e_tag.clone(),
            ))
        })
    }
}
