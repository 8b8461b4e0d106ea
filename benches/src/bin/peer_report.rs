//! `make peer-omnigraph`'s report: every distinct contract violation the
//! campaigns found in a peer engine, one row per [`Divergence`], with the
//! token that replays it, how the peer's lanes found it, and its class
//! (a defect of that engine, or a documented difference of its contract)
//! from the classification file. Our engine ran the same lanes over the
//! wire as the control: it must have no failure at all. Written into the
//! `violations` block of each document given; exits 1 when the control
//! failed or when a violation the classification marks as known was not
//! found. A violation not yet classified is listed as such and warned of:
//! a new finding to triage, not a broken run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde::Deserialize;
use stampede_harness::report::Report;
use stampede_harness::verdict::{Divergence, Failure};

#[derive(Parser)]
struct Args {
    /// The peer's lane reports (`stampede verify --json`), one per lane.
    #[arg(long, required = true, num_args = 1..)]
    peer: Vec<PathBuf>,
    /// Our engine's reports of the same lanes, over the wire.
    #[arg(long, required = true, num_args = 1..)]
    control: Vec<PathBuf>,
    /// What each violation is (`peers/<engine>/classified.json`).
    #[arg(long)]
    classified: PathBuf,
    /// Documents whose `violations` block to rewrite.
    #[arg(long = "doc")]
    docs: Vec<PathBuf>,
}

/// One classified violation: a divergence, and what it is. An `engine`
/// of `*` matches any answer (a read-only handle that writes answers
/// whatever the write does).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Classified {
    op: String,
    model: String,
    engine: String,
    class: Class,
    /// What the engine did against what the contract says, in a sentence.
    why: String,
    /// The failure known before the peer existed that this is one form
    /// of (entries may share a name: the sequential and the concurrent
    /// form); a run that finds no form of a known failure fails.
    #[serde(default)]
    known: Option<String>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Class {
    /// The engine breaks its own documented behaviour or loses work.
    Defect,
    /// The engine's contract differs from Stampede's, by design.
    Difference,
}

impl Class {
    fn word(self) -> &'static str {
        match self {
            Class::Defect => "defect",
            Class::Difference => "difference",
        }
    }
}

impl Classified {
    fn matches(&self, divergence: &Divergence) -> bool {
        self.op == divergence.op
            && self.model == divergence.model
            && (self.engine == "*" || self.engine == divergence.engine)
    }
}

/// Where a violation was found: its first failure, the report of that
/// lane (which says where it replays), and how many failures showed it.
struct Found<'a> {
    lane: String,
    first: &'a Failure,
    report: &'a Report,
    count: usize,
}

fn lane(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A failure's message, cut to what shows the case: the shrunk ops, or
/// the round's setup and actors (not the seen outcomes and final view).
fn case_lines(failure: &Failure) -> Vec<String> {
    failure
        .message
        .lines()
        .filter(|l| !l.trim_start().starts_with("seen:") && !l.trim_start().starts_with("final:"))
        .map(|l| {
            let l = l.trim_end();
            match l.char_indices().nth(400) {
                Some((cut, _)) => format!("{}…", &l[..cut]),
                None => l.to_string(),
            }
        })
        .collect()
}

fn report(args: &Args) -> Result<(String, Vec<String>), String> {
    let text = std::fs::read_to_string(&args.classified)
        .map_err(|e| format!("{}: {e}", args.classified.display()))?;
    let classified: Vec<Classified> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", args.classified.display()))?;
    let peer: Vec<(String, Report)> = (args.peer.iter())
        .map(|p| Ok((lane(p), Report::read(p)?)))
        .collect::<Result<_, String>>()?;
    let control: Vec<(String, Report)> = (args.control.iter())
        .map(|p| Ok((lane(p), Report::read(p)?)))
        .collect::<Result<_, String>>()?;

    let mut problems = Vec::new();
    let mut found: BTreeMap<Divergence, Found> = BTreeMap::new();
    let mut unnamed = 0;
    for (lane, report) in &peer {
        for failure in report.results.iter().flat_map(|r| &r.failures) {
            let Some(divergence) = failure.divergence.as_deref() else {
                unnamed += 1;
                continue;
            };
            found
                .entry(divergence.clone())
                .and_modify(|f| f.count += 1)
                .or_insert(Found {
                    lane: lane.clone(),
                    first: failure,
                    report,
                    count: 1,
                });
        }
    }
    if unnamed > 0 {
        problems.push(format!("{unnamed} peer failures name no divergence"));
    }

    let units = |reports: &[(String, Report)]| -> u64 {
        reports
            .iter()
            .flat_map(|(_, r)| &r.results)
            .map(|r| r.units)
            .sum()
    };
    let mut control_failures = 0;
    for (_, report) in &control {
        for failure in report.results.iter().flat_map(|c| &c.failures) {
            control_failures += 1;
            problems.push(format!(
                "our engine failed a control lane: {}",
                report.replay_line(failure)
            ));
        }
    }

    let mut out = String::from(
        "| # | where | the contract (model) | omnigraph 0.6.2 | class | cases | lane | replay |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let mut details = String::new();
    for (n, (divergence, f)) in found.iter().enumerate() {
        let entry = classified.iter().find(|c| c.matches(divergence));
        let class = entry.map_or("**unclassified**", |c| c.class.word());
        if entry.is_none() {
            eprintln!(
                "warning: not yet classified in {}: {divergence:?} ({})",
                args.classified.display(),
                f.first.replay
            );
        }
        out.push_str(&format!(
            "| {} | {} | {} | {} | {class} | {} | `{}` | `{}` |\n",
            n + 1,
            divergence.op,
            divergence.model,
            divergence.engine,
            f.count,
            f.lane,
            f.first.replay
        ));
        details.push_str(&format!(
            "\n**{}. {}** ({class}). {}\n\n```text\n{}\n{}\n```\n",
            n + 1,
            divergence.op,
            entry.map_or("Not yet classified.", |c| c.why.as_str()),
            case_lines(f.first).join("\n"),
            f.report.replay_line(f.first)
        ));
    }
    let mut known: BTreeMap<&str, bool> = BTreeMap::new();
    for c in &classified {
        if let Some(name) = c.known.as_deref() {
            *known.entry(name).or_default() |= found.keys().any(|d| c.matches(d));
        }
    }
    let missing: Vec<&str> = (known.iter())
        .filter(|(_, seen)| !**seen)
        .map(|(name, _)| *name)
        .collect();
    for name in &missing {
        problems.push(format!("a known failure was not found: {name}"));
    }
    out.push_str(&format!(
        "\n{} distinct violations in {} failing units of {} run by the peer's lanes; \
         the known failures found: {} of {}. \
         Our engine over the wire, the same lanes and seeds (`stampede serve`): {} units, {} failures.\n",
        found.len(),
        found.values().map(|f| f.count).sum::<usize>(),
        units(&peer),
        known.len() - missing.len(),
        known.len(),
        units(&control),
        control_failures,
    ));
    out.push_str(&details);
    Ok((out, problems))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let (table, problems) = match report(&args) {
        Ok((table, problems)) => (Ok(table), problems),
        Err(e) => (Err(e), Vec::new()),
    };
    let published = stampede_benches::publish("violations", table, &args.docs);
    if problems.is_empty() {
        return published;
    }
    for problem in &problems {
        eprintln!("error: {problem}");
    }
    std::process::ExitCode::FAILURE
}
