//! `stampede verify`: a plan of campaigns, each under a budget, sharded
//! across processes with `--jobs`, reported as one table (and as JSON).

use std::io::IsTerminal;
use std::time::Instant;

use serde_json::{json, Value};

use crate::sequential::case_seed;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Campaign {
    /// Random op sequences, engine vs model, op by op.
    Sequential,
    /// Rounds of concurrent actors, judged against serial orders.
    Concurrent,
    /// Every writing op killed at each of its durable writes.
    Crash,
    /// The sequential alphabet under a seeded storage fault plan.
    Faults,
    /// The control-plane protocols under loom (a `cargo test` of the
    /// protocol crate; needs the source tree and cargo).
    Loom,
}

impl Campaign {
    pub fn name(self) -> &'static str {
        match self {
            Campaign::Sequential => "sequential",
            Campaign::Concurrent => "concurrent",
            Campaign::Crash => "crash",
            Campaign::Faults => "faults",
            Campaign::Loom => "loom",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Campaign::Sequential | Campaign::Faults => "cases",
            Campaign::Concurrent => "rounds",
            Campaign::Crash => "states",
            Campaign::Loom => "models",
        }
    }

    pub fn from_name(name: &str) -> Option<Campaign> {
        [
            Campaign::Sequential,
            Campaign::Concurrent,
            Campaign::Crash,
            Campaign::Faults,
            Campaign::Loom,
        ]
        .into_iter()
        .find(|c| c.name() == name)
    }
}

#[derive(Clone, Debug)]
pub struct Budgets {
    pub seed: u64,
    pub cases: u32,
    pub max_ops: usize,
    pub rounds: u32,
    pub actors: usize,
    /// Concurrent actors as `stampede` processes instead of tasks.
    pub processes: bool,
    pub fault_cases: u32,
    /// Kill the recovering open at every n-th write (0: never).
    pub second_death_stride: u64,
    pub loom_bound: u32,
}

/// This process's share: unit `i` runs when `i % of == index`.
#[derive(Clone, Copy, Debug)]
pub struct Shard {
    pub index: u32,
    pub of: u32,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, of: 1 };

    fn owns(self, unit: u32) -> bool {
        unit % self.of == self.index
    }
}

#[derive(Clone, Debug, Default)]
pub struct Failure {
    pub replay: String,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct CampaignResult {
    pub campaign: Campaign,
    pub units: u64,
    pub ops: u64,
    pub failures: Vec<Failure>,
    pub seconds: f64,
    /// Per-part figures (the crash campaign: one per operation).
    pub details: Vec<Value>,
}

impl CampaignResult {
    fn new(campaign: Campaign) -> Self {
        CampaignResult {
            campaign,
            units: 0,
            ops: 0,
            failures: Vec::new(),
            seconds: 0.0,
            details: Vec::new(),
        }
    }

    pub fn ops_per_second(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "campaign": self.campaign.name(),
            "unit": self.campaign.unit(),
            "units": self.units,
            "ops": self.ops,
            "failures": self.failures.len(),
            "ops_per_second": self.ops_per_second(),
            "seconds": self.seconds,
            "details": self.details,
            "failed": self.failures.iter().map(|f| json!({
                "replay": f.replay, "message": f.message,
            })).collect::<Vec<_>>(),
        })
    }

    pub fn from_json(value: &Value) -> Option<CampaignResult> {
        Some(CampaignResult {
            campaign: Campaign::from_name(value["campaign"].as_str()?)?,
            units: value["units"].as_u64()?,
            ops: value["ops"].as_u64()?,
            seconds: value["seconds"].as_f64()?,
            details: value["details"].as_array().cloned().unwrap_or_default(),
            failures: value["failed"]
                .as_array()?
                .iter()
                .map(|f| Failure {
                    replay: f["replay"].as_str().unwrap_or_default().to_string(),
                    message: f["message"].as_str().unwrap_or_default().to_string(),
                })
                .collect(),
        })
    }
}

/// A progress line: redrawn in place on a terminal, a plain line every
/// tenth of the budget otherwise.
pub struct Progress {
    campaign: &'static str,
    total: u64,
    terminal: bool,
    quiet: bool,
    last_tenth: u64,
}

impl Progress {
    pub fn new(campaign: Campaign, total: u64, quiet: bool) -> Self {
        Progress {
            campaign: campaign.name(),
            total: total.max(1),
            terminal: std::io::stderr().is_terminal(),
            quiet,
            last_tenth: 0,
        }
    }

    pub fn tick(&mut self, done: u64, failures: usize) {
        if self.quiet {
            return;
        }
        if self.terminal {
            let width = 30;
            let filled = (done * width / self.total).min(width) as usize;
            eprint!(
                "\r{:<11} [{}{}] {done}/{} failures {failures}  ",
                self.campaign,
                "#".repeat(filled),
                " ".repeat(width as usize - filled),
                self.total
            );
            if done >= self.total {
                eprintln!();
            }
        } else {
            let tenth = done * 10 / self.total;
            if tenth > self.last_tenth {
                self.last_tenth = tenth;
                eprintln!(
                    "  {}: {done}/{} failures {failures}",
                    self.campaign, self.total
                );
            }
        }
    }
}

/// Run one campaign (this process's shard of it).
pub fn run(campaign: Campaign, budgets: &Budgets, shard: Shard, quiet: bool) -> CampaignResult {
    let start = Instant::now();
    let mut result = CampaignResult::new(campaign);
    match campaign {
        Campaign::Sequential => {
            let mut progress = Progress::new(campaign, u64::from(budgets.cases), quiet);
            let ops_before =
                crate::sequential::machine::ENGINE_OPS.load(std::sync::atomic::Ordering::Relaxed);
            for index in (0..budgets.cases).filter(|i| shard.owns(*i)) {
                let seed = case_seed(budgets.seed, index);
                if let Err(failure) = crate::sequential::run_case(seed, budgets.max_ops) {
                    result.failures.push(Failure {
                        replay: failure.replay.clone(),
                        message: failure.to_string(),
                    });
                }
                result.units += 1;
                progress.tick(u64::from(index + 1), result.failures.len());
            }
            result.ops = crate::sequential::machine::ENGINE_OPS
                .load(std::sync::atomic::Ordering::Relaxed)
                - ops_before;
        }
        Campaign::Faults => {
            let mut progress = Progress::new(campaign, u64::from(budgets.fault_cases), quiet);
            let budget =
                crate::faults::Budget::new(budgets.seed, budgets.fault_cases, budgets.max_ops);
            for index in (0..budgets.fault_cases).filter(|i| shard.owns(*i)) {
                let seed = case_seed(budgets.seed, index);
                match crate::faults::run_case(seed, budgets.max_ops, &budget, |_| {}) {
                    Ok(report) => result.ops += report.ops,
                    Err(message) => result.failures.push(Failure {
                        replay: crate::faults::replay_token(seed, budgets.max_ops),
                        message,
                    }),
                }
                result.units += 1;
                progress.tick(u64::from(index + 1), result.failures.len());
            }
        }
        Campaign::Concurrent => {
            use crate::concurrent::{execute_with, generate, judge, replay_token, Actors};
            let mut progress = Progress::new(campaign, u64::from(budgets.rounds), quiet);
            let actors = if budgets.processes {
                Actors::Processes
            } else {
                Actors::Tasks
            };
            for index in (0..budgets.rounds).filter(|i| shard.owns(*i)) {
                let round = generate(budgets.seed, index, budgets.actors);
                let (seen, view) = execute_with(&round, actors, budgets.seed ^ u64::from(index));
                if let Err(why) = judge(&round, &seen, &view) {
                    result.failures.push(Failure {
                        replay: replay_token(budgets.seed, index, budgets.actors),
                        message: why,
                    });
                }
                result.units += 1;
                result.ops += round.actors.len() as u64;
                progress.tick(u64::from(index + 1), result.failures.len());
            }
        }
        Campaign::Crash => {
            let scenarios = crate::crash::scenarios();
            let mut progress = Progress::new(campaign, scenarios.len() as u64, quiet);
            let budget = crate::crash::Budget {
                second_death_stride: (budgets.second_death_stride > 0)
                    .then_some(budgets.second_death_stride),
            };
            for (index, scenario) in scenarios.iter().enumerate() {
                if !shard.owns(index as u32) {
                    continue;
                }
                let report = crate::crash::run_scenario(scenario, budget, |_| {});
                result.details.push(json!({
                    "operation": report.name, "writes": report.writes,
                    "states": report.states, "violations": report.violations.len(),
                    "residue": report.residue, "seconds": report.seconds,
                }));
                result.units += report.states;
                result.ops += report.states;
                result
                    .failures
                    .extend(report.violations.iter().map(|v| Failure {
                        replay: v.token.clone(),
                        message: v.what.clone(),
                    }));
                progress.tick(index as u64 + 1, result.failures.len());
            }
        }
        Campaign::Loom => {
            if shard.index == 0 {
                let (units, failure) = crate::plan::loom(budgets.loom_bound);
                result.units = units;
                result.failures.extend(failure);
            }
        }
    }
    result.seconds = start.elapsed().as_secs_f64();
    result
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

/// The loom suite (it builds only the protocol crate). Returns the models
/// run and a failure, if any.
pub fn loom(bound: u32) -> (u64, Option<Failure>) {
    let mut loom = loom_command(bound, None);
    let args: Vec<_> = loom.get_args().map(|a| a.to_string_lossy()).collect();
    let command = format!("LOOM_MAX_PREEMPTIONS={bound} cargo {}", args.join(" "));
    let output = loom.output();
    let output = match output {
        Ok(o) => o,
        Err(e) => {
            return (
                0,
                Some(Failure {
                    replay: command,
                    message: format!("could not run cargo for loom: {e}"),
                }),
            )
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let passed = stdout
        .lines()
        .filter(|l| l.starts_with("test ") && l.ends_with(" ok"))
        .count() as u64;
    if output.status.success() {
        (passed, None)
    } else {
        (
            passed,
            Some(Failure {
                replay: command,
                message: format!(
                    "{stdout}\n{}",
                    String::from_utf8_lossy(&output.stderr)
                        .lines()
                        .rev()
                        .take(40)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }),
        )
    }
}

/// Merge the shards of one campaign, run by separate processes.
pub fn merge(parts: Vec<CampaignResult>, seconds: f64) -> Option<CampaignResult> {
    let mut parts = parts.into_iter();
    let mut merged = parts.next()?;
    for part in parts {
        merged.units += part.units;
        merged.ops += part.ops;
        merged.failures.extend(part.failures);
        merged.details.extend(part.details);
    }
    merged.seconds = seconds;
    Some(merged)
}

pub fn print_table(results: &[CampaignResult]) {
    println!(
        "{:<11} {:>9} {:<7} {:>8} {:>9} {:>8} {:>8}",
        "campaign", "count", "unit", "ops", "failures", "ops/s", "time"
    );
    for r in results {
        println!(
            "{:<11} {:>9} {:<7} {:>8} {:>9} {:>8.0} {:>7.1}s",
            r.campaign.name(),
            r.units,
            r.campaign.unit(),
            r.ops,
            r.failures.len(),
            r.ops_per_second(),
            r.seconds
        );
    }
}

/// Per-operation figures of a crash campaign.
pub fn print_crash_details(result: &CampaignResult) {
    if result.details.is_empty() {
        return;
    }
    println!(
        "{:<20} {:>6} {:>7} {:>10}  residue after recovery (states)",
        "operation", "writes", "states", "violations"
    );
    for d in &result.details {
        println!(
            "{:<20} {:>6} {:>7} {:>10}  {}",
            d["operation"].as_str().unwrap_or_default(),
            d["writes"],
            d["states"],
            d["violations"],
            d["residue"]
        );
    }
}

pub fn report_json(budgets: &Budgets, jobs: u32, results: &[CampaignResult]) -> Value {
    json!({
        "harness_version": env!("CARGO_PKG_VERSION"),
        "seed": budgets.seed,
        "jobs": jobs,
        "budgets": {
            "sequential_cases": budgets.cases,
            "max_ops": budgets.max_ops,
            "concurrent_rounds": budgets.rounds,
            "actors": budgets.actors,
            "processes": budgets.processes,
            "fault_cases": budgets.fault_cases,
            "second_death_stride": budgets.second_death_stride,
            "loom_bound": budgets.loom_bound,
        },
        "results": results.iter().map(CampaignResult::to_json).collect::<Vec<_>>(),
        "passed": results.iter().all(|r| r.failures.is_empty()),
    })
}
