//! `make throughput`'s table: each campaign unit's rate at a baseline
//! revision and in this tree, from the criterion estimates both runs of
//! `benches/campaigns.rs` saved under their baseline names, written into
//! the `throughput` block of each document given.

use std::path::{Path, PathBuf};

use clap::Parser;
use stampede_benches::Estimates;

#[derive(Parser)]
struct Args {
    /// Criterion's output directory (`$CARGO_TARGET_DIR/criterion`).
    criterion: PathBuf,
    /// The baseline run's name (`--save-baseline`) and what it measured.
    #[arg(long)]
    base: String,
    #[arg(long)]
    base_label: String,
    /// This tree's run's name and what it measured.
    #[arg(long)]
    head: String,
    #[arg(long)]
    head_label: String,
    /// Documents whose `throughput` block to rewrite.
    #[arg(long = "doc")]
    docs: Vec<PathBuf>,
}

/// The units of `benches/campaigns.rs`: criterion group and function, and
/// what one element is.
const UNITS: [(&str, &str, &str); 4] = [
    (
        "sequential",
        "ops",
        "sequential: engine ops, each compared both ways",
    ),
    (
        "concurrent",
        "rounds",
        "concurrent: rounds of 5 task actors",
    ),
    (
        "crash",
        "states",
        "crash: states killed, recovered and judged",
    ),
    ("faults", "ops", "faults: ops under a seeded fault plan"),
];

/// Elements per second of one run, or why it cannot be read.
fn rate(criterion: &Path, group: &str, function: &str, run: &str) -> Result<f64, String> {
    let estimates = Estimates {
        root: criterion.to_path_buf(),
    };
    estimates.rate_in(&[group, function], run)?.ok_or_else(|| {
        format!(
            "{}: no estimates of run {run}",
            criterion.join(group).join(function).display()
        )
    })
}

fn table(args: &Args) -> Result<String, String> {
    let mut out = format!(
        "| campaign unit (one process, dev profile) | baseline: {} | this tree: {} | speed-up |\n|---|---|---|---|\n",
        args.base_label, args.head_label
    );
    for (group, function, what) in UNITS {
        let base = rate(&args.criterion, group, function, &args.base)?;
        let head = rate(&args.criterion, group, function, &args.head)?;
        out.push_str(&format!(
            "| {what} | {base:.1} {function}/s | {head:.1} {function}/s | **{:.1}×** |\n",
            head / base
        ));
    }
    out.push_str(&format!(
        "\n`make throughput` ran `benches/campaigns.rs` in both trees, one after the other, on this machine ({} cores).\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    Ok(out)
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    stampede_benches::publish("throughput", table(&args), &args.docs)
}
