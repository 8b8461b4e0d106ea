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

/// Criterion's estimates of one run (`$CARGO_TARGET_DIR/criterion`), and
/// what the benches wrote beside them.
pub struct Estimates {
    pub root: std::path::PathBuf,
}

impl Estimates {
    /// The mean time of a benchmark (`group/bench[/input]`) in seconds, in
    /// the latest run; `None` when it did not run.
    pub fn mean(&self, parts: &[&str]) -> Result<Option<f64>, String> {
        self.mean_in(parts, "new")
    }

    /// The mean time in seconds in `run`: `new`, or a saved baseline.
    pub fn mean_in(&self, parts: &[&str], run: &str) -> Result<Option<f64>, String> {
        #[derive(serde::Deserialize)]
        struct Estimate {
            mean: Mean,
        }
        #[derive(serde::Deserialize)]
        struct Mean {
            /// Nanoseconds per iteration.
            point_estimate: f64,
        }
        Ok(self
            .json::<Estimate>(&Self::dir(parts, run).join("estimates.json"))?
            .map(|e| e.mean.point_estimate / 1e9))
    }

    /// Elements per second in `run` (the bench's element throughput over
    /// its mean time); `None` when it did not run.
    pub fn rate_in(&self, parts: &[&str], run: &str) -> Result<Option<f64>, String> {
        /// Criterion's `{"throughput": {"Elements": n}}`.
        #[derive(serde::Deserialize)]
        struct Benchmark {
            throughput: Option<Throughput>,
        }
        #[derive(serde::Deserialize)]
        struct Throughput {
            #[serde(rename = "Elements")]
            elements: Option<u64>,
        }
        let dir = Self::dir(parts, run);
        let Some(benchmark) = self.json::<Benchmark>(&dir.join("benchmark.json"))? else {
            return Ok(None);
        };
        let elements = benchmark
            .throughput
            .and_then(|t| t.elements)
            .ok_or_else(|| format!("{}: no element throughput", dir.display()))?;
        Ok(self
            .mean_in(parts, run)?
            .map(|seconds| elements as f64 / seconds))
    }

    fn dir(parts: &[&str], run: &str) -> std::path::PathBuf {
        let mut dir: std::path::PathBuf = parts.iter().collect();
        dir.push(run);
        dir
    }

    /// A JSON file under the criterion directory (`None`: not written).
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        path: &std::path::Path,
    ) -> Result<Option<T>, String> {
        let path = self.root.join(path);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }
}

/// The build and machine a bench group ran on, written beside its
/// criterion estimates (`<group>/stampede-run.json`) for the reports.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct BenchRun {
    /// The harness version with its git revision.
    pub harness: String,
    /// `release` or `dev`.
    pub profile: String,
    /// Cores the run could use.
    pub cores: usize,
}

impl BenchRun {
    const FILE: &'static str = "stampede-run.json";

    /// Record this build and machine for `group`.
    pub fn record(group: &str) {
        let run = BenchRun {
            harness: stampede_harness::binary::harness_build(),
            profile: if cfg!(debug_assertions) {
                "dev"
            } else {
                "release"
            }
            .into(),
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        };
        let dir = criterion_dir().join(group);
        std::fs::create_dir_all(&dir).expect("the criterion directory");
        std::fs::write(
            dir.join(Self::FILE),
            serde_json::to_string_pretty(&run).expect("serializes"),
        )
        .expect("write the run's record");
    }

    /// The record of `group`'s last run, if any.
    pub fn of(estimates: &Estimates, group: &str) -> Result<Option<BenchRun>, String> {
        estimates.json(&std::path::Path::new(group).join(Self::FILE))
    }

    /// As the reports say it: `harness 0.1.0+abc in release, 2 cores`.
    pub fn describe(run: Option<&BenchRun>) -> String {
        match run {
            Some(r) => format!("harness {} in {}, {} cores", r.harness, r.profile, r.cores),
            None => "an unrecorded build".into(),
        }
    }
}

/// Where criterion writes its estimates.
pub fn criterion_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "target".into())
        .join("criterion")
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
