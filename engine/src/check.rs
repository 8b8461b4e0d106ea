//! `stampede check`: a read-only inspection of a graph root. It also reads
//! graphs written by the seed engine (same stamp key, lock name and
//! `__run__` prefix; its tables are laid out differently, so table checks
//! are skipped there). Never writes.

use std::collections::{BTreeMap, BTreeSet};

use futures::TryStreamExt;
use object_store::ObjectStore as _;
use stampede_protocol::enumerate::{enumerate_for_inspection, ChainEnd};
use stampede_protocol::names::{is_internal, is_legacy_run, MAIN};
use stampede_protocol::{StampState, CURRENT_VERSION};

use crate::commit::read_manifest;
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{connect, read_main_head};
use crate::manifest::ManifestState;
use crate::storage::LanceStore;

/// Something wrong with the graph: what, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub kind: &'static str,
    pub detail: String,
    pub fix: String,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CheckReport {
    pub stamp: Option<String>,
    /// The stamp's state (`v3`, `unstamped`, `corrupt`, ...).
    pub state: String,
    /// The kind a read-write open would answer instead of opening (a stamp
    /// from a newer engine, or a corrupt one); `None` when it would open.
    pub open_refuses: Option<ErrorKind>,
    /// What a read-write open would do, if anything.
    pub pending: Vec<String>,
    pub would_sweep: Vec<String>,
    pub would_keep: Vec<String>,
    pub branches: Vec<String>,
    pub legacy_refs: Vec<String>,
    pub lock_held: bool,
    /// Findings that are not problems: residue invisible to the graph
    /// (`fix` says what removes it), or why a check was skipped.
    pub notes: Vec<Problem>,
    pub problems: Vec<Problem>,
}

impl CheckReport {
    pub fn healthy(&self) -> bool {
        self.problems.is_empty()
    }
}

/// How far `check` looks at the tables a manifest pins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// Every pinned table version opens, and so does every data file of it.
    Pins,
    /// Besides: every row of every pinned version is read, and its columns
    /// are the graph schema's (`check --deep`).
    Rows,
}

pub async fn check(root: &str) -> Result<CheckReport> {
    check_with(root, Depth::Pins, Default::default()).await
}

/// Inspect the graph at `root`, its store reached with `params`.
pub async fn check_with(
    root: &str,
    depth: Depth,
    params: lance::io::ObjectStoreParams,
) -> Result<CheckReport> {
    let store = connect(root, params).await?;
    let head = read_main_head(&store).await?;
    let state = StampState::of(&head);
    let mut report = CheckReport {
        stamp: head.stamp.clone(),
        state: state.to_string(),
        ..CheckReport::default()
    };
    let (refs, corrupt) = enumerate_for_inspection(&store).await?;
    for (name, detail) in &corrupt {
        report.problems.push(Problem {
            kind: "corrupt_ref",
            detail: detail.clone(),
            fix: format!("restore __manifest/_refs/branches/{name}.json from a backup, or remove it (branch {name:?} is then lost)"),
        });
    }
    for name in refs.names() {
        let (kind, detail) = match refs.ancestors(name).end {
            ChainEnd::Main => continue,
            ChainEnd::Dangling(parent) => (
                "dangling_parent",
                format!("branch {name:?} descends from {parent:?}, which has no ref: its data may not be readable"),
            ),
            ChainEnd::Cycle(at) => (
                "parent_cycle",
                format!("the parent pointers of branch {name:?} lead back to {at:?}: a ref file was edited or restored out of order"),
            ),
        };
        report.problems.push(Problem {
            kind,
            detail,
            fix: format!("restore the parentBranch of the refs on {name:?}'s chain from a backup"),
        });
    }
    for problem in fork_points(&store, &refs).await {
        report.problems.push(problem);
    }
    let plan = refs.sweep_plan();
    let version = match state.guard() {
        Ok(v) => Some(v),
        Err(e) => {
            report.open_refuses = Some(e.kind());
            report.problems.push(Problem {
                kind: e.kind().name(),
                detail: e.to_string(),
                fix: match e {
                    Error::UpgradeRequired { .. } => "open it with a newer Stampede".into(),
                    _ => "restore main's stamp from a backup or a known-good version; nothing will open it".into(),
                },
            });
            None
        }
    };
    if let Some(v) = version.filter(|v| *v < CURRENT_VERSION) {
        if v == 1 {
            report.pending.push(if state == StampState::PkSetUnstamped {
                "v1→v2: resume (the primary key is set; write stamp 2)".into()
            } else {
                "v1→v2: set the primary key on object_id, write stamp 2".into()
            });
        }
        report.pending.push(format!(
            "v2→v3: sweep {} legacy __run__ refs, write stamp 3",
            plan.sweep.len()
        ));
        report.would_sweep = plan.sweep.clone();
        report.would_keep = plan.keep.clone();
    }
    let hidden = if report.pending.is_empty() {
        Vec::new()
    } else {
        plan.sweep.clone()
    };
    report.branches = refs.public_list(&hidden);
    report.legacy_refs = refs
        .names()
        .filter(|n| is_legacy_run(n))
        .map(str::to_string)
        .collect();
    report.lock_held = refs.lock_held();
    if report.lock_held {
        report.problems.push(Problem {
            kind: "lock_left_behind",
            detail: "the __schema_apply_lock__ ref is held: a schema apply is running or died"
                .into(),
            fix: format!("if no apply is running: stampede unlock {root}"),
        });
    }

    let trees = tree_names(&store).await?;
    let unreadable = |t: &&String| corrupt.iter().any(|(name, _)| name == *t);
    for name in trees
        .iter()
        .filter(|t| !refs.contains(t))
        .filter(|t| !unreadable(t))
    {
        report.problems.push(Problem {
            kind: "zombie_tree",
            detail: format!("tree/{name} has no ref (a create or delete that died half-way)"),
            fix: format!("harmless to the graph; creating branch {name:?} replaces it, or remove __manifest/tree/{name}"),
        });
    }
    let without_tree: BTreeSet<&str> = refs
        .names()
        .filter(|n| !is_internal(n) && !trees.contains(*n))
        .collect();
    for name in &without_tree {
        report.problems.push(Problem {
            kind: "ref_without_tree",
            detail: format!("branch {name:?} has a ref but no tree: it cannot be read"),
            fix: format!("stampede branch delete {root} {name:?}, then create it again"),
        });
    }
    if version.is_some() {
        let manifests = branch_manifests(&store, &refs, &without_tree).await;
        pinned_tables(&store, &manifests, depth, &mut report).await;
        unreferenced_forks(&store, &manifests, &mut report).await;
    }
    Ok(report)
}

/// Refs whose fork point (`parentVersion`) names a version their parent
/// never had: a create of their name, or anything else that reads the fork
/// point, would meet it. Refs whose parent has no ref are reported as
/// dangling already.
async fn fork_points(
    store: &LanceStore,
    refs: &stampede_protocol::enumerate::Refs,
) -> Vec<Problem> {
    use stampede_protocol::{RefStore, StoreError};
    let mut out = Vec::new();
    for name in refs.names().filter(|n| !is_internal(n)) {
        let Some(record) = refs.get(name) else {
            continue;
        };
        let parent = record.parent.as_deref();
        if parent.is_some_and(|p| !refs.contains(p)) {
            continue;
        }
        if let Err(StoreError::NotFound(_)) = store.epoch_at(parent, record.parent_version).await {
            out.push(Problem {
                kind: "corrupt_ref",
                detail: format!(
                    "branch {name:?} says it was forked at version {} of {}, which has no such version",
                    record.parent_version,
                    parent.unwrap_or(MAIN)
                ),
                fix: format!(
                    "restore __manifest/_refs/branches/{name}.json from a backup"
                ),
            });
        }
    }
    out
}

/// Every branch's manifest at its head, main first, read once for the
/// table checks.
type Manifests = Vec<(Option<String>, Result<ManifestState>)>;

/// The manifests of main and of every branch but those in `skip` (refs
/// without a tree, already reported: nothing of them can be read).
async fn branch_manifests(
    store: &LanceStore,
    refs: &stampede_protocol::enumerate::Refs,
    skip: &BTreeSet<&str>,
) -> Manifests {
    let branches = std::iter::once(None).chain(
        refs.names()
            .filter(|n| !is_internal(n) && !skip.contains(n))
            .map(Some),
    );
    let mut out = Vec::new();
    for branch in branches {
        out.push((
            branch.map(str::to_string),
            read_manifest(store, branch).await,
        ));
    }
    out
}

/// Every table version a branch's manifest pins must open, with every data
/// file of it (and, `Depth::Rows`, read whole, in the graph schema's
/// columns): `check` is never healthy about a graph a scan cannot read.
async fn pinned_tables(
    store: &LanceStore,
    manifests: &Manifests,
    depth: Depth,
    report: &mut CheckReport,
) {
    // Branches that never wrote a table pin the same version as their
    // parent: each version is checked once.
    let mut checked = BTreeSet::new();
    for (branch, manifest) in manifests {
        let shown = branch.as_deref().unwrap_or(MAIN);
        let manifest = match manifest {
            Ok(manifest) => manifest,
            // Main's rows not being Stampede's is a seed-engine graph (see
            // `unreferenced_forks`); a branch whose manifest cannot be read
            // cannot be scanned.
            Err(_) if branch.is_none() => return,
            Err(e) => {
                report.problems.push(Problem {
                    kind: "missing_data",
                    detail: format!("the manifest of branch {shown:?} cannot be read: {e}"),
                    fix: format!(
                        "restore __manifest/tree/{shown} from a backup, or delete the branch"
                    ),
                });
                continue;
            }
        };
        let Ok(schema) = crate::schema::Schema::parse(&manifest.schema_source) else {
            report.problems.push(Problem {
                kind: "corrupt_manifest",
                detail: format!("the schema row of branch {shown:?} does not parse"),
                fix: "restore the manifest from a backup".into(),
            });
            continue;
        };
        for (type_name, def) in &schema.types {
            let problem = match manifest.pins.get(type_name) {
                None => Some(format!("{shown}: type {type_name} has no table row")),
                Some(pin) if !checked.insert((&pin.path, &pin.branch, pin.version)) => None,
                Some(pin) => table_problem(store, &schema, def, pin, depth)
                    .await
                    .map(|why| format!("{shown}: {} version {}: {why}", pin.path, pin.version)),
            };
            if let Some(detail) = problem {
                report.problems.push(Problem {
                    kind: "missing_data",
                    detail,
                    fix: "restore the table's files from a backup; until then scans of it fail"
                        .into(),
                });
            }
        }
    }
}

/// What is wrong with one pinned table version, if anything.
async fn table_problem(
    store: &LanceStore,
    schema: &crate::schema::Schema,
    def: &crate::schema::TypeDef,
    pin: &crate::manifest::TablePin,
    depth: Depth,
) -> Option<String> {
    use lance::dataset::fragment::FragReadConfig;
    let table = match crate::tables::open_pinned(store.root_uri(), pin, store.params()).await {
        Ok(table) => table,
        Err(e) => return Some(format!("does not open: {e}")),
    };
    for fragment in table.get_fragments() {
        if let Err(e) = fragment
            .open(table.schema(), FragReadConfig::default())
            .await
        {
            return Some(format!("fragment {} does not open: {e}", fragment.id()));
        }
    }
    if depth == Depth::Rows {
        // Lance's own validation: fragment ids unique and sorted, every data
        // file there with the fragment's length, deletion files in range.
        if let Err(e) = crate::dataset::guarded(&pin.path, table.validate()).await {
            return Some(format!("Lance's validation fails: {e}"));
        }
        let expected = crate::tables::arrow_schema(schema, def);
        let found = arrow_schema::Schema::from(table.schema());
        let columns = |s: &arrow_schema::Schema| -> Vec<(String, String)> {
            s.fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().to_string()))
                .collect()
        };
        if columns(&found) != columns(&expected) {
            return Some(format!(
                "its columns {:?} are not the schema's {:?}",
                columns(&found),
                columns(&expected)
            ));
        }
        if let Err(e) = crate::dataset::read_all(&table).await {
            return Some(format!("its rows cannot be read: {e}"));
        }
    }
    None
}

/// Names of the branch trees under `__manifest/tree/` that hold a dataset.
async fn tree_names(store: &LanceStore) -> Result<BTreeSet<String>> {
    let base = store.trees_path();
    let files: Vec<object_store::path::Path> = store
        .object_store()
        .inner
        .list(Some(&base))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .map_err(|e| Error::storage("listing branch trees", e))?;
    let prefix = format!("{}/", base.as_ref());
    Ok(files
        .iter()
        .filter_map(|f| f.as_ref().strip_prefix(&prefix))
        .filter_map(|rest| {
            rest.split_once("/_versions/")
                .map(|(name, _)| name.to_string())
        })
        .collect())
}

/// Table versions no manifest can reach, residue of writes that lost their
/// publish race or died before it, and of deleted branches: forks no graph
/// branch pins, and versions on a table's own chain above the newest one
/// any branch pins (an unpublished tip; the next write forks past it).
async fn unreferenced_forks(store: &LanceStore, manifests: &Manifests, report: &mut CheckReport) {
    let mut pinned_forks: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut newest_pinned: BTreeMap<String, u64> = BTreeMap::new();
    for (branch, manifest) in manifests {
        match manifest {
            Ok(manifest) => {
                for pin in manifest.pins.values() {
                    match &pin.branch {
                        Some(fork) => {
                            pinned_forks
                                .entry(pin.path.clone())
                                .or_default()
                                .insert(fork.clone());
                        }
                        None => {
                            let newest = newest_pinned.entry(pin.path.clone()).or_default();
                            *newest = (*newest).max(pin.version);
                        }
                    }
                }
            }
            Err(e) if branch.is_none() && e.kind() != ErrorKind::CorruptManifest => {
                report.problems.push(Problem {
                    kind: "missing_data",
                    detail: format!("main's manifest cannot be read: {e}"),
                    fix: "restore __manifest from a backup".into(),
                });
                return;
            }
            Err(_) if branch.is_none() => {
                report.notes.push(Problem {
                    kind: "seed_engine_tables",
                    detail: "main's manifest rows are not Stampede's (a seed-engine graph?): table checks skipped".into(),
                    fix: "none needed".into(),
                });
                return;
            }
            Err(_) => {}
        }
    }
    let Some((None, Ok(main))) = manifests.first() else {
        return;
    };
    for pin in main.pins.values() {
        let uri = format!("{}/{}", store.root_uri(), pin.path);
        let builder = lance::dataset::builder::DatasetBuilder::from_uri(&uri)
            .with_store_params(store.params().clone());
        let Ok(table) = crate::dataset::load(builder, &uri).await else {
            continue;
        };
        if let (Ok(latest), Some(&newest)) = (
            table.latest_version_id().await,
            newest_pinned.get(&pin.path),
        ) {
            if latest > newest {
                report.notes.push(Problem {
                    kind: "unpublished_table_versions",
                    detail: format!(
                        "{}: versions {}..={latest} of its main chain are pinned by no manifest (a load, merge or apply that died or lost a race before publishing)",
                        pin.path,
                        newest + 1
                    ),
                    fix: "harmless and invisible: writes go to a fork past them; Lance's cleanup of old versions removes them".into(),
                });
            }
        }
        let Ok(forks) = table.list_branches().await else {
            continue;
        };
        let unreferenced = forks
            .keys()
            .filter(|f| !pinned_forks.get(&pin.path).is_some_and(|p| p.contains(*f)))
            .count();
        if unreferenced > 0 {
            report.notes.push(Problem {
                kind: "unreferenced_table_forks",
                detail: format!(
                    "{}: {unreferenced} table forks no branch pins (residue of lost or dead writes and deleted branches)",
                    pin.path
                ),
                fix: "harmless and invisible to the graph; removing the fork (Lance branch) reclaims its space".into(),
            });
        }
    }
}
