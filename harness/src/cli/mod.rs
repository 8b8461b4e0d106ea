//! `stampede`: exit 0 on success; an operation's error exits 1 and prints
//! `error[<kind>]: <message>` on stderr; a usage error exits 2.
//!
//! The operator commands live in [`operate`], the verification driver in
//! [`verify`]; the `--json` outputs are the types of [`shapes`].

mod operate;
pub mod shapes;
mod verify;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use stampede_engine::names::MAIN;

use crate::budgets::Budgets;

use crate::verdict::Campaign;

/// `stampede verify`'s defaults are the plan's, stated once.
const DEFAULTS: Budgets = Budgets::DEFAULT;

#[derive(Parser, Debug)]
#[command(
    name = "stampede",
    version,
    about = "Verify and operate Stampede graphs on Lance"
)]
struct Cli {
    /// A setting for an `s3://` root, e.g. `aws_endpoint=http://127.0.0.1:8333`,
    /// `aws_region`, `aws_access_key_id`, `aws_secret_access_key`,
    /// `allow_http=true` (repeatable; the `AWS_*` variables fill in the rest).
    /// With an endpoint, the region and keys are required.
    #[arg(long = "storage-option", value_name = "KEY=VALUE", global = true)]
    storage_options: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a graph: one table per type, then __manifest in one commit.
    #[command(after_help = "Examples:\n  $ stampede init people --schema schema.pg")]
    Init {
        root: String,
        #[arg(long)]
        schema: String,
    },
    /// Open a graph (read-write migrates it) and print what the open did.
    #[command(
        after_help = "Examples:\n  $ stampede open g --json\n  $ stampede open g --read-only"
    )]
    Open {
        root: String,
        #[arg(long)]
        read_only: bool,
        #[arg(long)]
        json: bool,
    },
    /// List, create or delete branches.
    #[command(subcommand)]
    Branch(BranchCommand),
    /// Show or apply main's schema.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Upsert JSON Lines rows into a type on a branch (`-` reads stdin).
    #[command(after_help = "Examples:\n  $ stampede load g main Person people.jsonl")]
    Load {
        root: String,
        branch: String,
        type_name: String,
        file: String,
    },
    /// Print a type's rows on a branch in key order.
    #[command(after_help = "Examples:\n  $ stampede scan g main Person --json")]
    Scan {
        root: String,
        branch: String,
        type_name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a schema-apply lock left by a crashed apply.
    #[command(after_help = "Examples:\n  $ stampede unlock g")]
    Unlock { root: String },
    /// Inspect a graph read-only: stamp, pending migrations, branches, lock,
    /// legacy refs, corrupt refs and parent chains, zombie trees, refs
    /// without trees, and every pinned table version (it opens, with every
    /// data file). Exit 1 on a problem.
    #[command(after_help = "Examples:\n  $ stampede check g\n  $ stampede check g --deep --json")]
    Check {
        root: String,
        #[arg(long)]
        json: bool,
        /// Also read every row of every pinned table version and check its
        /// columns are the graph schema's.
        #[arg(long)]
        deep: bool,
    },
    /// Print main's internal schema stamp. Never writes.
    #[command(after_help = "Examples:\n  $ stampede stamp g --json")]
    Stamp {
        root: String,
        #[arg(long)]
        json: bool,
    },
    /// Write a graph as an older engine left it (a test fixture).
    #[command(
        after_help = "Examples:\n  $ stampede legacy old --version 2 --run-branches 3 --branch fork:__run__1\n  $ stampede check old"
    )]
    Legacy(LegacyArgs),
    /// Run the campaign plan (sequential, concurrent, crash, faults, and
    /// loom when asked) and print a table; exit 0 only if nothing failed.
    #[command(
        after_help = "Examples:\n  $ stampede verify --campaign sequential --cases 4 --seed 1 --shard 1/2 --json part-1.json\n  $ stampede verify --campaign sequential --cases 4 --seed 1 --shard 2/2 --json part-2.json"
    )]
    Verify(VerifyArgs),
    /// Read reports back: `report merge` joins the shard reports of one
    /// plan, `report summary` prints what a CI page shows of one.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Rewrite the generated figure blocks of a Markdown file from a
    /// `stampede verify --json` report (`make figures`).
    #[command(after_help = "Examples:\n  $ stampede figures report.json --doc figures.md")]
    Figures {
        /// The verify report.
        report: std::path::PathBuf,
        /// The document whose `<!-- generated:NAME -->` blocks to rewrite.
        #[arg(long)]
        doc: std::path::PathBuf,
    },
    /// Re-run one failure from the token a campaign printed (seq:…,
    /// faults:…, crash:…, concurrent:…, damage:…). Exit 0 if it passes, 1
    /// if it fails, 3 if `--check-determinism` finds the two runs differ.
    #[command(
        after_help = "Examples:\n  $ stampede replay seq:0b331645445bcd27:30\n  $ stampede replay concurrent:held:finding-15:5:tasks:pct3:3"
    )]
    Replay {
        token: String,
        /// Run it twice and report the first point where the runs differ.
        #[arg(long)]
        check_determinism: bool,
        /// Replay on an S3 server started on 127.0.0.1 (a failure `verify
        /// --s3` found): SeaweedFS, or `--s3=moto`.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "seaweedfs", value_name = "SERVER")]
        s3: Option<crate::place::Kind>,
        /// Replay on the peer engine this command starts (a failure `verify
        /// --engine-cmd` found).
        #[arg(long, value_name = "CMD")]
        engine_cmd: Option<String>,
    },
    /// Serve our engine over the wire protocol on stdin and stdout (JSON
    /// Lines, docs/wire-protocol.md): what `verify --engine-cmd` judges,
    /// and the reference a peer engine's server is written against.
    #[command(
        after_help = "Examples:\n  $ stampede verify --campaign sequential --cases 2 --seed 1 --engine-cmd 'stampede serve'\n  $ stampede verify --campaign sequential --cases 2 --seed 1 --engine-cmd 'stampede serve --no-view'"
    )]
    Serve {
        /// Declare only these ops (comma-separated, by the model's names)
        /// and refuse the rest: a peer that supports less.
        #[arg(long, value_delimiter = ',', value_name = "OP,...")]
        ops: Vec<String>,
        /// Declare no views and refuse them: a peer judged on outcomes only.
        #[arg(long)]
        no_view: bool,
    },
    /// One concurrent-campaign actor (used by `verify --processes`): open
    /// ROOT read-write, run OP (JSON), print what it saw as JSON.
    #[command(hide = true)]
    Actor {
        root: String,
        op: String,
        /// Seed of the interleaving injector (delays before storage calls).
        #[arg(long, conflicts_with = "turns")]
        interleave: Option<u64>,
        /// Take turns granted by the parent's scheduler at this address
        /// (a scheduled round of processes), as actor number `--actor`.
        #[arg(long, requires = "actor", value_name = "ADDR")]
        turns: Option<String>,
        #[arg(long)]
        actor: Option<usize>,
    },
    /// Plant each historical defect in turn and show which campaign
    /// catches it (only in `stampede-sensitivity`, built with `defects`).
    #[cfg(feature = "defects")]
    Sensitivity(SensitivityArgs),
}

#[cfg(feature = "defects")]
#[derive(Args, Debug)]
struct SensitivityArgs {
    /// Only these defects (by number); default: all, then the clean engine.
    #[arg(long = "defect")]
    defects: Vec<u8>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 200)]
    cases: u32,
    #[arg(long, default_value_t = 100)]
    fault_cases: u32,
    #[arg(long, default_value_t = 150)]
    rounds: u32,
    /// Skip loom (it runs `cargo test` on the protocol crate).
    #[arg(long)]
    no_loom: bool,
    /// Then measure, for every concurrency defect in every column (tasks,
    /// processes, histories, the uniform mix; and S3 for the sweep and
    /// lock defects), the rounds to the first catch over this many root
    /// seeds (0: skip).
    #[arg(long, default_value_t = 0)]
    catch_seeds: u64,
    /// Measure only these defects (by number; default: every concurrency
    /// defect). The clean engine is always measured, as the control.
    #[arg(long = "catch-defect")]
    catch_defects: Vec<u8>,
    /// Measure rounds-to-catch only (skip the campaign table and loom).
    #[arg(long)]
    catch_only: bool,
    /// Measure only these columns (default: all of them; `s3` starts a
    /// local SeaweedFS).
    #[arg(long = "catch-column", value_enum)]
    catch_columns: Vec<crate::sensitivity::Column>,
    /// At most this many rounds per root seed.
    #[arg(long, default_value_t = 30)]
    catch_cap: u32,
    /// Also write the rounds-to-catch table into this document's
    /// `<!-- generated:catch-rates -->` block (docs/verification.md).
    #[arg(long, value_name = "FILE")]
    catch_doc: Option<std::path::PathBuf>,
}

/// Whether concurrent rounds are drawn in swarm configurations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Swarm {
    On,
    Off,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// Campaigns to run (repeatable). Default: sequential, concurrent,
    /// crash and faults.
    #[arg(long = "campaign", value_enum)]
    campaigns: Vec<Campaign>,
    /// Sequential cases [default: 100; with a time budget, no cap].
    #[arg(long)]
    cases: Option<u32>,
    /// Concurrent rounds [default: 50; with a time budget, no cap].
    #[arg(long)]
    rounds: Option<u32>,
    /// Concurrent actors per round (the judge searches all their orders).
    #[arg(long, default_value_t = DEFAULTS.actors as u16, value_parser = clap::value_parser!(u16).range(1..=8))]
    actors: u16,
    /// Concurrent actors as `stampede actor` processes instead of tasks.
    #[arg(long)]
    processes: bool,
    /// How concurrent actors interleave: `mix` (each of the others in
    /// turn, round by round), `wild` (real timing plus seeded delays),
    /// `random`, `pct[:DEPTH]` or `preempt` (one storage call at a time,
    /// chosen by the seeded strategy; every scheduled failure replays
    /// exactly).
    #[arg(long, default_value_t = DEFAULTS.schedule, value_parser = crate::concurrent::Schedule::parse)]
    schedule: crate::concurrent::Schedule,
    /// Draw each concurrent round (and history) in a swarm configuration
    /// (a subset of the op kinds, small name and key pools, a setup kind:
    /// `on`), or from the whole alphabet at once (`off`, the uniform mix).
    #[arg(long, value_enum, default_value_t = Swarm::On)]
    swarm: Swarm,
    /// Concurrent rounds as histories: each actor runs up to N ops on its
    /// own handle (the last actor a read-only bystander), judged for
    /// linearizability with real-time order (0: one op each).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=8))]
    history: u16,
    /// Fault-campaign cases [default: 50; with a time budget, no cap].
    #[arg(long)]
    fault_cases: Option<u32>,
    /// Run each open-ended campaign (sequential, concurrent, faults) for
    /// this many seconds instead of a count (a count given too is a cap);
    /// the report says how many units each reached.
    #[arg(long, value_name = "SECONDS", conflicts_with = "plan_seconds")]
    seconds: Option<u32>,
    /// A time budget for the whole plan: the campaigns of fixed size
    /// (crash, damage, loom) run whole and first, then the open-ended ones
    /// share what is left, each its equal part of it.
    #[arg(long, value_name = "SECONDS")]
    plan_seconds: Option<u32>,
    /// Crash campaign: also kill the recovering open at every N-th of its
    /// writes (0: never).
    #[arg(long, default_value_t = DEFAULTS.second_death_stride)]
    second_death_stride: u64,
    /// Damage campaign: judge every N-th case of each damage on each graph, at least one of each (1: all).
    #[arg(long, default_value_t = DEFAULTS.damage_stride, value_parser = clap::value_parser!(u32).range(1..))]
    damage_stride: u32,
    /// Loom's preemption bound (with --campaign loom).
    #[arg(long, default_value_t = DEFAULTS.loom_bound)]
    loom_bound: u32,
    /// The root seed (case i runs with a seed derived from it): a number,
    /// `random` (a fresh one, printed first), or `date` (today's UTC date as
    /// YYYYMMDD: the same on every machine of a nightly that day).
    #[arg(long, default_value_t = crate::seeds::SeedChoice::Fixed(DEFAULTS.seed), value_parser = crate::seeds::SeedChoice::parse)]
    seed: crate::seeds::SeedChoice,
    #[arg(long, default_value_t = DEFAULTS.max_ops)]
    max_ops: usize,
    /// Shard every campaign across N processes.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    jobs: u32,
    /// Write a machine-readable report here.
    #[arg(long, value_name = "FILE")]
    json: Option<std::path::PathBuf>,
    /// Write a JUnit XML report here (one suite per campaign, one case per
    /// failure with its replay token).
    #[arg(long, value_name = "FILE")]
    junit: Option<std::path::PathBuf>,
    /// Run only the K-th of N disjoint parts of the plan (K from 1), e.g.
    /// one per CI machine; `stampede report merge` joins their reports.
    #[arg(long, value_name = "K/N", value_parser = crate::plan::Shard::part_of)]
    shard: Option<crate::plan::Shard>,
    /// Run only job J of N of this part (what --jobs hands each process).
    #[arg(long, hide = true, value_name = "J/N")]
    job: Option<String>,
    /// Run the plan in this file (what --jobs hands each process) instead of
    /// the budgets given as flags.
    #[arg(long, hide = true, value_name = "FILE")]
    plan: Option<std::path::PathBuf>,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
    /// Put every graph on an S3-compatible server this command starts on
    /// 127.0.0.1 and stops when done: SeaweedFS's `weed`, or `--s3=moto`
    /// (both from `make deps`). Every campaign but damage.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "seaweedfs", value_name = "SERVER")]
    s3: Option<crate::place::Kind>,
    /// Judge the engine this command starts (run by `sh -c`, once per
    /// handle and per actor) over the wire protocol instead of ours
    /// (docs/wire-protocol.md): the sequential and concurrent campaigns,
    /// with only the ops it declares.
    #[arg(long, value_name = "CMD")]
    engine_cmd: Option<String>,
}

#[derive(Subcommand, Debug)]
enum ReportCommand {
    /// Join the reports of the N parts of one plan (`verify --shard K/N
    /// --json`) into the report one unsharded run would write. Exit 0 only
    /// when every part is there and nothing failed.
    #[command(
        after_help = "Examples:\n  $ stampede report merge part-1.json part-2.json --json report.json --junit junit.xml"
    )]
    Merge {
        #[arg(required = true)]
        reports: Vec<std::path::PathBuf>,
        #[arg(long, value_name = "FILE")]
        json: Option<std::path::PathBuf>,
        #[arg(long, value_name = "FILE")]
        junit: Option<std::path::PathBuf>,
    },
    /// Print what a CI page shows of a verify report: the verdict with its
    /// seed and revision, one line per campaign, and each failure with the
    /// line that replays it. Exit 0 when the report could be read.
    #[command(
        after_help = "Examples:\n  $ stampede report summary report.json\n  $ stampede report summary report.json --markdown"
    )]
    Summary {
        report: std::path::PathBuf,
        /// Markdown, for `$GITHUB_STEP_SUMMARY` or any page that renders it.
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(Subcommand, Debug)]
enum BranchCommand {
    #[command(after_help = "Examples:\n  $ stampede branch list g --json")]
    List {
        root: String,
        #[arg(long)]
        read_only: bool,
        #[arg(long)]
        json: bool,
    },
    #[command(after_help = "Examples:\n  $ stampede branch create g feature --from main")]
    Create {
        root: String,
        name: String,
        #[arg(long, default_value = MAIN)]
        from: String,
    },
    #[command(
        after_help = "Examples:\n  $ stampede branch create g scratch\n  $ stampede branch delete g scratch"
    )]
    Delete { root: String, name: String },
    /// Upsert every row of SOURCE into TARGET (source wins), one commit.
    #[command(
        after_help = "Examples:\n  $ stampede branch merge g feature main\n  $ stampede branch delete g feature"
    )]
    Merge {
        root: String,
        source: String,
        target: String,
    },
}

#[derive(Subcommand, Debug)]
enum SchemaCommand {
    #[command(after_help = "Examples:\n  $ stampede schema show g")]
    Show {
        root: String,
        #[arg(long)]
        json: bool,
    },
    #[command(after_help = "Examples:\n  $ stampede schema apply g schema-v2.pg --json")]
    Apply {
        root: String,
        file: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct LegacyArgs {
    root: String,
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=2))]
    version: u32,
    /// Fork this many `__run__<i>` branches (i = 0..N) from main.
    #[arg(long, default_value_t = 0)]
    run_branches: usize,
    /// A user branch, optionally forked from PARENT (main, a `__run__<i>` or
    /// an earlier --branch). Repeatable; created in order.
    #[arg(long = "branch", value_name = "NAME[:PARENT]")]
    branches: Vec<String>,
    /// Write this raw stamp value instead of the version's own.
    #[arg(long, conflicts_with = "no_stamp")]
    stamp: Option<String>,
    /// Write no stamp key (with --version 2: a v1→v2 step stopped after its
    /// primary-key commit).
    #[arg(long)]
    no_stamp: bool,
}

/// Whether `args` (the program name first) is a command line `stampede`
/// accepts: what the CI recipe's test checks its commands with.
#[cfg(any(test, feature = "testing"))]
pub fn parses(args: &[&str]) -> Result<(), String> {
    Cli::try_parse_from(args)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Every subcommand's examples (the `$ ` lines of its help's epilogue),
/// by its path (`branch create`): what the docs test runs.
#[cfg(any(test, feature = "testing"))]
pub fn examples() -> Vec<(String, Vec<String>)> {
    fn walk(command: &clap::Command, path: &str, out: &mut Vec<(String, Vec<String>)>) {
        for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
            let path = format!("{path} {}", sub.get_name()).trim().to_string();
            let lines = sub.get_after_help().map(|help| {
                help.to_string()
                    .lines()
                    .filter_map(|line| line.trim().strip_prefix("$ ").map(str::to_string))
                    .collect()
            });
            out.push((path.clone(), lines.unwrap_or_default()));
            walk(sub, &path, out);
        }
    }
    let mut out = Vec::new();
    walk(&<Cli as clap::CommandFactory>::command(), "", &mut out);
    out
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = match parse_storage_options(&cli.storage_options) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("error[{}]: {error}", error.kind());
            return ExitCode::from(1);
        }
    };
    // None: Lance's defaults, so a local root is untouched.
    let params = if options.is_empty() {
        Default::default()
    } else {
        stampede_engine::location::with_storage_options(
            Default::default(),
            options.clone().into_iter().collect(),
        )
    };
    // Campaigns run their own runtimes, one per case.
    match cli.command {
        Command::Verify(args) => verify::verify(args),
        Command::Replay {
            token,
            check_determinism,
            s3,
            engine_cmd,
        } => verify::replay(&token, check_determinism, s3, engine_cmd.as_deref()),
        Command::Serve { ops, no_view } => verify::serve(&ops, no_view),
        Command::Figures { report, doc } => verify::figures(&report, &doc),
        Command::Report(ReportCommand::Merge {
            reports,
            json,
            junit,
        }) => verify::merge(&reports, json.as_deref(), junit.as_deref()),
        Command::Report(ReportCommand::Summary { report, markdown }) => {
            verify::summary(&report, markdown)
        }
        Command::Check { root, json, deep } => operate::check(&root, json, deep, &params),
        Command::Actor {
            root,
            op,
            interleave,
            turns,
            actor,
        } => {
            // An actor's root may be on its parent's S3 place.
            if !options.is_empty() {
                crate::place::use_s3(crate::place::S3Place {
                    prefix: None,
                    options,
                    server: None,
                });
            }
            let turns = turns.as_deref().zip(actor);
            verify::actor(&root, interleave, turns, &op)
        }
        #[cfg(feature = "defects")]
        Command::Sensitivity(args) => verify::sensitivity(args),
        command => operate::run_command(command, &params),
    }
}

/// The `--storage-option`s, which every command opens its root with.
fn parse_storage_options(
    pairs: &[String],
) -> Result<std::collections::BTreeMap<String, String>, stampede_engine::Error> {
    pairs
        .iter()
        .map(|p| stampede_engine::location::parse_storage_option(p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counts `--help` states as defaults for the flags whose default
    /// depends on a time budget (so clap cannot show them) are the plan's.
    #[test]
    fn the_help_states_the_plans_default_counts() {
        let mut command = <Cli as clap::CommandFactory>::command();
        let verify = command.find_subcommand_mut("verify").expect("verify");
        let help = verify.render_long_help().to_string();
        for (flag, count) in [
            ("cases", DEFAULTS.cases),
            ("rounds", DEFAULTS.rounds),
            ("fault-cases", DEFAULTS.fault_cases),
        ] {
            let shown = format!("[default: {count};");
            let block = help
                .split("\n\n")
                .find(|block| block.contains(&format!("--{flag} <")))
                .expect(flag);
            let words = block.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                words.contains(&shown),
                "--{flag}: {words:?} does not say {shown}"
            );
        }
    }
}
