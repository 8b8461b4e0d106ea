//! Sensitivity: plant each historical defect and run the campaigns, in a
//! fixed order and under fixed budgets, until one catches it. The clean
//! engine runs the same budgets and must be caught by nothing.
//!
//! Campaign order: sequential, crash, faults, concurrent, then loom for
//! the defects of the Lance-free protocols (run as its own `cargo test`,
//! since loom builds only the protocol crate).

use std::time::Instant;

use stampede_engine::defects::{plant, Defect, DEFECT_ENV};

use crate::sequential::case_seed;

#[derive(Clone, Copy, Debug)]
pub struct Budgets {
    pub seed: u64,
    pub sequential_cases: u32,
    pub max_ops: usize,
    pub fault_cases: u32,
    pub concurrent_rounds: u32,
    pub actors: usize,
    /// Run loom (a `cargo test` of the protocol crate) for protocol defects.
    pub loom: bool,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            seed: 1,
            sequential_cases: 200,
            max_ops: 30,
            fault_cases: 100,
            concurrent_rounds: 150,
            actors: 4,
            loom: true,
        }
    }
}

/// What the campaigns did with one planted defect (or the clean engine).
#[derive(Clone, Debug)]
pub struct Row {
    pub defect: Option<Defect>,
    pub caught_by: Option<&'static str>,
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

/// A campaign's verdict: caught after `needed`, with a replay token.
type Verdict = Option<(String, String)>;

pub fn sequential(budgets: &Budgets) -> (Verdict, u32) {
    for index in 0..budgets.sequential_cases {
        if let Err(failure) =
            crate::sequential::run_case(case_seed(budgets.seed, index), budgets.max_ops)
        {
            return (
                Some((format!("{} cases", index + 1), failure.replay)),
                index + 1,
            );
        }
    }
    (None, budgets.sequential_cases)
}

pub fn crash() -> (Verdict, u64) {
    // Second deaths multiply the states tenfold; no defect needs them to
    // show (the crash tests and `make verify` run them).
    let budget = crate::crash::Budget {
        second_death_stride: None,
    };
    let mut states = 0;
    for scenario in crate::crash::scenarios() {
        let report = crate::crash::run_scenario(&scenario, budget, |_| {});
        states += report.states;
        if let Some(v) = report.violations.first() {
            return (Some((format!("{states} states"), v.token.clone())), states);
        }
    }
    (None, states)
}

pub fn faults(budgets: &Budgets) -> (Verdict, u32) {
    let budget = crate::faults::Budget::new(budgets.seed, budgets.fault_cases, budgets.max_ops);
    for index in 0..budgets.fault_cases {
        let seed = case_seed(budgets.seed, index);
        if crate::faults::run_case(seed, budgets.max_ops, &budget, |_| {}).is_err() {
            return (
                Some((
                    format!("{} cases", index + 1),
                    crate::faults::replay_token(seed, budgets.max_ops),
                )),
                index + 1,
            );
        }
    }
    (None, budgets.fault_cases)
}

pub fn concurrent(budgets: &Budgets) -> (Verdict, u32) {
    use crate::concurrent::{execute, generate, judge, replay_token};
    for index in 0..budgets.concurrent_rounds {
        let round = generate(budgets.seed, index, budgets.actors);
        let (seen, view) = execute(&round);
        if judge(&round, &seen, &view).is_err() {
            return (
                Some((
                    format!("{} rounds", index + 1),
                    replay_token(budgets.seed, index, budgets.actors),
                )),
                index + 1,
            );
        }
    }
    (None, budgets.concurrent_rounds)
}

/// Run the defect's loom test in release (`cargo` from `$CARGO`).
pub fn loom(defect: Defect) -> Verdict {
    let test = loom_test(defect)?;
    let status = crate::plan::loom_command(2, Some(test))
        .env("STAMPEDE_LOOM_OPENERS", "2")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    status.success().then(|| {
        (
            "exhaustive (bound 2)".to_string(),
            format!("cargo test -p stampede-protocol --features loom,defects --release --test loom {test}"),
        )
    })
}

/// Plant `defect` (or none) and run the campaigns until one catches it.
pub fn row(defect: Option<Defect>, budgets: &Budgets) -> Row {
    let start = Instant::now();
    plant(defect);
    // Processes a campaign spawns plant the same defect.
    match defect {
        Some(d) => std::env::set_var(DEFECT_ENV, d.number().to_string()),
        None => std::env::remove_var(DEFECT_ENV),
    }
    let mut ran = Vec::new();
    let mut caught = None;
    let (verdict, cases) = sequential(budgets);
    ran.push(format!("{cases} sequential cases"));
    if let Some(v) = verdict {
        caught = Some(("sequential", v));
    }
    if caught.is_none() {
        let (verdict, states) = crash();
        ran.push(format!("{states} crash states"));
        caught = verdict.map(|v| ("crash", v));
    }
    if caught.is_none() {
        let (verdict, cases) = faults(budgets);
        ran.push(format!("{cases} fault cases"));
        caught = verdict.map(|v| ("faults", v));
    }
    if caught.is_none() {
        let (verdict, rounds) = concurrent(budgets);
        ran.push(format!("{rounds} concurrent rounds"));
        caught = verdict.map(|v| ("concurrent", v));
    }
    if caught.is_none() && budgets.loom {
        if let Some(d) = defect {
            caught = loom(d).map(|v| ("loom", v));
        }
    }
    plant(None);
    std::env::remove_var(DEFECT_ENV);
    let seconds = start.elapsed().as_secs_f64();
    match caught {
        Some((campaign, (needed, token))) => Row {
            defect,
            caught_by: Some(campaign),
            needed,
            replay: match (campaign, defect) {
                ("loom", _) => token,
                (_, Some(d)) => format!(
                    "{DEFECT_ENV}={} stampede-sensitivity replay {token}",
                    d.number()
                ),
                (_, None) => format!("stampede replay {token}"),
            },
            seconds,
        },
        None => Row {
            defect,
            caught_by: None,
            needed: ran.join(", "),
            replay: String::new(),
            seconds,
        },
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
            row.caught_by.unwrap_or("NOTHING"),
            row.needed,
            row.seconds,
            row.replay
        );
    }
}
