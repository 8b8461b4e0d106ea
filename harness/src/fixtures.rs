//! Inputs more than one campaign draws: a leaf.

use stampede_model::schema::{Prop, PropType};
use stampede_model::SchemaSpec;

/// The example schema plus an optional `Person` property: the concurrent
/// alphabet's only schema change (and the crash campaign's apply).
pub fn person_with(property: &str) -> SchemaSpec {
    let mut schema = SchemaSpec::example();
    schema
        .types
        .get_mut("Person")
        .expect("the example has Person")
        .props
        .push(Prop::new(property, PropType::String, true, false));
    schema
}
