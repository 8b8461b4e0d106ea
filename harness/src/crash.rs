//! The crash campaign: every writing operation, killed at each of its
//! durable writes in turn.
//!
//! For a scenario (a setup, then one op), a clean run counts the op's
//! durable writes W. Then, for each k in 1..=W, a fresh graph gets the same
//! setup and the op runs with a probe that fails write k and refuses every
//! later call: a process death, with storage as the only witness. The judge
//! then looks, through fresh handles without the probe:
//!
//! 1. read-only, before any recovery (except for opens, whose migration may
//!    stand half-done until the next read-write open): the state is the
//!    model's *invisible* or *applied* one (or, for an apply, either with its
//!    lock left behind);
//! 2. after a recovering read-write open (optionally itself killed at its
//!    j-th write, then opened again): the same, converged (stamp CURRENT),
//!    with nothing committed before the op lost;
//! 3. then the recovery paths work: a lock left behind is reported by
//!    `check` and cleared by `unlock`; a create that died can be created
//!    again; an init that died can be run again.
//!
//! What `check` reports after recovery (zombie trees, unreferenced table
//! versions) is counted as residue, per scenario.

use std::collections::BTreeMap;
use std::time::Instant;

use stampede_engine::probe::Probe;
use stampede_model::schema::{Kind, Prop, PropType, TypeSpec};
use stampede_model::{Desired, LegacyStamp, Mode, Model, Op, RowInput, SchemaSpec, Value};

use crate::adapter::{Stampede, SystemUnderTest};
use crate::budgets::Budgets;
use crate::effects::{candidates, expect, matching, observe, outcome_fits, Candidate};
use crate::files::{self, contents, Files};
use crate::tally::{CampaignResult, CrashDetail};
use crate::verdict::{Campaign, Failure};

/// One writing operation and the graph it runs on.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub setup: Vec<Op>,
    pub op: Op,
}

fn person(name: &str, age: i64) -> RowInput {
    vec![
        ("name".to_string(), Value::Str(name.into())),
        ("age".to_string(), Value::Int(age)),
    ]
}

fn load(branch: &str, rows: Vec<RowInput>) -> Op {
    Op::Load {
        branch: branch.into(),
        type_name: "Person".into(),
        rows,
    }
}

/// The example schema with `Person.email: String?`.
pub fn with_email() -> Desired {
    Desired::Schema(crate::fixtures::person_with("email"))
}

/// The example schema with a new node type `Tag`.
fn with_tag() -> Desired {
    let mut schema = SchemaSpec::example();
    schema.types.insert(
        "Tag".into(),
        TypeSpec {
            kind: Kind::Node,
            props: vec![Prop::new("label", PropType::String, false, true)],
        },
    );
    Desired::Schema(schema)
}

/// Every operation that writes, on the graphs where its writes matter.
pub fn scenarios() -> Vec<Scenario> {
    let current = || vec![Op::Init, load("main", vec![person("ann", 1)])];
    let with = |more: Vec<Op>| current().into_iter().chain(more).collect::<Vec<_>>();
    let on_a = |rows| with(vec![Op::create("a", "main"), load("a", rows)]);
    let v1 = &[("feature", None), ("keep", Some("__run__0"))];
    let s = |name, setup, op| Scenario { name, setup, op };
    let merge = Op::Merge {
        source: "a".into(),
        target: "main".into(),
    };
    vec![
        s("init", vec![], Op::Init),
        s(
            "open-v1",
            vec![Op::legacy(1, 2, v1, LegacyStamp::Default)],
            Op::Open(Mode::ReadWrite),
        ),
        s(
            "open-v2",
            vec![Op::legacy(2, 3, &[("feature", None)], LegacyStamp::Default)],
            Op::Open(Mode::ReadWrite),
        ),
        s(
            "open-v2-resume",
            vec![Op::legacy(2, 1, &[], LegacyStamp::Absent)],
            Op::Open(Mode::ReadWrite),
        ),
        s("create", current(), Op::create("a", "main")),
        s(
            "create-from-branch",
            on_a(vec![person("bob", 2)]),
            Op::create("b", "a"),
        ),
        s("delete", on_a(vec![person("bob", 2)]), Op::delete("a")),
        s(
            "load-append",
            current(),
            load("main", vec![person("cat", 3), person("dan", 4)]),
        ),
        s(
            "load-upsert",
            current(),
            load("main", vec![person("ann", 9), person("eve", 5)]),
        ),
        s(
            "load-branch",
            with(vec![Op::create("a", "main")]),
            load("a", vec![person("fay", 6)]),
        ),
        s(
            "merge",
            on_a(vec![person("ann", 7), person("gus", 8)]),
            merge,
        ),
        s(
            "apply-add-property",
            current(),
            Op::ApplySchema(with_email()),
        ),
        s("apply-add-type", current(), Op::ApplySchema(with_tag())),
        s("unlock", with(vec![Op::LeaveLock]), Op::Unlock),
    ]
}

pub fn scenario(name: &str) -> Option<Scenario> {
    scenarios().into_iter().find(|s| s.name == name)
}

#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Kill the recovering open too, at every `n`-th of its writes
    /// (`None`: never).
    pub second_death_stride: Option<u64>,
}

/// One enumerated crash state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub k: u64,
    pub j: Option<u64>,
}

impl State {
    pub fn token(&self, scenario: &str) -> String {
        match self.j {
            Some(j) => format!("crash:{scenario}:{}:{j}", self.k),
            None => format!("crash:{scenario}:{}", self.k),
        }
    }
}

pub fn parse_token(token: &str) -> Option<(String, State)> {
    let mut parts = token.strip_prefix("crash:")?.split(':');
    let name = parts.next()?.to_string();
    let k = parts.next()?.parse().ok()?;
    let j = match parts.next() {
        Some(j) => Some(j.parse().ok()?),
        None => None,
    };
    parts.next().is_none().then_some((name, State { k, j }))
}

/// What the campaign found for one scenario.
#[derive(Clone, Debug, Default)]
pub struct ScenarioReport {
    pub name: &'static str,
    /// Durable writes of a clean run.
    pub writes: u64,
    pub states: u64,
    /// Each with its crash token (`crash:<scenario>:<k>[:<j>]`).
    pub violations: Vec<Failure>,
    /// `check`'s problem kinds after recovery, by the states that left them.
    pub residue: BTreeMap<String, u64>,
    pub seconds: f64,
}

/// What one state's judge saw.
#[derive(Debug, Default)]
pub struct Judged {
    /// Durable writes of the recovering open.
    pub recovery_writes: u64,
    pub residue: Vec<String>,
    pub label: &'static str,
}

/// A graph with the scenario's setup done on both sides, and the probe
/// installed for the op.
struct Prepared {
    sut: Stampede,
    model: Model,
    probe: std::sync::Arc<Probe>,
}

/// A scenario's graph after its setup, built once: every state puts its
/// files back in place (see `files`) instead of running the setup through
/// Lance again. On S3 there are no local files: every state runs the
/// setup afresh, at a root of its own.
pub struct Template {
    scenario: Scenario,
    /// Owns the graph's directory.
    setup: Stampede,
    /// The setup's files (`None` on S3).
    files: Option<Files>,
    model: Model,
}

/// Run a scenario's setup on both sides; they must agree.
fn run_setup(scenario: &Scenario) -> Result<(Stampede, Model), String> {
    let mut setup = Stampede::through_object_store();
    let mut model = Model::default();
    for op in &scenario.setup {
        let (seen, expected) = (setup.apply(op), model.apply(op));
        if seen != expected {
            return Err(format!(
                "setup op {op:?}: engine {seen:?}, model {expected:?}"
            ));
        }
    }
    Ok((setup, model))
}

impl Template {
    pub fn new(scenario: &Scenario) -> Result<Template, String> {
        let (setup, model) = run_setup(scenario)?;
        let files = crate::place::s3()
            .is_none()
            .then(|| contents(&setup.graph_path()));
        Ok(Template {
            scenario: scenario.clone(),
            files,
            setup,
            model,
        })
    }

    /// The graph as the setup left it, through a handle that carries a new
    /// probe (an init or an open makes its own handle).
    fn prepare(&self) -> Result<Prepared, String> {
        let root = match &self.files {
            Some(files) => {
                files::restore(&self.setup.graph_path(), files)?;
                self.setup.root().to_string()
            }
            None => run_setup(&self.scenario)?.0.root().to_string(),
        };
        let mut sut = Stampede::observing(&root);
        let mut model = self.model.clone();
        let probe = Probe::new();
        sut.use_params(probe.params());
        if !matches!(self.scenario.op, Op::Init | Op::Open(_)) {
            // The op runs through a handle that carries the probe.
            let (seen, expected) = (
                sut.apply(&Op::Open(Mode::ReadWrite)),
                model.apply(&Op::Open(Mode::ReadWrite)),
            );
            if seen != expected {
                return Err(format!("setup reopen: engine {seen:?}, model {expected:?}"));
            }
        }
        Ok(Prepared { sut, model, probe })
    }

    /// Run the op once without dying: its outcome must be the model's;
    /// return its durable writes.
    pub fn count_writes(&self) -> Result<u64, String> {
        let mut prepared = self.prepare()?;
        let op = &self.scenario.op;
        prepared.probe.die_at_write(u64::MAX);
        let seen = prepared.sut.apply(op);
        let expected = prepared.model.apply(op);
        if seen != expected {
            return Err(format!(
                "clean run of {op:?}: engine {seen:?}, model {expected:?}"
            ));
        }
        Ok(prepared.probe.writes())
    }

    /// Kill the op at write `state.k` (and the recovering open at write
    /// `state.j`), then judge what storage holds.
    pub fn judge(&self, state: &State) -> Result<Judged, String> {
        let mut prepared = self.prepare()?;
        let op = &self.scenario.op;
        prepared.probe.die_at_write(state.k);
        let outcome = prepared.sut.apply(op);
        let pre = prepared.model.clone();
        let expected = prepared.model.clone().apply(op);
        let root = prepared.sut.root().to_string();
        if !prepared.probe.died() && outcome != expected {
            return Err(format!(
                "the op finished before write {} with {outcome:?}, the model says {expected:?}",
                state.k
            ));
        }
        let all = candidates(&pre, op);
        let fits = |c: &&Candidate| outcome_fits(op, &outcome, &expected, c);

        // 1. Before any recovery, as a reader sees it.
        let mut allowed: Vec<&Candidate> = all.iter().collect();
        if !matches!(op, Op::Open(_)) {
            let seen = observe(&root, Mode::ReadOnly);
            allowed = matching(&all, Mode::ReadOnly, &seen)
                .into_iter()
                .filter(fits)
                .collect();
            if allowed.is_empty() {
                return Err(format!(
                "after the death (op said {outcome:?}), a read-only open sees neither the invisible nor the applied state:\n  seen: {seen:?}\n  invisible: {:?}",
                expect(&all[0], Mode::ReadOnly)
            ));
            }
        }

        // 2. The recovering read-write open, itself killed once if asked.
        let recovery = Probe::new();
        {
            let mut recovering = Stampede::observing(&root).after_leases();
            recovering.use_params(recovery.params());
            recovery.die_at_write(state.j.unwrap_or(u64::MAX));
            let _ = recovering.apply(&Op::Open(Mode::ReadWrite));
        }
        let recovery_writes = recovery.writes();
        let seen = observe(&root, Mode::ReadWrite);
        let converged: Vec<&Candidate> = matching(&all, Mode::ReadWrite, &seen)
            .into_iter()
            .filter(|c| allowed.iter().any(|a| a.label == c.label))
            .filter(fits)
            .collect();
        let Some(candidate) = converged.first() else {
            return Err(format!(
            "after the recovering open, the graph is neither the invisible nor the applied state (op said {outcome:?}):\n  seen: {seen:?}\n  invisible: {:?}\n  applied: {:?}",
            expect(&all[0], Mode::ReadWrite),
            expect(&all[1], Mode::ReadWrite)
        ));
        };

        let residue = residue(&root);
        recover(&root, op, candidate)?;
        Ok(Judged {
            recovery_writes,
            residue,
            label: candidate.label,
        })
    }
}

/// [`Template::count_writes`] of a scenario's own template.
pub fn count_writes(scenario: &Scenario) -> Result<u64, String> {
    Template::new(scenario)?.count_writes()
}

/// [`Template::judge`] of a scenario's own template (one state alone, as a
/// replay runs it).
pub fn judge_state(scenario: &Scenario, state: &State) -> Result<Judged, String> {
    Template::new(scenario)?.judge(state)
}

/// `check`'s problems and residue notes after recovery (a graph that init
/// never made has none to report), as an operator sees them once every
/// lease of the dead process has passed (a lock it held is then left
/// behind, not an apply in flight).
fn residue(root: &str) -> Vec<String> {
    let params = crate::place::complete(root, Default::default());
    let check =
        stampede_engine::check::check_with(root, stampede_engine::check::Depth::Pins, params);
    let later =
        stampede_engine::claims::with_clock_ahead(stampede_engine::claims::CLAIM_LEASE * 2, check);
    match crate::adapter::serial_runtime().block_on(later) {
        Ok(report) => report
            .problems
            .iter()
            .chain(&report.notes)
            .map(|p| p.kind.to_string())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The recovery paths an operator takes, each judged by the model.
fn recover(root: &str, op: &Op, candidate: &Candidate) -> Result<(), String> {
    // Where the recovering open left the candidate.
    let mut model = candidate.model.clone();
    let _ = model.reopen(Mode::ReadWrite);
    model.handle = None;
    let mut sut = Stampede::observing(root).after_leases();
    // The model decides each step's outcome: an unlock of a left lock is
    // `Unlocked(true)` there.
    let step = |sut: &mut Stampede, model: &mut Model, op: &Op| -> Result<(), String> {
        let (seen, expected) = (sut.apply(op), model.apply(op));
        if seen != expected {
            return Err(format!(
                "recovery step {op:?}: engine {seen:?}, model {expected:?}"
            ));
        }
        Ok(())
    };
    if candidate.lock_left {
        if !residue(root).iter().any(|k| k == "lock_left_behind") {
            return Err("a lock was left behind and check does not report it".into());
        }
        step(&mut sut, &mut model, &Op::Open(Mode::ReadWrite))?;
        step(&mut sut, &mut model, &Op::Unlock)?;
    }
    match op {
        Op::Init if !candidate.applied => {
            step(&mut sut, &mut model, &Op::Init)?;
        }
        Op::BranchCreate { .. } if !candidate.applied => {
            step(&mut sut, &mut model, &Op::Open(Mode::ReadWrite))?;
            step(&mut sut, &mut model, op)?;
        }
        _ => {}
    }
    if sut.view() != model.view() {
        return Err(format!(
            "after recovery: engine {:?}, model {:?}",
            sut.view(),
            model.view()
        ));
    }
    Ok(())
}

/// The crash campaign's units: its scenarios, one per writing op.
pub fn units(_: &Budgets) -> u32 {
    scenarios().len() as u32
}

/// Scenario `index`, every crash state of it (the states are its units
/// and its ops).
pub fn run_unit(budgets: &Budgets, index: u32) -> CampaignResult {
    let scenario = &scenarios()[index as usize];
    let budget = Budget {
        second_death_stride: (budgets.second_death_stride > 0)
            .then_some(budgets.second_death_stride),
    };
    let report = run_scenario(scenario, budget, |_| {});
    CampaignResult {
        units: report.states,
        ops: report.states,
        crash: vec![CrashDetail {
            operation: report.name.to_string(),
            writes: report.writes,
            states: report.states,
            violations: report.violations.len() as u64,
            residue: report.residue,
            seconds: report.seconds,
        }],
        failures: report.violations,
        ..CampaignResult::new(Campaign::Crash)
    }
}

/// Enumerate every crash state of `scenario`.
pub fn run_scenario(
    scenario: &Scenario,
    budget: Budget,
    mut progress: impl FnMut(&State),
) -> ScenarioReport {
    let start = Instant::now();
    let mut report = ScenarioReport {
        name: scenario.name,
        ..ScenarioReport::default()
    };
    let counted =
        Template::new(scenario).and_then(|template| Ok((template.count_writes()?, template)));
    let (writes, template) = match counted {
        Ok(counted) => counted,
        Err(what) => {
            report.violations.push(Failure::new(
                Campaign::Crash,
                State { k: 0, j: None }.token(scenario.name),
                what,
            ));
            return report;
        }
    };
    report.writes = writes;
    let mut judge = |state: State, report: &mut ScenarioReport| -> Option<Judged> {
        progress(&state);
        report.states += 1;
        match template.judge(&state) {
            Ok(judged) => {
                for kind in &judged.residue {
                    *report.residue.entry(kind.clone()).or_default() += 1;
                }
                Some(judged)
            }
            Err(what) => {
                report.violations.push(Failure::new(
                    Campaign::Crash,
                    state.token(scenario.name),
                    what,
                ));
                None
            }
        }
    };
    for k in 1..=writes {
        let Some(judged) = judge(State { k, j: None }, &mut report) else {
            continue;
        };
        if let Some(stride) = budget.second_death_stride {
            for j in (1..=judged.recovery_writes).step_by(stride.max(1) as usize) {
                judge(State { k, j: Some(j) }, &mut report);
            }
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    report
}

/// Re-run one crash state, saying what the judge saw.
pub fn replay(token: &str) -> Result<bool, String> {
    let (name, state) = parse_token(token).ok_or_else(|| format!("not a crash token: {token}"))?;
    let scenario = scenario(&name).ok_or_else(|| format!("no crash scenario {name:?}"))?;
    println!("scenario {name}: setup {:?}", scenario.setup);
    println!("op {:?}, killed at its write {}", scenario.op, state.k);
    if let Some(j) = state.j {
        println!("recovering open killed at its write {j}");
    }
    match judge_state(&scenario, &state) {
        Ok(judged) => {
            println!(
                "PASS: the graph is {} (residue: {:?})",
                judged.label, judged.residue
            );
            Ok(true)
        }
        Err(what) => {
            println!("FAIL: {what}");
            Ok(false)
        }
    }
}
