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
        Defect::NoRecheckBeforePublish => "defective_no_recheck_before_publish_is_caught",
        Defect::CreateWithoutRecheck => "defective_create_without_recheck_is_caught",
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
    if let (None, Some(d), true) = (row.caught_by, defect, with_loom) {
        if let Some(command) = loom(d) {
            row.caught_by = Some(Campaign::Loom);
            row.needed = "exhaustive (bound 2)".into();
            row.replay = command;
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
