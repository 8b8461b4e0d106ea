//! The `__manifest` dataset: its layout and main's head.
//!
//! One row per registered object, keyed by `object_id` (annotated as
//! Lance's unenforced primary key). The `schema` row holds the schema
//! source; a `table:<Type>` row pins the Lance version and branch of a
//! type's table. The internal schema stamp is schema-level metadata on
//! main's chain.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{RecordBatch, StringArray, UInt64Array};
use arrow_schema::{ArrowError, DataType, Field, Schema as ArrowSchema};
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

/// How the manifest is born, and how the legacy writer shapes older graphs.
#[derive(Clone, Debug)]
pub struct ManifestShape {
    pub stamp: Option<String>,
    pub primary_key: bool,
}

pub fn arrow_schema(shape: &ManifestShape) -> ArrowSchema {
    let mut object_id = Field::new(OBJECT_ID, DataType::Utf8, false);
    if shape.primary_key {
        object_id = object_id.with_metadata(HashMap::from([(PK_KEY.into(), "true".into())]));
    }
    let metadata: HashMap<String, String> = shape
        .stamp
        .iter()
        .map(|s| (STAMP_KEY.to_string(), s.clone()))
        .collect();
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
    }
}
