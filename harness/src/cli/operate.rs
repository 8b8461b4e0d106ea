//! The operator commands: init, open, branches, schema, rows, unlock,
//! stamp, legacy fixtures and `check`. Exit 0 on success; an operation's
//! error exits 1 with `error[<kind>]: <message>`; input that cannot be read
//! exits 2.

use std::process::ExitCode;

use serde_json::Value;
use stampede_engine::lance::io::ObjectStoreParams;
use stampede_engine::legacy::{write_legacy, LegacySpec, LegacyStamp, LegacyVersion};
use stampede_engine::{read_stamp_with, Error, Graph, Mode, OpenReport};

use stampede_engine::check::Depth;

use super::{shapes, BranchCommand, Command, LegacyArgs, SchemaCommand};

pub(super) fn check(root: &str, json: bool, deep: bool, params: &ObjectStoreParams) -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let report = match runtime.block_on(stampede_engine::check::check_with(
        root,
        if deep { Depth::Rows } else { Depth::Pins },
        params.clone(),
    )) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error[{}]: {error}", error.kind());
            return ExitCode::from(1);
        }
    };
    if json {
        let checked = shapes::Checked {
            healthy: report.healthy(),
            report: &report,
        };
        println!(
            "{}",
            serde_json::to_string(&checked).expect("reports serialize")
        );
    } else {
        match &report.stamp {
            Some(raw) => println!("stamp: {raw:?} ({})", report.state),
            None => println!("stamp: absent ({})", report.state),
        }
        if let Some(kind) = report.open_refuses {
            println!("a read-write open would: refuse with {kind} (see the problem below)");
        } else if report.pending.is_empty() {
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
        if report.changed_while_checking > 0 {
            println!(
                "changed while checking: {} (found on a first reading, gone on a second: work in flight, not damage)",
                report.changed_while_checking
            );
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

pub(super) fn run_command(command: Command, params: &ObjectStoreParams) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(command, params)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed::Operation(error)) => {
            eprintln!("error[{}]: {error}", error.kind());
            ExitCode::from(1)
        }
        Err(Failed::Usage(message)) => super::verify::usage(message),
    }
}

fn mode(read_only: bool) -> Mode {
    if read_only {
        Mode::ReadOnly
    } else {
        Mode::ReadWrite
    }
}

/// Why a command failed: the operation's typed error (exit 1), or input it
/// could not even read (a usage error, exit 2).
enum Failed {
    Operation(Error),
    Usage(String),
}

impl From<Error> for Failed {
    fn from(error: Error) -> Self {
        Failed::Operation(error)
    }
}

async fn run(command: Command, params: &ObjectStoreParams) -> Result<(), Failed> {
    match command {
        Command::Init { root, schema } => {
            let source = read_input(&schema, "schema")?;
            Graph::init_with(&root, &source, params.clone()).await?;
            println!("initialized {root}");
        }
        Command::Open {
            root,
            read_only,
            json,
        } => {
            let graph = Graph::open_with(&root, mode(read_only), params.clone()).await?;
            print_report(graph.report(), json);
        }
        Command::Branch(command) => branch(command, params).await?,
        Command::Schema(command) => schema(command, params).await?,
        Command::Load {
            root,
            branch,
            type_name,
            file,
        } => {
            let rows = parse_json_lines(&read_input(&file, "rows")?)?;
            let n = Graph::open_with(&root, Mode::ReadWrite, params.clone())
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
            let rows = Graph::open_with(&root, Mode::ReadOnly, params.clone())
                .await?
                .scan(&branch, &type_name)
                .await?;
            print_rows(rows, json);
        }
        Command::Unlock { root } => {
            let removed = Graph::open_with(&root, Mode::ReadWrite, params.clone())
                .await?
                .unlock()
                .await?;
            println!(
                "{}",
                if removed {
                    "removed a schema-apply lock"
                } else {
                    "no lock was held"
                }
            );
        }
        Command::Stamp { root, json } => print_stamp(&root, json, params.clone()).await?,
        #[cfg(feature = "defects")]
        Command::Sensitivity(_) => unreachable!("handled in main"),
        Command::Verify(_)
        | Command::Replay { .. }
        | Command::Serve { .. }
        | Command::Figures { .. }
        | Command::Report(_)
        | Command::Check { .. }
        | Command::Actor { .. } => {
            unreachable!("handled in main")
        }
        Command::Legacy(args) => legacy(&args, params).await?,
    }
    Ok(())
}

/// Scanned rows: one JSON array, or one object a line.
fn print_rows(rows: Vec<serde_json::Map<String, Value>>, json: bool) {
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

/// `stampede legacy …`: write a graph as an older engine left it.
async fn legacy(args: &LegacyArgs, params: &ObjectStoreParams) -> Result<(), Failed> {
    let spec = legacy_spec(args).map_err(Failed::Usage)?;
    write_legacy(&args.root, &spec, params.clone()).await?;
    println!(
        "wrote a v{} graph at {} with {} __run__ branches and {} user branches",
        spec.version.number(),
        args.root,
        spec.run_branches,
        spec.branches.len()
    );
    Ok(())
}

/// `stampede branch …`.
async fn branch(command: BranchCommand, params: &ObjectStoreParams) -> Result<(), Failed> {
    match command {
        BranchCommand::List {
            root,
            read_only,
            json,
        } => {
            let branches = Graph::open_with(&root, mode(read_only), params.clone())
                .await?
                .branch_list()
                .await?;
            if json {
                println!("{}", to_json(&branches));
            } else {
                branches.iter().for_each(|b| println!("{b}"));
            }
        }
        BranchCommand::Create { root, name, from } => {
            Graph::open_with(&root, Mode::ReadWrite, params.clone())
                .await?
                .branch_create(&name, &from)
                .await?;
            println!("created {name} from {from}");
        }
        BranchCommand::Delete { root, name } => {
            Graph::open_with(&root, Mode::ReadWrite, params.clone())
                .await?
                .branch_delete(&name)
                .await?;
            println!("deleted {name}");
        }
        BranchCommand::Merge {
            root,
            source,
            target,
        } => {
            Graph::open_with(&root, Mode::ReadWrite, params.clone())
                .await?
                .branch_merge(&source, &target)
                .await?;
            println!("merged {source} into {target}");
        }
    }
    Ok(())
}

/// `stampede schema …`.
async fn schema(command: SchemaCommand, params: &ObjectStoreParams) -> Result<(), Failed> {
    match command {
        SchemaCommand::Show { root, json } => {
            let (source, schema) = Graph::open_with(&root, Mode::ReadOnly, params.clone())
                .await?
                .schema()
                .await?;
            if json {
                let shown = shapes::SchemaShown {
                    types: schema.types.keys().cloned().collect(),
                    source,
                };
                println!("{}", to_json(&shown));
            } else {
                print!("{source}");
            }
        }
        SchemaCommand::Apply { root, file, json } => {
            let desired = read_input(&file, "schema")?;
            let report = Graph::open_with(&root, Mode::ReadWrite, params.clone())
                .await?
                .apply_schema(&desired)
                .await?;
            let applied = shapes::Applied::from(&report);
            if json {
                println!("{}", to_json(&applied));
            } else {
                let steps = &applied.steps;
                println!("applied: {}", report.applied);
                println!("steps: {}", list(steps));
                println!("lock released: {}", report.lock_released);
                if !report.lock_released {
                    println!(
                        "the schema is applied; run `stampede unlock {root}` to remove the lock"
                    );
                }
            }
        }
    }
    Ok(())
}

/// A file's contents, or stdin for `-`. A file that cannot be read is the
/// caller's input, not the graph's storage: a usage error.
fn read_input(file: &str, what: &str) -> Result<String, Failed> {
    let read = if file == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    };
    read.map_err(|e| Failed::Usage(format!("cannot read the {what} file {file:?}: {e}")))
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

fn legacy_spec(args: &LegacyArgs) -> Result<LegacySpec, String> {
    let stamp = match (&args.stamp, args.no_stamp) {
        (Some(raw), _) => LegacyStamp::Raw(raw.clone()),
        (None, true) => LegacyStamp::Absent,
        (None, false) => LegacyStamp::Default,
    };
    let mut spec = LegacySpec::new(LegacyVersion::try_from(args.version)?)
        .run_branches(args.run_branches)
        .stamp(stamp);
    for branch in &args.branches {
        // Branch names cannot hold ':', so the last one separates the parent.
        spec = match branch.rsplit_once(':') {
            Some((name, parent)) => spec.branch(name, Some(parent)),
            None => spec.branch(branch, None),
        };
    }
    Ok(spec)
}

fn print_report(report: &OpenReport, json: bool) {
    if json {
        println!("{}", to_json(&shapes::Opened::from(report)));
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

async fn print_stamp(root: &str, json: bool, params: ObjectStoreParams) -> Result<(), Error> {
    let report = read_stamp_with(root, params).await?;
    let shown = shapes::StampShown::from(&report);
    if json {
        println!("{}", to_json(&shown));
        return Ok(());
    }
    println!(
        "raw: {}",
        shown
            .raw
            .as_deref()
            .map_or("(absent)".into(), |s| format!("{s:?}"))
    );
    println!("state: {}", shown.state);
    println!("primary key: {}", shown.primary_key);
    println!("main version: {}", shown.main_version);
    match &report.verdict {
        Ok(v) => println!("guard: ok, an open starts from v{v}"),
        Err(e) => println!("guard: error[{}]: {e}", e.kind()),
    }
    Ok(())
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("command outputs serialize")
}
