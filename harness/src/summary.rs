//! `stampede report summary`: what a CI page shows of a verify report (a
//! job summary, a comment): the verdict with the seed and the revision it
//! is about, one line per campaign, and every failure with the line that
//! replays it. The report stays the record; this is for people.

use std::fmt::Write as _;

use crate::report::{markdown_table, text_table, Report};

use crate::verdict::Failure;

/// The summary as plain text (a terminal, a log) or as Markdown (GitHub's
/// `$GITHUB_STEP_SUMMARY`, any page that renders it).
pub fn render(report: &Report, markdown: bool) -> String {
    let mut out = String::new();
    let verdict = verdict(report);
    let about = about(report);
    let failures: Vec<&Failure> = report.results.iter().flat_map(|r| &r.failures).collect();
    if markdown {
        let _ = writeln!(out, "### stampede verify: {verdict}\n\n{about}\n");
        out += &markdown_table(&report.results);
        if !failures.is_empty() {
            let _ = writeln!(out, "\n#### Failures\n");
        }
        for (n, failure) in failures.iter().enumerate() {
            let _ = writeln!(
                out,
                "{}. **{}** (unit {}): {}\n   ```sh\n   {}\n   ```",
                n + 1,
                failure.campaign.name(),
                failure.unit,
                headline(failure),
                replay_command(report, failure)
            );
        }
    } else {
        let _ = writeln!(out, "stampede verify: {verdict} ({about})");
        out += &text_table(&report.results);
        for failure in failures {
            let _ = writeln!(
                out,
                "\nFAILURE [{}] unit {}: {}\n  {}",
                failure.campaign.name(),
                failure.unit,
                headline(failure),
                replay_command(report, failure)
            );
        }
    }
    out
}

/// `passed`, or how many units failed.
fn verdict(report: &Report) -> String {
    let failed: usize = report.results.iter().map(|r| r.failures.len()).sum();
    match failed {
        0 if report.passed => "passed".into(),
        0 => "FAILED".into(),
        1 => "FAILED, 1 failure".into(),
        n => format!("FAILED, {n} failures"),
    }
}

/// What the report is about: the seed that replays it, the revision that
/// ran it, and where it ran.
fn about(report: &Report) -> String {
    let b = &report.budgets;
    let mut parts = vec![
        format!("seed {}", b.seed),
        format!("revision {}", report.revision),
        format!("harness {}", report.harness_version),
        match report.jobs {
            1 => "1 job".to_string(),
            n => format!("{n} jobs"),
        },
    ];
    if let Some([k, n]) = report.shard {
        parts.push(format!("part {k} of {n}"));
    }
    if let Some(place) = &b.s3 {
        let server = place.server.map_or("S3", |kind| kind.name());
        parts.push(format!("graphs on {server}"));
    }
    if let Some(command) = &b.engine_cmd {
        parts.push(format!("engine `{command}`"));
    }
    parts.join(", ")
}

/// A failure's first line: what broke (the rest is in the report and in
/// the replay).
fn headline(failure: &Failure) -> &str {
    failure.message.lines().next().unwrap_or("").trim()
}

/// The command that replays `failure`, on the place and peer it ran on.
fn replay_command(report: &Report, failure: &Failure) -> String {
    let line = report.replay_line(failure);
    line.strip_prefix("replay: ").unwrap_or(&line).to_string()
}
