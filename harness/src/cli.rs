//! `stampede`: exit 0 on success; an operation's error exits 1 and prints
//! `error[<kind>]: <message>` on stderr; a usage error exits 2.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
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
    /// Run the sequential campaign: random op sequences, engine vs model.
    Verify(VerifyArgs),
    /// Re-run one failing case from its token, op by op.
    Replay { token: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Campaign {
    /// Random op sequences, engine vs model, op by op.
    Sequential,
    /// Rounds of concurrent actors, judged against serial orders.
    Concurrent,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    #[arg(long, value_enum, default_value_t = Campaign::Sequential)]
    campaign: Campaign,
    /// Sequential cases.
    #[arg(long, default_value_t = 100)]
    cases: u32,
    /// Concurrent rounds.
    #[arg(long, default_value_t = 50)]
    rounds: u32,
    /// Concurrent actors per round (the judge searches all their orders).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=6))]
    actors: u16,
    /// The root seed; case i runs with a seed derived from it.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 30)]
    max_ops: usize,
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
        Command::Replay { token } => match crate::sequential::replay(&token) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(usage) => {
                eprintln!("error: {usage}");
                ExitCode::from(2)
            }
        },
        Command::Check { root, json } => check(&root, json),
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
        let problems: Vec<Value> = report
            .problems
            .iter()
            .map(|p| json!({"kind": p.kind, "detail": p.detail, "fix": p.fix}))
            .collect();
        println!(
            "{}",
            json!({
                "healthy": report.healthy(), "stamp": report.stamp, "state": report.state,
                "pending": report.pending, "would_sweep": report.would_sweep,
                "would_keep": report.would_keep, "branches": report.branches,
                "legacy_refs": report.legacy_refs, "lock_held": report.lock_held,
                "notes": report.notes, "problems": problems,
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
        report.notes.iter().for_each(|n| println!("note: {n}"));
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
    if args.campaign == Campaign::Concurrent {
        let start = std::time::Instant::now();
        let summary = crate::concurrent::run(args.seed, args.rounds, usize::from(args.actors));
        for failure in &summary.failures {
            println!("FAILURE\n{failure}\n");
        }
        println!(
            "concurrent: seed {} rounds {} actors {} actor ops {} unexplained {} ({:.1} s)",
            args.seed,
            summary.rounds,
            args.actors,
            summary.actor_ops,
            summary.failures.len(),
            start.elapsed().as_secs_f64()
        );
        return if summary.failures.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    let budget = crate::sequential::Budget {
        seed: args.seed,
        cases: args.cases,
        max_ops: args.max_ops,
    };
    let summary = crate::sequential::run(budget, |index, summary| {
        if (index + 1) % 25 == 0 {
            eprintln!(
                "  {}/{} cases, {} ops, {} failures",
                index + 1,
                budget.cases,
                summary.ops,
                summary.failures.len()
            );
        }
    });
    for failure in &summary.failures {
        println!("FAILURE\n{failure}\n");
    }
    println!(
        "sequential: seed {} cases {} ops {} failures {} ops/s {:.0} ({:.1} s)",
        args.seed,
        summary.cases,
        summary.ops,
        summary.failures.len(),
        summary.ops_per_second(),
        summary.elapsed.as_secs_f64()
    );
    if summary.failures.is_empty() {
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
        Command::Verify(_) | Command::Replay { .. } | Command::Check { .. } => {
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
