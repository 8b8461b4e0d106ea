//! `stampede verify`: a plan of campaigns, each a list of units (sequential
//! and fault cases, concurrent rounds, crash scenarios, the loom suite) run
//! by one loop under a stop rule, sharded across processes with `--jobs`,
//! reported as one table and as JSON derived from the types below.

use std::io::IsTerminal;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::budgets::Budgets;
use crate::tally::CampaignResult;
use crate::verdict::Campaign;

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

/// A campaign as the plan sees it: how many units its budget holds, and
/// one unit run. Every campaign module has both (and, but for loom, whose
/// replay is the command it prints, `replay`); adding a campaign adds its
/// module and one row here.
struct Units {
    count: fn(&Budgets) -> u32,
    run: fn(&Budgets, u32) -> CampaignResult,
}

fn units(campaign: Campaign) -> Units {
    use crate::{concurrent, crash, damage, faults, loom, sequential};
    type Pair = (fn(&Budgets) -> u32, fn(&Budgets, u32) -> CampaignResult);
    let (count, run): Pair = match campaign {
        Campaign::Sequential => (sequential::units, sequential::run_unit),
        Campaign::Faults => (faults::units, faults::run_unit),
        Campaign::Concurrent => (concurrent::units, concurrent::run_unit),
        Campaign::Crash => (crash::units, crash::run_unit),
        Campaign::Loom => (loom::units, loom::run_unit),
        Campaign::Damage => (damage::units, damage::run_unit),
    };
    Units { count, run }
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
    let units = units(campaign);
    let total = (units.count)(budgets);
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
        let mut unit = (units.run)(budgets, index);
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

#[cfg(test)]
mod tests {
    use super::*;

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
