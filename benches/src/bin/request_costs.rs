//! `make request-costs`: the storage calls of each operation, on a local
//! filesystem (through `file-object-store://`) and as requests on S3, side
//! by side, read from the insta goldens that `make test` holds them to
//! (`snapshots/cost_*.snap`, `snapshots/cost_s3_*.snap`), and written into
//! the `request-costs` block of each document given.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// The snapshots directory.
    snapshots: PathBuf,
    /// Documents whose `request-costs` block to rewrite.
    #[arg(long = "doc")]
    docs: Vec<PathBuf>,
}

/// Calls by kind, from one golden's body (`Kind: n` lines after `---`).
fn calls(path: &Path) -> Result<BTreeMap<String, u64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let body = text.split_once("\n---\n").map_or("", |(_, body)| body);
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (kind, n) = line
                .split_once(": ")
                .ok_or_else(|| format!("{}: not `Kind: n`: {line:?}", path.display()))?;
            let n = n
                .trim()
                .parse()
                .map_err(|e| format!("{}: {line:?}: {e}", path.display()))?;
            Ok((kind.to_string(), n))
        })
        .collect()
}

fn cell(calls: Option<&BTreeMap<String, u64>>) -> String {
    match calls {
        None => "–".into(),
        Some(calls) => {
            let total: u64 = calls.values().sum();
            let kinds: Vec<String> = calls.iter().map(|(k, n)| format!("{k} {n}")).collect();
            format!("**{total}** ({})", kinds.join(", "))
        }
    }
}

fn table(snapshots: &Path) -> Result<String, String> {
    let mut s3 = BTreeMap::new();
    let mut local = BTreeMap::new();
    let entries =
        std::fs::read_dir(snapshots).map_err(|e| format!("{}: {e}", snapshots.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if let Some(op) = name.strip_prefix("cost_s3_") {
            s3.insert(op.to_string(), calls(&path)?);
        } else if let Some(op) = name.strip_prefix("cost_") {
            local.insert(op.to_string(), calls(&path)?);
        }
    }
    if s3.is_empty() {
        return Err(format!("no cost_s3_*.snap in {}", snapshots.display()));
    }
    let mut rows = vec![
        "| operation | local calls (`file-object-store://`) | requests on S3 (SeaweedFS) |"
            .to_string(),
        "|---|---|---|".to_string(),
    ];
    for (op, on_s3) in &s3 {
        rows.push(format!(
            "| {} | {} | {} |",
            op.replace('_', " "),
            cell(local.get(op)),
            cell(Some(on_s3))
        ));
    }
    rows.push(String::new());
    rows.push(format!(
        "From the goldens `make test` holds (`{}/cost_*.snap`), by `make request-costs`.",
        snapshots.display()
    ));
    Ok(rows.join("\n"))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    stampede_benches::publish("request-costs", table(&args.snapshots), &args.docs)
}
