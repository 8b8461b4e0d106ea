//! Rows travel as JSON objects. A row that does not fit its type is refused
//! naming the row (1-based) and the field; nothing is written.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Schema as ArrowSchema};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::schema::{Schema, TypeDef, TypeKind};
use crate::tables::arrow_schema;

pub type Row = Map<String, Value>;

/// The columns a row of `def` is keyed by.
pub fn key_columns(def: &TypeDef) -> Vec<String> {
    match &def.kind {
        TypeKind::Node => def.key().map(|k| vec![k.name.clone()]).unwrap_or_default(),
        TypeKind::Edge { .. } => vec!["src".into(), "dst".into()],
    }
}

/// Validate rows against `def` and build one batch. A later row with the
/// key of an earlier one replaces it, as a sequence of upserts would.
pub fn to_batch(schema: &Schema, def: &TypeDef, rows: &[Value]) -> Result<RecordBatch> {
    let arrow = Arc::new(arrow_schema(schema, def));
    let keys = key_columns(def);
    let mut by_key: BTreeMap<String, &Row> = BTreeMap::new();
    for (index, value) in rows.iter().enumerate() {
        let line = index + 1;
        let row = value.as_object().ok_or_else(|| Error::InvalidRow {
            line,
            field: String::new(),
            message: format!("expected a JSON object, found {value}"),
        })?;
        if let Some(unknown) = row.keys().find(|k| arrow.field_with_name(k).is_err()) {
            return Err(invalid(
                line,
                unknown,
                &format!("is not a property of {}", def.name),
            ));
        }
        for field in arrow.fields() {
            check_value(
                line,
                field.name(),
                field.data_type(),
                field.is_nullable(),
                row.get(field.name()),
            )?;
        }
        let key = keys
            .iter()
            .map(|k| row[k].to_string())
            .collect::<Vec<_>>()
            .join("\u{0}");
        by_key.insert(key, row);
    }
    let rows: Vec<&Row> = by_key.into_values().collect();
    let columns = arrow
        .fields()
        .iter()
        .map(|f| column(f.data_type(), rows.iter().map(|r| r.get(f.name()))))
        .collect();
    RecordBatch::try_new(arrow, columns).map_err(|e| Error::storage("building a row batch", e))
}

fn invalid(line: usize, field: &str, message: &str) -> Error {
    Error::InvalidRow {
        line,
        field: field.to_string(),
        message: message.to_string(),
    }
}

fn check_value(
    line: usize,
    field: &str,
    ty: &DataType,
    nullable: bool,
    value: Option<&Value>,
) -> Result<()> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return if nullable {
            Ok(())
        } else {
            Err(invalid(line, field, "is required"))
        };
    };
    let fits = match ty {
        DataType::Utf8 => value.is_string(),
        DataType::Int32 => value.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
        DataType::Int64 => value.as_i64().is_some(),
        DataType::Float64 => value.is_number(),
        DataType::Boolean => value.is_boolean(),
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(invalid(
            line,
            field,
            &format!("expected {}, found {value}", type_name(ty)),
        ))
    }
}

fn type_name(ty: &DataType) -> &'static str {
    match ty {
        DataType::Utf8 => "a String",
        DataType::Int32 => "an I32",
        DataType::Int64 => "an I64",
        DataType::Float64 => "an F64",
        DataType::Boolean => "a Bool",
        _ => "a supported type",
    }
}

fn column<'a>(ty: &DataType, values: impl Iterator<Item = Option<&'a Value>>) -> ArrayRef {
    let values: Vec<Option<&Value>> = values.map(|v| v.filter(|v| !v.is_null())).collect();
    match ty {
        DataType::Utf8 => Arc::new(StringArray::from_iter(
            values.iter().map(|v| v.and_then(Value::as_str)),
        )),
        DataType::Int32 => Arc::new(Int32Array::from_iter(
            values
                .iter()
                .map(|v| v.and_then(Value::as_i64).map(|n| n as i32)),
        )),
        DataType::Int64 => Arc::new(Int64Array::from_iter(
            values.iter().map(|v| v.and_then(Value::as_i64)),
        )),
        DataType::Float64 => Arc::new(Float64Array::from_iter(
            values.iter().map(|v| v.and_then(Value::as_f64)),
        )),
        DataType::Boolean => Arc::new(BooleanArray::from_iter(
            values.iter().map(|v| v.and_then(Value::as_bool)),
        )),
        other => unreachable!("tables only hold supported types, not {other}"),
    }
}

/// Every row of an opened table version, as a scan answers them: what
/// `scan` returns and what `check --deep` reads, so the check reads
/// exactly what a scan would.
pub async fn read_rows(
    table: &lance::Dataset,
    schema: &Schema,
    def: &TypeDef,
) -> lance::Result<Vec<Row>> {
    let batches = crate::dataset::read_all(table).await?;
    Ok(from_batches(def, &arrow_schema(schema, def), &batches))
}

/// Rows of scanned batches as JSON objects with every column of the table
/// (absent optional values as null), in key order.
pub fn from_batches(def: &TypeDef, schema: &ArrowSchema, batches: &[RecordBatch]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for batch in batches {
        let first = rows.len();
        rows.extend((0..batch.num_rows()).map(|_| Row::new()));
        for field in schema.fields() {
            let Some(array) = batch.column_by_name(field.name()) else {
                continue;
            };
            for (i, row) in rows[first..].iter_mut().enumerate() {
                row.insert(field.name().clone(), cell(array.as_ref(), i));
            }
        }
    }
    let keys = key_columns(def);
    rows.sort_by(|a, b| {
        keys.iter()
            .map(|k| compare(&a[k], &b[k]))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    rows
}

fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a
            .as_str()
            .unwrap_or_default()
            .cmp(b.as_str().unwrap_or_default()),
    }
}

fn cell(array: &dyn Array, i: usize) -> Value {
    if array.is_null(i) {
        return Value::Null;
    }
    let any = array.as_any();
    if let Some(a) = any.downcast_ref::<StringArray>() {
        Value::from(a.value(i))
    } else if let Some(a) = any.downcast_ref::<Int32Array>() {
        Value::from(a.value(i))
    } else if let Some(a) = any.downcast_ref::<Int64Array>() {
        Value::from(a.value(i))
    } else if let Some(a) = any.downcast_ref::<Float64Array>() {
        Value::from(a.value(i))
    } else if let Some(a) = any.downcast_ref::<BooleanArray>() {
        Value::from(a.value(i))
    } else {
        Value::Null
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::EXAMPLE_SCHEMA;
    use serde_json::json;

    fn person_rows(rows: Value) -> Result<RecordBatch> {
        let schema = Schema::parse(EXAMPLE_SCHEMA).unwrap();
        let def = schema.get("Person").unwrap().clone();
        to_batch(&schema, &def, rows.as_array().unwrap())
    }

    fn field_of(result: Result<RecordBatch>) -> (usize, String) {
        match result {
            Err(Error::InvalidRow { line, field, .. }) => (line, field),
            other => panic!("expected an invalid row, got {other:?}"),
        }
    }

    #[test]
    fn rows_that_do_not_fit_name_the_row_and_field() {
        assert_eq!(
            field_of(person_rows(json!([{"name": "a"}, {"age": 3}]))),
            (2, "name".into())
        );
        assert_eq!(
            field_of(person_rows(json!([{"name": 1}]))),
            (1, "name".into())
        );
        assert_eq!(
            field_of(person_rows(json!([{"name": "a", "age": "x"}]))),
            (1, "age".into())
        );
        assert_eq!(
            field_of(person_rows(json!([{"name": "a", "age": 3000000000i64}]))),
            (1, "age".into())
        );
        assert_eq!(
            field_of(person_rows(json!([{"name": "a", "nick": "b"}]))),
            (1, "nick".into())
        );
        assert_eq!(
            field_of(person_rows(json!([{"name": null}]))),
            (1, "name".into())
        );
        assert_eq!(field_of(person_rows(json!(["x"]))).0, 1);
    }

    #[test]
    fn later_rows_win_and_optional_values_may_be_absent() {
        let batch = person_rows(json!([
            {"name": "a", "age": 1},
            {"name": "b"},
            {"name": "a", "age": null}
        ]))
        .unwrap();
        assert_eq!(batch.num_rows(), 2);
        let schema = Schema::parse(EXAMPLE_SCHEMA).unwrap();
        let def = schema.get("Person").unwrap();
        let rows = from_batches(def, &batch.schema(), &[batch]);
        assert_eq!(
            Value::from(rows[0].clone()),
            json!({"name": "a", "age": null})
        );
        assert_eq!(
            Value::from(rows[1].clone()),
            json!({"name": "b", "age": null})
        );
    }
}
