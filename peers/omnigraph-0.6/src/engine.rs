//! The model's ops as omnigraph-engine 0.6.2 calls, and the view through
//! its handle.

use std::collections::{BTreeMap, BTreeSet};

use omnigraph::db::{Omnigraph, ReadTarget, SchemaApplyResult};
use omnigraph::loader::LoadMode;
use omnigraph_compiler::catalog::schema_plan::SchemaMigrationStep;
use omnigraph_compiler::types::ScalarType;
use serde_json::Value as Json;
use stampede_model::names::is_legacy_run;
use stampede_model::{
    Desired, ErrorKind, Mode, Observation, Op, OpenReport, Outcome, Row, RowInput, StampState,
    StampView, View,
};
use stampede_wire::{row_from_json, row_to_json};

use crate::kinds::kind;
use crate::lance_raw;

/// Text the schema compiler refuses, for `Desired::Malformed` (the
/// harness's own adapter sends the same).
const MALFORMED_SCHEMA: &str = "node {";

pub struct Omnigraph06 {
    runtime: tokio::runtime::Runtime,
    handle: Option<Omnigraph>,
}

impl Omnigraph06 {
    pub fn new() -> Self {
        Omnigraph06 {
            // Its clock runs: other actors' processes act on the same graph.
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime"),
            handle: None,
        }
    }
}

impl stampede_wire::Engine for Omnigraph06 {
    fn apply(&mut self, root: &str, op: &Op) -> Outcome {
        let runtime = &self.runtime;
        runtime.block_on(async {
            match op {
                Op::Init => {
                    let schema = stampede_model::SchemaSpec::example().render();
                    let db = Omnigraph::init(root, &schema)
                        .await
                        .map_err(|e| kind(op, &e))?;
                    self.handle = Some(db);
                    Ok(Observation::Done)
                }
                Op::Open(mode) => {
                    self.handle = None;
                    let (stamp, before) = lance_raw::observe(root).await;
                    let opened = match mode {
                        Mode::ReadWrite => Omnigraph::open(root).await,
                        Mode::ReadOnly => Omnigraph::open_read_only(root).await,
                    };
                    let db = opened.map_err(|e| kind(op, &e))?;
                    let (after_stamp, after) = lance_raw::observe(root).await;
                    self.handle = Some(db);
                    Ok(Observation::Opened(open_report(
                        *mode,
                        &stamp,
                        &before,
                        &after_stamp,
                        &after,
                    )))
                }
                Op::WriteLegacy(graph) => {
                    self.handle = None;
                    lance_raw::write_legacy(root, graph).await.map_err(|why| {
                        eprintln!("omnigraph-peer: the legacy writer failed: {why}");
                        ErrorKind::Storage
                    })?;
                    Ok(Observation::Done)
                }
                Op::LeaveLock => lance_raw::leave_lock(root)
                    .await
                    .map(|()| Observation::Done),
                _ => {
                    let db = self.handle.as_ref().ok_or(ErrorKind::NotInitialized)?;
                    on_handle(db, op).await
                }
            }
        })
    }

    fn view(&mut self, root: &str) -> View {
        self.runtime.block_on(async {
            let (stamp, refs) = lance_raw::observe(root).await;
            let Some(db) = &self.handle else {
                return View {
                    stamp,
                    refs,
                    list: None,
                    rows: BTreeMap::new(),
                    // Omnigraph's branches have no schema of their own to read.
                    off_schema: BTreeSet::new(),
                };
            };
            let list = db
                .branch_list()
                .await
                .map_err(|e| kind(&Op::BranchList, &e));
            let mut rows = BTreeMap::new();
            if let Ok(branches) = &list {
                let catalog = db.catalog();
                let types: BTreeSet<&String> = catalog
                    .node_types
                    .keys()
                    .chain(catalog.edge_types.keys())
                    .collect();
                for branch in branches {
                    for type_name in &types {
                        let scanned = scan(db, branch, type_name).await;
                        rows.insert((branch.to_string(), type_name.to_string()), scanned);
                    }
                }
            }
            View {
                stamp,
                refs,
                list: Some(list),
                rows,
                off_schema: BTreeSet::new(),
            }
        })
    }
}

/// The version omnigraph's `read_stamp` reads in a stamp: a version as
/// written (one above its own too, which its open then refuses), and any
/// other text as the `u32` it parses as (a leading zero or a `+` too:
/// `"03"` is 3), else 1. An unstamped graph as the contract reads it.
fn omnigraph_reading(stamp: &Result<StampView, ErrorKind>) -> Option<u32> {
    let stamp = stamp.as_ref().ok()?;
    match &stamp.state {
        StampState::Version(n) => u32::try_from(*n).ok(),
        StampState::Corrupt(raw) => Some(raw.parse().unwrap_or(1)),
        StampState::Unstamped | StampState::PkSetUnstamped => stamp.verdict.ok(),
    }
}

/// What an open did, derived from the stamp and refs before and after it:
/// the engine reports nothing. `from` is where the engine starts, by its
/// own reading of the stamp (`omnigraph_reading`).
fn open_report(
    mode: Mode,
    before: &Result<StampView, ErrorKind>,
    refs_before: &BTreeMap<String, Option<String>>,
    after: &Result<StampView, ErrorKind>,
    refs_after: &BTreeMap<String, Option<String>>,
) -> OpenReport {
    let from = omnigraph_reading(before).unwrap_or(1);
    let to = match mode {
        Mode::ReadOnly => from,
        Mode::ReadWrite => omnigraph_reading(after).unwrap_or(from),
    };
    let legacy: Vec<&String> = refs_before.keys().filter(|n| is_legacy_run(n)).collect();
    let migrated = from <= 2 && to > 2;
    OpenReport {
        from,
        to,
        swept: legacy
            .iter()
            .filter(|n| migrated && !refs_after.contains_key(**n))
            .map(|n| n.to_string())
            .collect(),
        kept: legacy
            .iter()
            .filter(|n| migrated && refs_after.contains_key(**n))
            .map(|n| n.to_string())
            .collect(),
    }
}

/// An op through the held handle.
async fn on_handle(db: &Omnigraph, op: &Op) -> Outcome {
    let done = |_| Observation::Done;
    match op {
        Op::BranchCreate { name, from } => db
            .branch_create_from(ReadTarget::branch(from.as_str()), name)
            .await
            .map(done),
        Op::BranchDelete { name } => db.branch_delete(name).await.map(done),
        Op::BranchList => db.branch_list().await.map(Observation::Branches),
        Op::ApplySchema(desired) => {
            let source = match desired {
                Desired::Schema(spec) => spec.render(),
                Desired::Malformed => MALFORMED_SCHEMA.to_string(),
            };
            db.apply_schema(&source).await.map(applied)
        }
        Op::Load {
            branch,
            type_name,
            rows,
        } => {
            let lines = load_lines(db, type_name, rows);
            db.load(branch, &lines, LoadMode::Merge)
                .await
                .map(|loaded| {
                    let n = loaded.nodes_loaded.values().sum::<usize>()
                        + loaded.edges_loaded.values().sum::<usize>();
                    Observation::Loaded(n)
                })
        }
        Op::Scan { branch, type_name } => {
            return scan(db, branch, type_name).await.map(Observation::Rows)
        }
        // Whether it fast-forwarded or merged, the model sees only done.
        Op::Merge { source, target } => db
            .branch_merge(source, target)
            .await
            .map(|_| Observation::Done),
        Op::Init | Op::Open(_) | Op::WriteLegacy(_) | Op::LeaveLock => {
            unreachable!("{op:?} needs no handle")
        }
        Op::Stamp | Op::Unlock | Op::Check => {
            unreachable!("{op:?} is not declared; the server refuses it")
        }
    }
    .map_err(|e| kind(op, &e))
}

fn applied(result: SchemaApplyResult) -> Observation {
    Observation::Applied {
        applied: result.applied,
        steps: result.steps.iter().map(step_name).collect(),
        // Its apply releases its lock before it returns, or fails.
        lock_released: true,
    }
}

/// A step as the model names it, where the model has it; any other in the
/// engine's own words.
fn step_name(step: &SchemaMigrationStep) -> String {
    match step {
        SchemaMigrationStep::AddType { name, .. } => format!("add type {name}"),
        SchemaMigrationStep::AddProperty {
            type_name,
            property_name,
            ..
        } => format!("add optional property {type_name}.{property_name}"),
        other => format!("{other:?}"),
    }
}

/// The model's rows as the engine's JSON Lines: a node as
/// `{"type":T,"data":{..}}`, an edge as `{"edge":E,"from":K,"to":K,
/// "data":{..}}` with its endpoints' keys as text (node ids are text).
fn load_lines(db: &Omnigraph, type_name: &str, rows: &[RowInput]) -> String {
    let catalog = db.catalog();
    let is_edge = catalog.edge_types.contains_key(type_name);
    let mut out = String::new();
    for row in rows {
        let Json::Object(mut data) = row_to_json(row) else {
            unreachable!("a row is an object")
        };
        let line = if is_edge {
            let end = |data: &mut serde_json::Map<String, Json>, column: &str| match data
                .remove(column)
            {
                Some(Json::String(s)) => Json::String(s),
                Some(Json::Null) | None => Json::Null,
                Some(other) => Json::String(other.to_string()),
            };
            let (from, to) = (end(&mut data, "src"), end(&mut data, "dst"));
            serde_json::json!({"edge": type_name, "from": from, "to": to, "data": data})
        } else {
            serde_json::json!({"type": type_name, "data": data})
        };
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// One type's rows on one branch, in the model's form: a node's columns
/// without the engine's `id` (its key's copy), an edge's endpoints as
/// `src` and `dst` in their key's type, sorted by key as the model keeps
/// them (the engine exports edges in id order).
async fn scan(db: &Omnigraph, branch: &str, type_name: &str) -> Result<Vec<Row>, ErrorKind> {
    let op = Op::Scan {
        branch: branch.into(),
        type_name: type_name.into(),
    };
    let catalog = db.catalog();
    if !catalog.node_types.contains_key(type_name) && !catalog.edge_types.contains_key(type_name) {
        return Err(ErrorKind::TypeNotFound);
    }
    let text = db
        .export_jsonl(branch, &[type_name.to_string()], &[])
        .await
        .map_err(|e| kind(&op, &e))?;
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let record: Json = serde_json::from_str(line).map_err(|_| ErrorKind::Storage)?;
        let Some(Json::Object(mut data)) = record.get("data").cloned() else {
            return Err(ErrorKind::Storage);
        };
        if let Some(edge) = catalog.edge_types.get(type_name) {
            for (end, column, node) in [
                ("from", "src", &edge.from_type),
                ("to", "dst", &edge.to_type),
            ] {
                let id = record
                    .get(end)
                    .and_then(Json::as_str)
                    .ok_or(ErrorKind::Storage)?;
                data.insert(column.into(), key_value(&catalog, node, id));
            }
        } else {
            let declared = catalog.node_types[type_name].properties.contains_key("id");
            if !declared {
                data.remove("id");
            }
        }
        rows.push(row_from_json(data).map_err(|_| ErrorKind::Storage)?);
    }
    if catalog.edge_types.contains_key(type_name) {
        rows.sort_by(|a, b| {
            let key = |r: &Row| (r.get("src").cloned(), r.get("dst").cloned());
            key(a).cmp(&key(b))
        });
    }
    Ok(rows)
}

/// A node id (text) as its key's value: a number for a numeric key.
fn key_value(catalog: &omnigraph_compiler::catalog::Catalog, node: &str, id: &str) -> Json {
    let numeric = catalog
        .node_types
        .get(node)
        .and_then(|t| t.key.as_ref()?.first().and_then(|k| t.properties.get(k)))
        .is_some_and(|p| {
            matches!(
                p.scalar,
                ScalarType::I32 | ScalarType::I64 | ScalarType::U32 | ScalarType::U64
            )
        });
    match id.parse::<i64>() {
        Ok(n) if numeric => Json::from(n),
        _ => Json::from(id),
    }
}
