//! One Lance dataset per node or edge type under `<root>/tables/<Type>`.

use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::{ArrowError, DataType, Field, Schema as ArrowSchema};
use lance::dataset::builder::DatasetBuilder;
use lance::dataset::{
    InsertBuilder, MergeInsertBuilder, NewColumnTransform, WhenMatched, WhenNotMatched,
    WriteDestination,
};
use lance::dataset::{WriteMode, WriteParams};
use lance::io::ObjectStoreParams;
use lance::Dataset;
use stampede_protocol::defects::{planted, Defect};

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
    let creates = schema
        .types
        .values()
        .map(|def| create_table(root_uri, schema, def, params));
    futures::future::try_join_all(creates).await
}

/// Create one type's table, empty (see `create_all` for leftovers).
pub async fn create_table(
    root_uri: &str,
    schema: &Schema,
    def: &TypeDef,
    params: &ObjectStoreParams,
) -> lance::Result<TablePin> {
    let path = table_path(&def.name);
    let uri = format!("{root_uri}/{path}");
    let version = create_empty(&uri, Arc::new(arrow_schema(schema, def)), params).await?;
    Ok(TablePin {
        type_name: def.name.clone(),
        path,
        version,
        branch: None,
    })
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
        let existing = crate::dataset::load(
            DatasetBuilder::from_uri(uri).with_store_params(params.clone()),
            uri,
        )
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

pub fn table_uri(root_uri: &str, pin: &TablePin) -> String {
    format!("{root_uri}/{}", pin.path)
}

/// A type's table at exactly the version a manifest pins.
pub async fn open_pinned(
    root_uri: &str,
    pin: &TablePin,
    params: &ObjectStoreParams,
) -> lance::Result<Dataset> {
    let uri = table_uri(root_uri, pin);
    let builder = DatasetBuilder::from_uri(&uri).with_store_params(params.clone());
    let builder = match &pin.branch {
        Some(branch) => builder.with_branch(branch, Some(pin.version)),
        None => builder.with_version(pin.version),
    };
    crate::dataset::load(builder, &uri).await
}

/// Upsert `batch` by `key` into the table a graph branch pins, returning
/// the new pin. The write is invisible until a manifest publishes the pin.
///
/// It goes on top of the pinned version in place when that is the table
/// branch's tip. Otherwise (the first write of a graph branch, or a tip left
/// by a write that died before publishing) it goes into a fresh Lance branch
/// of the table forked from the pinned version, so an unpublished version is
/// never folded into a published one.
pub async fn upsert(
    root_uri: &str,
    pin: &TablePin,
    graph_branch: &str,
    key: Vec<String>,
    batch: RecordBatch,
    params: &ObjectStoreParams,
) -> lance::Result<TablePin> {
    let pinned = open_pinned(root_uri, pin, params).await?;
    let own_fork = pin
        .branch
        .as_deref()
        .is_some_and(|b| fork_owner(b) == graph_branch);
    let in_place = (own_fork || (pin.branch.is_none() && graph_branch == "main"))
        && pinned.latest_version_id().await? == pin.version;
    let write = |table: Dataset| write_rows(table, key.clone(), batch.clone(), params);
    write_on_pin(root_uri, pin, pinned, in_place, graph_branch, params, write).await
}

/// Run `write` (one Lance commit, returning the version it made) on top of
/// exactly the pinned version: in place when `in_place`, else in a fresh
/// fork of it named after `graph_branch`.
///
/// Lance commits a write made on an old version on top of whatever landed
/// meanwhile (it rebases compatible appends and retries merges), so an
/// in-place write that raced another one can come back as a version holding
/// the other's unpublished rows too. Only version `pin + 1` is the pinned
/// version plus this write; anything later is left unpublished and the
/// write is made again in a fork.
async fn write_on_pin<F, Fut>(
    root_uri: &str,
    pin: &TablePin,
    pinned: Dataset,
    in_place: bool,
    graph_branch: &str,
    params: &ObjectStoreParams,
    write: F,
) -> lance::Result<TablePin>
where
    F: Fn(Dataset) -> Fut,
    Fut: std::future::Future<Output = lance::Result<u64>>,
{
    let pinned = if in_place {
        let version = write(pinned).await?;
        if version == pin.version + 1 || planted(Defect::RebasedWriteKept) {
            return Ok(TablePin {
                version,
                ..pin.clone()
            });
        }
        open_pinned(root_uri, pin, params).await?
    } else {
        pinned
    };
    let fork = fork_name(graph_branch);
    let mut source = pinned;
    let source_branch = pin.branch.as_deref().unwrap_or("main");
    let forked = source
        .create_branch(&fork, (source_branch, pin.version), None)
        .await?;
    Ok(TablePin {
        version: write(forked).await?,
        branch: Some(fork),
        ..pin.clone()
    })
}

/// Upsert `batch` into `table` as one commit; the version it made.
async fn write_rows(
    table: Dataset,
    key: Vec<String>,
    batch: RecordBatch,
    params: &ObjectStoreParams,
) -> lance::Result<u64> {
    let target = Arc::new(table);
    if collides(&target, &key, &batch).await? {
        let schema = batch.schema();
        let reader = RecordBatchIterator::new(vec![Ok(batch)], schema);
        let mut builder = MergeInsertBuilder::try_new(target, key)?;
        builder
            .when_matched(WhenMatched::UpdateAll)
            .when_not_matched(WhenNotMatched::InsertAll);
        let (written, _) = builder.try_build()?.execute_reader(reader).await?;
        Ok(written.version().version)
    } else {
        // No key collides: an upsert is an append, without a join.
        let append = WriteParams {
            mode: WriteMode::Append,
            store_params: Some(params.clone()),
            ..WriteParams::default()
        };
        Ok(InsertBuilder::new(WriteDestination::Dataset(target))
            .with_params(&append)
            .execute(vec![batch])
            .await?
            .version()
            .version)
    }
}

/// Whether any key of `batch` is already in `table`.
async fn collides(table: &Dataset, key: &[String], batch: &RecordBatch) -> lance::Result<bool> {
    let keys_of = |b: &RecordBatch| -> lance::Result<std::collections::HashSet<Vec<String>>> {
        let columns = key
            .iter()
            .map(|k| {
                b.column_by_name(k)
                    .cloned()
                    .ok_or_else(|| lance::Error::invalid_input(format!("no key column {k}")))
            })
            .collect::<lance::Result<Vec<_>>>()?;
        Ok((0..b.num_rows())
            .map(|i| {
                columns
                    .iter()
                    .map(|c| arrow_cast_display(c.as_ref(), i))
                    .collect()
            })
            .collect())
    };
    let incoming = keys_of(batch)?;
    for existing in crate::dataset::read_all(table).await? {
        if !keys_of(&existing)?.is_disjoint(&incoming) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A key cell as text, to compare keys across batches.
fn arrow_cast_display(array: &dyn arrow_array::Array, i: usize) -> String {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, Int64Type};
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(i).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(i).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).to_string(),
        other => format!("unsupported key type {other}"),
    }
}

/// Add optional columns (all null) to the pinned table of main.
pub async fn add_optional_columns(
    root_uri: &str,
    pin: &TablePin,
    columns: Vec<Field>,
    params: &ObjectStoreParams,
) -> lance::Result<TablePin> {
    let pinned = open_pinned(root_uri, pin, params).await?;
    // Never build on an unpublished tip (see `upsert`).
    let in_place = pinned.latest_version_id().await? == pin.version;
    let columns = Arc::new(ArrowSchema::new(columns));
    let write = |mut table: Dataset| {
        let columns = columns.clone();
        async move {
            table
                .add_columns(NewColumnTransform::AllNulls(columns), None, None)
                .await?;
            Ok(table.version().version)
        }
    };
    write_on_pin(root_uri, pin, pinned, in_place, "main", params, write).await
}

/// Table forks are named `<graph branch>.f<16 hex>`: after the graph branch
/// that wrote them, and unique, so two forks never collide. A graph branch
/// name too long for that gets `fork.f<16 hex>`.
fn fork_name(graph_branch: &str) -> String {
    let token = {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.finish()
    };
    let named = format!("{graph_branch}.f{token:016x}");
    if stampede_protocol::names::lance_name_problem(&named).is_none() {
        named
    } else {
        format!("fork.f{token:016x}")
    }
}

fn fork_owner(fork: &str) -> &str {
    fork.rsplit_once(".f").map_or(fork, |(owner, _)| owner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::StringArray;

    fn names(batches: &[RecordBatch]) -> Vec<String> {
        let mut out: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                let column = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
                (0..b.num_rows())
                    .map(|i| column.value(i).to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out
    }

    // Finding 14: two loads that both saw the pinned version as the tip
    // wrote in place; Lance rebased the second on the first, and the second
    // published a version holding the first's rows as well (key twice).
    #[tokio::test]
    async fn regression_racing_in_place_writes_never_publish_each_others_rows() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap().to_string();
        let params = ObjectStoreParams::default();
        let schema = Arc::new(ArrowSchema::new(vec![Field::new(
            "name",
            DataType::Utf8,
            false,
        )]));
        let pin = TablePin {
            type_name: "Person".into(),
            path: table_path("Person"),
            version: create_empty(
                &format!("{root}/{}", table_path("Person")),
                schema.clone(),
                &params,
            )
            .await
            .unwrap(),
            branch: None,
        };
        let row = |name: &str| {
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(StringArray::from(vec![name]))],
            )
            .unwrap()
        };
        let key = vec!["name".to_string()];
        // Both writers open the pinned version and find it is the tip.
        let first = open_pinned(&root, &pin, &params).await.unwrap();
        let second = open_pinned(&root, &pin, &params).await.unwrap();
        let write = |batch: RecordBatch| {
            let (key, params) = (&key, &params);
            move |table: Dataset| write_rows(table, key.clone(), batch.clone(), params)
        };
        let a = write_on_pin(&root, &pin, first, true, "main", &params, write(row("a")))
            .await
            .unwrap();
        let b = write_on_pin(&root, &pin, second, true, "main", &params, write(row("b")))
            .await
            .unwrap();

        assert_eq!((a.version, a.branch.as_deref()), (pin.version + 1, None));
        assert!(
            b.branch.is_some(),
            "the rebased write must move to a fork: {b:?}"
        );
        let read = |p: TablePin| {
            let (root, params) = (root.clone(), params.clone());
            async move {
                names(
                    &crate::dataset::read_all(&open_pinned(&root, &p, &params).await.unwrap())
                        .await
                        .unwrap(),
                )
            }
        };
        assert_eq!(read(a).await, ["a"]);
        assert_eq!(read(b).await, ["b"]);
    }
}
