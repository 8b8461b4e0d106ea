//! `stampede verify`: a plan of campaigns, each a list of units (sequential
//! and fault cases, concurrent rounds, crash scenarios, the loom suite) run
//! by one loop under a stop rule, sharded across processes with `--jobs`,
//! reported as one table and as JSON derived from the types below.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::time::Instant;

use crate::seeds::derive;
use crate::verdict::shell_quote;
use crate::verdict::{Campaign, Failure};
use serde::{Deserialize, Serialize};

/// Everything that names a run: the root seed and every budget. Shards get
/// it as a file, so a child runs exactly its parent's plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Budgets {
    pub seed: u64,
    pub cases: u32,
    pub max_ops: usize,
    pub rounds: u32,
    pub actors: usize,
    /// Concurrent actors as `stampede` processes instead of tasks.
    pub processes: bool,
    /// How concurrent actors interleave: timing plus seeded delays
    /// (`wild`), turns at the storage boundary (`random`, `pct<d>`), or
    /// each in turn, round by round (`mix`, the default).
    #[serde(default = "mix")]
    pub schedule: crate::concurrent::Schedule,
    /// Concurrent rounds drawn from the uniform mix (`--swarm off`)
    /// instead of in swarm configurations.
    #[serde(default)]
    pub uniform: bool,
    /// Concurrent rounds as histories of up to this many ops per actor on
    /// its own handle, judged for linearizability (0: one op each).
    #[serde(default)]
    pub history: usize,
    pub fault_cases: u32,
    /// Kill the recovering open at every n-th write (0: never).
    pub second_death_stride: u64,
    pub loom_bound: u32,
    /// Damage campaign: judge every n-th damaged graph of each corpus graph
    /// (1: all of them).
    pub damage_stride: u32,
    /// A time budget for each open-ended campaign: it runs units until this
    /// many seconds have passed, its count (`cases`, `rounds`,
    /// `fault_cases`) a cap. With `--jobs`, every job has the whole budget.
    #[serde(default)]
    pub seconds: Option<f64>,
    /// A time budget for the whole plan: the campaigns of fixed size run
    /// first, then the open-ended ones share what is left (each gets its
    /// share in `seconds`).
    #[serde(default)]
    pub plan_seconds: Option<f64>,
    /// A proptest regression file the sequential campaign replays first
    /// and records failures in (the test suite's; never a shard's).
    #[serde(skip)]
    pub regressions: Option<&'static str>,
    /// Where the graphs live when not in local temp dirs: the S3 place the
    /// parent started (`verify --s3`), handed to every job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<crate::place::S3Place>,
    /// The peer engine judged instead of ours (`verify --engine-cmd`),
    /// handed to every job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_cmd: Option<String>,
}

fn mix() -> crate::concurrent::Schedule {
    crate::concurrent::Schedule::Mix
}

impl Budgets {
    /// `stampede verify`'s defaults (its flags take them from here).
    pub const DEFAULT: Budgets = Budgets {
        seed: 1,
        cases: 100,
        max_ops: 30,
        rounds: 50,
        actors: 4,
        processes: false,
        schedule: crate::concurrent::Schedule::Mix,
        uniform: false,
        history: 0,
        fault_cases: 50,
        second_death_stride: 1,
        loom_bound: 3,
        damage_stride: 1,
        seconds: None,
        plan_seconds: None,
        regressions: None,
        s3: None,
        engine_cmd: None,
    };
}

impl Budgets {
    /// Unit `index` of the concurrent campaign, as a token: its round (or
    /// history), how its actors run, and the schedule it runs under (a
    /// mix's, resolved for this round).
    pub fn concurrent_token(&self, index: u32) -> crate::concurrent::Token {
        use crate::concurrent::{Actors, Schedule, Token};
        let mode = if crate::wire::peer::peer().is_some() {
            Actors::Peers
        } else if self.processes && self.history == 0 {
            Actors::Processes
        } else {
            Actors::Tasks
        };
        // A peer's actors are its own processes, interleaved by timing.
        let schedule = match mode {
            Actors::Peers => Schedule::Wild,
            _ => self.schedule.for_round(index),
        };
        Token {
            history: self.history,
            uniform: self.uniform,
            ..Token::of_campaign(self.seed, index, self.actors, mode, schedule)
        }
    }
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets::DEFAULT
    }
}

/// When a campaign stops: after its whole budget (verification), or at its
/// first failure (sensitivity: how much it took to catch a defect).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    Budget,
    FirstFailure,
}

/// Which units this process runs. The plan is cut into `parts` (machines:
/// `--shard K/N`), and each part into `jobs` (processes: `--jobs`): unit
/// `i` belongs to part `i % parts` and, within it, to job
/// `(i / parts) % jobs`. Units are named by (root seed, index), so the
/// parts together are exactly the unsharded plan whatever their number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// From 0.
    pub part: u32,
    pub parts: u32,
    /// From 0.
    pub job: u32,
    pub jobs: u32,
}

impl Shard {
    pub const ALL: Shard = Shard {
        part: 0,
        parts: 1,
        job: 0,
        jobs: 1,
    };

    pub fn owns(self, unit: u32) -> bool {
        unit % self.parts == self.part && (unit / self.parts) % self.jobs == self.job
    }

    /// `--shard K/N`: the K-th (from 1) of N parts.
    pub fn part_of(text: &str) -> Result<Shard, String> {
        let bad = || format!("--shard takes K/N with 1 <= K <= N, not {text:?}");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (k, n): (u32, u32) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if k == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard {
            part: k - 1,
            parts: n,
            ..Shard::ALL
        })
    }

    /// This part's job `job` of `jobs` (what `--jobs` hands each process).
    pub fn job(self, job: u32, jobs: u32) -> Shard {
        Shard { job, jobs, ..self }
    }

    /// `J/N` (from 0), the hidden flag a parent hands its processes.
    pub fn parse_job(text: &str) -> Option<(u32, u32)> {
        let (job, jobs) = text.split_once('/')?;
        let (job, jobs) = (job.parse().ok()?, jobs.parse().ok()?);
        (job < jobs).then_some((job, jobs))
    }
}

/// Per-operation figures of the crash campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrashDetail {
    pub operation: String,
    pub writes: u64,
    pub states: u64,
    pub violations: u64,
    /// `check`'s problem and note kinds after recovery, by states.
    pub residue: std::collections::BTreeMap<String, u64>,
    pub seconds: f64,
}

impl CrashDetail {
    /// The residue as people read it: `kind: states, ...`, or `–`.
    pub fn residue_text(&self) -> String {
        if self.residue.is_empty() {
            return "–".to_string();
        }
        self.residue
            .iter()
            .map(|(kind, states)| format!("{kind}: {states}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignResult {
    pub campaign: Campaign,
    /// Cases, rounds, crash states or loom models run.
    pub units: u64,
    pub ops: u64,
    /// Fault campaign: ops that met at least one injected fault.
    pub faulted_ops: u64,
    /// Concurrent campaign: actors that answered a retryable kind (each
    /// admitted only with a cause in its round).
    #[serde(default)]
    pub retryable_ops: u64,
    /// Scheduled concurrent rounds: turns granted, and escapes (decisions
    /// timing made; a scheduled run must have none).
    #[serde(default)]
    pub grants: u64,
    #[serde(default)]
    pub escapes: u64,
    /// Concurrent histories: the linearizability judge's time, in all.
    #[serde(default)]
    pub judge_seconds: f64,
    /// Concurrent campaign: how many rounds had each interesting overlap
    /// (`concurrent::shapes`), as it happened.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shapes: BTreeMap<String, u64>,
    pub failures: Vec<Failure>,
    pub seconds: f64,
    pub crash: Vec<CrashDetail>,
}

impl CampaignResult {
    fn new(campaign: Campaign) -> Self {
        CampaignResult {
            campaign,
            units: 0,
            ops: 0,
            faulted_ops: 0,
            retryable_ops: 0,
            grants: 0,
            escapes: 0,
            judge_seconds: 0.0,
            shapes: BTreeMap::new(),
            failures: Vec::new(),
            seconds: 0.0,
            crash: Vec::new(),
        }
    }

    pub fn ops_per_second(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }

    /// This campaign's row of the plan's table (see [`TABLE_HEADER`]), for
    /// the console and for the docs alike.
    pub fn row(&self) -> [String; 7] {
        let retryable = match self.campaign {
            Campaign::Concurrent => format!(
                "{:.1}%",
                100.0 * self.retryable_ops as f64 / self.ops.max(1) as f64
            ),
            _ => "–".to_string(),
        };
        [
            self.campaign.name().to_string(),
            format!("{} {}", self.units, self.campaign.unit()),
            self.ops.to_string(),
            self.failures.len().to_string(),
            retryable,
            format!("{:.0}", self.ops_per_second()),
            format!("{:.1} s", self.seconds),
        ]
    }

    /// Count one round's shapes.
    fn count_shapes(&mut self, shapes: BTreeSet<crate::concurrent::shapes::Shape>) {
        for shape in shapes {
            *self.shapes.entry(shape.name().to_string()).or_default() += 1;
        }
    }

    /// The shape counts in words: every shape, one that never happened
    /// too (a gap shows).
    pub fn shape_line(&self) -> String {
        crate::concurrent::shapes::Shape::ALL
            .iter()
            .map(|shape| {
                let n = self.shapes.get(shape.name()).copied().unwrap_or(0);
                format!("{}: {n}", shape.name())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Add one unit's (or one shard's) figures.
    fn absorb(&mut self, other: CampaignResult) {
        self.units += other.units;
        self.ops += other.ops;
        self.faulted_ops += other.faulted_ops;
        self.retryable_ops += other.retryable_ops;
        self.grants += other.grants;
        self.escapes += other.escapes;
        self.judge_seconds += other.judge_seconds;
        for (shape, rounds) in other.shapes {
            *self.shapes.entry(shape).or_default() += rounds;
        }
        self.failures.extend(other.failures);
        self.crash.extend(other.crash);
    }
}

/// The `--json` report of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub harness_version: String,
    /// The git commit the harness was built from ("unknown" outside one).
    pub revision: String,
    pub jobs: u32,
    /// `[K, N]` when this report is the K-th of N parts (`--shard K/N`).
    pub shard: Option<[u32; 2]>,
    pub budgets: Budgets,
    pub results: Vec<CampaignResult>,
    pub passed: bool,
}

impl Report {
    pub fn new(budgets: &Budgets, jobs: u32, results: Vec<CampaignResult>) -> Self {
        Report {
            harness_version: env!("CARGO_PKG_VERSION").to_string(),
            revision: env!("STAMPEDE_REVISION").to_string(),
            jobs,
            shard: None,
            budgets: budgets.clone(),
            passed: results.iter().all(|r| r.failures.is_empty()),
            results,
        }
    }

    /// A `stampede verify --json` report read back; an error names the file.
    pub fn read(path: &std::path::Path) -> Result<Report, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("not a verify report: {}: {e}", path.display()))
    }

    /// The line that replays `failure`, on the place and the peer this
    /// report's plan ran on: a report read back in another process (`report
    /// merge`, `report summary`) has neither in the process's settings.
    pub fn replay_line(&self, failure: &Failure) -> String {
        failure.replay_line_in(self.budgets.s3.as_ref(), self.budgets.engine_cmd.as_deref())
    }

    /// Combine the reports of the N parts of one plan into the report one
    /// unsharded run would have written: counts and ops summed, failures in
    /// unit order, times summed (core-seconds). Refuses reports of other
    /// revisions, seeds, budgets or campaigns, and names a missing part.
    pub fn merge(mut reports: Vec<Report>) -> Result<Report, MergeError> {
        let first = reports.first().ok_or(MergeError::Nothing)?.clone();
        let parts = first.shard.map_or(1, |[_, n]| n);
        for r in &reports {
            let differs = |what: &str| MergeError::Mismatch(what.to_string());
            if (&r.harness_version, &r.revision) != (&first.harness_version, &first.revision) {
                return Err(differs("harness revision"));
            }
            if r.budgets != first.budgets {
                return Err(differs("seed or budgets"));
            }
            let campaigns = |r: &Report| r.results.iter().map(|c| c.campaign).collect::<Vec<_>>();
            if campaigns(r) != campaigns(&first) {
                return Err(differs("campaigns"));
            }
            if r.shard.map_or(1, |[_, n]| n) != parts {
                return Err(differs("number of parts"));
            }
        }
        reports.sort_by_key(|r| r.shard.map_or(1, |[k, _]| k));
        let present: Vec<u32> = reports
            .iter()
            .map(|r| r.shard.map_or(1, |[k, _]| k))
            .collect();
        if let Some(k) = (1..=parts).find(|k| present.iter().filter(|p| *p == k).count() != 1) {
            return Err(if present.contains(&k) {
                MergeError::Twice(k, parts)
            } else {
                MergeError::Missing(k, parts)
            });
        }
        let jobs = reports.iter().map(|r| r.jobs).sum();
        let results = (0..first.results.len())
            .map(|c| {
                let part_results: Vec<CampaignResult> =
                    reports.iter().map(|r| r.results[c].clone()).collect();
                let seconds = part_results.iter().map(|r| r.seconds).sum();
                let mut merged = merge(part_results, seconds).expect("at least one part");
                merged.failures.sort_by_key(|f| f.unit);
                merged
            })
            .collect();
        Ok(Report::new(&first.budgets, jobs, results))
    }
}

/// Why shard reports do not merge into one plan's report.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("no reports to merge")]
    Nothing,
    #[error("the reports are of different plans: their {0} differ")]
    Mismatch(String),
    #[error("shard {0}/{1} is missing: the plan is incomplete")]
    Missing(u32, u32),
    #[error("shard {0}/{1} is given twice")]
    Twice(u32, u32),
}

/// How many units a campaign's budget holds.
fn unit_count(campaign: Campaign, budgets: &Budgets) -> u32 {
    match campaign {
        Campaign::Sequential => budgets.cases,
        Campaign::Faults => budgets.fault_cases,
        Campaign::Concurrent => budgets.rounds,
        Campaign::Crash => crate::crash::scenarios().len() as u32,
        Campaign::Loom => 1,
        Campaign::Damage => crate::damage::units(),
    }
}

/// Run unit `index` of `campaign`.
fn run_unit(campaign: Campaign, budgets: &Budgets, index: u32) -> CampaignResult {
    let mut unit = CampaignResult::new(campaign);
    let fail = |replay: String, message: String| Failure {
        unit: index,
        ..Failure::new(campaign, replay, message)
    };
    match campaign {
        Campaign::Sequential => {
            let ops = crate::sequential::machine::engine_ops();
            let seed = derive(budgets.seed, index);
            unit.failures.extend(
                crate::sequential::run_case_with(seed, budgets.max_ops, budgets.regressions).err(),
            );
            unit.units = 1;
            unit.ops = crate::sequential::machine::engine_ops() - ops;
        }
        Campaign::Faults => {
            let seed = derive(budgets.seed, index);
            match crate::faults::run_case(seed, budgets.max_ops, |_| {}) {
                Ok(report) => {
                    unit.ops = report.ops;
                    unit.faulted_ops = report.faulted_ops;
                }
                Err(message) => unit.failures.push(fail(
                    crate::faults::replay_token(seed, budgets.max_ops),
                    message,
                )),
            }
            unit.units = 1;
        }
        Campaign::Concurrent if budgets.history > 0 => {
            use crate::concurrent::{execute_history, history};
            let token = budgets.concurrent_token(index);
            let h = token.history_round();
            let run = match crate::quiet::caught(|| {
                execute_history(&h, token.schedule, token.interleaving)
            }) {
                Ok(run) => run,
                Err(why) => {
                    unit.failures.push(fail(token.to_string(), why));
                    unit.units = 1;
                    return unit;
                }
            };
            if let Some(turns) = &run.turns {
                unit.grants = turns.trace.len() as u64;
                unit.escapes = turns.escapes();
            }
            unit.count_shapes(crate::concurrent::shapes::of_history(&h, &run.events));
            let judged = Instant::now();
            if let Err(why) = history::judge(&h, &run.events, &run.view) {
                unit.failures.push(fail(token.to_string(), why));
            }
            unit.judge_seconds = judged.elapsed().as_secs_f64();
            unit.units = 1;
            unit.ops = run.events.iter().map(|e| e.len() as u64).sum();
            unit.retryable_ops = run
                .events
                .iter()
                .flatten()
                .filter(|e| matches!(e.outcome, Err(kind) if kind.is_retryable()))
                .count() as u64;
        }
        Campaign::Concurrent => {
            use crate::concurrent::{judge, round_divergence, run_round};
            let token = budgets.concurrent_token(index);
            let round = token.round();
            let (seen, view, turns) = match crate::quiet::caught(|| run_round(&token, &round)) {
                Ok(run) => run,
                Err(why) => {
                    unit.failures.push(fail(token.to_string(), why));
                    unit.units = 1;
                    return unit;
                }
            };
            unit.count_shapes(crate::concurrent::shapes::of_round(&round, &seen));
            if let Some(turns) = &turns {
                unit.grants = turns.trace.len() as u64;
                unit.escapes = turns.escapes();
            }
            if let Err(why) = judge(&round, &seen, &view) {
                unit.failures.push(Failure {
                    divergence: Some(Box::new(round_divergence(&round, &seen))),
                    ..fail(token.to_string(), why)
                });
            }
            unit.units = 1;
            unit.ops = round.actors.len() as u64;
            unit.retryable_ops = seen
                .iter()
                .filter(|s| matches!(s.outcome, Err(kind) if kind.is_retryable()))
                .count() as u64;
        }
        Campaign::Crash => {
            let scenario = &crate::crash::scenarios()[index as usize];
            let budget = crate::crash::Budget {
                second_death_stride: (budgets.second_death_stride > 0)
                    .then_some(budgets.second_death_stride),
            };
            let report = crate::crash::run_scenario(scenario, budget, |_| {});
            unit.units = report.states;
            unit.ops = report.states;
            unit.crash.push(CrashDetail {
                operation: report.name.to_string(),
                writes: report.writes,
                states: report.states,
                violations: report.violations.len() as u64,
                residue: report.residue,
                seconds: report.seconds,
            });
            unit.failures.extend(report.violations);
        }
        Campaign::Loom => {
            let (models, failure) = loom(budgets.loom_bound);
            unit.units = models;
            unit.failures.extend(failure);
        }
        Campaign::Damage => {
            let (cases, commands, failures) =
                crate::damage::run_unit(index as usize, budgets.damage_stride as usize);
            unit.units = cases;
            unit.ops = commands;
            unit.failures = failures;
        }
    }
    unit
}

/// Run this shard of one campaign: every unit it owns, in order, until the
/// budget is spent or, with [`Stop::FirstFailure`], a unit fails.
pub fn run(
    campaign: Campaign,
    budgets: &Budgets,
    shard: Shard,
    stop: Stop,
    quiet: bool,
) -> CampaignResult {
    let start = Instant::now();
    let mut result = CampaignResult::new(campaign);
    let total = unit_count(campaign, budgets);
    let deadline = budgets
        .seconds
        .filter(|_| campaign.open_ended())
        .map(std::time::Duration::from_secs_f64);
    let progress = match deadline {
        Some(d) => Progress::timed(campaign, d, quiet),
        None => Progress::new(campaign, u64::from(total), quiet),
    };
    for (ran, index) in (0..total).filter(|i| shard.owns(*i)).enumerate() {
        // A spent budget still runs one unit: a plan whose fixed campaigns
        // took all its time must not pass having judged nothing here.
        if ran > 0 && deadline.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
        let mut unit = run_unit(campaign, budgets, index);
        unit.failures.iter_mut().for_each(|f| f.unit = index);
        result.absorb(unit);
        let done = match deadline {
            Some(_) => start.elapsed().as_secs(),
            None => u64::from(index + 1),
        };
        progress.tick(done, result.units, result.failures.len());
        if stop == Stop::FirstFailure && !result.failures.is_empty() {
            break;
        }
    }
    progress.finish();
    result.seconds = start.elapsed().as_secs_f64();
    result
}

/// A progress bar on a terminal (indicatif); a plain line every tenth of
/// the budget otherwise, so CI logs show progress too. The budget is units,
/// or seconds for a timed campaign.
struct Progress {
    bar: indicatif::ProgressBar,
    campaign: Campaign,
    plain: bool,
    last_tenth: std::cell::Cell<u64>,
    timed: bool,
}

impl Progress {
    fn timed(campaign: Campaign, budget: std::time::Duration, quiet: bool) -> Self {
        let mut progress = Progress::new(campaign, budget.as_secs().max(1), quiet);
        progress.timed = true;
        progress
    }

    fn new(campaign: Campaign, total: u64, quiet: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = if quiet || !terminal {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(total)
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix:<11} [{bar:30}] {pos}/{len} {msg} ({elapsed})",
            )
            .expect("a valid template")
            .progress_chars("#>-"),
        );
        bar.set_prefix(campaign.name());
        bar.set_length(total.max(1));
        Progress {
            bar,
            campaign,
            plain: !quiet && !terminal,
            last_tenth: std::cell::Cell::new(0),
            timed: false,
        }
    }

    /// `done` of the budget (units, or whole seconds when timed), after
    /// `units` units.
    fn tick(&self, done: u64, units: u64, failures: usize) {
        self.bar.set_position(done);
        let total = self.bar.length().unwrap_or(1).max(1);
        let (name, unit) = (self.campaign.name(), self.campaign.unit());
        let status = match self.timed {
            true => format!("{units} {unit}, failures {failures}"),
            false => format!("failures {failures}"),
        };
        self.bar.set_message(status.clone());
        let tenth = done * 10 / total;
        if self.plain && tenth > self.last_tenth.get() {
            self.last_tenth.set(tenth);
            match self.timed {
                true => eprintln!("  {name}: {done}/{total} s, {status}"),
                false => eprintln!("  {name}: {done}/{total} {status}"),
            }
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// `cargo test` of the loom suite in release, in the source tree (`cargo`
/// from `$CARGO`): every model, or the one named `test` exactly.
pub fn loom_command(bound: u32, test: Option<&str>) -> std::process::Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "test",
            "-p",
            "stampede-protocol",
            "--features",
            "loom,defects",
            "--release",
            "--test",
            "loom",
        ])
        .args(test)
        .arg("--")
        .args(test.map(|_| "--exact"))
        .arg("--test-threads=1")
        .env("LOOM_MAX_PREEMPTIONS", bound.to_string());
    command
}

/// The shell form of a command, to print for a person to run from any
/// directory (`cd DIR && VAR=value program args`).
pub fn shell_form(command: &std::process::Command) -> String {
    let cd = command
        .get_current_dir()
        .map(|dir| format!("cd {} &&", shell_quote(&dir.to_string_lossy())));
    let env = command
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_string_lossy(), v?.to_string_lossy())));
    let program = std::iter::once(command.get_program().to_string_lossy().into_owned());
    let args = command.get_args().map(|a| a.to_string_lossy().into_owned());
    cd.into_iter()
        .chain(env)
        .chain(program)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The loom suite (it builds only the protocol crate). Returns the models
/// run and a failure, if any, whose replay is the command to run.
pub fn loom(bound: u32) -> (u64, Option<Failure>) {
    let mut loom = loom_command(bound, None);
    let command = shell_form(&loom);
    let failure = |message: String| Failure::new(Campaign::Loom, command.clone(), message);
    let output = match loom.output() {
        Ok(o) => o,
        Err(e) => {
            return (
                0,
                Some(failure(format!("could not run cargo for loom: {e}"))),
            )
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let passed = stdout
        .lines()
        .filter(|l| l.starts_with("test ") && l.ends_with(" ok"))
        .count() as u64;
    if output.status.success() {
        return (passed, None);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    (
        passed,
        Some(failure(format!("{stdout}\n{}", tail.join("\n")))),
    )
}

/// Merge the shards of one campaign, run by separate processes.
pub fn merge(parts: Vec<CampaignResult>, seconds: f64) -> Option<CampaignResult> {
    let mut parts = parts.into_iter();
    let mut merged = parts.next()?;
    for part in parts {
        merged.absorb(part);
    }
    // Shards interleave scenarios; report them in the plan's order.
    let order: Vec<&str> = crate::crash::scenarios().iter().map(|s| s.name).collect();
    merged
        .crash
        .sort_by_key(|d| order.iter().position(|name| *name == d.operation));
    merged.seconds = seconds;
    Some(merged)
}

/// The columns of the plan's table.
pub const TABLE_HEADER: [&str; 7] = [
    "campaign",
    "count",
    "ops",
    "failures",
    "retryable",
    "ops/s",
    "time",
];

pub fn print_table(results: &[CampaignResult]) {
    print!("{}", text_table(results));
}

/// The plan's table as the console shows it: one line per campaign.
pub fn text_table(results: &[CampaignResult]) -> String {
    let line = |cells: &[&str]| {
        format!(
            "{:<11} {:>14} {:>8} {:>9} {:>9} {:>8} {:>8}\n",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]
        )
    };
    let rows = results.iter().map(|r| {
        let row = r.row();
        line(&row.each_ref().map(String::as_str))
    });
    std::iter::once(line(&TABLE_HEADER)).chain(rows).collect()
}

/// The plan's table in Markdown: one row per campaign.
pub fn markdown_table(results: &[CampaignResult]) -> String {
    let mut out = format!("| {} |\n", TABLE_HEADER.join(" | "));
    out += &format!("|{}\n", "---|".repeat(TABLE_HEADER.len()));
    for r in results {
        out += &format!("| {} |\n", r.row().join(" | "));
    }
    out
}

/// Per-operation figures of a crash campaign.
pub fn print_crash_details(result: &CampaignResult) {
    if result.crash.is_empty() {
        return;
    }
    println!(
        "{:<20} {:>6} {:>7} {:>10}  residue after recovery (states)",
        "operation", "writes", "states", "violations"
    );
    for d in &result.crash {
        println!(
            "{:<20} {:>6} {:>7} {:>10}  {}",
            d.operation,
            d.writes,
            d.states,
            d.violations,
            d.residue_text()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loom failure's replay is a shell command that runs from any
    /// directory: it names the workspace, the bound and the test.
    #[test]
    fn a_loom_replay_is_a_command_to_run_anywhere() {
        let shown = shell_form(&loom_command(2, Some("sweep_races")));
        let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        assert!(
            shown.starts_with(&format!("cd '{workspace}' && LOOM_MAX_PREEMPTIONS=2 ")),
            "{shown}"
        );
        assert!(
            shown.ends_with("--test loom sweep_races -- --exact --test-threads=1"),
            "{shown}"
        );
        // It parses as one shell command line.
        let status = std::process::Command::new("sh")
            .args(["-n", "-c", &shown])
            .status()
            .unwrap();
        assert!(status.success(), "{shown}");
    }

    fn timed(seconds: f64, cases: u32) -> Budgets {
        Budgets {
            cases,
            max_ops: 5,
            seconds: Some(seconds),
            ..Budgets::default()
        }
    }

    #[test]
    fn a_spent_time_budget_runs_one_unit_and_stops() {
        let run = |b: &Budgets| super::run(Campaign::Sequential, b, Shard::ALL, Stop::Budget, true);
        assert_eq!(run(&timed(0.0, u32::MAX)).units, 1, "no time: one case");
        // Control: with time to spare, the count given too is the cap.
        assert_eq!(run(&timed(3600.0, 2)).units, 2);
    }

    #[test]
    fn only_open_ended_campaigns_take_a_time_budget() {
        let open: Vec<Campaign> = [
            Campaign::Sequential,
            Campaign::Concurrent,
            Campaign::Crash,
            Campaign::Faults,
            Campaign::Loom,
            Campaign::Damage,
        ]
        .into_iter()
        .filter(|c| c.open_ended())
        .collect();
        assert_eq!(
            open,
            [Campaign::Sequential, Campaign::Concurrent, Campaign::Faults]
        );
    }
}
