#![allow(dead_code)]
//! Helpers shared by the engine's integration tests. Every graph lives in a
//! `tempfile` directory (which honours `TMPDIR`, so a tmpfs can serve).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stampede_engine::legacy::{write_legacy, LegacySpec};
use stampede_engine::schema::EXAMPLE_SCHEMA;
use stampede_engine::{ErrorKind, Graph, Mode, Result};

/// A handle on `t`'s graph in `mode` whose every storage call goes through
/// `probe` (counted, and faulted as it is told).
#[cfg(feature = "instrument")]
pub async fn probed(
    t: &TempGraph,
    mode: Mode,
    probe: &std::sync::Arc<stampede_engine::probe::Probe>,
) -> Graph {
    Graph::open_with(&t.root, mode, probe.params())
        .await
        .unwrap()
}

pub struct TempGraph {
    _dir: tempfile::TempDir,
    /// What the engine is given: a path, or a URI.
    pub root: String,
    path: PathBuf,
}

impl TempGraph {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("graph");
        let root = path.to_str().unwrap().to_string();
        TempGraph {
            _dir: dir,
            root,
            path,
        }
    }

    /// The same local directory through Lance's `file-object-store://`
    /// scheme, where every storage call goes through object_store (and so
    /// through a wrapping store), as on a remote store.
    pub fn object_store() -> Self {
        let mut t = Self::new();
        t.root = format!("file-object-store://{}", t.path.display());
        t
    }

    pub async fn init() -> (Self, Graph) {
        Self::new().with_init().await
    }

    pub async fn with_init(self) -> (Self, Graph) {
        let g = Graph::init(&self.root, EXAMPLE_SCHEMA).await.expect("init");
        (self, g)
    }

    pub async fn legacy(spec: &LegacySpec) -> Self {
        Self::new().with_legacy(spec).await
    }

    pub async fn with_legacy(self, spec: &LegacySpec) -> Self {
        write_legacy(&self.root, spec, Default::default())
            .await
            .expect("legacy fixture");
        self
    }

    pub async fn open(&self, mode: Mode) -> Result<Graph> {
        Graph::open(&self.root, mode).await
    }

    pub async fn rw(&self) -> Graph {
        self.open(Mode::ReadWrite).await.expect("read-write open")
    }

    pub async fn ro(&self) -> Graph {
        self.open(Mode::ReadOnly).await.expect("read-only open")
    }

    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }

    pub fn ref_file(&self, name: &str) -> PathBuf {
        self.path()
            .join("__manifest/_refs/branches")
            .join(format!("{}.json", name.replace('/', "%2F")))
    }

    pub fn tree_dir(&self, name: &str) -> PathBuf {
        self.path().join("__manifest/tree").join(name)
    }

    /// Every file under the root with its size: "nothing was written" is
    /// this map unchanged.
    pub fn files(&self) -> BTreeMap<PathBuf, u64> {
        let mut out = BTreeMap::new();
        walk(&self.path(), &mut out);
        out
    }
}

fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, u64>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            walk(&path, out);
        } else {
            out.insert(path, meta.len());
        }
    }
}

pub fn kind<T: std::fmt::Debug>(result: Result<T>) -> ErrorKind {
    match result {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e.kind(),
    }
}

pub fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Rounds for the repeated concurrency tests: small in `make test`, larger
/// in `make verify` (STAMPEDE_ROUNDS).
pub fn rounds(var: &str, default: usize) -> usize {
    stampede_vocabulary::env_budget(var, default as u64) as usize
}

/// The storage calls `probe` counted, by kind, as an insta golden in the
/// workspace's `snapshots/` (a change in any count fails until reviewed);
/// their total.
#[cfg(feature = "instrument")]
pub fn golden(name: &str, probe: &stampede_engine::probe::Probe) -> u64 {
    let counts = probe.counts();
    let text: String = counts
        .iter()
        .map(|(call, n)| format!("{call:?}: {n}\n"))
        .collect();
    insta::with_settings!({snapshot_path => "../../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
    counts.values().sum()
}
