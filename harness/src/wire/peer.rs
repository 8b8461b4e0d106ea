//! The harness's side of the wire: a peer process as a system under test.
//!
//! `stampede verify --engine-cmd 'CMD ARGS'` sets the peer once per process
//! ([`use_peer`]); from then on the sequential campaign runs each case
//! against its own peer process (one process per handle) and the
//! concurrent campaign runs each actor as one. The peer's `hello` says
//! which ops it supports; no other op is generated for it.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use stampede_model::{Op, Outcome, View};

use super::{Hello, Request, Response, PROTOCOL};
use crate::adapter::SystemUnderTest;

/// Why a peer could not be used. Every variant names the command.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("the peer `{command}` did not start: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("the peer `{command}` {what}{}", stderr_tail(.stderr))]
    Broken {
        command: String,
        what: String,
        stderr: String,
    },
    #[error("the peer `{command}` speaks wire protocol {found}; this harness speaks {PROTOCOL}")]
    Protocol { command: String, found: u32 },
    #[error(
        "the peer `{command}` lists ops the model does not have: {ops:?} (the model's: {:?})",
        Op::NAMES
    )]
    UnknownOps { command: String, ops: Vec<String> },
    #[error("the peer `{command}` does not support Init, which every campaign needs")]
    NoInit { command: String },
    #[error("the peer `{command}` refused {request}: {message}")]
    Refused {
        command: String,
        request: String,
        message: String,
    },
}

fn stderr_tail(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!("; its stderr ended with:\n{stderr}")
    }
}

/// How long a peer may take to answer one request, unless set.
fn default_answer_timeout() -> Duration {
    Duration::from_secs(stampede_vocabulary::env_budget(
        "STAMPEDE_PEER_TIMEOUT_SECONDS",
        120,
    ))
}

/// Keep at most this much of a peer's stderr, its end.
const STDERR_KEPT: usize = 16 * 1024;

/// A running peer process and the roots of its graphs.
pub struct Peer {
    command: String,
    child: Child,
    stdin: RefCell<ChildStdin>,
    answers: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    hello: Hello,
    answer_timeout: Duration,
    /// Where this peer's graphs live, as a sequential case's system under
    /// test: `g0`, then a fresh `gN` for each legacy graph written.
    dir: tempfile::TempDir,
    generation: usize,
}

impl Peer {
    /// Start `command` (run by `sh -c`) and greet it: its protocol must be
    /// ours, its ops the model's, and it must support `Init`.
    pub fn start(command: &str) -> Result<Peer, PeerError> {
        let mut child = Command::new("sh")
            .args(["-c", command])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| PeerError::Spawn {
                command: command.into(),
                source,
            })?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let (send, answers) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let kept = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut kept = kept.lock().unwrap();
                kept.push_str(&String::from_utf8_lossy(&buf[..n]));
                if kept.len() > STDERR_KEPT {
                    let cut = kept.len() - STDERR_KEPT;
                    let cut = (cut..kept.len())
                        .find(|i| kept.is_char_boundary(*i))
                        .unwrap_or(kept.len());
                    kept.replace_range(..cut, "");
                }
            }
        });
        let mut peer = Peer {
            command: command.into(),
            child,
            stdin: RefCell::new(stdin),
            answers,
            stderr,
            hello: super::stampede_hello(),
            answer_timeout: default_answer_timeout(),
            dir: tempfile::tempdir().expect("a temp dir for the peer's graphs"),
            generation: 0,
        };
        let hello = match peer.call(&Request::Hello { protocol: PROTOCOL })? {
            Response::Hello(hello) => hello,
            other => return Err(peer.broken(format!("answered hello with {other:?}"))),
        };
        if hello.protocol != PROTOCOL {
            return Err(PeerError::Protocol {
                command: command.into(),
                found: hello.protocol,
            });
        }
        let unknown = hello.unknown_ops();
        if !unknown.is_empty() {
            return Err(PeerError::UnknownOps {
                command: command.into(),
                ops: unknown.into_iter().map(str::to_string).collect(),
            });
        }
        if !hello.supports("Init") {
            return Err(PeerError::NoInit {
                command: command.into(),
            });
        }
        peer.hello = hello;
        Ok(peer)
    }

    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Wait at most `timeout` for each answer from now on (default 120 s,
    /// or `STAMPEDE_PEER_TIMEOUT_SECONDS`).
    #[cfg(any(test, feature = "testing"))]
    pub fn set_answer_timeout(&mut self, timeout: Duration) {
        self.answer_timeout = timeout;
    }

    fn broken(&self, what: String) -> PeerError {
        PeerError::Broken {
            command: self.command.clone(),
            what,
            stderr: self.stderr.lock().unwrap().clone(),
        }
    }

    /// Send one request and wait for its answer.
    fn call(&self, request: &Request) -> Result<Response, PeerError> {
        let line = serde_json::to_string(request).expect("requests serialize");
        let sent = {
            let mut stdin = self.stdin.borrow_mut();
            writeln!(stdin, "{line}").and_then(|()| stdin.flush())
        };
        if let Err(e) = sent {
            return Err(self.broken(format!("stopped reading requests ({e})")));
        }
        let answer = match self.answers.recv_timeout(self.answer_timeout) {
            Ok(answer) => answer,
            Err(RecvTimeoutError::Timeout) => {
                return Err(self.broken(format!(
                    "did not answer within {:?} (STAMPEDE_PEER_TIMEOUT_SECONDS): {line}",
                    self.answer_timeout
                )))
            }
            Err(RecvTimeoutError::Disconnected) => {
                // Let the stderr reader catch up with the peer's last words.
                std::thread::sleep(Duration::from_millis(50));
                return Err(self.broken(format!("exited without answering {line}")));
            }
        };
        match serde_json::from_str(&answer) {
            Ok(Response::Refused { message }) => Err(PeerError::Refused {
                command: self.command.clone(),
                request: line,
                message,
            }),
            Ok(response) => Ok(response),
            Err(e) => Err(self.broken(format!(
                "answered {line} with a line that is no response ({e}): {answer}"
            ))),
        }
    }

    /// Apply `op` to the graph at `root` with the peer's handle.
    pub fn apply_at(&self, root: &str, op: &Op) -> Result<Outcome, PeerError> {
        let request = Request::Apply {
            root: root.into(),
            op: op.clone(),
        };
        match self.call(&request)? {
            Response::Outcome(outcome) => Ok(outcome),
            other => Err(self.broken(format!("answered {request:?} with {other:?}"))),
        }
    }

    /// The view of the graph at `root` through the peer's handle.
    pub fn view_at(&self, root: &str) -> Result<View, PeerError> {
        let request = Request::View { root: root.into() };
        match self.call(&request)? {
            Response::View(view) => Ok(view.into()),
            other => Err(self.broken(format!("answered {request:?} with {other:?}"))),
        }
    }

    /// The root of this peer's current graph (as a sequential case's
    /// system under test).
    pub fn root(&self) -> String {
        self.dir
            .path()
            .join(format!("g{}", self.generation))
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A peer that breaks the protocol fails the case it runs in, with why.
impl SystemUnderTest for Peer {
    fn apply(&mut self, op: &Op) -> Outcome {
        if let Op::WriteLegacy(_) = op {
            self.generation += 1;
        }
        self.apply_at(&self.root(), op)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn view(&self) -> View {
        self.view_at(&self.root()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn observes_views(&self) -> bool {
        self.hello.view
    }
}

/// This process's peer: its command and its `hello`.
#[derive(Clone, Debug)]
pub struct PeerSpec {
    pub command: String,
    pub hello: Hello,
}

static PEER: OnceLock<PeerSpec> = OnceLock::new();

/// Judge the peer `command` instead of our engine in this process's
/// campaigns: it is started once here to learn what it supports.
pub fn use_peer(command: &str) -> Result<&'static PeerSpec, PeerError> {
    let hello = Peer::start(command)?.hello.clone();
    let spec = PEER.get_or_init(|| PeerSpec {
        command: command.into(),
        hello,
    });
    assert_eq!(
        spec.command, command,
        "this process already judges another peer"
    );
    Ok(spec)
}

/// The peer this process judges, if not our engine.
pub fn peer() -> Option<&'static PeerSpec> {
    PEER.get()
}

/// Whether campaigns may generate `op` (by name): every op for our
/// engine, a peer's declared ones for a peer.
pub fn supports(op: &str) -> bool {
    peer().is_none_or(|p| p.hello.supports(op))
}

/// Whether opens report what each one swept (`Hello::reports_sweeps`):
/// ours do; a peer says.
pub fn reports_sweeps() -> bool {
    peer().is_none_or(|p| p.hello.reports_sweeps)
}
