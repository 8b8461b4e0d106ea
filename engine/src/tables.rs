//! One Lance dataset per node or edge type under `<root>/tables/<Type>`.

use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::{ArrowError, DataType, Field, Schema as ArrowSchema};
use lance::dataset::builder::DatasetBuilder;
use lance::dataset::{WriteMode, WriteParams};
use lance::io::ObjectStoreParams;
use lance::Dataset;

use crate::manifest::{TablePin, TABLES_DIR};
use crate::schema::{PropType, Schema, TypeDef, TypeKind};

pub fn data_type(ty: PropType) -> DataType {
    match ty {
        PropType::String => DataType::Utf8,
        PropType::I32 => DataType::Int32,
        PropType::I64 => DataType::Int64,
        PropType::F64 => DataType::Float64,
        PropType::Bool => DataType::Boolean,
    }
}

/// A node table holds its properties (the key is non-null); an edge table
/// holds `src` and `dst` (typed as its endpoints' keys), then its properties.
pub fn arrow_schema(schema: &Schema, def: &TypeDef) -> ArrowSchema {
    let mut fields = Vec::new();
    if let TypeKind::Edge { src, dst } = &def.kind {
        for (column, end) in [("src", src), ("dst", dst)] {
            let key = schema.key_type(end).unwrap_or(PropType::String);
            fields.push(Field::new(column, data_type(key), false));
        }
    }
    fields.extend(
        def.properties
            .iter()
            .map(|p| Field::new(&p.name, data_type(p.ty), p.optional)),
    );
    ArrowSchema::new(fields)
}

pub fn table_path(type_name: &str) -> String {
    format!("{TABLES_DIR}/{type_name}")
}

/// Create every type's table, empty. A table left by an init that died
/// before its manifest commit (or written by a racing init) is reused when
/// it already has this shape and no rows, and otherwise written over with a
/// new empty version, never deleted: a manifest, once born, pins the
/// versions it saw.
pub async fn create_all(
    root_uri: &str,
    schema: &Schema,
    params: &ObjectStoreParams,
) -> lance::Result<Vec<TablePin>> {
    let creates = schema.types.values().map(|def| async move {
        let path = table_path(&def.name);
        let uri = format!("{root_uri}/{path}");
        let version = create_empty(&uri, Arc::new(arrow_schema(schema, def)), params).await?;
        Ok::<_, lance::Error>(TablePin {
            type_name: def.name.clone(),
            path,
            version,
            branch: None,
        })
    });
    futures::future::try_join_all(creates).await
}

/// Attempts when racing inits keep overwriting the same leftover table.
const CREATE_ATTEMPTS: usize = 8;

async fn create_empty(
    uri: &str,
    schema: Arc<ArrowSchema>,
    params: &ObjectStoreParams,
) -> lance::Result<u64> {
    let mut last_error = None;
    for _ in 0..CREATE_ATTEMPTS {
        // Lance reports the loser of a racing Create as a commit conflict.
        match write_empty(uri, schema.clone(), WriteMode::Create, params).await {
            Err(lance::Error::DatasetAlreadyExists { .. })
            | Err(lance::Error::CommitConflict { .. })
            | Err(lance::Error::RetryableCommitConflict { .. }) => {}
            other => return other,
        }
        let existing = DatasetBuilder::from_uri(uri)
            .with_store_params(params.clone())
            .load()
            .await?;
        if same_columns(&ArrowSchema::from(existing.schema()), &schema)
            && existing.count_rows(None).await? == 0
        {
            return Ok(existing.version().version);
        }
        match write_empty(uri, schema.clone(), WriteMode::Overwrite, params).await {
            Err(
                e @ (lance::Error::CommitConflict { .. }
                | lance::Error::RetryableCommitConflict { .. }),
            ) => last_error = Some(e),
            other => return other,
        }
    }
    Err(last_error.expect("every attempt lost a race"))
}

fn same_columns(a: &ArrowSchema, b: &ArrowSchema) -> bool {
    let shape = |s: &ArrowSchema| -> Vec<(String, DataType, bool)> {
        s.fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
            .collect()
    };
    shape(a) == shape(b)
}

async fn write_empty(
    uri: &str,
    schema: Arc<ArrowSchema>,
    mode: WriteMode,
    params: &ObjectStoreParams,
) -> lance::Result<u64> {
    let batches: Vec<Result<RecordBatch, ArrowError>> = Vec::new();
    let reader = RecordBatchIterator::new(batches, schema);
    let params = WriteParams {
        mode,
        store_params: Some(params.clone()),
        ..WriteParams::default()
    };
    Ok(Dataset::write(reader, uri, Some(params))
        .await?
        .version()
        .version)
}
