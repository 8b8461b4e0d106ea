//! A plan's report: the `--json` file, its merge from shards, and the
//! table the console, the CI summary and the docs show.

use serde::{Deserialize, Serialize};

use crate::budgets::Budgets;
use crate::tally::CampaignResult;
use crate::verdict::{Campaign, Failure};

/// The `--json` report of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub harness_version: String,
    /// The git commit the harness was built from ("unknown" outside one).
    pub revision: String,
    pub jobs: u32,
    /// `[K, N]` when this report is the K-th of N parts (`--shard K/N`).
    pub shard: Option<[u32; 2]>,
    pub budgets: Budgets,
    pub results: Vec<CampaignResult>,
    pub passed: bool,
}

impl Report {
    pub fn new(budgets: &Budgets, jobs: u32, results: Vec<CampaignResult>) -> Self {
        Report {
            harness_version: env!("CARGO_PKG_VERSION").to_string(),
            revision: env!("STAMPEDE_REVISION").to_string(),
            jobs,
            shard: None,
            budgets: budgets.clone(),
            passed: results.iter().all(|r| r.failures.is_empty()),
            results,
        }
    }

    /// A `stampede verify --json` report read back; an error names the file.
    pub fn read(path: &std::path::Path) -> Result<Report, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("not a verify report: {}: {e}", path.display()))
    }

    /// The line that replays `failure`, on the place and the peer this
    /// report's plan ran on: a report read back in another process (`report
    /// merge`, `report summary`) has neither in the process's settings.
    pub fn replay_line(&self, failure: &Failure) -> String {
        failure.replay_line_in(self.budgets.s3.as_ref(), self.budgets.engine_cmd.as_deref())
    }

    /// Combine the reports of the N parts of one plan into the report one
    /// unsharded run would have written: counts and ops summed, failures in
    /// unit order, times summed (core-seconds). Refuses reports of other
    /// revisions, seeds, budgets or campaigns, and names a missing part.
    pub fn merge(mut reports: Vec<Report>) -> Result<Report, MergeError> {
        let first = reports.first().ok_or(MergeError::Nothing)?.clone();
        let parts = first.shard.map_or(1, |[_, n]| n);
        for r in &reports {
            let differs = |what: &str| MergeError::Mismatch(what.to_string());
            if (&r.harness_version, &r.revision) != (&first.harness_version, &first.revision) {
                return Err(differs("harness revision"));
            }
            if r.budgets != first.budgets {
                return Err(differs("seed or budgets"));
            }
            let campaigns = |r: &Report| r.results.iter().map(|c| c.campaign).collect::<Vec<_>>();
            if campaigns(r) != campaigns(&first) {
                return Err(differs("campaigns"));
            }
            if r.shard.map_or(1, |[_, n]| n) != parts {
                return Err(differs("number of parts"));
            }
        }
        reports.sort_by_key(|r| r.shard.map_or(1, |[k, _]| k));
        let present: Vec<u32> = reports
            .iter()
            .map(|r| r.shard.map_or(1, |[k, _]| k))
            .collect();
        if let Some(k) = (1..=parts).find(|k| present.iter().filter(|p| *p == k).count() != 1) {
            return Err(if present.contains(&k) {
                MergeError::Twice(k, parts)
            } else {
                MergeError::Missing(k, parts)
            });
        }
        let jobs = reports.iter().map(|r| r.jobs).sum();
        let results = (0..first.results.len())
            .map(|c| {
                let part_results: Vec<CampaignResult> =
                    reports.iter().map(|r| r.results[c].clone()).collect();
                let seconds = part_results.iter().map(|r| r.seconds).sum();
                let mut merged = merge(part_results, seconds).expect("at least one part");
                merged.failures.sort_by_key(|f| f.unit);
                merged
            })
            .collect();
        Ok(Report::new(&first.budgets, jobs, results))
    }
}

/// Why shard reports do not merge into one plan's report.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("no reports to merge")]
    Nothing,
    #[error("the reports are of different plans: their {0} differ")]
    Mismatch(String),
    #[error("shard {0}/{1} is missing: the plan is incomplete")]
    Missing(u32, u32),
    #[error("shard {0}/{1} is given twice")]
    Twice(u32, u32),
}

/// Merge the shards of one campaign, run by separate processes.
pub fn merge(parts: Vec<CampaignResult>, seconds: f64) -> Option<CampaignResult> {
    let mut parts = parts.into_iter();
    let mut merged = parts.next()?;
    for part in parts {
        merged.absorb(part);
    }
    // Shards interleave scenarios; report them in the plan's order.
    let order: Vec<&str> = crate::crash::scenarios().iter().map(|s| s.name).collect();
    merged
        .crash
        .sort_by_key(|d| order.iter().position(|name| *name == d.operation));
    merged.seconds = seconds;
    Some(merged)
}

impl CampaignResult {
    /// This campaign's row of the plan's table (see [`TABLE_HEADER`]), for
    /// the console and for the docs alike.
    pub fn row(&self) -> [String; 7] {
        let retryable = match self.campaign {
            Campaign::Concurrent => format!(
                "{:.1}%",
                100.0 * self.retryable_ops as f64 / self.ops.max(1) as f64
            ),
            _ => "–".to_string(),
        };
        [
            self.campaign.name().to_string(),
            format!("{} {}", self.units, self.campaign.unit()),
            self.ops.to_string(),
            self.failures.len().to_string(),
            retryable,
            format!("{:.0}", self.ops_per_second()),
            format!("{:.1} s", self.seconds),
        ]
    }

    /// The shape counts in words: every shape, one that never happened
    /// too (a gap shows).
    pub fn shape_line(&self) -> String {
        crate::concurrent::shapes::Shape::ALL
            .iter()
            .map(|shape| {
                let n = self.shapes.get(shape.name()).copied().unwrap_or(0);
                format!("{}: {n}", shape.name())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The columns of the plan's table.
pub const TABLE_HEADER: [&str; 7] = [
    "campaign",
    "count",
    "ops",
    "failures",
    "retryable",
    "ops/s",
    "time",
];

pub fn print_table(results: &[CampaignResult]) {
    print!("{}", text_table(results));
}

/// The plan's table as the console shows it: one line per campaign.
pub fn text_table(results: &[CampaignResult]) -> String {
    let line = |cells: &[&str]| {
        format!(
            "{:<11} {:>14} {:>8} {:>9} {:>9} {:>8} {:>8}\n",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]
        )
    };
    let rows = results.iter().map(|r| {
        let row = r.row();
        line(&row.each_ref().map(String::as_str))
    });
    std::iter::once(line(&TABLE_HEADER)).chain(rows).collect()
}

/// The plan's table in Markdown: one row per campaign.
pub fn markdown_table(results: &[CampaignResult]) -> String {
    let mut out = format!("| {} |\n", TABLE_HEADER.join(" | "));
    out += &format!("|{}\n", "---|".repeat(TABLE_HEADER.len()));
    for r in results {
        out += &format!("| {} |\n", r.row().join(" | "));
    }
    out
}

/// Per-operation figures of a crash campaign.
pub fn print_crash_details(result: &CampaignResult) {
    if result.crash.is_empty() {
        return;
    }
    println!(
        "{:<20} {:>6} {:>7} {:>10}  residue after recovery (states)",
        "operation", "writes", "states", "violations"
    );
    for d in &result.crash {
        println!(
            "{:<20} {:>6} {:>7} {:>10}  {}",
            d.operation,
            d.writes,
            d.states,
            d.violations,
            d.residue_text()
        );
    }
}
