//! Scheduled rounds of actor processes: the parent's scheduler grants turns
//! to `stampede actor` processes over a loopback TCP connection each, so a
//! round of processes takes turns exactly like a round of tasks (the same
//! [`Scheduler`], the same trace) and replays as exactly.
//!
//! The conversation is JSON Lines. An actor says who it is, then sends its
//! turnstile's traffic in batches: `park` for every storage call its probe
//! parks (with the call's id, its issue order, kind and path), `done` when
//! a granted call is over. The parent answers each park with that id's
//! `grant` when the scheduler picks it. Closing the connection (the process
//! exits) finishes the actor. The parent turns each message into the same
//! call on the actor's in-process [`Turnstile`] gate, so the scheduler
//! cannot tell a process from a task.
//!
//! Why batches: with tasks, the scheduler lets every woken task run until
//! it parks before it decides, so the set of parked calls at a decision
//! never depends on timing. An actor process does that on its own side: a
//! park or a done is held until its runtime has run everything woken (the
//! same yields), then sent with every other park made meanwhile, parks
//! first, as one batch the scheduler applies whole.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use stampede_engine::probe::{Call, Turnstile};
use tokio::sync::oneshot;

use super::schedule::Scheduler;

/// What an actor process tells the parent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FromActor {
    Hello { actor: usize },
    Batch(Vec<Turnstiled>),
}

/// One call on an actor's turnstile.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Turnstiled {
    Park { id: u64, call: Call, path: String },
    Done,
}

/// What the parent tells an actor process.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ToActor {
    Grant { id: u64 },
}

fn send<T: Serialize>(stream: &mut TcpStream, message: &T) -> std::io::Result<()> {
    let mut line = serde_json::to_string(message).expect("turn messages serialize");
    line.push('\n');
    stream.write_all(line.as_bytes())
}

/// The parent's side: accept `actors` connections on 127.0.0.1 and relay
/// each actor's turns to `scheduler`. Returns the address the actors
/// connect to; the relays run on threads of their own until their actor's
/// connection closes, waking grants on `runtime`.
pub fn serve(
    scheduler: Arc<Scheduler>,
    actors: usize,
    runtime: tokio::runtime::Handle,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for _ in 0..actors {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let (scheduler, runtime) = (scheduler.clone(), runtime.clone());
            std::thread::spawn(move || relay(stream, &scheduler, &runtime));
        }
    });
    Ok(addr)
}

/// One actor's connection: its parks and dones onto its gate, each grant
/// back to it, and its end as the actor's finish.
fn relay(stream: TcpStream, scheduler: &Arc<Scheduler>, runtime: &tokio::runtime::Handle) {
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let writer = Arc::new(Mutex::new(writer));
    // Grants sent whose `done` has not come: a process that exits (or
    // dies) mid-call ends them.
    let granted_calls = Arc::new(AtomicU64::new(0));
    let mut actor = None;
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        match (serde_json::from_str::<FromActor>(&line), &actor) {
            (Ok(FromActor::Hello { actor: a }), None) => actor = Some((a, scheduler.gate(a))),
            (Ok(FromActor::Batch(batch)), Some((_, gate))) => scheduler.whole(|| {
                for turnstiled in batch {
                    match turnstiled {
                        Turnstiled::Park { id, call, path } => {
                            // Parked now, in the order the actor issued its calls.
                            let granted = gate.park(call, path);
                            let (writer, calls) = (writer.clone(), granted_calls.clone());
                            runtime.spawn(async move {
                                granted.await;
                                calls.fetch_add(1, Ordering::SeqCst);
                                let _ = send(&mut writer.lock().unwrap(), &ToActor::Grant { id });
                            });
                        }
                        Turnstiled::Done => {
                            granted_calls.fetch_sub(1, Ordering::SeqCst);
                            gate.done();
                        }
                    }
                }
            }),
            _ => {
                // The actor's calls then run unscheduled (it sees the
                // connection close); the round is still judged.
                eprintln!("an actor process broke the turn protocol: {line}");
                let _ = writer.lock().unwrap().shutdown(std::net::Shutdown::Both);
                break;
            }
        }
    }
    if let Some((a, gate)) = actor {
        for _ in 0..granted_calls.swap(0, Ordering::SeqCst) {
            gate.done();
        }
        scheduler.finish(a);
    }
}

/// The actor's side: a turnstile whose turns the parent grants.
#[derive(Debug)]
pub struct RemoteGate {
    stream: Mutex<TcpStream>,
    waiting: Arc<Mutex<HashMap<u64, oneshot::Sender<()>>>>,
    next: AtomicU64,
    /// Parks and dones not yet sent, and whether a send is on its way.
    outbox: Mutex<Vec<Turnstiled>>,
    sending: AtomicBool,
    /// The actor's runtime, where a batch waits for its woken tasks (a
    /// call may end on a thread or runtime of Lance's own).
    runtime: tokio::runtime::Handle,
}

impl RemoteGate {
    /// Connect to the parent at `addr` as actor `actor`, whose work runs
    /// on `runtime`.
    pub fn connect(
        addr: &str,
        actor: usize,
        runtime: tokio::runtime::Handle,
    ) -> std::io::Result<Arc<RemoteGate>> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        send(&mut stream, &FromActor::Hello { actor })?;
        let waiting: Arc<Mutex<HashMap<u64, oneshot::Sender<()>>>> = Arc::default();
        let (reader, grants) = (stream.try_clone()?, waiting.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                let Ok(ToActor::Grant { id }) = serde_json::from_str(&line) else {
                    eprintln!("the parent sent no grant: {line}");
                    break;
                };
                if let Some(granted) = grants.lock().unwrap().remove(&id) {
                    let _ = granted.send(());
                }
            }
            // The parent is gone: no turn will come, so none is waited for.
            grants.lock().unwrap().clear();
        });
        Ok(Arc::new(RemoteGate {
            stream: Mutex::new(stream),
            waiting,
            next: AtomicU64::new(0),
            outbox: Mutex::default(),
            sending: AtomicBool::new(false),
            runtime,
        }))
    }

    /// Queue `turnstiled`; once this runtime has run every woken task,
    /// send the queue as one batch, parks first.
    fn post(self: &Arc<Self>, turnstiled: Turnstiled) {
        self.outbox.lock().unwrap().push(turnstiled);
        if self.sending.swap(true, Ordering::SeqCst) {
            return;
        }
        let gate = self.clone();
        self.runtime.spawn(async move {
            super::schedule::let_woken_tasks_run().await;
            gate.flush();
        });
    }

    /// Send what is queued now. Besides the batches [`RemoteGate::post`]
    /// sends, the actor calls it once its op has returned: the last call's
    /// `done` would wait for a runtime that no longer runs.
    pub fn flush(&self) {
        self.sending.store(false, Ordering::SeqCst);
        let mut batch = std::mem::take(&mut *self.outbox.lock().unwrap());
        // A done last: the call stays running until its actor's new parks
        // are in, so no decision is taken without them.
        batch.sort_by_key(|t| matches!(t, Turnstiled::Done));
        let parks: Vec<u64> = batch
            .iter()
            .filter_map(|t| match t {
                Turnstiled::Park { id, .. } => Some(*id),
                Turnstiled::Done => None,
            })
            .collect();
        if send(&mut self.stream.lock().unwrap(), &FromActor::Batch(batch)).is_err() {
            // The parent is gone: these calls run unscheduled.
            let mut waiting = self.waiting.lock().unwrap();
            parks.iter().for_each(|id| drop(waiting.remove(id)));
        }
    }
}

/// The turnstile an actor process's probe parks at.
#[derive(Debug)]
pub struct RemoteTurnstile(pub Arc<RemoteGate>);

impl Turnstile for RemoteTurnstile {
    fn park(&self, call: Call, path: String) -> BoxFuture<'static, ()> {
        let id = self.0.next.fetch_add(1, Ordering::SeqCst);
        let (granted, grant) = oneshot::channel();
        self.0.waiting.lock().unwrap().insert(id, granted);
        self.0.post(Turnstiled::Park { id, call, path });
        async move {
            let _ = grant.await;
        }
        .boxed()
    }

    fn done(&self) {
        self.0.post(Turnstiled::Done);
    }
}
