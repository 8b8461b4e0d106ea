//! `stampede check`: a read-only inspection of a graph root. It also reads
//! graphs written by the seed engine (same stamp key, lock name and
//! `__run__` prefix; its tables are laid out differently, so table checks
//! are skipped there). Never writes.

use std::collections::{BTreeMap, BTreeSet};

use futures::TryStreamExt;
use object_store::ObjectStore as _;
use stampede_protocol::defects::{planted, Defect};
use stampede_protocol::enumerate::{enumerate_for_inspection, ChainEnd};
use stampede_protocol::names::{is_internal, is_legacy_run, MAIN, SCHEMA_APPLY_LOCK};
use stampede_protocol::{RefRecord, StampState, CURRENT_VERSION};

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
    /// (`fix` says what removes it), work in flight (a held lock), or why
    /// a check was skipped.
    pub notes: Vec<Problem>,
    pub problems: Vec<Problem>,
    /// Problems the first reading found that a second reading did not
    /// confirm: the object went away with an operation in flight (a sweep,
    /// a delete, a create), so they are not reported.
    pub changed_while_checking: u64,
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
///
/// A live graph changes while `check` reads it: a sweep removes a tree
/// after its ref was listed, a delete removes a branch whose manifest was
/// about to be read, a create has written its tree and not yet its ref.
/// So nothing is reported on one reading: every problem found names what
/// pointed at the object it concerns (a [`Pointer`]), and is reported only
/// if a second reading finds that pointer still there and unchanged, with
/// no claim on the name held by an operation in flight. One that went away
/// with a legal operation is counted in `changed_while_checking` instead.
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
    let mut found = Found::default();
    for path in store.files_in_place_of_directories().await? {
        found.push(
            Problem {
                kind: "file_for_directory",
                detail: format!("{path} is a file where the graph's layout needs a directory: nothing it should hold can be read or listed"),
                fix: format!("move {path} aside and restore the directory from a backup"),
            },
            Pointer::FileForDirectory(path),
        );
    }
    // What a misplaced file hides cannot be inspected: refs and trees read
    // through it would only be named as other problems, or as work in flight.
    // Main itself is read through none of them.
    if !found.problems.is_empty() {
        report.branches = vec![MAIN.to_string()];
        // A migration refuses to start on them (`commits_can_land`).
        report.open_refuses = match state.guard() {
            Err(e) => Some(e.kind()),
            Ok(v) if v < CURRENT_VERSION => Some(ErrorKind::CorruptData),
            Ok(_) => None,
        };
        found.confirm(&store, root, &mut report).await;
        return Ok(report);
    }
    let (refs, corrupt) = enumerate_for_inspection(&store).await?;
    for (name, detail) in &corrupt {
        found.push(
            Problem {
                kind: "corrupt_ref",
                detail: detail.clone(),
                fix: format!("restore __manifest/_refs/branches/{name}.json from a backup, or remove it (branch {name:?} is then lost)"),
            },
            Pointer::CorruptRef(name.clone()),
        );
    }
    for name in refs.names() {
        let ancestry = refs.ancestors(name);
        let (kind, detail) = match &ancestry.end {
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
        let mut chain = vec![(name.to_string(), refs.get(name).cloned())];
        chain.extend(
            ancestry
                .chain
                .iter()
                .map(|n| (n.clone(), refs.get(n).cloned())),
        );
        if let ChainEnd::Dangling(parent) = ancestry.end {
            chain.push((parent, None));
        }
        found.push(
            Problem {
                kind,
                detail,
                fix: format!(
                    "restore the parentBranch of the refs on {name:?}'s chain from a backup"
                ),
            },
            Pointer::Refs(chain),
        );
    }
    for (problem, pointer) in fork_points(&store, &refs).await {
        found.push(problem, pointer);
    }
    let plan = refs.sweep_plan();
    let version = match state.guard() {
        Ok(v) => Some(v),
        Err(e) => {
            report.open_refuses = Some(e.kind());
            found.push(
                Problem {
                    kind: e.kind().name(),
                    detail: e.to_string(),
                    fix: match e {
                        Error::UpgradeRequired { .. } => "open it with a newer Stampede".into(),
                        _ => "restore main's stamp from a backup or a known-good version; nothing will open it".into(),
                    },
                },
                Pointer::Stamp(head.stamp.clone()),
            );
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
        let lock = refs.get(SCHEMA_APPLY_LOCK).cloned();
        match lock_age(&store).await {
            // An apply holds the lock while it runs: only one held past
            // the claim lease is presumed left behind by an apply that died.
            Some(age) if age < store.lease() => report.notes.push(Problem {
                kind: "lock_held",
                detail: format!(
                    "the __schema_apply_lock__ ref is held, taken {} s ago: a schema apply is running",
                    age.as_secs()
                ),
                fix: format!(
                    "none while it runs; if it died, `stampede unlock {root}` once {} s have passed",
                    store.lease().as_secs()
                ),
            }),
            _ => found.push(
                Problem {
                    kind: "lock_left_behind",
                    detail: "the __schema_apply_lock__ ref is held: a schema apply is running or died"
                        .into(),
                    fix: format!("if no apply is running: stampede unlock {root}"),
                },
                Pointer::Ref(SCHEMA_APPLY_LOCK.into(), lock),
            ),
        }
    }

    let trees = tree_names(&store).await?;
    let unreadable = |t: &&String| corrupt.iter().any(|(name, _)| name == *t);
    for name in trees
        .iter()
        .filter(|t| !refs.contains(t))
        .filter(|t| !unreadable(t))
    {
        found.push(
            Problem {
                kind: "zombie_tree",
                detail: format!("tree/{name} has no ref (a create or delete that died half-way)"),
                fix: format!("harmless to the graph; creating branch {name:?} replaces it, or remove __manifest/tree/{name}"),
            },
            Pointer::NoRef(name.clone()),
        );
    }
    let without_tree: BTreeSet<&str> = refs
        .names()
        .filter(|n| !is_internal(n) && !trees.contains(*n))
        .collect();
    for name in &without_tree {
        found.push(
            Problem {
                kind: "ref_without_tree",
                detail: format!("branch {name:?} has a ref but no tree: it cannot be read"),
                fix: format!("stampede branch delete {root} {name:?}, then create it again"),
            },
            Pointer::Ref(name.to_string(), refs.get(name).cloned()),
        );
    }
    if version.is_some() {
        let manifests = branch_manifests(&store, &refs, &without_tree).await;
        pinned_tables(&store, &manifests, depth, &mut found).await;
        unreferenced_forks(&store, &manifests, &mut report, &mut found).await;
    }
    found.confirm(&store, root, &mut report).await;
    Ok(report)
}

/// What pointed at the object a problem concerns: a second reading must
/// find it unchanged for the problem to be reported.
#[derive(Clone, Debug)]
enum Pointer {
    /// This ref, as read (`None`: it was not there).
    Ref(String, Option<RefRecord>),
    /// These refs, each as read (a chain of parents).
    Refs(Vec<(String, Option<RefRecord>)>),
    /// A ref file that did not read as a ref.
    CorruptRef(String),
    /// A tree whose name had no ref.
    NoRef(String),
    /// Main's raw stamp.
    Stamp(Option<String>),
    /// A file in the place of a directory of the layout.
    FileForDirectory(String),
    /// A branch's manifest (`None`: main's) at the head version read
    /// (`None`: it could not be read), its ref as read.
    Head {
        branch: Option<String>,
        record: Option<RefRecord>,
        version: Option<u64>,
    },
}

/// Problems found on the first reading, each with its pointer.
#[derive(Default)]
struct Found {
    problems: Vec<(Problem, Pointer)>,
}

impl Found {
    fn push(&mut self, problem: Problem, pointer: Pointer) {
        self.problems.push((problem, pointer));
    }

    /// Report the problems whose pointers a second reading finds unchanged;
    /// count the others as changed while checking. Paths in the details
    /// are shown under the root as the user gave it.
    async fn confirm(self, store: &LanceStore, root: &str, report: &mut CheckReport) {
        for (mut problem, pointer) in self.problems {
            if planted(Defect::CheckWithoutReread) || still_there(store, &pointer).await {
                problem.detail = shown_under(root, store.root_uri(), &problem.detail);
                report.problems.push(problem);
            } else {
                report.changed_while_checking += 1;
            }
        }
    }
}

/// Whether `pointer` still points where it did: read again, unchanged, and
/// no operation in flight on the names it concerns.
async fn still_there(store: &LanceStore, pointer: &Pointer) -> bool {
    use stampede_protocol::{RefStore, StoreError};
    let same_ref = |name: &str, was: &Option<RefRecord>| {
        let (name, was) = (name.to_string(), was.clone());
        async move {
            let now = match store.read_ref(&name).await {
                Ok(record) => Some(record),
                Err(StoreError::NotFound(_)) => None,
                Err(_) => return false,
            };
            now == was && !claimed(store, &name).await
        }
    };
    match pointer {
        Pointer::Ref(name, was) => same_ref(name, was).await,
        Pointer::Refs(chain) => {
            for (name, was) in chain {
                if !same_ref(name, was).await {
                    return false;
                }
            }
            true
        }
        Pointer::CorruptRef(name) => {
            matches!(
                store.read_ref(name).await,
                Err(StoreError::CorruptRef { .. })
            )
        }
        Pointer::NoRef(name) => {
            matches!(store.read_ref(name).await, Err(StoreError::NotFound(_)))
                && matches!(store.tree_exists(name).await, Ok(true))
                && !claimed(store, name).await
        }
        Pointer::Stamp(raw) => store.read_main().await.is_ok_and(|head| head.stamp == *raw),
        Pointer::FileForDirectory(path) => store
            .files_in_place_of_directories()
            .await
            .is_ok_and(|files| files.contains(path)),
        Pointer::Head {
            branch,
            record,
            version,
        } => {
            if let Some(name) = branch {
                if !same_ref(name, record).await {
                    return false;
                }
            }
            store.head_version(branch.as_deref()).await.ok() == *version
        }
    }
}

/// Whether an operation in flight holds `name`'s claim.
async fn claimed(store: &LanceStore, name: &str) -> bool {
    crate::claims::held_by_another(
        store.object_store().inner.as_ref(),
        store.manifest_base(),
        name,
        store.lease(),
    )
    .await
    .unwrap_or(false)
}

/// How long ago the lock ref was written (its `createAt`), by the claim
/// clock; `None` when that cannot be read.
async fn lock_age(store: &LanceStore) -> Option<std::time::Duration> {
    let created = store.ref_created_at(SCHEMA_APPLY_LOCK).await.ok()?;
    let now = crate::claims::now_millis() / 1000;
    Some(std::time::Duration::from_secs(now.saturating_sub(created)))
}

/// `detail` with every path under the graph's root shown under `root` as
/// the user gave it: Lance drops a local path's leading `/`
/// (`dev/shm/...`), and shows its own absolute form elsewhere.
fn shown_under(root: &str, root_uri: &str, detail: &str) -> String {
    let absolute = root_uri.trim_end_matches('/');
    let unrooted = absolute.trim_start_matches('/');
    if unrooted.is_empty() || root.contains("://") {
        return detail.to_string();
    }
    let given = root.trim_end_matches('/');
    let mut out = String::with_capacity(detail.len());
    let mut rest = detail;
    while let Some(at) = rest.find(unrooted) {
        // The absolute form, or Lance's form without its leading `/`.
        let start = if at > 0 && rest[..at].ends_with('/') {
            at - 1
        } else {
            at
        };
        out.push_str(&rest[..start]);
        out.push_str(given);
        rest = &rest[at + unrooted.len()..];
    }
    out.push_str(rest);
    out
}

/// Refs whose fork point (`parentVersion`) names a version their parent
/// never had: a create of their name, or anything else that reads the fork
/// point, would meet it. Refs whose parent has no ref are reported as
/// dangling already.
async fn fork_points(
    store: &LanceStore,
    refs: &stampede_protocol::enumerate::Refs,
) -> Vec<(Problem, Pointer)> {
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
            let mut chain = vec![(name.to_string(), Some(record.clone()))];
            chain.extend(parent.map(|p| (p.to_string(), refs.get(p).cloned())));
            out.push((
                Problem {
                    kind: "corrupt_ref",
                    detail: format!(
                        "branch {name:?} says it was forked at version {} of {}, which has no such version",
                        record.parent_version,
                        parent.unwrap_or(MAIN)
                    ),
                    fix: format!("restore __manifest/_refs/branches/{name}.json from a backup"),
                },
                Pointer::Refs(chain),
            ));
        }
    }
    out
}

/// One branch's manifest at its head, read once for the table checks.
struct BranchManifest {
    /// `None`: main.
    branch: Option<String>,
    manifest: Result<ManifestState>,
    /// What a problem found in it points at.
    pointer: Pointer,
}

/// Every branch's manifest at its head, main first.
type Manifests = Vec<BranchManifest>;

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
        // The head as its own reading: rows that cannot be read (a data
        // file gone) still leave the head version to compare.
        let version = stampede_protocol::RefStore::head_version(store, branch)
            .await
            .ok();
        let manifest = read_manifest(store, branch).await;
        out.push(BranchManifest {
            branch: branch.map(str::to_string),
            pointer: Pointer::Head {
                branch: branch.map(str::to_string),
                record: branch.and_then(|b| refs.get(b).cloned()),
                version,
            },
            manifest,
        });
    }
    out
}

/// Every table version a branch's manifest pins must open, with every data
/// file of it (and, `Depth::Rows`, read whole, in the graph schema's
/// columns): `check` is never healthy about a graph a scan cannot read.
async fn pinned_tables(store: &LanceStore, manifests: &Manifests, depth: Depth, found: &mut Found) {
    // Branches that never wrote a table pin the same version as their
    // parent: each version is checked once.
    let mut checked = BTreeSet::new();
    for BranchManifest {
        branch,
        manifest,
        pointer,
    } in manifests
    {
        let shown = branch.as_deref().unwrap_or(MAIN);
        let manifest = match manifest {
            Ok(manifest) => manifest,
            // Main's rows not being Stampede's is a seed-engine graph (see
            // `unreferenced_forks`); a branch whose manifest cannot be read
            // cannot be scanned.
            Err(_) if branch.is_none() => return,
            Err(e) => {
                found.push(
                    Problem {
                        kind: "missing_data",
                        detail: format!("the manifest of branch {shown:?} cannot be read: {e}"),
                        fix: format!(
                            "restore __manifest/tree/{shown} from a backup, or delete the branch"
                        ),
                    },
                    pointer.clone(),
                );
                continue;
            }
        };
        let Ok(schema) = crate::schema::Schema::parse(&manifest.schema_source) else {
            found.push(
                Problem {
                    kind: "corrupt_manifest",
                    detail: format!("the schema row of branch {shown:?} does not parse"),
                    fix: "restore the manifest from a backup".into(),
                },
                pointer.clone(),
            );
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
                found.push(
                    Problem {
                        kind: "missing_data",
                        detail,
                        fix: "restore the table's files from a backup; until then scans of it fail"
                            .into(),
                    },
                    pointer.clone(),
                );
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
        if let Err(e) = crate::rows::read_rows(&table, schema, def).await {
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
async fn unreferenced_forks(
    store: &LanceStore,
    manifests: &Manifests,
    report: &mut CheckReport,
    found: &mut Found,
) {
    let mut pinned_forks: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut newest_pinned: BTreeMap<String, u64> = BTreeMap::new();
    for BranchManifest {
        branch,
        manifest,
        pointer,
    } in manifests
    {
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
                found.push(
                    Problem {
                        kind: "missing_data",
                        detail: format!("main's manifest cannot be read: {e}"),
                        fix: "restore __manifest from a backup".into(),
                    },
                    pointer.clone(),
                );
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
    let Some(BranchManifest {
        branch: None,
        manifest: Ok(main),
        ..
    }) = manifests.first()
    else {
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

#[cfg(test)]
mod tests {
    use super::shown_under;

    /// Lance drops a local path's leading `/`; a problem shows every path
    /// under the root as the user gave it.
    #[test]
    fn paths_show_under_the_root_as_given() {
        let lance = "Not found: dev/shm/g/__manifest/tree/b4/_versions";
        assert_eq!(
            shown_under("/dev/shm/g", "/dev/shm/g", lance),
            "Not found: /dev/shm/g/__manifest/tree/b4/_versions"
        );
        assert_eq!(
            shown_under(
                "g/",
                "/home/u/g",
                "at /home/u/g/__manifest and home/u/g/tables"
            ),
            "at g/__manifest and g/tables"
        );
        // A URI root is shown as Lance shows it.
        assert_eq!(shown_under("s3://b/g", "s3://b/g", "x"), "x");
    }
}
