//! The `__manifest` dataset: its layout and main's head.
//!
//! One row per registered object, keyed by `object_id` (annotated as
//! Lance's unenforced primary key). The `schema` row holds the schema
//! source; a `table:<Type>` row pins the Lance version and branch of a
//! type's table. The internal schema stamp is schema-level metadata on
//! main's chain.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow_array::{Array, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{ArrowError, DataType, Field, Schema as ArrowSchema};
use lance::dataset::{CommitBuilder, InsertBuilder, WriteDestination, WriteMode, WriteParams};
use lance::Dataset;
use stampede_protocol::stamp::STAMP_KEY;
use stampede_protocol::{MainHead, PkState};

pub const MANIFEST_DIR: &str = "__manifest";
pub const TABLES_DIR: &str = "tables";
pub const OBJECT_ID: &str = "object_id";
/// Field metadata Lance reads as the unenforced primary key.
pub const PK_KEY: &str = "lance-schema:unenforced-primary-key";
pub const SCHEMA_OBJECT_ID: &str = "schema";

/// A table row of the manifest: which version (on which branch) of a
/// type's table a graph commit pins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TablePin {
    pub type_name: String,
    /// Relative to the graph root: `tables/<Type>`.
    pub path: String,
    pub version: u64,
    /// The table's Lance branch; `None` is its main.
    pub branch: Option<String>,
}

impl TablePin {
    pub fn object_id(&self) -> String {
        format!("table:{}", self.type_name)
    }
}

/// The pin of `type_name` in a manifest's pins: a schema type without a
/// table row is a damaged manifest, named, never a panic.
pub fn pin_of<'a>(
    pins: &'a BTreeMap<String, TablePin>,
    type_name: &str,
) -> crate::error::Result<&'a TablePin> {
    pins.get(type_name)
        .ok_or_else(|| crate::error::Error::CorruptManifest {
            detail: format!("no table row for type {type_name}"),
        })
}

/// Schema metadata on `__manifest`: bumped by each published schema change.
pub const EPOCH_KEY: &str = "stampede:schema_epoch";

/// The schema-level metadata and primary-key annotation a manifest commit
/// carries: how the manifest is born, how the legacy writer shapes older
/// graphs, and what each publish keeps.
#[derive(Clone, Debug)]
pub struct ManifestShape {
    pub metadata: HashMap<String, String>,
    pub primary_key: bool,
}

impl ManifestShape {
    pub fn stamped(stamp: Option<String>, primary_key: bool) -> Self {
        ManifestShape {
            metadata: stamp
                .into_iter()
                .map(|s| (STAMP_KEY.to_string(), s))
                .collect(),
            primary_key,
        }
    }
}

pub fn arrow_schema(shape: &ManifestShape) -> ArrowSchema {
    let mut object_id = Field::new(OBJECT_ID, DataType::Utf8, false);
    if shape.primary_key {
        object_id = object_id.with_metadata(HashMap::from([(PK_KEY.into(), "true".into())]));
    }
    let metadata = shape.metadata.clone();
    ArrowSchema::new(vec![
        object_id,
        Field::new("kind", DataType::Utf8, false),
        Field::new("schema_source", DataType::Utf8, true),
        Field::new("table_path", DataType::Utf8, true),
        Field::new("table_version", DataType::UInt64, true),
        Field::new("table_branch", DataType::Utf8, true),
    ])
    .with_metadata(metadata)
}

/// The rows of a graph commit: the schema row, then one row per table.
pub fn rows(
    shape: &ManifestShape,
    schema_source: &str,
    tables: &[TablePin],
) -> Result<RecordBatch, ArrowError> {
    let schema = Arc::new(arrow_schema(shape));
    let mut ids = vec![SCHEMA_OBJECT_ID.to_string()];
    let mut kinds = vec!["schema".to_string()];
    let mut sources = vec![Some(schema_source.to_string())];
    let mut paths = vec![None];
    let mut versions = vec![None];
    let mut branches = vec![None];
    for pin in tables {
        ids.push(pin.object_id());
        kinds.push("table".into());
        sources.push(None);
        paths.push(Some(pin.path.clone()));
        versions.push(Some(pin.version));
        branches.push(pin.branch.clone());
    }
    RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(ids)),
            Arc::new(StringArray::from(kinds)),
            Arc::new(StringArray::from(sources)),
            Arc::new(StringArray::from(paths)),
            Arc::new(UInt64Array::from(versions)),
            Arc::new(StringArray::from(branches)),
        ],
    )
}

/// Main's head as the stamp guard reads it.
pub fn main_head(dataset: &Dataset) -> MainHead {
    let schema = dataset.schema();
    let pk = match schema.unenforced_primary_key().first() {
        None => PkState::Absent,
        Some(field) if field.name == OBJECT_ID => PkState::OnObjectId,
        Some(field) => PkState::OnOtherField(field.name.clone()),
    };
    MainHead {
        version: dataset.version().version,
        stamp: schema.metadata.get(STAMP_KEY).cloned(),
        pk,
        schema_epoch: schema_epoch(&schema.metadata),
    }
}

fn schema_epoch(metadata: &HashMap<String, String>) -> u64 {
    metadata
        .get(EPOCH_KEY)
        .and_then(|e| e.parse().ok())
        .unwrap_or(0)
}

/// One branch's manifest at one version: what a graph commit replaces.
#[derive(Clone, Debug)]
pub struct ManifestState {
    pub dataset: Arc<Dataset>,
    pub schema_source: String,
    pub pins: BTreeMap<String, TablePin>,
}

impl ManifestState {
    pub async fn read(dataset: Dataset) -> lance::Result<ManifestState> {
        let batches = crate::dataset::read_all(&dataset).await?;
        let schema = Arc::new(ArrowSchema::from(dataset.schema()));
        let batch = arrow_select::concat::concat_batches(&schema, &batches)
            .map_err(|e| lance::Error::invalid_input(e.to_string()))?;
        let column = |name: &str| batch.column_by_name(name).cloned();
        let strings = |name: &str| {
            column(name).and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
        };
        let corrupt = |what: &str| {
            lance::Error::corrupt_file(
                object_store::path::Path::from(MANIFEST_DIR),
                format!("__manifest {what}"),
            )
        };
        let ids = strings(OBJECT_ID).ok_or_else(|| corrupt("has no object_id column"))?;
        let sources = strings("schema_source").ok_or_else(|| corrupt("has no schema_source"))?;
        let paths = strings("table_path").ok_or_else(|| corrupt("has no table_path"))?;
        let branches = strings("table_branch").ok_or_else(|| corrupt("has no table_branch"))?;
        let versions = column("table_version")
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>().cloned())
            .ok_or_else(|| corrupt("has no table_version"))?;
        let mut schema_source = None;
        let mut pins = BTreeMap::new();
        for i in 0..batch.num_rows() {
            let id = ids.value(i);
            if id == SCHEMA_OBJECT_ID {
                schema_source = Some(sources.value(i).to_string());
            } else if let Some(type_name) = id.strip_prefix("table:") {
                pins.insert(
                    type_name.to_string(),
                    TablePin {
                        type_name: type_name.to_string(),
                        path: paths.value(i).to_string(),
                        version: versions.value(i),
                        branch: (!branches.is_null(i)).then(|| branches.value(i).to_string()),
                    },
                );
            }
        }
        Ok(ManifestState {
            dataset: Arc::new(dataset),
            schema_source: schema_source.ok_or_else(|| corrupt("has no schema row"))?,
            pins,
        })
    }

    pub fn version(&self) -> u64 {
        self.dataset.version().version
    }

    pub fn schema_epoch(&self) -> u64 {
        schema_epoch(&self.dataset.schema().metadata)
    }

    /// Publish `schema_source` and `pins` as one commit on this manifest's
    /// branch: a strict overwrite at the version read, so it lands only if
    /// nothing else committed since (`Conflict` otherwise: no lost update).
    /// The stamp and primary key are carried over; a schema change bumps
    /// the epoch.
    pub async fn publish(
        &self,
        schema_source: &str,
        pins: &BTreeMap<String, TablePin>,
        params: &lance::io::ObjectStoreParams,
    ) -> lance::Result<()> {
        let mut metadata = self.dataset.schema().metadata.clone();
        if schema_source != self.schema_source {
            metadata.insert(EPOCH_KEY.into(), (self.schema_epoch() + 1).to_string());
        }
        let shape = ManifestShape {
            metadata,
            primary_key: !self.dataset.schema().unenforced_primary_key().is_empty(),
        };
        let pins: Vec<TablePin> = pins.values().cloned().collect();
        let batch = rows(&shape, schema_source, &pins)
            .map_err(|e| lance::Error::invalid_input(e.to_string()))?;
        let write = WriteParams {
            mode: WriteMode::Overwrite,
            store_params: Some(params.clone()),
            ..WriteParams::default()
        };
        let transaction = InsertBuilder::new(WriteDestination::Dataset(self.dataset.clone()))
            .with_params(&write)
            .execute_uncommitted(vec![batch])
            .await?;
        CommitBuilder::new(self.dataset.clone())
            .with_max_retries(0)
            .execute(transaction)
            .await
            .map(|_| ())
    }
}
