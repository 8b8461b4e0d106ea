//! The reference state machine (the model) and the state-machine test (the
//! engine behind [`SystemUnderTest`]), compared after every transition.

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use stampede_model::{LegacyGraph, Mode, Model, Op, Outcome};

use super::generators::{from_choice, legacy_graph, mode, name_choice, NameChoice};
use crate::adapter::{Stampede, SystemUnderTest};

/// An abstract step: names are resolved against the model when applied, so
/// the same step stays meaningful after a shrink removed earlier steps.
#[derive(Clone, Debug)]
pub enum Step {
    Init,
    Open(Mode),
    WriteLegacy(LegacyGraph),
    Create { name: NameChoice, from: NameChoice },
    Delete(NameChoice),
    List,
    Stamp,
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
        }
    }
}

pub struct ModelMachine;

impl ReferenceStateMachine for ModelMachine {
    type State = Reference;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Reference> {
        Just(Reference::default()).boxed()
    }

    fn transitions(state: &Reference) -> BoxedStrategy<Step> {
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
        prop_oneof![
            6 => (name_choice(), from_choice()).prop_map(|(name, from)| Step::Create { name, from }),
            4 => name_choice().prop_map(Step::Delete),
            2 => Just(Step::List),
            open_weight => mode().prop_map(Step::Open),
            1 => legacy_graph().prop_map(Step::WriteLegacy),
            1 => Just(Step::Init),
            1 => Just(Step::Stamp),
        ]
        .boxed()
    }

    fn apply(mut state: Reference, step: &Step) -> Reference {
        let op = state.concrete(step);
        let outcome = state.model.apply(&op);
        state.last = Some((op, outcome));
        state
    }
}

/// Engine ops applied by every campaign in this process (for ops/s).
pub static ENGINE_OPS: AtomicU64 = AtomicU64::new(0);

pub struct EngineTest;

impl StateMachineTest for EngineTest {
    type SystemUnderTest = Stampede;
    type Reference = ModelMachine;

    fn init_test(_: &Reference) -> Stampede {
        Stampede::new()
    }

    fn apply(mut engine: Stampede, reference: &Reference, _: Step) -> Stampede {
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
    fn check_invariants(engine: &Stampede, reference: &Reference) {
        let last = reference.last.as_ref().map(|(op, _)| op);
        assert_eq!(
            engine.view(),
            reference.model.view(),
            "view after {last:?} (engine left, model right)"
        );
    }
}
