//! Rows: values, validation against a type, upsert by key.

use std::collections::BTreeMap;

use crate::schema::{PropType, SchemaSpec};

/// A cell. The derived order (ints numerically, strings bytewise) is the
/// key order scans return.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(untagged)
)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    F64(F64),
    Str(String),
}

impl Value {
    pub fn f64(x: f64) -> Value {
        Value::F64(F64(x))
    }
}

/// An `F64` cell. Rows are compared and used as keys, so it is ordered
/// totally (IEEE `totalOrder`) and equal by bits, like the engine's column.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct F64(pub f64);

impl F64 {
    pub fn get(self) -> f64 {
        self.0
    }
}

impl PartialEq for F64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for F64 {}

impl PartialOrd for F64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for F64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl std::hash::Hash for F64 {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
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
        // An F64 column takes any JSON number (the engine's rule).
        (PropType::F64, Value::F64(_) | Value::Int(_)) => true,
        _ => false,
    }
}

/// A fitting value as its column stores it: an integer in an F64 column
/// reads back as a float.
fn stored(ty: PropType, value: Value) -> Value {
    match (ty, value) {
        (PropType::F64, Value::Int(n)) => Value::f64(n as f64),
        (_, value) => value,
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
            row.insert(name.clone(), stored(*ty, value));
        }
        let key = keys.iter().map(|k| row[k].clone()).collect();
        out.insert(key, row);
    }
    Some(out.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Prop;

    fn with_score() -> SchemaSpec {
        let mut schema = SchemaSpec::example();
        let person = schema.types.get_mut("Person").expect("Person");
        person
            .props
            .push(Prop::new("score", PropType::F64, true, false));
        schema
    }

    #[test]
    fn an_f64_column_stores_floats_and_integers_as_floats() {
        let rows = vec![
            vec![
                ("name".to_string(), Value::Str("a".into())),
                ("score".to_string(), Value::f64(1.5)),
            ],
            vec![
                ("name".to_string(), Value::Str("b".into())),
                ("score".to_string(), Value::Int(2)),
            ],
        ];
        let stored = validate(&with_score(), "Person", &rows).expect("both fit");
        assert_eq!(stored[0].1["score"], Value::f64(1.5));
        assert_eq!(stored[1].1["score"], Value::f64(2.0));
    }

    #[test]
    fn an_f64_column_refuses_text() {
        let rows = vec![vec![
            ("name".to_string(), Value::Str("a".into())),
            ("score".to_string(), Value::Str("high".into())),
        ]];
        assert!(validate(&with_score(), "Person", &rows).is_none());
    }
}
