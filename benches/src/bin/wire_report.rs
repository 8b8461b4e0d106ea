//! `make wire-cost`'s report: what an op costs over the wire protocol
//! against the same op in process, from criterion's estimates of
//! `benches/wire.rs` (one run, dev profile), written into the `wire-cost`
//! block of each document given.

use std::path::PathBuf;

use clap::Parser;
use stampede_benches::{BenchRun, Estimates};

#[derive(Parser)]
struct Args {
    /// Criterion's directory (`$CARGO_TARGET_DIR/criterion`).
    criterion: PathBuf,
    /// Documents whose `wire-cost` block to rewrite.
    #[arg(long = "doc")]
    docs: Vec<PathBuf>,
}

fn table(estimates: &Estimates) -> Result<String, String> {
    let rate = |bench: &str| {
        estimates
            .rate_in(&["wire", bench], "new")?
            .ok_or_else(|| format!("no estimates of wire/{bench}: run `make wire-cost`"))
    };
    let (here, there) = (rate("in_process")?, rate("over_the_wire")?);
    let ms = |rate: f64| 1000.0 / rate;
    let run = BenchRun::of(estimates, "wire")?;
    Ok(format!(
        "| each op, then a full view (12 sequential cases) | ops/s | per op |\n\
         |---|---|---|\n\
         | our engine in process | {here:.0} | {:.2} ms |\n\
         | the same engine over the wire (`stampede serve`, one process per case) | {there:.0} | {:.2} ms |\n\
         \n\
         The wire costs **{:+.2} ms per op** ({:.2}× the in-process time): the process, JSON both ways, and the view's rows on the wire. \
         Written by `make wire-cost` from criterion's estimates ({}).\n",
        ms(here),
        ms(there),
        ms(there) - ms(here),
        here / there,
        BenchRun::describe(run.as_ref())
    ))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let estimates = Estimates {
        root: args.criterion,
    };
    stampede_benches::publish("wire-cost", table(&estimates), &args.docs)
}
