//! What an interrupted operation may have left behind, and how the crash
//! and fault campaigns decide which of it they see.
//!
//! The contract: an operation that did not report success is invisible XOR
//! fully applied. The one sanctioned in-between state is the schema-apply
//! lock of an apply that died holding it (before or after its publish):
//! `check` reports it and `unlock` clears it.

use stampede_model::{Desired, ErrorKind, Mode, Model, Observation, Op, Outcome, View};

use crate::adapter::{Stampede, SystemUnderTest};

/// One state the graph may be in after an interrupted op.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub label: &'static str,
    pub model: Model,
    /// The lock of an apply that died holding it is still there.
    pub lock_left: bool,
    pub applied: bool,
}

/// The states `op`, interrupted, may leave: from `pre`, nothing or all of
/// it; for an apply, each with its lock left behind too.
pub fn candidates(pre: &Model, op: &Op) -> Vec<Candidate> {
    let mut post = pre.clone();
    let _ = post.apply(op);
    let mut out = vec![
        Candidate {
            label: "invisible",
            model: pre.clone(),
            lock_left: false,
            applied: false,
        },
        Candidate {
            label: "applied",
            model: post,
            lock_left: false,
            applied: true,
        },
    ];
    if matches!(op, Op::ApplySchema(Desired::Schema(_))) {
        for (label, base) in [
            ("invisible, lock left", out[0].clone()),
            ("applied, lock left", out[1].clone()),
        ] {
            let mut model = base.model;
            if model.apply(&Op::LeaveLock).is_ok() {
                out.push(Candidate {
                    label,
                    model,
                    lock_left: true,
                    applied: base.applied,
                });
            }
        }
    }
    out
}

/// Whether `outcome` may be what the op reported when it left `candidate`.
/// An apply whose schema was published never reports an error (a failed
/// release is `lock_released = false`), and a success reports what the
/// model says, but an apply's success may admit the lock stayed.
pub fn outcome_fits(op: &Op, outcome: &Outcome, expected: &Outcome, candidate: &Candidate) -> bool {
    match outcome {
        // A fault may make an op fail, but never make it claim something
        // of the graph the model does not: its error is the model's own,
        // or one that says only that storage failed.
        Err(kind)
            if expected.as_ref().err() != Some(kind)
                && !matches!(kind, ErrorKind::Storage | ErrorKind::Conflict) =>
        {
            false
        }
        Err(_) => !(matches!(op, Op::ApplySchema(_)) && candidate.applied),
        Ok(Observation::Applied {
            applied: true,
            steps,
            lock_released: false,
        }) => {
            candidate.applied
                && candidate.lock_left
                && matches!(expected, Ok(Observation::Applied { steps: s, .. }) if s == steps)
        }
        Ok(_) => candidate.applied && !candidate.lock_left && outcome == expected,
    }
}

/// What a fresh observer (no probe) sees after opening `root` in `mode`.
pub fn observe(root: &str, mode: Mode) -> (Outcome, View) {
    let mut observer = Stampede::observing(root);
    let opened = observer.apply(&Op::Open(mode));
    (opened, observer.view())
}

/// What the model says the same open shows for `candidate`.
pub fn expect(candidate: &Candidate, mode: Mode) -> (Outcome, View) {
    let mut model = candidate.model.clone();
    let opened = model.reopen(mode);
    (opened, model.view())
}

/// Open outcomes compared as an observer sees them: the open's report
/// depends on how far the interrupted op got, so only its `to` counts.
pub fn same_open(observed: &Outcome, expected: &Outcome) -> bool {
    match (observed, expected) {
        (Ok(Observation::Opened(o)), Ok(Observation::Opened(e))) => o.to == e.to,
        (o, e) => o == e,
    }
}

/// The candidates whose open in `mode` shows exactly `seen`.
pub fn matching<'c>(
    candidates: &'c [Candidate],
    mode: Mode,
    seen: &(Outcome, View),
) -> Vec<&'c Candidate> {
    candidates
        .iter()
        .filter(|c| {
            let (opened, view) = expect(c, mode);
            same_open(&seen.0, &opened) && seen.1 == view
        })
        .collect()
}
