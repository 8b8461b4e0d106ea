//! `make profile-study`'s tables (`scripts/profile-study.sh` builds and
//! runs each candidate profile). Per candidate: its cold builds (the
//! `stampede` a fresh `make verify` builds first, and with it the wait for
//! the plan's first row; `make test`'s whole build), its relink, and the
//! campaign rates of its `stampede verify --json` report, each against the
//! baseline candidate's. Written into the `profile-study` block of each
//! document given, and the crates the campaigns run hot into `hot-crates`.

use std::path::PathBuf;

use clap::Parser;
use serde::Deserialize;
use stampede_harness::report::Report;
use stampede_harness::verdict::Campaign;

#[derive(Parser)]
struct Args {
    /// A candidate's measurements (JSON, see `Candidate`), in table order.
    #[arg(long = "candidate", required = true)]
    candidates: Vec<PathBuf>,
    /// The slug of the candidate the rates are compared with.
    #[arg(long)]
    baseline: String,
    /// scripts/hot_crates.py's table, for the `hot-crates` block...
    #[arg(long, requires = "hot_crates_doc")]
    hot_crates: Option<PathBuf>,
    /// ...of these documents.
    #[arg(long)]
    hot_crates_doc: Vec<PathBuf>,
    /// What the runs were (printed above the table).
    #[arg(long)]
    caption: String,
    #[arg(long = "doc")]
    docs: Vec<PathBuf>,
}

/// What scripts/profile-study.sh measured of one candidate profile.
#[derive(Deserialize)]
struct Candidate {
    name: String,
    slug: String,
    /// The cold build of `stampede` alone.
    stampede_seconds: u64,
    /// From starting the plan to its first campaign row.
    first_row_seconds: u64,
    /// The rest of `cargo test --workspace --no-run`, after `stampede`.
    tests_seconds: u64,
    /// Rebuilding `stampede` after one of its source files changed.
    link_seconds: u64,
    /// The campaigns' report at the study's budgets, on one job.
    report: PathBuf,
}

/// The campaigns the table rates, with the unit each counts.
const RATED: [(Campaign, &str); 4] = [
    (Campaign::Sequential, "ops"),
    (Campaign::Concurrent, "rounds"),
    (Campaign::Crash, "states"),
    (Campaign::Faults, "ops"),
];

fn load(path: &PathBuf) -> Result<(Candidate, Report), String> {
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let candidate: Candidate =
        serde_json::from_str(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))?;
    let report = serde_json::from_str(&read(&candidate.report)?)
        .map_err(|e| format!("{}: {e}", candidate.report.display()))?;
    Ok((candidate, report))
}

/// A campaign's rate in `report`: units for the concurrent and crash
/// campaigns, ops for the others.
fn rate(report: &Report, campaign: Campaign) -> Option<f64> {
    let r = report.results.iter().find(|r| r.campaign == campaign)?;
    let count = match campaign {
        Campaign::Concurrent | Campaign::Crash => r.units,
        _ => r.ops,
    };
    Some(count as f64 / r.seconds.max(1e-9))
}

fn minutes(seconds: u64) -> String {
    format!("{} min {} s", seconds / 60, seconds % 60)
}

fn table(args: &Args) -> Result<String, String> {
    let loaded = args
        .candidates
        .iter()
        .map(load)
        .collect::<Result<Vec<_>, _>>()?;
    let baseline = loaded
        .iter()
        .find(|(c, _)| c.slug == args.baseline)
        .map(|(_, report)| report)
        .ok_or_else(|| format!("--baseline {}: no candidate has that slug", args.baseline))?;
    let rows = loaded.iter().map(|(c, report)| {
        let rates = RATED.map(|(campaign, unit)| {
            match (rate(report, campaign), rate(baseline, campaign)) {
                (Some(here), Some(base)) => format!("{here:.1} {unit}/s ({:.2}×)", here / base),
                (Some(here), None) => format!("{here:.1} {unit}/s"),
                _ => "–".to_string(),
            }
        });
        format!(
            "| {} | {} | {} | {} | {} s | {} |",
            c.name,
            minutes(c.stampede_seconds),
            minutes(c.stampede_seconds + c.first_row_seconds),
            minutes(c.stampede_seconds + c.tests_seconds),
            c.link_seconds,
            rates.join(" | "),
        )
    });
    Ok(format!(
        "_{}_\n\n| profile | `stampede`, cold | to the first verdict | `make test`'s build, cold | relink | sequential | concurrent | crash | faults |\n|---|---|---|---|---|---|---|---|---|\n{}\n",
        args.caption,
        rows.collect::<Vec<_>>().join("\n")
    ))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(hot) = &args.hot_crates {
        let table = std::fs::read_to_string(hot).map_err(|e| format!("{}: {e}", hot.display()));
        let published = stampede_benches::publish("hot-crates", table, &args.hot_crates_doc);
        if published != std::process::ExitCode::SUCCESS {
            return published;
        }
    }
    stampede_benches::publish("profile-study", table(&args), &args.docs)
}
