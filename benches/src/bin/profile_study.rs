//! `make profile-study`'s table (`scripts/profile-study.sh` builds and runs
//! each candidate profile): per candidate, its cold build time and the
//! campaign rates of its `stampede verify --json` report, written into the
//! `profile-study` block of each document given.

use std::path::PathBuf;

use clap::Parser;
use stampede_harness::report::Report;
use stampede_harness::verdict::Campaign;

#[derive(Parser)]
struct Args {
    /// `NAME|BUILD_SECONDS|REPORT.json`, one per candidate, in order.
    #[arg(long = "candidate", required = true)]
    candidates: Vec<String>,
    /// What the runs were (printed above the table).
    #[arg(long)]
    caption: String,
    #[arg(long = "doc")]
    docs: Vec<PathBuf>,
}

fn row(candidate: &str) -> Result<String, String> {
    let mut parts = candidate.splitn(3, '|');
    let (Some(name), Some(build), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!(
            "--candidate takes NAME|BUILD_SECONDS|REPORT, not {candidate:?}"
        ));
    };
    let build: u64 = build
        .parse()
        .map_err(|_| format!("not a number of seconds: {build:?}"))?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let report: Report = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let rate = |campaign: Campaign, unit: &str| {
        report
            .results
            .iter()
            .find(|r| r.campaign == campaign)
            .map_or("–".to_string(), |r| {
                let count = match campaign {
                    Campaign::Concurrent | Campaign::Crash => r.units,
                    _ => r.ops,
                };
                format!("{:.1} {unit}/s", count as f64 / r.seconds.max(1e-9))
            })
    };
    Ok(format!(
        "| {name} | {} min {} s | {} | {} | {} | {} |",
        build / 60,
        build % 60,
        rate(Campaign::Sequential, "ops"),
        rate(Campaign::Concurrent, "rounds"),
        rate(Campaign::Crash, "states"),
        rate(Campaign::Faults, "ops"),
    ))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let table = args
        .candidates
        .iter()
        .map(|c| row(c))
        .collect::<Result<Vec<_>, _>>()
        .map(|rows| {
            format!(
                "_{}_\n\n| profile | cold build | sequential | concurrent | crash | faults |\n|---|---|---|---|---|---|\n{}\n",
                args.caption,
                rows.join("\n")
            )
        });
    stampede_benches::publish("profile-study", table, &args.docs)
}
