//! Sensitivity: plant each historical defect and run the campaigns, in a
//! fixed order and under fixed budgets, until one catches it. The clean
//! engine runs the same budgets and must be caught by nothing.
//!
//! Campaign order: sequential, crash, faults, concurrent (each through the
//! plan's one loop, stopping at its first failure), then loom for the
//! defects of the Lance-free protocols (its own `cargo test`, since loom
//! builds only the protocol crate).

use std::time::Instant;

use stampede_engine::defects::{plant, Defect, DEFECT_ENV};

use crate::concurrent::{Schedule, Token};
use crate::plan::{Budgets, Campaign, Failure, Shard, Stop};

/// The campaigns a defect meets, in order.
const ORDER: [Campaign; 4] = [
    Campaign::Sequential,
    Campaign::Crash,
    Campaign::Faults,
    Campaign::Concurrent,
];

/// The sensitivity budgets: the plan's, with no second deaths (no defect
/// needs them to show; the crash tests and `make verify` run them).
pub fn budgets(seed: u64, cases: u32, fault_cases: u32, rounds: u32) -> Budgets {
    Budgets {
        seed,
        cases,
        rounds,
        fault_cases,
        second_death_stride: 0,
        loom_bound: 2,
        ..Budgets::default()
    }
}

/// What the campaigns did with one planted defect (or the clean engine).
#[derive(Clone, Debug)]
pub struct Row {
    pub defect: Option<Defect>,
    pub caught_by: Option<Campaign>,
    /// Cases, states or rounds run until the catch (or in all).
    pub needed: String,
    pub replay: String,
    pub seconds: f64,
}

/// The loom test that shows loom catches `defect`, if it has one.
pub fn loom_test(defect: Defect) -> Option<&'static str> {
    Some(match defect {
        Defect::SweepPlainDelete => "defective_sweep_plain_delete_is_caught",
        Defect::NoEnumerationRetry => "defective_enumeration_without_retry_is_caught",
        Defect::SweepForceDeleteNotFound => {
            "defective_sweep_force_delete_not_absorbing_not_found_is_caught"
        }
        Defect::StampWriteNotIdempotent => "defective_stamp_write_without_reread_is_caught",
        Defect::LockWithoutRecheck => "defective_lock_without_recheck_is_caught",
        Defect::NoRecheckBeforePublish => "defect_11_alone_is_masked",
        Defect::CreateWithoutRecheck => "defective_create_without_recheck_is_caught",
        Defect::ExistsBeforeSettled => "defective_exists_before_settled_is_caught",
        Defect::SweepWithoutClaim => "defective_sweep_without_claim_is_caught",
        Defect::CreateWithoutClaim => "defective_create_without_claim_is_caught",
        Defect::HolderIgnoresLapse => "defective_holder_ignoring_its_lapse_is_caught",
        _ => return None,
    })
}

/// Run the defect's loom test in release (`cargo` from `$CARGO`); the
/// command that shows the catch, if it caught it.
pub fn loom(defect: Defect) -> Option<String> {
    let test = loom_test(defect)?;
    let mut command = crate::plan::loom_command(2, Some(test));
    command.env("STAMPEDE_LOOM_OPENERS", "2");
    let shown = crate::plan::shell_form(&command);
    let status = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then_some(shown)
}

/// Plant `defect` (or none) and run the campaigns until one catches it.
pub fn row(defect: Option<Defect>, budgets: &Budgets, with_loom: bool) -> Row {
    let start = Instant::now();
    plant(defect);
    // Processes a campaign spawns plant the same defect.
    match defect {
        Some(d) => std::env::set_var(DEFECT_ENV, d.number().to_string()),
        None => std::env::remove_var(DEFECT_ENV),
    }
    let mut ran = Vec::new();
    let mut caught: Option<(Campaign, String, Failure)> = None;
    for campaign in ORDER {
        let result = crate::plan::run(campaign, budgets, Shard::ALL, Stop::FirstFailure, true);
        let needed = format!("{} {}", result.units, campaign.unit());
        if let Some(failure) = result.failures.into_iter().next() {
            caught = Some((campaign, needed, failure));
            break;
        }
        ran.push(format!("{needed} {}", campaign.name()));
    }
    let mut row = match caught {
        Some((campaign, needed, failure)) => Row {
            defect,
            caught_by: Some(campaign),
            needed,
            replay: match defect {
                Some(d) => format!(
                    "{DEFECT_ENV}={} stampede-sensitivity replay {}",
                    d.number(),
                    failure.replay
                ),
                None => format!("stampede replay {}", failure.replay),
            },
            seconds: 0.0,
        },
        None => Row {
            defect,
            caught_by: None,
            needed: ran.join(", "),
            replay: String::new(),
            seconds: 0.0,
        },
    };
    // Findings planted back (14, 15, 39's sweep and create): also their
    // own held rounds, under every schedule, with up to 30 interleavings
    // each.
    if let (None, Some(d)) = (row.caught_by, defect) {
        let targeted = SCHEDULES
            .into_iter()
            .find_map(|schedule| targeted_catch(schedule, d, 30));
        if let Some((token, tries)) = targeted {
            row.caught_by = Some(Campaign::Concurrent);
            row.needed = format!(
                "its finding's round, {tries} {} interleavings",
                token.schedule.name()
            );
            row.replay = format!(
                "{DEFECT_ENV}={} stampede-sensitivity replay {token}",
                d.number()
            );
        }
    }
    if let (None, Some(d), true) = (row.caught_by, defect, with_loom) {
        match (loom(d), d.masked_by()) {
            // The loom test of a masked defect passes when loom finds no
            // failing execution with it planted: the masking, proven.
            (Some(command), Some(why)) => {
                row.needed = format!("masked (loom, bound 2, finds nothing): {why}");
                row.replay = command;
            }
            (Some(command), None) => {
                row.caught_by = Some(Campaign::Loom);
                row.needed = "exhaustive (bound 2)".into();
                row.replay = command;
            }
            (None, _) => {}
        }
    }
    plant(None);
    std::env::remove_var(DEFECT_ENV);
    row.seconds = start.elapsed().as_secs_f64();
    row
}

pub fn print_table(rows: &[Row]) {
    println!(
        "{:<4} {:<28} {:<11} {:<22} {:>7}  replay",
        "#", "defect", "caught by", "needed", "time"
    );
    for row in rows {
        let (number, name) = match row.defect {
            Some(d) => (d.number().to_string(), d.name()),
            None => ("-".to_string(), "(clean engine)"),
        };
        println!(
            "{:<4} {:<28} {:<11} {:<22} {:>6.1}s  {}",
            number,
            name,
            row.caught_by.map_or("NOTHING", Campaign::name),
            row.needed,
            row.seconds,
            row.replay
        );
    }
}

/// The defects a concurrent round can show: each is measured for the
/// rounds it takes the concurrent campaign to catch it, per schedule.
pub const CONCURRENCY_DEFECTS: [Defect; 12] = [
    Defect::SweepPlainDelete,
    Defect::NoEnumerationRetry,
    Defect::SweepForceDeleteNotFound,
    Defect::StampWriteNotIdempotent,
    Defect::LockWithoutRecheck,
    Defect::CreateWithoutRecheck,
    Defect::SpuriousConflict,
    Defect::RebasedWriteKept,
    Defect::ExistsBeforeSettled,
    Defect::SweepWithoutClaim,
    Defect::CreateWithoutClaim,
    Defect::CheckWithoutReread,
];

/// The schedules compared.
pub const SCHEDULES: [Schedule; 3] = [Schedule::Wild, Schedule::Random, Schedule::Pct { depth: 3 }];

/// Rounds (1-based) until the concurrent campaign of root seed `seed`
/// first fails (with whatever defect is planted), or `None` within `cap`.
pub fn rounds_to_catch(schedule: Schedule, seed: u64, cap: u32, actors: usize) -> Option<u32> {
    use crate::concurrent::{execute_scheduled, execute_with, generate, injector_seed, judge};
    let caught = (0..cap).find(|&index| {
        let round = generate(seed, index, actors);
        let injector = injector_seed(seed, index);
        let (seen, view) = if schedule.is_scheduled() {
            let s = execute_scheduled(&round, schedule, injector);
            (s.seen, s.view)
        } else {
            execute_with(&round, crate::concurrent::Actors::Tasks, injector)
        };
        judge(&round, &seen, &view).is_err()
    });
    caught.map(|index| index + 1)
}

/// One defect under one schedule over many root seeds.
#[derive(Clone, Debug)]
pub struct CatchRate {
    pub defect: Defect,
    pub schedule: Schedule,
    /// Per root seed: rounds to the first catch (`None`: not within the cap).
    pub rounds: Vec<Option<u32>>,
}

impl CatchRate {
    /// "median / max (caught/seeds)", over the seeds that caught it; the
    /// median of the seeds that did not counts them at the cap.
    pub fn cell(&self, cap: u32) -> String {
        let caught = self.rounds.iter().flatten().count();
        if caught == 0 {
            return format!("> {cap} (0/{})", self.rounds.len());
        }
        let mut all: Vec<u32> = self.rounds.iter().map(|r| r.unwrap_or(cap + 1)).collect();
        all.sort_unstable();
        let median = all[all.len() / 2];
        let max = self.rounds.iter().flatten().max().copied().unwrap_or(0);
        let median = if median > cap {
            format!("> {cap}")
        } else {
            median.to_string()
        };
        format!("{median} / {max} ({caught}/{})", self.rounds.len())
    }
}

/// Measure every concurrency defect under every schedule, over root seeds
/// `1..=seeds`, each capped at `cap` rounds; the seeds run on two threads
/// (the defect is planted process-wide, for both).
pub fn catch_rates(seeds: u64, cap: u32, actors: usize) -> Vec<CatchRate> {
    let mut out = Vec::new();
    for defect in CONCURRENCY_DEFECTS {
        plant(Some(defect));
        for schedule in SCHEDULES {
            let measure = |parity: u64| -> Vec<(u64, Option<u32>)> {
                (1..=seeds)
                    .filter(|seed| seed % 2 == parity)
                    .map(|seed| (seed, rounds_to_catch(schedule, seed, cap, actors)))
                    .collect()
            };
            let mut by_seed = std::thread::scope(|scope| {
                let odd = scope.spawn(|| measure(1));
                let mut both = measure(0);
                both.extend(odd.join().expect("a measuring thread"));
                both
            });
            by_seed.sort_unstable();
            let rounds = by_seed.into_iter().map(|(_, r)| r).collect();
            eprintln!("{}: {} measured", defect.name(), schedule.name());
            out.push(CatchRate {
                defect,
                schedule,
                rounds,
            });
        }
        plant(None);
    }
    out
}

/// The rounds-to-catch table: one row per defect, one column per schedule
/// (a Markdown table, for the console, the table file and the README).
pub fn catch_rate_table(rates: &[CatchRate], seeds: u64, cap: u32, actors: usize) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "Rounds to the first catch by the concurrent campaign ({actors} task actors): median / max over {seeds} root seeds (caught / seeds), at most {cap} rounds each; `wild` is real timing plus seeded delays, `random` and `pct3` take one storage call at a time.\n\n"
    );
    let _ = write!(out, "| # | defect |");
    for schedule in SCHEDULES {
        let _ = write!(out, " {} |", schedule.name());
    }
    let _ = writeln!(out, "\n|---|---|{}", "---|".repeat(SCHEDULES.len()));
    for defect in CONCURRENCY_DEFECTS {
        let _ = write!(out, "| {} | {} |", defect.number(), defect.name());
        for schedule in SCHEDULES {
            let cell = rates
                .iter()
                .find(|r| r.defect == defect && r.schedule == schedule)
                .map_or_else(|| "-".to_string(), |r| r.cell(cap));
            let _ = write!(out, " {cell} |");
        }
        let _ = writeln!(out);
    }
    out
}

/// The held rounds (`concurrent::held`) where a defect's finding was met:
/// the defects that plant findings back are tried there too.
pub fn finding_rounds(defect: Defect) -> &'static [&'static str] {
    match defect {
        Defect::RebasedWriteKept => &["finding-14", "finding-14b"],
        Defect::ExistsBeforeSettled => &["finding-15"],
        Defect::SweepWithoutClaim => &["finding-39"],
        Defect::CreateWithoutClaim => &["delete-recreate"],
        _ => &[],
    }
}

/// Try `defect`'s finding rounds under `schedule`, with interleaving seeds
/// `0..tries`; the token of the first failing run.
pub fn targeted_catch(schedule: Schedule, defect: Defect, tries: u64) -> Option<(Token, u64)> {
    use crate::concurrent::{judge, run_round};
    for &name in finding_rounds(defect) {
        for interleaving in 0..tries {
            let token = Token::of_held(name, schedule, interleaving)?;
            let round = token.round();
            let (seen, view, _) = run_round(&token, &round);
            if judge(&round, &seen, &view).is_err() {
                return Some((token, interleaving + 1));
            }
        }
    }
    None
}
