//! What the peer reads and writes through Lance itself, beside the
//! engine: the view's stamp and refs (an observer independent of the
//! engine's reading code, as the harness's own is), and the legacy writer
//! (a graph as engines before 0.4 left it), which no public API of 0.6.2
//! writes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::{Field, Schema};
use lance::dataset::{WriteMode, WriteParams};
use lance::Dataset;
use omnigraph::db::{Omnigraph, ReadTarget};
use stampede_model::names::{LOCK, RUN_PREFIX};
use stampede_model::{ErrorKind, LegacyGraph, LegacyStamp, SchemaSpec, StampView};

/// Main's stamp key (the engine's `INTERNAL_SCHEMA_VERSION_KEY`).
const STAMP_KEY: &str = "omnigraph:internal_schema_version";
/// Lance's primary-key annotation, and its position, on a field.
const PK_KEY: &str = "lance-schema:unenforced-primary-key";
const PK_POSITION_KEY: &str = "lance-schema:unenforced-primary-key:position";

fn manifest_uri(root: &str) -> String {
    format!("{root}/__manifest")
}

/// Main's stamp and every ref with its parent, as Lance reads them; a root
/// with no `__manifest` is `not_initialized`.
pub async fn observe(
    root: &str,
) -> (
    Result<StampView, ErrorKind>,
    BTreeMap<String, Option<String>>,
) {
    let Ok(manifest) = Dataset::open(&manifest_uri(root)).await else {
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
        .map(|refs| {
            refs.into_iter()
                .map(|(name, contents)| (name, contents.parent_branch))
                .collect()
        })
        .unwrap_or_default();
    (Ok(stampede_model::stamp::view(raw, pk)), refs)
}

/// Write `graph` at `root` as an engine before 0.4 left it: the engine's
/// own init, its user branches made through its API, then main's stamp
/// rewound (v1: no primary key either) and `__run__*` refs forked from
/// main's head on `__manifest` alone, as the run state machine made them.
pub async fn write_legacy(root: &str, graph: &LegacyGraph) -> Result<(), String> {
    let schema = SchemaSpec::example().render();
    let db = Omnigraph::init(root, &schema)
        .await
        .map_err(|e| format!("init: {e}"))?;
    let mut manifest = Dataset::open(&manifest_uri(root))
        .await
        .map_err(|e| format!("opening __manifest: {e}"))?;
    match graph.version {
        1 => without_primary_key(&mut manifest, stamp(graph)).await?,
        2 => {
            let value = stamp(graph);
            manifest
                .update_schema_metadata([(STAMP_KEY.to_string(), value)])
                .await
                .map_err(|e| format!("rewinding the stamp: {e}"))?;
        }
        other => {
            return Err(format!(
                "the legacy writer knows versions 1 and 2, not {other}"
            ))
        }
    }
    // Refs made on `__manifest` alone: the runs, and every branch forked
    // from one (the engine's API cannot fork a ref it has no commit graph
    // for, and a run had none).
    let mut raw = BTreeSet::new();
    for i in 0..graph.run_branches {
        let name = format!("{RUN_PREFIX}{i}");
        fork_raw(&mut manifest, &name, "main").await?;
        raw.insert(name);
    }
    for (name, parent) in &graph.branches {
        let parent = parent.as_deref().unwrap_or("main");
        if raw.contains(parent) {
            fork_raw(&mut manifest, name, parent).await?;
            raw.insert(name.clone());
        } else {
            db.branch_create_from(ReadTarget::branch(parent), name)
                .await
                .map_err(|e| format!("creating {name} from {parent}: {e}"))?;
        }
    }
    Ok(())
}

/// Fork `name` from `parent`'s head on `__manifest`, through Lance alone.
async fn fork_raw(manifest: &mut Dataset, name: &str, parent: &str) -> Result<(), String> {
    let head = if parent == "main" {
        manifest.version().version
    } else {
        let source = manifest
            .checkout_branch(parent)
            .await
            .map_err(|e| format!("opening {parent}: {e}"))?;
        source.version().version
    };
    manifest
        .create_branch(name, (parent, head), None)
        .await
        .map(|_| ())
        .map_err(|e| format!("creating {name} from {parent}: {e}"))
}

/// The stamp value `graph` names (`None`: no stamp key).
fn stamp(graph: &LegacyGraph) -> Option<String> {
    match &graph.stamp {
        LegacyStamp::Default if graph.version == 2 => Some("2".into()),
        LegacyStamp::Default | LegacyStamp::Absent => None,
        LegacyStamp::Raw(raw) => Some(raw.clone()),
    }
}

/// A v1 `__manifest`: the same rows, rewritten under a schema whose
/// `object_id` is no primary key (Lance cannot drop the annotation in
/// place), with `stamp` or none. Dataset settings carry over.
async fn without_primary_key(manifest: &mut Dataset, stamp: Option<String>) -> Result<(), String> {
    let rows = manifest
        .scan()
        .try_into_batch()
        .await
        .map_err(|e| format!("reading __manifest: {e}"))?;
    let old: Schema = Schema::from(manifest.schema());
    let fields: Vec<Field> = old
        .fields()
        .iter()
        .map(|f| {
            let mut metadata = f.metadata().clone();
            metadata.remove(PK_KEY);
            metadata.remove(PK_POSITION_KEY);
            f.as_ref().clone().with_metadata(metadata)
        })
        .collect();
    let mut metadata = old.metadata().clone();
    metadata.remove(STAMP_KEY);
    if let Some(stamp) = stamp {
        metadata.insert(STAMP_KEY.to_string(), stamp);
    }
    let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
    let rows = RecordBatch::try_new(schema.clone(), rows.columns().to_vec())
        .map_err(|e| format!("re-typing __manifest's rows: {e}"))?;
    let config = manifest.config().clone();
    let params = WriteParams {
        mode: WriteMode::Overwrite,
        ..WriteParams::default()
    };
    let uri = manifest.uri().to_string();
    let reader = RecordBatchIterator::new([Ok(rows)], schema);
    let mut rewritten = Dataset::write(reader, uri.as_str(), Some(params))
        .await
        .map_err(|e| format!("rewriting __manifest without its primary key: {e}"))?;
    let missing: Vec<(String, String)> = config
        .into_iter()
        .filter(|(k, v)| rewritten.config().get(k) != Some(v))
        .collect();
    if !missing.is_empty() {
        rewritten
            .update_config(missing)
            .await
            .map_err(|e| format!("restoring __manifest's settings: {e}"))?;
    }
    *manifest = rewritten;
    Ok(())
}

/// What an apply that died holding the lock leaves: the lock ref on
/// `__manifest`, forked from main (a lock already there stays).
pub async fn leave_lock(root: &str) -> Result<(), ErrorKind> {
    let mut manifest = Dataset::open(&manifest_uri(root))
        .await
        .map_err(|_| ErrorKind::NotInitialized)?;
    let refs = manifest
        .list_branches()
        .await
        .map_err(|_| ErrorKind::Storage)?;
    if refs.contains_key(LOCK) {
        return Ok(());
    }
    let head = manifest.version().version;
    manifest
        .create_branch(LOCK, ("main", head), None)
        .await
        .map(|_| ())
        .map_err(|_| ErrorKind::Storage)
}
