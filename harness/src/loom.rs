//! The loom campaign: the protocol crate's loom models, run as one unit
//! (`cargo test` in release, in the source tree); its replay is the
//! command to run.

use crate::budgets::Budgets;
use crate::tally::CampaignResult;
use crate::verdict::{shell_form, Campaign, Failure};

/// One unit: the whole suite at the budget's preemption bound.
pub fn units(_: &Budgets) -> u32 {
    1
}

pub fn run_unit(budgets: &Budgets, _index: u32) -> CampaignResult {
    let (models, failure) = run(budgets.loom_bound);
    CampaignResult {
        units: models,
        failures: failure.into_iter().collect(),
        ..CampaignResult::new(Campaign::Loom)
    }
}

/// `cargo test` of the loom suite in release, in the source tree (`cargo`
/// from `$CARGO`): every model, or the one named `test` exactly.
pub fn command(bound: u32, test: Option<&str>) -> std::process::Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "test",
            "-p",
            "stampede-protocol",
            "--features",
            "loom,defects",
            "--release",
            "--test",
            "loom",
        ])
        .args(test)
        .arg("--")
        .args(test.map(|_| "--exact"))
        .arg("--test-threads=1")
        .env("LOOM_MAX_PREEMPTIONS", bound.to_string());
    command
}

/// The loom suite (it builds only the protocol crate). Returns the models
/// run and a failure, if any, whose replay is the command to run.
pub fn run(bound: u32) -> (u64, Option<Failure>) {
    let mut loom = command(bound, None);
    let command = shell_form(&loom);
    let failure = |message: String| Failure::new(Campaign::Loom, command.clone(), message);
    let output = match loom.output() {
        Ok(o) => o,
        Err(e) => {
            return (
                0,
                Some(failure(format!("could not run cargo for loom: {e}"))),
            )
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let passed = stdout
        .lines()
        .filter(|l| l.starts_with("test ") && l.ends_with(" ok"))
        .count() as u64;
    if output.status.success() {
        return (passed, None);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    (
        passed,
        Some(failure(format!("{stdout}\n{}", tail.join("\n")))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loom failure's replay is a shell command that runs from any
    /// directory: it names the workspace, the bound and the test.
    #[test]
    fn a_loom_replay_is_a_command_to_run_anywhere() {
        let shown = shell_form(&command(2, Some("sweep_races")));
        let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        assert!(
            shown.starts_with(&format!("cd '{workspace}' && LOOM_MAX_PREEMPTIONS=2 ")),
            "{shown}"
        );
        assert!(
            shown.ends_with("--test loom sweep_races -- --exact --test-threads=1"),
            "{shown}"
        );
        // It parses as one shell command line.
        let status = std::process::Command::new("sh")
            .args(["-n", "-c", &shown])
            .status()
            .unwrap();
        assert!(status.success(), "{shown}");
    }
}
