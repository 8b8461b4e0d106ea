//! `stampede check`: a read-only inspection of a graph root. It also reads
//! graphs written by the seed engine (same stamp key, lock name and
//! `__run__` prefix; its tables are laid out differently, so table checks
//! are skipped there). Never writes.

use std::collections::{BTreeMap, BTreeSet};

use futures::TryStreamExt;
use object_store::ObjectStore as _;
use stampede_protocol::enumerate::enumerate;
use stampede_protocol::names::{is_internal, is_legacy_run};
use stampede_protocol::{StampState, CURRENT_VERSION};

use crate::commit::read_manifest;
use crate::error::{Error, Result};
use crate::graph::{connect, read_main_head};
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
    pub state: String,
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

pub async fn check(root: &str) -> Result<CheckReport> {
    let store = connect(root, Default::default()).await?;
    let head = read_main_head(&store).await?;
    let state = StampState::of(&head);
    let mut report = CheckReport {
        stamp: head.stamp.clone(),
        state: format!("{state:?}"),
        ..CheckReport::default()
    };
    let refs = enumerate(&store).await?;
    let plan = refs.sweep_plan();
    let version = match state.guard() {
        Ok(v) => Some(v),
        Err(e) => {
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
    for name in trees.iter().filter(|t| !refs.contains(t)) {
        report.problems.push(Problem {
            kind: "zombie_tree",
            detail: format!("tree/{name} has no ref (a create or delete that died half-way)"),
            fix: format!("harmless to the graph; creating branch {name:?} replaces it, or remove __manifest/tree/{name}"),
        });
    }
    for name in refs
        .names()
        .filter(|n| !is_internal(n) && !trees.contains(*n))
    {
        report.problems.push(Problem {
            kind: "ref_without_tree",
            detail: format!("branch {name:?} has a ref but no tree: it cannot be read"),
            fix: format!("stampede branch delete {root} {name:?}, then create it again"),
        });
    }
    if version.is_some() {
        unreferenced_forks(&store, &refs, &mut report).await;
    }
    Ok(report)
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
    refs: &stampede_protocol::enumerate::Refs,
    report: &mut CheckReport,
) {
    let mut pinned_forks: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut newest_pinned: BTreeMap<String, u64> = BTreeMap::new();
    let branches = std::iter::once(None).chain(refs.names().filter(|n| !is_internal(n)).map(Some));
    for branch in branches {
        match read_manifest(store, branch).await {
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
    let main = match read_manifest(store, None).await {
        Ok(m) => m,
        Err(_) => return,
    };
    for pin in main.pins.values() {
        let uri = format!("{}/{}", store.root_uri(), pin.path);
        let Ok(table) = lance::Dataset::open(&uri).await else {
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
