//! The fault campaign: the sequential alphabet, run with a seeded fault
//! plan at the storage boundary (transient errors before calls, lost
//! acknowledgements after writes that took effect, pauses past the claim
//! lease before a cleaner's listings and deletes, delays).
//!
//! An op that met no fault is judged exactly as in the sequential
//! campaign. An op that met one must either succeed as the model says, or
//! fail with a typed error having been invisible XOR fully applied (an
//! apply may also leave its lock, never report an error once its schema
//! is published): a fresh read-write open without faults tells which, and
//! must succeed whenever the model's does — the graph stays openable. Both
//! sides then continue from that state with a read-write handle.

use stampede_engine::probe::{Call, FaultPlan, Injected, Probe};
use stampede_model::{Mode, Model, Op, Outcome};

use crate::adapter::{Stampede, SystemUnderTest};
use crate::budgets::Budgets;
use crate::effects::{candidates, expect, matching, observe, outcome_fits};
use crate::sequential::machine::Reference;
use crate::tally::CampaignResult;
use crate::verdict::{Campaign, Failure};

/// Per mille of calls failing before they reach storage.
pub const TRANSIENT_PER_MILLE: u32 = 60;
/// Per mille of writes whose acknowledgement is lost after they took effect.
pub const LOST_ACK_PER_MILLE: u32 = 200;
/// Per mille of listings and deletes before which the actor is paused past
/// the claim lease: a cleaner holding a claim must notice and stop.
pub const PAUSE_PER_MILLE: u32 = 40;

/// On S3, per mille of faulty ops whose next conditional put lands but
/// loses its answer (a 503 that object_store retries into a 412), made by
/// the place's fault proxy below object_store's retry, where the probe
/// cannot reach.
pub const LOST_ANSWER_PER_MILLE: u64 = 400;

const LOST_ANSWER: &str = "answer lost after the conditional put landed (503, retried)";

/// On S3, arm the fault proxy for op `i` of the case when its seed says
/// so, scoped to the case's graph `root` (the proxy serves the whole
/// process); the proxy and the scope to disarm after the op.
fn lose_an_answer(
    faulty: bool,
    case_seed: u64,
    i: usize,
    root: &str,
) -> Option<(&'static crate::place::FaultProxy, String)> {
    let proxy = crate::place::fault_proxy().filter(|_| faulty)?;
    // Another stream of the case's seed than the probe's plan.
    let roll = crate::seeds::mix(crate::seeds::mix(case_seed, i), 0x5e);
    (roll % 1000 < LOST_ANSWER_PER_MILLE).then(|| {
        // Which of the op's conditional puts: any (most are Lance's
        // commits: a create commits its tree before it puts its ref), or
        // the first of the engine's own, a ref (a create's, an apply's
        // lock) or a delete's claim.
        let path_part =
            ["", "/_refs/branches/", "/_stampede_delete_claims/"][(roll / 1000 % 3) as usize];
        let scope = proxy_scope(root);
        proxy.lose_next_answer(crate::place::Rule {
            scope: scope.clone(),
            method: "PUT",
            path_part: path_part.into(),
            header: Some("if-none-match"),
            skip: if path_part.is_empty() {
                (roll / 3000 % 3) as usize
            } else {
                0
            },
        });
        (proxy, scope)
    })
}

/// The fault proxy's scope for the graph at `root`: the part of each of
/// its requests' paths that holds the root's key (after the bucket).
pub fn proxy_scope(root: &str) -> String {
    let key = root.strip_prefix("s3://").unwrap_or(root);
    format!("{}/", &key[key.find('/').unwrap_or(0)..])
}

/// The fault campaign's units: `fault_cases` cases.
pub fn units(budgets: &Budgets) -> u32 {
    budgets.fault_cases
}

/// Case `index`, its seed drawn from the root seed and the index.
pub fn run_unit(budgets: &Budgets, index: u32) -> CampaignResult {
    let seed = crate::seeds::derive(budgets.seed, index);
    let mut unit = CampaignResult {
        units: 1,
        ..CampaignResult::new(Campaign::Faults)
    };
    match run_case(seed, budgets.max_ops, |_| {}) {
        Ok(report) => {
            unit.ops = report.ops;
            unit.faulted_ops = report.faulted_ops;
        }
        Err(message) => unit.failures.push(Failure::new(
            Campaign::Faults,
            Campaign::Faults.case_token(seed, budgets.max_ops),
            message,
        )),
    }
    unit
}

/// What one case did.
#[derive(Debug, Default)]
pub struct CaseReport {
    pub ops: u64,
    pub faulted_ops: u64,
    pub injected: u64,
}

/// Run one case; `trace` hears each op, its outcome and what was injected.
pub fn run_case(
    case_seed: u64,
    max_ops: usize,
    mut trace: impl FnMut(&str),
) -> Result<CaseReport, String> {
    let steps = crate::sequential::generate_steps(case_seed, max_ops);
    let probe = Probe::new();
    let mut sut = Stampede::through_object_store();
    sut.use_params(probe.params());
    let mut reference = Reference::default();
    let mut report = CaseReport::default();
    for (i, step) in steps.iter().enumerate() {
        let op = reference.concrete(step);
        let pre = reference.model.clone();
        let mut post = pre.clone();
        let expected = post.apply(&op);
        let (outcome, injected) = apply_faulted(&probe, &mut sut, &op, case_seed, i);
        report.ops += 1;
        trace(&format!(
            "{:>2}. {op:?}\n      engine: {outcome:?}\n      model:  {expected:?}{}",
            i + 1,
            if injected.is_empty() {
                String::new()
            } else {
                format!("\n      injected: {injected:?}")
            }
        ));
        if injected.is_empty() {
            if outcome != expected {
                return Err(format!(
                    "op {} {op:?} met no fault: engine {outcome:?}, model {expected:?}",
                    i + 1
                ));
            }
            let (seen, derived) = (sut.view(), post.view());
            if seen != derived {
                return Err(format!(
                    "after op {} {op:?} (no fault): engine {seen:?}, model {derived:?}",
                    i + 1
                ));
            }
            reference.model = post;
            continue;
        }
        report.faulted_ops += 1;
        report.injected += injected.len() as u64;
        let op_said = Said {
            number: i + 1,
            op: &op,
            outcome: &outcome,
            expected: &expected,
            injected: &injected,
        };
        reference.model = judge_faulted(&mut sut, &pre, &op_said, &mut trace)?;
    }
    Ok(report)
}

/// Op `i` of a case applied under its faults (fixture writers stand for
/// other programs: none in them): its outcome and what was injected.
fn apply_faulted(
    probe: &Probe,
    sut: &mut Stampede,
    op: &Op,
    case_seed: u64,
    i: usize,
) -> (Outcome, Vec<Injected>) {
    let faulty = !matches!(op, Op::WriteLegacy(_) | Op::LeaveLock | Op::Stamp);
    probe.set_plan(faulty.then(|| {
        FaultPlan::faults(
            crate::seeds::mix(case_seed, i),
            TRANSIENT_PER_MILLE,
            LOST_ACK_PER_MILLE,
            PAUSE_PER_MILLE,
        )
    }));
    probe.name_objects_under(sut.root());
    let proxy = lose_an_answer(faulty, case_seed, i, sut.root());
    let outcome = sut.apply(op);
    let mut injected = probe.injected();
    probe.set_plan(None);
    if let Some((proxy, scope)) = proxy {
        if proxy.disarm(&scope) {
            injected.push(Injected {
                call: Call::Put,
                object: "(below object_store's retry)".into(),
                occurrence: 0,
                what: LOST_ANSWER,
            });
        }
    }
    (outcome, injected)
}

/// What one op of a case said, beside what the model said and the faults
/// it met.
struct Said<'a> {
    /// From 1, as the trace numbers ops.
    number: usize,
    op: &'a Op,
    outcome: &'a Outcome,
    expected: &'a Outcome,
    injected: &'a [Injected],
}

/// A faulted op judged from `pre`: a read-write open must then see one of
/// its states (invisible or applied) that fits its answer. Both sides go on
/// from there with a read-write handle: the model to go on with.
fn judge_faulted(
    sut: &mut Stampede,
    pre: &Model,
    said: &Said<'_>,
    trace: &mut impl FnMut(&str),
) -> Result<Model, String> {
    let Said {
        number,
        op,
        outcome,
        expected,
        injected,
    } = said;
    let all = candidates(pre, op);
    let seen = observe(sut.root(), Mode::ReadWrite);
    let fitting: Vec<_> = matching(&all, Mode::ReadWrite, &seen)
        .into_iter()
        .filter(|c| outcome_fits(op, outcome, expected, c))
        .collect();
    let Some(candidate) = fitting.first() else {
        return Err(format!(
            "op {number} {op:?} met {injected:?} and said {outcome:?}; a read-write open then sees neither its invisible nor its applied state:\n  seen: {seen:?}\n  invisible: {:?}\n  applied: {:?}",
            expect(&all[0], Mode::ReadWrite),
            expect(&all[1], Mode::ReadWrite),
        ));
    };
    trace(&format!("      judged: {}", candidate.label));
    let mut model = candidate.model.clone();
    let reopened = model.reopen(Mode::ReadWrite);
    let seen_reopen = sut.apply(&Op::Open(Mode::ReadWrite));
    if crate::effects::same_open(&seen_reopen, &reopened) {
        Ok(model)
    } else {
        Err(format!(
            "after op {number} {op:?}, reopening read-write: engine {seen_reopen:?}, model {reopened:?}"
        ))
    }
}

/// Re-run one case, printing every op, both outcomes and the faults met.
pub fn replay(token: &str) -> Result<bool, String> {
    let (seed, max_ops) = Campaign::Faults
        .parse_case_token(token)
        .ok_or_else(|| format!("not a faults token: {token}"))?;
    match run_case(seed, max_ops, |line| println!("{line}")) {
        Ok(report) => {
            println!(
                "{token}: passes ({} ops, {} met faults)",
                report.ops, report.faulted_ops
            );
            Ok(true)
        }
        Err(message) => {
            println!("FAIL: {message}");
            Ok(false)
        }
    }
}
