//! The reference state machine (the model) and the state-machine test (the
//! engine behind [`SystemUnderTest`]), compared after every transition.

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use stampede_model::schema::{Kind, Prop, PropType, SchemaSpec, TypeSpec};
use stampede_model::{Desired, LegacyGraph, Mode, Model, Op, Outcome, RowInput, Value};

use super::generators::{
    from_choice, legacy_graph, mode, name_choice, row_picks, schema_pick, NameChoice, RowPick,
    SchemaPick, NEW_PROPERTIES, TYPES,
};
use super::system_under_test;
use crate::adapter::SystemUnderTest;

/// An abstract step: names are resolved against the model when applied, so
/// the same step stays meaningful after a shrink removed earlier steps.
#[derive(Clone, Debug)]
pub enum Step {
    Init,
    Open(Mode),
    WriteLegacy(LegacyGraph),
    Create {
        name: NameChoice,
        from: NameChoice,
    },
    Delete(NameChoice),
    List,
    Stamp,
    Apply(SchemaPick),
    Load {
        branch: NameChoice,
        type_name: &'static str,
        rows: Vec<RowPick>,
    },
    Scan {
        branch: NameChoice,
        type_name: &'static str,
    },
    Merge {
        source: NameChoice,
        target: NameChoice,
    },
    Unlock,
    LeaveLock,
}

/// The model plus the concrete op of the last step and its expected outcome.
#[derive(Clone, Debug, Default)]
pub struct Reference {
    pub model: Model,
    pub last: Option<(Op, Outcome)>,
}

impl Reference {
    fn resolve(&self, choice: &NameChoice) -> String {
        match choice {
            NameChoice::Named(name) => name.clone(),
            NameChoice::Existing(index) => {
                let refs: Vec<&String> = self
                    .model
                    .graph
                    .as_ref()
                    .map(|g| g.refs.keys().collect())
                    .unwrap_or_default();
                if refs.is_empty() {
                    "main".to_string()
                } else {
                    index.get(&refs).to_string()
                }
            }
        }
    }

    pub fn concrete(&self, step: &Step) -> Op {
        match step {
            Step::Init => Op::Init,
            Step::Open(mode) => Op::Open(*mode),
            Step::WriteLegacy(graph) => Op::WriteLegacy(graph.clone()),
            Step::Create { name, from } => Op::BranchCreate {
                name: self.resolve(name),
                from: self.resolve(from),
            },
            Step::Delete(name) => Op::BranchDelete {
                name: self.resolve(name),
            },
            Step::List => Op::BranchList,
            Step::Stamp => Op::Stamp,
            Step::Apply(pick) => Op::ApplySchema(self.desired(pick)),
            Step::Load {
                branch,
                type_name,
                rows,
            } => Op::Load {
                branch: self.resolve(branch),
                type_name: type_name.to_string(),
                rows: rows.iter().map(|r| row_for(type_name, r)).collect(),
            },
            Step::Scan { branch, type_name } => Op::Scan {
                branch: self.resolve(branch),
                type_name: type_name.to_string(),
            },
            Step::Merge { source, target } => Op::Merge {
                source: self.resolve(source),
                target: self.resolve(target),
            },
            Step::Unlock => Op::Unlock,
            Step::LeaveLock => Op::LeaveLock,
        }
    }

    fn schema(&self) -> SchemaSpec {
        self.model
            .graph
            .as_ref()
            .map(|g| g.schema.clone())
            .unwrap_or_else(SchemaSpec::example)
    }

    /// The desired schema a pick makes of the model's current one.
    fn desired(&self, pick: &SchemaPick) -> Desired {
        let mut schema = self.schema();
        let names: Vec<String> = schema.types.keys().cloned().collect();
        let pick_type = |i: &proptest::sample::Index| names[i.index(names.len())].clone();
        let project = || TypeSpec {
            kind: Kind::Node,
            props: vec![Prop::new("id", PropType::I64, false, true)],
        };
        match pick {
            SchemaPick::Malformed => return Desired::Malformed,
            SchemaPick::Same => {}
            SchemaPick::AddProperty(t, p) => {
                let (name, ty) = NEW_PROPERTIES[*p];
                let props = &mut schema.types.get_mut(&pick_type(t)).unwrap().props;
                if props.iter().all(|q| q.name != name) {
                    props.push(Prop::new(name, ty, true, false));
                }
            }
            SchemaPick::AddProject => {
                schema.types.entry("Project".into()).or_insert_with(project);
            }
            SchemaPick::AddFunds => {
                schema.types.entry("Project".into()).or_insert_with(project);
                schema.types.entry("Funds".into()).or_insert(TypeSpec {
                    kind: Kind::Edge {
                        src: "Company".into(),
                        dst: "Project".into(),
                    },
                    props: Vec::new(),
                });
            }
            SchemaPick::RemoveProperty(t) => {
                let props = &mut schema.types.get_mut(&pick_type(t)).unwrap().props;
                match props.iter().position(|p| !p.key) {
                    Some(i) => {
                        props.remove(i);
                    }
                    None => props.push(Prop::new("extra", PropType::I32, true, false)),
                }
            }
            SchemaPick::RetypeProperty(t) => {
                let props = &mut schema.types.get_mut(&pick_type(t)).unwrap().props;
                match props.first_mut() {
                    Some(prop) => {
                        prop.ty = if prop.ty == PropType::I64 {
                            PropType::String
                        } else {
                            PropType::I64
                        };
                    }
                    // An edge like `Funds` has no property to retype.
                    None => props.push(Prop::new("extra", PropType::I32, true, false)),
                }
            }
            SchemaPick::AddRequiredProperty(t) => {
                let props = &mut schema.types.get_mut(&pick_type(t)).unwrap().props;
                props.push(Prop::new("required", PropType::String, false, false));
            }
            SchemaPick::RemoveType(t) => {
                let victim = pick_type(t);
                // Keep the rest well-formed: edges into a removed node go too.
                schema.types.remove(&victim);
                schema.types.retain(|_, t| match &t.kind {
                    Kind::Edge { src, dst } => src != &victim && dst != &victim,
                    Kind::Node => true,
                });
            }
        }
        Desired::Schema(schema)
    }
}

const PEOPLE: &[&str] = &["a", "b", "c"];
const COMPANIES: &[&str] = &["acme", "initech"];

/// A row for `type_name`; a corrupt pick breaks it one of four ways.
fn row_for(type_name: &str, pick: &RowPick) -> RowInput {
    let person = Value::Str(PEOPLE[pick.key as usize % PEOPLE.len()].into());
    let company = Value::Str(COMPANIES[pick.key as usize % COMPANIES.len()].into());
    let small = Value::Int(i64::from(pick.value % 4));
    let optional = |name: &str| match pick.value % 4 {
        0 => vec![],
        1 => vec![(name.to_string(), Value::Null)],
        _ => vec![(name.to_string(), small.clone())],
    };
    let mut row: RowInput = match type_name {
        "Person" => [vec![("name".into(), person)], optional("age")].concat(),
        "Company" => vec![("name".into(), company)],
        "WorksAt" => [
            vec![("src".into(), person), ("dst".into(), company)],
            optional("since"),
        ]
        .concat(),
        "Project" => vec![("id".into(), Value::Int(i64::from(pick.key % 3)))],
        "Funds" => vec![
            ("src".into(), company),
            ("dst".into(), Value::Int(i64::from(pick.key % 3))),
        ],
        _ => vec![("name".into(), person)],
    };
    if pick.value.is_multiple_of(7) {
        row.push(("email".into(), Value::Str("x@y".into())));
    }
    match pick.corrupt.map(|c| c % 4) {
        None => {}
        Some(0) => row.push(("nick".into(), Value::Str("n".into()))),
        Some(1) => row.retain(|(f, _)| f == "age" || f == "since"),
        Some(2) => {
            if let Some(first) = row.first_mut() {
                first.1 = Value::Bool(true);
            }
        }
        Some(_) => row.push(("age".into(), Value::Int(3_000_000_000))),
    }
    row
}

pub struct ModelMachine;

impl ReferenceStateMachine for ModelMachine {
    type State = Reference;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Reference> {
        Just(Reference::default()).boxed()
    }

    fn transitions(state: &Reference) -> BoxedStrategy<Step> {
        let all = Self::all_transitions(state);
        if crate::wire::peer::peer().is_none() {
            return all;
        }
        // A peer is sent only the ops it declared.
        let state = state.clone();
        all.prop_filter("an op the peer supports", move |step| {
            crate::wire::peer::supports(state.concrete(step).name())
        })
        .boxed()
    }

    fn apply(mut state: Reference, step: &Step) -> Reference {
        let op = state.concrete(step);
        let outcome = state.model.apply(&op);
        state.last = Some((op, outcome));
        state
    }
}

impl ModelMachine {
    /// Every step the alphabet has, weighted for this state.
    fn all_transitions(state: &Reference) -> BoxedStrategy<Step> {
        if state.model.graph.is_none() {
            return prop_oneof![
                3 => Just(Step::Init),
                3 => legacy_graph().prop_map(Step::WriteLegacy),
                1 => mode().prop_map(Step::Open),
                1 => Just(Step::Stamp),
            ]
            .boxed();
        }
        let open_weight = if state.model.handle.is_none() { 6 } else { 2 };
        let type_name = proptest::sample::select(TYPES);
        prop_oneof![
            6 => (name_choice(), from_choice()).prop_map(|(name, from)| Step::Create { name, from }),
            4 => name_choice().prop_map(Step::Delete),
            2 => Just(Step::List),
            open_weight => mode().prop_map(Step::Open),
            1 => legacy_graph().prop_map(Step::WriteLegacy),
            1 => Just(Step::Init),
            1 => Just(Step::Stamp),
            3 => schema_pick().prop_map(Step::Apply),
            5 => (from_choice(), type_name.clone(), row_picks())
                .prop_map(|(branch, type_name, rows)| Step::Load { branch, type_name, rows }),
            2 => (from_choice(), type_name).prop_map(|(branch, type_name)| Step::Scan { branch, type_name }),
            2 => (from_choice(), from_choice()).prop_map(|(source, target)| Step::Merge { source, target }),
            1 => Just(Step::Unlock),
            1 => Just(Step::LeaveLock),
        ]
        .boxed()
    }
}

/// Engine ops applied by every sequential case in this process (for ops/s).
static ENGINE_OPS: AtomicU64 = AtomicU64::new(0);

/// Engine ops applied so far by sequential cases in this process.
pub fn engine_ops() -> u64 {
    ENGINE_OPS.load(Ordering::Relaxed)
}

pub struct EngineTest;

impl StateMachineTest for EngineTest {
    type SystemUnderTest = Box<dyn SystemUnderTest>;
    type Reference = ModelMachine;

    fn init_test(_: &Reference) -> Box<dyn SystemUnderTest> {
        system_under_test()
    }

    fn apply(
        mut engine: Box<dyn SystemUnderTest>,
        reference: &Reference,
        _: Step,
    ) -> Box<dyn SystemUnderTest> {
        let (op, expected) = reference.last.as_ref().expect("the model applied the step");
        let observed = engine.apply(op);
        ENGINE_OPS.fetch_add(1, Ordering::Relaxed);
        assert_eq!(
            &observed, expected,
            "outcome of {op:?} (engine left, model right)"
        );
        engine
    }

    /// The whole observable state, both ways: stamp, every ref with its
    /// parent (as Lance lists them), and what the handle lists.
    fn check_invariants(engine: &Box<dyn SystemUnderTest>, reference: &Reference) {
        if !engine.observes_views() {
            return;
        }
        let last = reference.last.as_ref().map(|(op, _)| op);
        assert_eq!(
            engine.view(),
            reference.model.view(),
            "view after {last:?} (engine left, model right)"
        );
    }
}

#[cfg(test)]
mod tests {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    use super::*;

    /// Postmortem: `RetypeProperty` indexed the first property of the picked
    /// type, and `Funds` has none; the panic killed a `--seconds 90` job of
    /// `make verify` (the first budget to reach such a case) with no message.
    #[test]
    fn regression_every_schema_pick_applies_to_a_type_without_properties() {
        let mut reference = Reference::default();
        for op in [
            Op::Init,
            Op::ApplySchema(reference.desired(&SchemaPick::AddFunds)),
        ] {
            reference
                .model
                .apply(&op)
                .expect("the example schema takes Funds");
        }
        let names = reference.schema().types.len();
        let mut runner = TestRunner::deterministic();
        let index = proptest::arbitrary::any::<proptest::sample::Index>();
        // Enough draws that every type, Funds among them, is picked.
        for _ in 0..16 * names {
            let t = index.new_tree(&mut runner).unwrap().current();
            for pick in [
                SchemaPick::RetypeProperty(t),
                SchemaPick::RemoveProperty(t),
                SchemaPick::AddRequiredProperty(t),
                SchemaPick::RemoveType(t),
            ] {
                let _ = reference.desired(&pick);
            }
        }
    }
}
