//! Running a round on a real graph: actors as tokio tasks or as `stampede
//! actor` processes, each through its own interleaving injector.

use std::sync::Arc;

use stampede_engine::probe::{FaultPlan, Probe};
use stampede_engine::storage::with_own_session;
use stampede_model::{LegacyGraph, Mode, Observation, Op, View};

use stampede_engine::lance::io::ObjectStoreParams;

use super::history::{Event, History};
use super::schedule::{Schedule, Scheduler, Turns};
use super::shapes::Span;
use super::{Round, Seen};
use crate::adapter::{Stampede, SystemUnderTest};
use crate::runner::Runner;

/// How the actors of a round run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actors {
    /// Tokio tasks of this process, each storage call passing an
    /// interleaving injector (seeded delays and yields).
    Tasks,
    /// `stampede actor` processes, each with its own injector.
    Processes,
    /// Processes of the peer engine `--engine-cmd` names, one per actor,
    /// speaking the wire protocol (no injector: timing alone interleaves).
    Peers,
}

impl Actors {
    /// The mode's name in a replay token.
    pub fn name(self) -> &'static str {
        match self {
            Actors::Tasks => "tasks",
            Actors::Processes => "processes",
            Actors::Peers => "peers",
        }
    }

    pub fn parse(name: &str) -> Option<Actors> {
        [Actors::Tasks, Actors::Processes, Actors::Peers]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

/// Run a round with tasks and injector seed 0.
#[cfg(any(test, feature = "testing"))]
pub fn execute(round: &Round) -> (Vec<Seen>, View) {
    execute_with(round, Actors::Tasks, 0)
}

/// Run a round on a real graph; return what each actor saw and the final
/// view (observed through a fresh read-only handle). Actor `i`'s injector
/// is seeded by `seeds::mix(seed, i)`.
pub fn execute_with(round: &Round, actors: Actors, seed: u64) -> (Vec<Seen>, View) {
    if actors == Actors::Peers {
        let peer = crate::wire::peer::peer().expect("a round of peers needs --engine-cmd");
        return execute_on_peers(round, &peer.command).unwrap_or_else(|e| panic!("{e}"));
    }
    let (observer, root) = prepare(&round.setup, &round.prelude);
    let interleaving = Interleaving::new(Schedule::Wild, seed, round.actors.len(), &root);
    let (seen, _) = interleaving.run(run_actors(round, |i, op| {
        let root = root.clone();
        let params = interleaving.params(i);
        async move {
            match actors {
                Actors::Tasks => act_with(&root, op, params).await,
                Actors::Processes => {
                    let timing = ProcessTiming::Injector(crate::seeds::mix(seed, i));
                    act_in_process(&root, op, timing).await
                }
                Actors::Peers => unreachable!("peers run in execute_on_peers"),
            }
        }
    }));
    (seen, final_view(observer, &root))
}

/// A scheduled round: what the actors saw, the final view, and the turns.
#[derive(Clone, Debug)]
pub struct Scheduled {
    pub seen: Vec<Seen>,
    pub view: View,
    pub turns: Turns,
}

/// Run a round with its actors as tasks taking turns at the storage
/// boundary (see `schedule`): one thread, one granted call at a time, the
/// grants chosen by `schedule` from `seed`.
pub fn execute_scheduled(round: &Round, schedule: Schedule, seed: u64) -> Scheduled {
    execute_scheduled_with(round, Actors::Tasks, schedule, seed)
}

/// A scheduled round with its actors as tasks, or as `stampede actor`
/// processes whose turns the same scheduler grants over loopback
/// connections (`remote_turns`).
pub fn execute_scheduled_with(
    round: &Round,
    actors: Actors,
    schedule: Schedule,
    seed: u64,
) -> Scheduled {
    let (observer, root) = prepare(&round.setup, &round.prelude);
    let interleaving = Interleaving::new(schedule, seed, round.actors.len(), &root);
    let (seen, turns) = match actors {
        Actors::Tasks => interleaving.run(run_actors(round, |i, op| {
            let (root, params, done) = (root.clone(), interleaving.params(i), interleaving.done(i));
            async move {
                let seen = with_own_session(act_with(&root, op, params)).await;
                done();
                seen
            }
        })),
        Actors::Processes => {
            let scheduler = interleaving.scheduler.clone().expect("a scheduled round");
            interleaving.run(async {
                let turns = super::remote_turns::serve(
                    scheduler,
                    round.actors.len(),
                    tokio::runtime::Handle::current(),
                )
                .expect("a listener on 127.0.0.1 for the actors' turns");
                run_actors(round, |i, op| {
                    let (root, done) = (root.clone(), interleaving.done(i));
                    async move {
                        let timing = ProcessTiming::Turns {
                            addr: turns,
                            actor: i,
                        };
                        let seen = act_in_process(&root, op, timing).await;
                        // Also when the process died before it connected.
                        done();
                        seen
                    }
                })
                .await
            })
        }
        Actors::Peers => panic!("a peer's actors are not scheduled"),
    };
    Scheduled {
        seen,
        view: final_view(observer, &root),
        turns: turns.expect("a scheduled round has turns"),
    }
}

/// How one round's actors interleave: through seeded delay injectors on
/// four threads (`wild`), or taking turns at a scheduler on one thread
/// (which task runs next is then the runtime's FIFO order, never a race
/// between worker threads).
struct Interleaving {
    seed: u64,
    root: String,
    scheduler: Option<Arc<Scheduler>>,
}

impl Interleaving {
    fn new(schedule: Schedule, seed: u64, actors: usize, root: &str) -> Interleaving {
        let path_root = root.trim_start_matches("file-object-store://");
        Interleaving {
            seed,
            root: root.to_string(),
            scheduler: schedule
                .is_scheduled()
                .then(|| Scheduler::new(schedule, seed, actors, path_root)),
        }
    }

    /// The store parameters of actor `actor`: its probe, with its injector
    /// or its turnstile.
    fn params(&self, actor: usize) -> ObjectStoreParams {
        match &self.scheduler {
            Some(scheduler) => {
                let probe = Probe::new();
                probe.set_turnstile(Some(scheduler.gate(actor)));
                probe.params()
            }
            None => injector_params(crate::seeds::mix(self.seed, actor), &self.root),
        }
    }

    /// What actor `actor` calls when it is done (the scheduler stops
    /// waiting for it).
    fn done(&self, actor: usize) -> impl FnOnce() + Send + 'static {
        let scheduler = self.scheduler.clone();
        move || {
            if let Some(scheduler) = scheduler {
                scheduler.finish(actor);
            }
        }
    }

    /// Run the actors' `work` (with the scheduler granting turns, if
    /// scheduled); its result and the turns granted.
    fn run<T>(&self, work: impl std::future::Future<Output = T>) -> (T, Option<Turns>) {
        let runtime = match self.scheduler {
            Some(_) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
            None => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(4)
                .enable_all()
                .build(),
        }
        .expect("a runtime");
        runtime.block_on(async {
            let turns = self.scheduler.clone().map(|s| tokio::spawn(s.drive()));
            let out = work.await;
            let turns = match turns {
                Some(turns) => Some(turns.await.expect("the scheduler panicked")),
                None => None,
            };
            (out, turns)
        })
    }
}

/// Run every actor of `round` as a task (`act(i, op)`); what each saw, in
/// actor order.
async fn run_actors<F, Fut>(round: &Round, act: F) -> Vec<Seen>
where
    F: Fn(usize, Option<Op>) -> Fut,
    Fut: std::future::Future<Output = Seen> + Send + 'static,
{
    spawn_all(round.actors.iter().cloned(), act).await
}

/// Spawn `act(i, part)` for every part; their results, in order.
async fn spawn_all<P, T, F, Fut>(parts: impl Iterator<Item = P>, act: F) -> Vec<T>
where
    F: Fn(usize, P) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = parts
        .enumerate()
        .map(|(i, part)| tokio::spawn(act(i, part)))
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("an actor panicked"));
    }
    out
}

/// A history as it ran: each actor's timed events, the final view, and
/// (scheduled) the granted turns.
#[derive(Clone, Debug)]
pub struct HistoryRun {
    pub events: Vec<Vec<Event>>,
    pub view: View,
    pub turns: Option<Turns>,
}

/// Run a history: every actor a task on its own handle, through a seeded
/// interleaving injector (`wild`, on four threads) or taking turns at the
/// storage boundary (scheduled, on one).
pub fn execute_history(history: &History, schedule: Schedule, seed: u64) -> HistoryRun {
    let (observer, root) = prepare(&history.setup, &history.prelude);
    let interleaving = Interleaving::new(schedule, seed, history.actors.len(), &root);
    let epoch = std::time::Instant::now();
    let (events, turns) = interleaving.run(spawn_all(history.actors.iter().cloned(), |i, plan| {
        let (root, params, done) = (root.clone(), interleaving.params(i), interleaving.done(i));
        let scheduled = schedule.is_scheduled();
        async move {
            let act = super::history::act(&root, plan, params, epoch);
            // Scheduled: a session per actor, as for single-op rounds.
            let events = if scheduled {
                with_own_session(act).await
            } else {
                act.await
            };
            done();
            events
        }
    }));
    HistoryRun {
        events,
        view: final_view(observer, &root),
        turns,
    }
}

/// A round whose actors are peer processes: one peer writes the setup,
/// every actor's peer is started and greeted before any acts, then all act
/// at once (one thread each), and a fresh peer observes the graph through a
/// read-only handle.
fn execute_on_peers(
    round: &Round,
    command: &str,
) -> Result<(Vec<Seen>, View), crate::wire::peer::PeerError> {
    use crate::wire::peer::Peer;
    let dir = tempfile::tempdir().expect("a temp dir for the round's graph");
    let root = dir.path().join("graph").to_string_lossy().into_owned();
    let setup = match &round.setup {
        Some(graph) => Op::WriteLegacy(graph.clone()),
        None => Op::Init,
    };
    let writer = Peer::start(command)?;
    for op in std::iter::once(&setup).chain(&round.prelude) {
        let written = writer.apply_at(&root, op)?;
        assert!(written.is_ok(), "the peer's {op:?} failed: {written:?}");
    }
    let peers = round
        .actors
        .iter()
        .map(|_| Peer::start(command))
        .collect::<Result<Vec<_>, _>>()?;
    let start = std::sync::Barrier::new(peers.len());
    let seen = std::thread::scope(|scope| {
        let actors: Vec<_> = peers
            .into_iter()
            .zip(&round.actors)
            .map(|(peer, op)| {
                let (root, start) = (&root, &start);
                scope.spawn(move || {
                    start.wait();
                    let began = Span::now();
                    let opened = peer.apply_at(root, &Op::Open(Mode::ReadWrite))?;
                    let open = Span::since(began);
                    match settled_by_open(opened, op.as_ref()) {
                        Ok(seen) => Ok(Seen { open, ..seen }),
                        Err((swept, op)) => {
                            let began = Span::now();
                            let outcome = peer.apply_at(root, op)?;
                            Ok(Seen {
                                swept,
                                outcome,
                                open_failed: false,
                                open,
                                op: Span::since(began),
                            })
                        }
                    }
                })
            })
            .collect();
        actors
            .into_iter()
            .map(|a| a.join().expect("an actor thread panicked"))
            .collect::<Result<Vec<_>, crate::wire::peer::PeerError>>()
    })?;
    let observer = Peer::start(command)?;
    // A stamp the open refuses leaves the view without a handle, as in
    // the model's.
    let _refused_or_opened = observer.apply_at(&root, &Op::Open(Mode::ReadOnly))?;
    let view = observer.view_at(&root)?;
    Ok((seen, view))
}

/// An actor's step after its open: what it saw, when the open settled it
/// (the open failed, or the open is its op); else `Err` with the open's
/// swept refs and the op still to run.
fn settled_by_open(
    opened: stampede_model::Outcome,
    op: Option<&Op>,
) -> Result<Seen, (Vec<String>, &Op)> {
    let swept = match &opened {
        Ok(Observation::Opened(report)) => report.swept.clone(),
        _ => Vec::new(),
    };
    match (opened, op) {
        (Ok(_), Some(op)) => Err((swept, op)),
        (outcome, op) => Ok(Seen {
            swept,
            open_failed: op.is_some() && outcome.is_err(),
            outcome,
            open: Span::default(),
            op: Span::default(),
        }),
    }
}

/// The round's graph: its legacy setup, or a fresh init.
fn prepare(setup: &Option<LegacyGraph>, prelude: &[Op]) -> (Stampede, String) {
    let mut observer = Stampede::through_object_store();
    match setup {
        Some(graph) => observer
            .apply(&Op::WriteLegacy(graph.clone()))
            .expect("the fixture writes"),
        None => observer.apply(&Op::Init).expect("init"),
    };
    for op in prelude {
        if let Err(kind) = observer.apply(op) {
            // The model runs the same prelude and succeeds (the
            // generator only draws a prelude it accepts): a difference
            // the campaign reports as this round's failure.
            panic!("the setup's {op:?} failed on the engine where the model's succeeds: {kind}");
        }
    }
    let root = observer.root().to_string();
    (observer, root)
}

/// The graph after the round, through a fresh read-only handle. A corrupt
/// or too-new stamp refuses the read-only open: the view then has no
/// handle, on both sides.
fn final_view(observer: Stampede, root: &str) -> View {
    let mut view = Stampede::observing(root);
    let _ = view.apply(&Op::Open(Mode::ReadOnly));
    let final_view = view.view();
    drop(observer);
    final_view
}

/// One actor: open read-write (through an interleaving injector when
/// seeded), then run `op` through the one op runner.
pub async fn act(root: &str, op: Option<Op>, injector: Option<u64>) -> Seen {
    let params = injector
        .map(|seed| injector_params(seed, root))
        .unwrap_or_default();
    act_with(root, op, params).await
}

/// Store parameters whose probe follows the interleaving injector `seed`
/// on the graph at `root` (its objects named relative to it, so a seed
/// delays the same calls in any temporary directory).
fn injector_params(seed: u64, root: &str) -> ObjectStoreParams {
    let probe = Probe::new();
    probe.name_objects_under(root);
    probe.set_plan(Some(FaultPlan::interleaving(seed)));
    probe.params()
}

/// One actor with these store parameters (a probe's): open read-write,
/// then run `op`.
async fn act_with(root: &str, op: Option<Op>, params: ObjectStoreParams) -> Seen {
    let mut runner = Runner::new(root, params);
    let start = Span::now();
    let opened = runner.apply(&Op::Open(Mode::ReadWrite)).await;
    let open = Span::since(start);
    match settled_by_open(opened, op.as_ref()) {
        Ok(seen) => Seen { open, ..seen },
        Err((swept, op)) => {
            let start = Span::now();
            let outcome = runner.apply(op).await;
            Seen {
                swept,
                outcome,
                open_failed: false,
                open,
                op: Span::since(start),
            }
        }
    }
}

/// How an actor process interleaves with the others.
pub enum ProcessTiming {
    /// Its own delay injector, with this seed (`--interleave`).
    Injector(u64),
    /// Turns its parent's scheduler grants over a connection to `addr`
    /// (`--turns ADDR --actor I`).
    Turns {
        addr: std::net::SocketAddr,
        actor: usize,
    },
}

impl ProcessTiming {
    fn args(&self) -> Vec<String> {
        match self {
            ProcessTiming::Injector(seed) => vec!["--interleave".into(), seed.to_string()],
            ProcessTiming::Turns { addr, actor } => vec![
                "--turns".into(),
                addr.to_string(),
                "--actor".into(),
                actor.to_string(),
            ],
        }
    }
}

/// Run one actor as a `stampede actor` process: its op goes in as JSON, what
/// it saw comes back as JSON (both derived from the model's vocabulary).
async fn act_in_process(root: &str, op: Option<Op>, timing: ProcessTiming) -> Seen {
    let op = serde_json::to_string(&op).expect("ops serialize");
    let output = tokio::process::Command::new(crate::binary::stampede_binary())
        .args(crate::place::child_args())
        .args(["actor", root])
        .args(timing.args())
        .arg(&op)
        .output()
        .await
        .expect("an actor process starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "an actor process printed no verdict ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The body of `stampede actor`: act once, print what was seen as JSON.
/// With `turns` (the parent's address and this actor's index) every
/// storage call waits for the turn the parent grants, on one thread, so
/// the order the actor issues its calls in is its own.
pub fn actor_main(
    root: &str,
    interleave: Option<u64>,
    turns: Option<(&str, usize)>,
    op: &str,
) -> Result<(), String> {
    let op: Option<Op> =
        serde_json::from_str(op).map_err(|e| format!("not an actor op ({e}): {op}"))?;
    let runtime = match turns {
        Some(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
    }
    .map_err(|e| e.to_string())?;
    let seen = match turns {
        Some((addr, actor)) => {
            let gate =
                super::remote_turns::RemoteGate::connect(addr, actor, runtime.handle().clone())
                    .map_err(|e| format!("cannot reach the parent's turns at {addr}: {e}"))?;
            let probe = Probe::new();
            probe.set_turnstile(Some(Arc::new(super::remote_turns::RemoteTurnstile(
                gate.clone(),
            ))));
            let seen = runtime.block_on(act_with(root, op, probe.params()));
            gate.flush();
            seen
        }
        None => runtime.block_on(act(root, op, interleave)),
    };
    println!(
        "{}",
        serde_json::to_string(&seen).map_err(|e| e.to_string())?
    );
    Ok(())
}
