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

use crate::budgets::Budgets;
use crate::concurrent::{Schedule, Token};
use crate::plan::{Shard, Stop};
use crate::verdict::{Campaign, Failure};

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
    let mut command = crate::loom::command(2, Some(test));
    command.env("STAMPEDE_LOOM_OPENERS", "2");
    let shown = crate::verdict::shell_form(&command);
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
    if let (None, Some(d)) = (row.caught_by, defect) {
        catch_by_held_round(&mut row, d);
    }
    if let (None, Some(d), true) = (row.caught_by, defect, with_loom) {
        catch_by_loom(&mut row, d);
    }
    plant(None);
    std::env::remove_var(DEFECT_ENV);
    row.seconds = start.elapsed().as_secs_f64();
    row
}

/// A defect the campaigns missed, tried on its held round (findings
/// planted back, and the apply's and the create's windows) with up to 30
/// interleavings under each schedule, so the engine, not only loom's model
/// of the protocol, is shown to catch it. The scheduled ones first (their
/// tokens replay exactly), `preempt` (made for such windows) before all.
fn catch_by_held_round(row: &mut Row, d: Defect) {
    let targeted =
        (TARGETED_SCHEDULES.into_iter()).find_map(|schedule| targeted_catch(schedule, d, 30));
    if let Some((token, tries)) = targeted {
        row.caught_by = Some(Campaign::Concurrent);
        row.needed = format!(
            "held round {}, {tries} {} interleavings",
            token.held.expect("a targeted catch runs a held round"),
            token.schedule.name()
        );
        row.replay = format!(
            "{DEFECT_ENV}={} stampede-sensitivity replay {token}",
            d.number()
        );
    }
}

/// A defect no campaign caught: caught by loom's model of the protocol,
/// or (masked by design) proven masked there.
fn catch_by_loom(row: &mut Row, d: Defect) {
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
/// rounds it takes the concurrent campaign to catch it, per column.
pub const CONCURRENCY_DEFECTS: [Defect; 13] = [
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
    Defect::PublishWithoutClaim,
];

/// The defects also measured on the S3 lane: the sweep's and the lock's.
pub const S3_DEFECTS: [Defect; 7] = [
    Defect::SweepPlainDelete,
    Defect::NoEnumerationRetry,
    Defect::SweepForceDeleteNotFound,
    Defect::StampWriteNotIdempotent,
    Defect::LockWithoutRecheck,
    Defect::CreateWithoutRecheck,
    Defect::SweepWithoutClaim,
];

/// One column of the rounds-to-catch table: how the concurrent campaign
/// runs. Every column runs the campaign's default schedule mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Column {
    /// Swarm rounds, actors as tasks.
    Tasks,
    /// Swarm rounds, actors as `stampede actor` processes.
    Processes,
    /// Swarm histories of up to 3 ops per actor.
    Histories,
    /// The uniform mix (`--swarm off`), actors as tasks.
    Uniform,
    /// Swarm rounds, tasks, every graph on a local SeaweedFS server (the
    /// process's place must be S3 already).
    S3,
}

impl Column {
    /// Every column a local run measures (S3 is measured by its own run).
    pub const LOCAL: [Column; 4] = [
        Column::Tasks,
        Column::Processes,
        Column::Histories,
        Column::Uniform,
    ];

    pub fn name(self) -> String {
        use clap::ValueEnum as _;
        self.to_possible_value()
            .expect("every column has a name")
            .get_name()
            .to_string()
    }

    /// The campaign's budgets for this column, named by root seed `seed`.
    pub fn budgets(self, seed: u64, actors: usize) -> Budgets {
        Budgets {
            seed,
            actors,
            processes: self == Column::Processes,
            history: if self == Column::Histories { 3 } else { 0 },
            uniform: self == Column::Uniform,
            schedule: Schedule::Mix,
            ..Budgets::default()
        }
    }
}

/// The order a targeted catch tries schedules in: `preempt` (made for a
/// window) first, the scheduled ones next (their tokens replay exactly),
/// real timing last.
const TARGETED_SCHEDULES: [Schedule; 6] = [
    Schedule::Preempt,
    Schedule::Pct { depth: 3 },
    Schedule::Pct { depth: 2 },
    Schedule::Pct { depth: 4 },
    Schedule::Random,
    Schedule::Wild,
];

/// The schedules the default mix cycles through (each round names its own).
pub const SCHEDULES: [Schedule; Schedule::MIX.len()] = Schedule::MIX;

/// Rounds (1-based) until the concurrent campaign of root seed `seed`, as
/// `column` runs it, first fails (with whatever defect is planted), or
/// `None` within `cap`.
pub fn rounds_to_catch(column: Column, seed: u64, cap: u32, actors: usize) -> Option<u32> {
    let budgets = Budgets {
        rounds: cap,
        ..column.budgets(seed, actors)
    };
    let result = crate::plan::run(
        Campaign::Concurrent,
        &budgets,
        Shard::ALL,
        Stop::FirstFailure,
        true,
    );
    result.failures.first().map(|f| f.unit + 1)
}

/// One defect (or, `None`, the clean engine: the control) in one column
/// over many root seeds.
#[derive(Clone, Debug)]
pub struct CatchRate {
    pub defect: Option<Defect>,
    pub column: Column,
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

    /// How many seeds caught it.
    pub fn caught(&self) -> usize {
        self.rounds.iter().flatten().count()
    }
}

/// Measure `defects` (and the clean engine) in `columns`, over root seeds
/// `1..=seeds`, each capped at `cap` rounds. The seeds run one after
/// another (a round uses both cores already).
pub fn catch_rates(
    defects: &[Defect],
    columns: &[Column],
    seeds: u64,
    cap: u32,
    actors: usize,
) -> Vec<CatchRate> {
    let mut out = Vec::new();
    let planted = std::iter::once(None).chain(defects.iter().copied().map(Some));
    for defect in planted {
        plant(defect);
        match defect {
            Some(d) => std::env::set_var(DEFECT_ENV, d.number().to_string()),
            None => std::env::remove_var(DEFECT_ENV),
        }
        for &column in columns {
            let rounds = (1..=seeds)
                .map(|seed| rounds_to_catch(column, seed, cap, actors))
                .collect();
            eprintln!(
                "{}: {} measured",
                defect.map_or("clean engine", Defect::name),
                column.name()
            );
            out.push(CatchRate {
                defect,
                column,
                rounds,
            });
        }
    }
    plant(None);
    std::env::remove_var(DEFECT_ENV);
    out
}

/// The rounds-to-catch table: one row per defect (the clean engine first,
/// the control), one column per way the campaign runs (a Markdown table,
/// for the console, the table file and docs/verification.md).
pub fn catch_rate_table(rates: &[CatchRate], seeds: u64, cap: u32, actors: usize) -> String {
    use std::fmt::Write as _;
    let columns: Vec<Column> = {
        let mut seen = Vec::new();
        for rate in rates {
            if !seen.contains(&rate.column) {
                seen.push(rate.column);
            }
        }
        seen
    };
    let mut out = format!(
        "Rounds to the first catch by the concurrent campaign ({actors} actors, the default schedule mix: {}, round by round): median / max over {seeds} root seeds (caught / seeds), at most {cap} rounds each. `tasks`, `processes` and `histories` draw rounds in swarm configurations; `uniform` draws them from the whole alphabet (`--swarm off`); `s3` is `tasks` with every graph on a local SeaweedFS. The first row is the control: the clean engine, caught by nothing.\n\n",
        SCHEDULES.map(|s| s.name()).join(", ")
    );
    let _ = write!(out, "| # | defect |");
    for column in &columns {
        let _ = write!(out, " {} |", column.name());
    }
    let _ = writeln!(out, "\n|---|---|{}", "---|".repeat(columns.len()));
    let rows = std::iter::once(None).chain(CONCURRENCY_DEFECTS.map(Some));
    for defect in rows {
        let _ = match defect {
            Some(d) => write!(out, "| {} | {} |", d.number(), d.name()),
            None => write!(out, "| – | (clean engine) |"),
        };
        for column in &columns {
            let cell = rates
                .iter()
                .find(|r| r.defect == defect && r.column == *column)
                .map_or_else(|| "–".to_string(), |r| r.cell(cap));
            let _ = write!(out, " {cell} |");
        }
        let _ = writeln!(out);
    }
    out
}

/// The held rounds (`concurrent::held`) where a defect's finding was met,
/// or of the shape its window needs: the defects these name are tried
/// there too.
pub fn finding_rounds(defect: Defect) -> &'static [&'static str] {
    match defect {
        Defect::LockWithoutRecheck => &["apply-beside-create"],
        Defect::CreateWithoutRecheck => &["apply-beside-create", "finding-15"],
        Defect::RebasedWriteKept => &["finding-14", "finding-14b"],
        Defect::ExistsBeforeSettled => &["finding-15"],
        Defect::SweepWithoutClaim => &["finding-39"],
        Defect::CreateWithoutClaim => &["delete-recreate"],
        Defect::PublishWithoutClaim => &["finding-51"],
        Defect::CheckWithoutReread => &["check-beside-delete"],
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
