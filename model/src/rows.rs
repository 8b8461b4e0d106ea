//! Rows: values, validation against a type, upsert by key.

use std::collections::BTreeMap;

use crate::schema::{PropType, SchemaSpec};

/// A cell. The derived order (ints numerically, strings bytewise) is the
/// key order scans return.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
}

/// A row as loaded: fields in the order given (a field may repeat or be
/// unknown to the type: that is the point of some generated rows).
pub type RowInput = Vec<(String, Value)>;

/// A stored row: every column of its type.
pub type Row = BTreeMap<String, Value>;

/// The rows of one type on one branch, by key.
pub type Table = BTreeMap<Vec<Value>, Row>;

fn fits(ty: PropType, value: &Value) -> bool {
    match (ty, value) {
        (PropType::String, Value::Str(_)) | (PropType::Bool, Value::Bool(_)) => true,
        (PropType::I64, Value::Int(_)) => true,
        (PropType::I32, Value::Int(n)) => i32::try_from(*n).is_ok(),
        _ => false,
    }
}

/// Validate `rows` for `type_name`; `None` if any row does not fit.
/// Otherwise the rows as stored, later keys replacing earlier ones.
pub fn validate(
    schema: &SchemaSpec,
    type_name: &str,
    rows: &[RowInput],
) -> Option<Vec<(Vec<Value>, Row)>> {
    let columns = schema.columns(type_name)?;
    let keys = schema.key_columns(type_name);
    let mut out: BTreeMap<Vec<Value>, Row> = BTreeMap::new();
    for input in rows {
        let given: BTreeMap<&str, &Value> = input.iter().map(|(k, v)| (k.as_str(), v)).collect();
        if given.keys().any(|k| columns.iter().all(|(c, _, _)| c != k)) {
            return None;
        }
        let mut row = Row::new();
        for (name, ty, nullable) in &columns {
            let value = given
                .get(name.as_str())
                .copied()
                .cloned()
                .unwrap_or(Value::Null);
            if value == Value::Null {
                if !nullable {
                    return None;
                }
            } else if !fits(*ty, &value) {
                return None;
            }
            row.insert(name.clone(), value);
        }
        let key = keys.iter().map(|k| row[k].clone()).collect();
        out.insert(key, row);
    }
    Some(out.into_iter().collect())
}
