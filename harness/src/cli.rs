//! `stampede`: exit 0 on success; an operation's error exits 1 and prints
//! `error[<kind>]: <message>` on stderr; a usage error exits 2.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::plan::{Campaign, CampaignResult, Shard};
use serde_json::{json, Value};
use stampede_engine::legacy::{write_legacy, LegacySpec, LegacyStamp};
use stampede_engine::names::MAIN;
use stampede_engine::{read_stamp, Error, Graph, Mode, OpenReport, PkState, StampState};

#[derive(Parser, Debug)]
#[command(
    name = "stampede",
    version,
    about = "Verify and operate Stampede graphs on Lance"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a graph: one table per type, then __manifest in one commit.
    Init {
        root: String,
        #[arg(long)]
        schema: String,
    },
    /// Open a graph (read-write migrates it) and print what the open did.
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
    Load {
        root: String,
        branch: String,
        type_name: String,
        file: String,
    },
    /// Print a type's rows on a branch in key order.
    Scan {
        root: String,
        branch: String,
        type_name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a schema-apply lock left by a crashed apply.
    Unlock { root: String },
    /// Inspect a graph read-only: stamp, pending migrations, branches, lock,
    /// legacy refs, zombie trees, refs without trees. Exit 1 on a problem.
    Check {
        root: String,
        #[arg(long)]
        json: bool,
    },
    /// Print main's internal schema stamp. Never writes.
    Stamp {
        root: String,
        #[arg(long)]
        json: bool,
    },
    /// Write a graph as an older engine left it (a test fixture).
    Legacy(LegacyArgs),
    /// Run the campaign plan (sequential, concurrent, crash, faults, and
    /// loom when asked) and print a table; exit 0 only if nothing failed.
    Verify(VerifyArgs),
    /// Re-run one failure from the token a campaign printed (seq:…,
    /// faults:…, crash:…, concurrent:…).
    Replay { token: String },
    /// One concurrent-campaign actor (used by `verify --processes`): open
    /// ROOT read-write, run OP (JSON), print what it saw as JSON.
    #[command(hide = true)]
    Actor {
        root: String,
        op: String,
        /// Seed of the interleaving injector (delays before storage calls).
        #[arg(long)]
        interleave: Option<u64>,
    },
    /// Plant each historical defect in turn and show which campaign
    /// catches it (only in `stampede-sensitivity`, built with `defects`).
    #[cfg(feature = "defects")]
    Sensitivity(SensitivityArgs),
}

#[cfg(feature = "defects")]
#[derive(Args, Debug)]
struct SensitivityArgs {
    /// Only these defects (numbers 1–15); default: all, then the clean engine.
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
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// Campaigns to run (repeatable). Default: sequential, concurrent,
    /// crash and faults.
    #[arg(long = "campaign", value_enum)]
    campaigns: Vec<Campaign>,
    /// Sequential cases.
    #[arg(long, default_value_t = 100)]
    cases: u32,
    /// Concurrent rounds.
    #[arg(long, default_value_t = 50)]
    rounds: u32,
    /// Concurrent actors per round (the judge searches all their orders).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=8))]
    actors: u16,
    /// Concurrent actors as `stampede actor` processes instead of tasks.
    #[arg(long)]
    processes: bool,
    /// Fault-campaign cases.
    #[arg(long, default_value_t = 50)]
    fault_cases: u32,
    /// Crash campaign: also kill the recovering open at every N-th of its
    /// writes (0: never).
    #[arg(long, default_value_t = 1)]
    second_death_stride: u64,
    /// Loom's preemption bound (with --campaign loom).
    #[arg(long, default_value_t = 3)]
    loom_bound: u32,
    /// The root seed; case i runs with a seed derived from it.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 30)]
    max_ops: usize,
    /// Shard every campaign across N processes.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    jobs: u32,
    /// Write a machine-readable report here.
    #[arg(long, value_name = "FILE")]
    json: Option<std::path::PathBuf>,
    /// Run only shard I of N (what --jobs hands each process).
    #[arg(long, hide = true, value_name = "I/N")]
    shard: Option<String>,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
}

#[derive(Subcommand, Debug)]
enum BranchCommand {
    List {
        root: String,
        #[arg(long)]
        read_only: bool,
        #[arg(long)]
        json: bool,
    },
    Create {
        root: String,
        name: String,
        #[arg(long, default_value = MAIN)]
        from: String,
    },
    Delete {
        root: String,
        name: String,
    },
    /// Upsert every row of SOURCE into TARGET (source wins), one commit.
    Merge {
        root: String,
        source: String,
        target: String,
    },
}

#[derive(Subcommand, Debug)]
enum SchemaCommand {
    Show {
        root: String,
        #[arg(long)]
        json: bool,
    },
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

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Campaigns run their own runtimes, one per case.
    match cli.command {
        Command::Verify(args) => verify(args),
        Command::Replay { token } => match crate::replay(&token) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(usage) => {
                eprintln!("error: {usage}");
                ExitCode::from(2)
            }
        },
        Command::Check { root, json } => check(&root, json),
        Command::Actor {
            root,
            op,
            interleave,
        } => match crate::concurrent::actor_main(&root, interleave, &op) {
            Ok(()) => ExitCode::SUCCESS,
            Err(usage) => {
                eprintln!("error: {usage}");
                ExitCode::from(2)
            }
        },
        #[cfg(feature = "defects")]
        Command::Sensitivity(args) => sensitivity(args),
        command => run_command(command),
    }
}

fn check(root: &str, json: bool) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let report = match runtime.block_on(stampede_engine::check::check(root)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error[{}]: {error}", error.kind());
            return ExitCode::from(1);
        }
    };
    if json {
        let as_json = |found: &[stampede_engine::check::Problem]| -> Vec<Value> {
            found
                .iter()
                .map(|p| json!({"kind": p.kind, "detail": p.detail, "fix": p.fix}))
                .collect()
        };
        let (notes, problems) = (as_json(&report.notes), as_json(&report.problems));
        println!(
            "{}",
            json!({
                "healthy": report.healthy(), "stamp": report.stamp, "state": report.state,
                "pending": report.pending, "would_sweep": report.would_sweep,
                "would_keep": report.would_keep, "branches": report.branches,
                "legacy_refs": report.legacy_refs, "lock_held": report.lock_held,
                "notes": notes, "problems": problems,
            })
        );
    } else {
        println!("stamp: {:?} ({})", report.stamp, report.state);
        if report.pending.is_empty() {
            println!("a read-write open would: nothing (current)");
        } else {
            println!("a read-write open would:");
            report.pending.iter().for_each(|p| println!("  - {p}"));
            println!("  sweep: {}", list(&report.would_sweep));
            println!("  keep:  {}", list(&report.would_keep));
        }
        println!("branches: {}", report.branches.join(", "));
        println!("legacy __run__ refs: {}", list(&report.legacy_refs));
        println!(
            "schema-apply lock: {}",
            if report.lock_held { "HELD" } else { "free" }
        );
        for n in &report.notes {
            println!("note [{}]: {}", n.kind, n.detail);
            println!("  {}", n.fix);
        }
        for p in &report.problems {
            println!("PROBLEM [{}]: {}", p.kind, p.detail);
            println!("  fix: {}", p.fix);
        }
        println!(
            "{}",
            if report.healthy() {
                "healthy"
            } else {
                "unhealthy"
            }
        );
    }
    if report.healthy() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn verify(args: VerifyArgs) -> ExitCode {
    let campaigns = if args.campaigns.is_empty() {
        vec![
            Campaign::Sequential,
            Campaign::Concurrent,
            Campaign::Crash,
            Campaign::Faults,
        ]
    } else {
        args.campaigns.clone()
    };
    let budgets = crate::plan::Budgets {
        seed: args.seed,
        cases: args.cases,
        max_ops: args.max_ops,
        rounds: args.rounds,
        actors: usize::from(args.actors),
        processes: args.processes,
        fault_cases: args.fault_cases,
        second_death_stride: args.second_death_stride,
        loom_bound: args.loom_bound,
    };
    let shard = match args.shard.as_deref().map(parse_shard) {
        None => Shard::ALL,
        Some(Some(shard)) => shard,
        Some(None) => {
            eprintln!("error: --shard takes I/N with I < N");
            return ExitCode::from(2);
        }
    };
    let mut results = Vec::new();
    for campaign in campaigns {
        let result = if args.jobs > 1 && args.shard.is_none() && campaign != Campaign::Loom {
            match run_sharded(campaign, &args) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        } else {
            crate::plan::run(campaign, &budgets, shard, args.quiet)
        };
        if args.shard.is_none() {
            for failure in &result.failures {
                println!(
                    "FAILURE [{}]\n{}\nreplay: stampede replay {}\n",
                    campaign.name(),
                    failure.message,
                    failure.replay
                );
            }
        }
        results.push(result);
    }
    if args.shard.is_none() {
        results.iter().for_each(crate::plan::print_crash_details);
        crate::plan::print_table(&results);
    }
    if let Some(path) = &args.json {
        let report = crate::plan::report_json(&budgets, args.jobs, &results);
        if let Err(e) = std::fs::write(path, format!("{report:#}\n")) {
            eprintln!("error: writing {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if results.iter().all(|r| r.failures.is_empty()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn parse_shard(text: &str) -> Option<Shard> {
    let (index, of) = text.split_once('/')?;
    let shard = Shard {
        index: index.parse().ok()?,
        of: of.parse().ok()?,
    };
    (shard.index < shard.of).then_some(shard)
}

/// Run `campaign` as `--jobs` child processes, one shard each, and merge
/// their JSON reports.
fn run_sharded(campaign: Campaign, args: &VerifyArgs) -> Result<CampaignResult, String> {
    let start = std::time::Instant::now();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let children: Vec<_> = (0..args.jobs)
        .map(|i| {
            let report = dir.path().join(format!("shard-{i}.json"));
            let mut command = std::process::Command::new(&exe);
            command.args([
                "verify",
                "--quiet",
                "--campaign",
                campaign.name(),
                "--shard",
                &format!("{i}/{}", args.jobs),
                "--json",
                &report.to_string_lossy(),
                "--seed",
                &args.seed.to_string(),
                "--cases",
                &args.cases.to_string(),
                "--rounds",
                &args.rounds.to_string(),
                "--actors",
                &args.actors.to_string(),
                "--fault-cases",
                &args.fault_cases.to_string(),
                "--second-death-stride",
                &args.second_death_stride.to_string(),
                "--max-ops",
                &args.max_ops.to_string(),
            ]);
            if args.processes {
                command.arg("--processes");
            }
            command
                .stdout(std::process::Stdio::null())
                .spawn()
                .map(|child| (child, report))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    if !args.quiet {
        eprintln!("{}: {} shards running", campaign.name(), args.jobs);
    }
    let mut parts = Vec::new();
    for (mut child, report) in children {
        child.wait().map_err(|e| e.to_string())?;
        let text = std::fs::read_to_string(&report)
            .map_err(|e| format!("shard report {}: {e}", report.display()))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        for result in value["results"].as_array().into_iter().flatten() {
            parts.extend(CampaignResult::from_json(result));
        }
    }
    crate::plan::merge(parts, start.elapsed().as_secs_f64())
        .ok_or_else(|| format!("no shard of {} reported", campaign.name()))
}

#[cfg(feature = "defects")]
fn sensitivity(args: SensitivityArgs) -> ExitCode {
    use stampede_engine::defects::Defect;
    let budgets = crate::sensitivity::Budgets {
        seed: args.seed,
        sequential_cases: args.cases,
        fault_cases: args.fault_cases,
        concurrent_rounds: args.rounds,
        loom: !args.no_loom,
        ..crate::sensitivity::Budgets::default()
    };
    let mut defects: Vec<Option<Defect>> = if args.defects.is_empty() {
        Defect::ALL.iter().map(|d| Some(*d)).chain([None]).collect()
    } else {
        args.defects
            .iter()
            .map(|n| Defect::from_number(*n))
            .map(|d| d.map(Some))
            .collect::<Option<_>>()
            .unwrap_or_default()
    };
    if defects.is_empty() {
        eprintln!("error: defects are numbered 1 to 15");
        return ExitCode::from(2);
    }
    defects.dedup();
    let mut rows = Vec::new();
    for defect in defects {
        let row = crate::sensitivity::row(defect, &budgets);
        eprintln!(
            "{}: {}",
            defect.map_or("clean engine", |d| d.name()),
            row.caught_by.unwrap_or("nothing")
        );
        rows.push(row);
    }
    crate::sensitivity::print_table(&rows);
    let sound = rows
        .iter()
        .all(|r| r.defect.is_some() == r.caught_by.is_some());
    if sound {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn run_command(command: Command) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error[{}]: {error}", error.kind());
            ExitCode::from(1)
        }
    }
}

fn mode(read_only: bool) -> Mode {
    if read_only {
        Mode::ReadOnly
    } else {
        Mode::ReadWrite
    }
}

async fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Init { root, schema } => {
            let source = read_input(&schema, "schema")?;
            Graph::init(&root, &source).await?;
            println!("initialized {root}");
        }
        Command::Open {
            root,
            read_only,
            json,
        } => {
            let graph = Graph::open(&root, mode(read_only)).await?;
            print_report(graph.report(), json);
        }
        Command::Branch(BranchCommand::List {
            root,
            read_only,
            json,
        }) => {
            let branches = Graph::open(&root, mode(read_only))
                .await?
                .branch_list()
                .await?;
            if json {
                println!("{}", json!(branches));
            } else {
                branches.iter().for_each(|b| println!("{b}"));
            }
        }
        Command::Branch(BranchCommand::Create { root, name, from }) => {
            Graph::open(&root, Mode::ReadWrite)
                .await?
                .branch_create(&name, &from)
                .await?;
            println!("created {name} from {from}");
        }
        Command::Branch(BranchCommand::Delete { root, name }) => {
            Graph::open(&root, Mode::ReadWrite)
                .await?
                .branch_delete(&name)
                .await?;
            println!("deleted {name}");
        }
        Command::Branch(BranchCommand::Merge {
            root,
            source,
            target,
        }) => {
            Graph::open(&root, Mode::ReadWrite)
                .await?
                .branch_merge(&source, &target)
                .await?;
            println!("merged {source} into {target}");
        }
        Command::Schema(SchemaCommand::Show { root, json }) => {
            let (source, schema) = Graph::open(&root, Mode::ReadOnly).await?.schema().await?;
            if json {
                let types: Vec<&String> = schema.types.keys().collect();
                println!("{}", json!({"source": source, "types": types}));
            } else {
                print!("{source}");
            }
        }
        Command::Schema(SchemaCommand::Apply { root, file, json }) => {
            let desired = read_input(&file, "schema")?;
            let report = Graph::open(&root, Mode::ReadWrite)
                .await?
                .apply_schema(&desired)
                .await?;
            let steps: Vec<String> = report.steps.iter().map(|s| s.to_string()).collect();
            if json {
                println!(
                    "{}",
                    json!({"applied": report.applied, "steps": steps, "lock_released": report.lock_released})
                );
            } else {
                println!("applied: {}", report.applied);
                println!("steps: {}", list(&steps));
                println!("lock released: {}", report.lock_released);
                if !report.lock_released {
                    println!(
                        "the schema is applied; run `stampede unlock {root}` to remove the lock"
                    );
                }
            }
        }
        Command::Load {
            root,
            branch,
            type_name,
            file,
        } => {
            let rows = parse_json_lines(&read_input(&file, "rows")?)?;
            let n = Graph::open(&root, Mode::ReadWrite)
                .await?
                .load(&branch, &type_name, &rows)
                .await?;
            println!("loaded {n} rows into {type_name} on {branch}");
        }
        Command::Scan {
            root,
            branch,
            type_name,
            json,
        } => {
            let rows = Graph::open(&root, Mode::ReadOnly)
                .await?
                .scan(&branch, &type_name)
                .await?;
            if json {
                println!(
                    "{}",
                    Value::Array(rows.into_iter().map(Value::Object).collect())
                );
            } else {
                rows.into_iter()
                    .for_each(|r| println!("{}", Value::Object(r)));
            }
        }
        Command::Unlock { root } => {
            let removed = Graph::open(&root, Mode::ReadWrite).await?.unlock().await?;
            println!(
                "{}",
                if removed {
                    "removed a schema-apply lock"
                } else {
                    "no lock was held"
                }
            );
        }
        Command::Stamp { root, json } => print_stamp(&root, json).await?,
        #[cfg(feature = "defects")]
        Command::Sensitivity(_) => unreachable!("handled in main"),
        Command::Verify(_)
        | Command::Replay { .. }
        | Command::Check { .. }
        | Command::Actor { .. } => {
            unreachable!("handled in main")
        }
        Command::Legacy(args) => {
            let spec = legacy_spec(&args);
            write_legacy(&args.root, &spec).await?;
            println!(
                "wrote a v{} graph at {} with {} __run__ branches and {} user branches",
                spec.version,
                args.root,
                spec.run_branches,
                spec.branches.len()
            );
        }
    }
    Ok(())
}

/// A file's contents, or stdin for `-`.
fn read_input(file: &str, what: &str) -> Result<String, Error> {
    let read = if file == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    };
    read.map_err(|e| Error::Storage {
        detail: format!("cannot read the {what} file {file:?}: {e}"),
    })
}

/// One JSON value per non-blank line; a line that does not parse is an
/// invalid row naming its line.
fn parse_json_lines(text: &str) -> Result<Vec<Value>, Error> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| Error::InvalidRow {
                line: i + 1,
                field: String::new(),
                message: format!("not JSON: {e}"),
            })
        })
        .collect()
}

fn legacy_spec(args: &LegacyArgs) -> LegacySpec {
    let stamp = match (&args.stamp, args.no_stamp) {
        (Some(raw), _) => LegacyStamp::Raw(raw.clone()),
        (None, true) => LegacyStamp::Absent,
        (None, false) => LegacyStamp::Default,
    };
    let mut spec = LegacySpec::new(args.version)
        .run_branches(args.run_branches)
        .stamp(stamp);
    for branch in &args.branches {
        // Branch names cannot hold ':', so the last one separates the parent.
        spec = match branch.rsplit_once(':') {
            Some((name, parent)) => spec.branch(name, Some(parent)),
            None => spec.branch(branch, None),
        };
    }
    spec
}

fn print_report(report: &OpenReport, json: bool) {
    if json {
        println!(
            "{}",
            json!({"from": report.from, "to": report.to, "swept": report.swept, "kept": report.kept})
        );
    } else {
        println!("from: v{}", report.from);
        println!("to: v{}", report.to);
        println!("swept: {}", list(&report.swept));
        println!("kept: {}", list(&report.kept));
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

async fn print_stamp(root: &str, json: bool) -> Result<(), Error> {
    let report = read_stamp(root).await?;
    let state = match &report.state {
        StampState::Unstamped => "unstamped".to_string(),
        StampState::PkSetUnstamped => "pk-set-unstamped".to_string(),
        StampState::Version(v) => format!("v{v}"),
        StampState::Corrupt(_) => "corrupt".to_string(),
    };
    let pk = match &report.head.pk {
        PkState::Absent => "absent".to_string(),
        PkState::OnObjectId => "object_id".to_string(),
        PkState::OnOtherField(f) => format!("other:{f}"),
    };
    if json {
        let verdict: Value = match &report.verdict {
            Ok(v) => json!({"ok": true, "version": v}),
            Err(e) => json!({"ok": false, "kind": e.kind().as_str(), "message": e.to_string()}),
        };
        println!(
            "{}",
            json!({"raw": report.head.stamp, "state": state, "primary_key": pk,
                   "main_version": report.head.version, "guard": verdict})
        );
    } else {
        println!(
            "raw: {}",
            report
                .head
                .stamp
                .as_deref()
                .map_or("(absent)".into(), |s| format!("{s:?}"))
        );
        println!("state: {state}");
        println!("primary key: {pk}");
        println!("main version: {}", report.head.version);
        match &report.verdict {
            Ok(v) => println!("guard: ok, an open starts from v{v}"),
            Err(e) => println!("guard: error[{}]: {e}", e.kind()),
        }
    }
    Ok(())
}
