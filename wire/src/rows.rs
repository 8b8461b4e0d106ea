//! A row as an engine reads and writes it: a JSON object of its columns
//! (an edge's endpoints as `src` and `dst`), the model's values as JSON's.

use serde_json::Value as Json;
use stampede_model::{Row, RowInput, Value};

/// A row to load, as a JSON object.
pub fn row_to_json(row: &RowInput) -> Json {
    let mut object = serde_json::Map::new();
    for (field, value) in row {
        let json = match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::from(*b),
            Value::Int(n) => Json::from(*n),
            Value::F64(x) => Json::from(x.get()),
            Value::Str(s) => Json::from(s.as_str()),
        };
        object.insert(field.clone(), json);
    }
    Json::Object(object)
}

/// A scanned row in the model's form; a cell it has no value for (an
/// array, an object, a number no `i64` or `f64` holds) is named.
pub fn row_from_json(row: serde_json::Map<String, Json>) -> Result<Row, String> {
    row.into_iter()
        .map(|(field, json)| {
            let value = match json {
                Json::Null => Value::Null,
                Json::Bool(b) => Value::Bool(b),
                Json::String(s) => Value::Str(s),
                Json::Number(n) => match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => Value::Int(i),
                    (None, Some(x)) => Value::f64(x),
                    (None, None) => return Err(format!("field {field:?} holds the number {n}")),
                },
                other => return Err(format!("field {field:?} holds {other}")),
            };
            Ok((field, value))
        })
        .collect()
}
