//! Fixtures shared by the benchmarks.

use std::path::Path;

/// Copy a graph directory, so each iteration opens an untouched fixture.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the fixture") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// A throwaway copy of `fixture`, alive as long as the returned dir.
pub fn fresh_copy(fixture: &Path) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = dir.path().join("graph");
    copy_dir(fixture, &root);
    let root = root.to_string_lossy().into_owned();
    (dir, root)
}

/// The build and machine a `make bench` run was on, written beside
/// criterion's estimates by `benches/open.rs` for `bench_report`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct BenchRun {
    /// The harness version with its git revision.
    pub harness: String,
    /// Cores the run could use.
    pub cores: usize,
}

impl BenchRun {
    /// Its file name under criterion's directory.
    pub const FILE: &'static str = "stampede-run.json";
}

/// Print a generated table and write it into the `block` of each document
/// (`<!-- generated:BLOCK -->`); exit 2 naming what could not be written.
pub fn publish(
    block: &str,
    table: Result<String, String>,
    docs: &[std::path::PathBuf],
) -> std::process::ExitCode {
    let written = table.and_then(|table| {
        // The block's closing marker goes on a line of its own.
        let table = format!("{}\n", table.trim_end());
        print!("{table}");
        docs.iter().try_for_each(|doc| {
            let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", doc.display());
            let text = std::fs::read_to_string(doc).map_err(|e| failed(&e))?;
            let text =
                stampede_harness::figures::rewrite(&text, block, &table).map_err(|e| failed(&e))?;
            std::fs::write(doc, text).map_err(|e| failed(&e))
        })
    });
    match written {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
