//! The storage boundary's probe: a Lance `WrappingObjectStore`, installed
//! through the store parameters of every dataset a graph opens. It counts
//! calls by kind, can act like a concurrent actor at one exact point (a ref
//! that vanishes between Lance's list and its read), and injects what the
//! crash, fault and concurrent campaigns need:
//!
//! - a death: durable write k fails and every later call is refused, as if
//!   the process died with storage as the only witness;
//! - a seeded fault plan: transient errors before a call, lost
//!   acknowledgements after a write took effect, and delays or yields before
//!   a call (the interleaving injector of the concurrent campaign);
//! - a turnstile: every call waits for its turn and says when it is done,
//!   so a scheduler outside the engine decides the order of all actors'
//!   calls (the concurrent campaign's scheduled mode).
//!
//! Campaigns build on it; the engine never installs it by itself.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use lance::io::{ObjectStoreParams, WrappingObjectStore};
use object_store::list::PaginatedListStore;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// A storage call, by kind. In JSON it is its [`Call::name`] (a scheduled
/// round's actor processes send their parked calls that way).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Call {
    List,
    Get,
    Head,
    Put,
    Delete,
    Copy,
    Rename,
    /// Not a storage call: an actor polling a held lock or claim says so
    /// before it sleeps (see [`waiting`]), so a scheduler can let the
    /// others move first. Never counted, never faulted.
    Wait,
}

impl Call {
    /// Whether the call changes storage (what a death interrupts and a lost
    /// acknowledgement can follow). A rename is Lance's local commit.
    pub fn is_write(self) -> bool {
        matches!(self, Call::Put | Call::Delete | Call::Copy | Call::Rename)
    }

    pub const ALL: [Call; 8] = [
        Call::List,
        Call::Get,
        Call::Head,
        Call::Put,
        Call::Delete,
        Call::Copy,
        Call::Rename,
        Call::Wait,
    ];

    /// The call [`Call::name`] names.
    pub fn from_name(name: &str) -> Option<Call> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Call::List => "list",
            Call::Get => "get",
            Call::Head => "head",
            Call::Put => "put",
            Call::Delete => "delete",
            Call::Copy => "copy",
            Call::Rename => "commit",
            Call::Wait => "wait",
        }
    }
}

impl From<Call> for &'static str {
    fn from(call: Call) -> &'static str {
        call.name()
    }
}

impl TryFrom<String> for Call {
    type Error = String;
    fn try_from(name: String) -> Result<Call, String> {
        Call::from_name(&name).ok_or_else(|| format!("no storage call is named {name:?}"))
    }
}

/// A seeded plan of storage faults. Each call draws its fate from the
/// seed, its object's name (`stable_name`) and which call of its kind on
/// that object it is, never from its position in the call sequence (which
/// Lance's parallel writes change from run to run): a single-threaded
/// operation meets the same faults on every replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultPlan {
    pub seed: u64,
    /// Per mille of calls that fail before reaching storage.
    pub transient: u32,
    /// Per mille of writes that take effect but report an error.
    pub lost_ack: u32,
    /// Per mille of calls delayed by up to `max_delay` (half of them only
    /// yield to the scheduler).
    pub delay: u32,
    pub max_delay: Duration,
    /// Per mille of listings and deletes (a cleaner's steps) before which
    /// the actor is paused past the claim lease: its claim clock jumps by
    /// `claims::CLAIM_LEASE` (`claims::advance_clock`), as if it had slept
    /// that long, so a claim it holds is no longer fresh.
    pub pause: u32,
}

impl FaultPlan {
    /// Only delays and yields: the concurrent campaign's interleaving
    /// injector. Nothing fails.
    pub fn interleaving(seed: u64) -> FaultPlan {
        FaultPlan {
            seed,
            transient: 0,
            lost_ack: 0,
            delay: 300,
            max_delay: Duration::from_millis(3),
            pause: 0,
        }
    }

    /// Errors, lost acknowledgements and pauses at the given rates, with
    /// some delays.
    pub fn faults(seed: u64, transient: u32, lost_ack: u32, pause: u32) -> FaultPlan {
        FaultPlan {
            seed,
            transient,
            lost_ack,
            delay: 50,
            max_delay: Duration::from_millis(1),
            pause,
        }
    }

    /// The fate of the `occurrence`-th call of kind `call` on the object
    /// named `name` (`Probe::stable_name`): the same on every replay, in
    /// whatever order an operation's concurrent calls reach the probe
    /// (Lance writes a commit's files in parallel).
    fn fate(&self, call: Call, name: &str, occurrence: u64) -> Fate {
        let key = fnv1a(name.as_bytes()) ^ splitmix(occurrence ^ ((call as u64) << 56));
        let draw = splitmix(self.seed ^ splitmix(key));
        let roll = |salt: u64| (splitmix(draw ^ salt) % 1000) as u32;
        if roll(1) < self.transient {
            return Fate::Fail;
        }
        if call.is_write() && roll(2) < self.lost_ack {
            return Fate::LoseAck;
        }
        if matches!(call, Call::List | Call::Delete) && roll(4) < self.pause {
            return Fate::Pause;
        }
        if roll(3) < self.delay {
            let micros = self.max_delay.as_micros().max(1) as u64;
            return if draw & 1 == 0 {
                Fate::Yield
            } else {
                Fate::Delay(Duration::from_micros(splitmix(draw) % micros))
            };
        }
        Fate::Pass
    }
}

/// FNV-1a: a hash of a name that is the same in every process and on
/// every toolchain (the standard hasher promises neither).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Pass,
    Fail,
    LoseAck,
    Delay(Duration),
    Yield,
    /// Paused past the claim lease before the call.
    Pause,
}

/// A fault the probe injected, for reports and replays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Injected {
    pub call: Call,
    /// The object, named as the fault plan names it (`Probe::stable_name`).
    pub object: String,
    /// Which call of this kind on this object it was (0: the first).
    pub occurrence: u64,
    pub what: &'static str,
}

#[derive(Debug, Default)]
struct Faults {
    writes: u64,
    /// Armed death: durable write number `k` (counted from arming) fails.
    die_at_write: Option<u64>,
    dead: bool,
    plan: Option<FaultPlan>,
    /// The graph root's object path: calls under it are named relative to
    /// it, so a name is the same in every temporary directory.
    root: String,
    /// Calls seen since the plan was set, by kind and object name.
    seen: BTreeMap<(Call, String), u64>,
    /// Faults for exact calls (`Probe::script`), met in order before the
    /// plan: each is armed once the one before it is used up.
    scripts: std::collections::VecDeque<Script>,
    injected: Vec<Injected>,
}

/// A fault for the next `times` calls of kind `call` on an object whose
/// name contains `object`.
#[derive(Debug)]
struct Script {
    call: Call,
    object: String,
    fault: Scripted,
    times: u32,
}

/// A fault a test scripts for one exact call (`Probe::script`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scripted {
    /// The call fails before it reaches storage.
    TransientError,
    /// The write takes effect and then reports an error.
    LostAck,
}

impl Faults {
    /// The plan's fate for this call, recorded when it injects something.
    fn draw(&mut self, call: Call, path: &Path) -> Fate {
        if self.plan.is_none() && self.scripts.is_empty() {
            return Fate::Pass;
        }
        let object = stable_name(&self.root, path.as_ref());
        let seen = self.seen.entry((call, object.clone())).or_default();
        let occurrence = *seen;
        *seen += 1;
        let scripted =
            (self.scripts.front_mut()).filter(|s| s.call == call && object.contains(&s.object));
        let fate = match (scripted, self.plan) {
            (Some(script), _) => {
                let fault = script.fault;
                script.times -= 1;
                if script.times == 0 {
                    self.scripts.pop_front();
                }
                match fault {
                    Scripted::TransientError => Fate::Fail,
                    Scripted::LostAck => Fate::LoseAck,
                }
            }
            (None, Some(plan)) => plan.fate(call, &object, occurrence),
            (None, None) => Fate::Pass,
        };
        let what = match fate {
            Fate::Fail => "transient error",
            Fate::LoseAck => "lost acknowledgement",
            Fate::Pause => "paused past the claim lease",
            Fate::Pass | Fate::Delay(_) | Fate::Yield => return fate,
        };
        self.injected.push(Injected {
            call,
            object,
            occurrence,
            what,
        });
        fate
    }
}

/// `path` relative to `root` when under it, with every random run in it
/// masked: the name a fault plan draws a call's fate by. Random are a UUID
/// or nonce (16 or more hex digits with a letter: data, transaction and
/// claim files) and, outside `_versions/` (whose 20-digit names are
/// versions), 16 or more decimal digits (the random number ending a
/// deletion file's name). Objects whose names differ only there share a
/// name; their calls are told apart by occurrence, exactly when they come
/// one after another.
fn stable_name(root: &str, path: &str) -> String {
    let under_root = (!root.is_empty())
        .then(|| path.find(&format!("{root}/")))
        .flatten();
    let relative = match under_root {
        Some(at) => &path[at + root.len() + 1..],
        None => path,
    };
    let versions = relative.starts_with("_versions/") || relative.contains("/_versions/");
    let mut name = String::with_capacity(relative.len());
    let mut run = String::new();
    let flush = |run: &mut String, name: &mut String| {
        if run.len() >= 16 && run.bytes().any(|b| b.is_ascii_alphabetic()) {
            name.push('~');
        } else {
            // Decimal: mask each long number between dashes.
            let pieces = run.split('-').map(|piece| match piece.len() {
                16.. if !versions => "~",
                _ => piece,
            });
            name.push_str(&pieces.collect::<Vec<_>>().join("-"));
        }
        run.clear();
    };
    for c in relative.chars() {
        if c.is_ascii_hexdigit() || c == '-' {
            run.push(c);
        } else {
            flush(&mut run, &mut name);
            name.push(c);
        }
    }
    flush(&mut run, &mut name);
    name
}

/// Deterministic turn-taking at the storage boundary. Every call through a
/// probe that has one parks in `park` until its turn is granted, and the
/// [`Turn`] it holds tells `done` when the call is over (for a listing:
/// when its stream is dropped; for a get: when its body is).
pub trait Turnstile: Send + Sync + fmt::Debug {
    /// Wait for this call's turn.
    fn park(&self, call: Call, path: String) -> BoxFuture<'static, ()>;
    /// The granted call is over.
    fn done(&self);
}

/// A granted call in progress; dropping it ends the turn.
pub struct Turn(Option<Arc<dyn Turnstile>>);

impl Turn {
    fn is_taken(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(turnstile) = self.0.take() {
            turnstile.done();
        }
    }
}

#[derive(Debug, Default)]
pub struct Probe {
    counts: Mutex<BTreeMap<Call, u64>>,
    /// Armed: after the next listing of a directory ending with this, remove
    /// the first object it listed, once.
    vanish_after_list: Mutex<Option<String>>,
    faults: Mutex<Faults>,
    turnstile: Mutex<Option<Arc<dyn Turnstile>>>,
}

impl Probe {
    pub fn new() -> Arc<Probe> {
        Arc::new(Probe::default())
    }

    /// Store parameters that install this probe.
    pub fn params(self: &Arc<Self>) -> ObjectStoreParams {
        let wrapper: Arc<dyn WrappingObjectStore> = Arc::new(ProbeWrapper(self.clone()));
        let key = wrapper_key(&wrapper);
        let mut installed = INSTALLED.lock().unwrap();
        // An entry at this wrapper's address is one whose wrapper is gone
        // (its probe may live on in a store Lance still holds): left, a
        // waiter could find it first and park at the turnstile of a round
        // long over.
        installed.retain(|(k, probe)| probe.strong_count() > 0 && *k != key);
        installed.push((key, Arc::downgrade(self)));
        ObjectStoreParams {
            object_store_wrapper: Some(wrapper),
            ..ObjectStoreParams::default()
        }
    }

    /// Say that this probe's actor waits for another (`waiting`).
    async fn wait_turn(&self, what: &str) {
        let turnstile = self.turnstile.lock().unwrap().clone();
        if let Some(turnstile) = turnstile {
            turnstile.park(Call::Wait, what.to_string()).await;
            turnstile.done();
        }
    }

    pub fn counts(&self) -> BTreeMap<Call, u64> {
        self.counts.lock().unwrap().clone()
    }

    pub fn reset(&self) {
        self.counts.lock().unwrap().clear();
    }

    /// After the next listing of a directory whose path ends with `dir`,
    /// delete the first object it listed, as a concurrent deleter would.
    pub fn vanish_after_next_list(&self, dir: &str) {
        *self.vanish_after_list.lock().unwrap() = Some(dir.to_string());
    }

    /// Durable writes since the probe was made or last armed.
    pub fn writes(&self) -> u64 {
        self.faults.lock().unwrap().writes
    }

    /// Die at durable write `k` (1-based, counted from now): it fails and
    /// every later call is refused.
    pub fn die_at_write(&self, k: u64) {
        let mut faults = self.faults.lock().unwrap();
        faults.writes = 0;
        faults.die_at_write = Some(k);
        faults.dead = false;
    }

    /// Whether the armed death happened.
    pub fn died(&self) -> bool {
        self.faults.lock().unwrap().dead
    }

    /// Follow `plan` from now on (`None`: stop injecting).
    pub fn set_plan(&self, plan: Option<FaultPlan>) {
        let mut faults = self.faults.lock().unwrap();
        faults.plan = plan;
        faults.seen.clear();
        faults.injected.clear();
    }

    /// Inject `fault` into the next `times` calls of kind `call` on an
    /// object whose name (`stable_name`) contains `object`, whatever the
    /// plan says for them, once every fault scripted before is used up.
    pub fn script(&self, call: Call, object: &str, fault: Scripted, times: u32) {
        assert!(
            fault != Scripted::LostAck || call.is_write(),
            "only a write has an acknowledgement to lose ({call:?})"
        );
        if times == 0 {
            return;
        }
        self.faults.lock().unwrap().scripts.push_back(Script {
            call,
            object: object.to_string(),
            fault,
            times,
        });
    }

    /// Name the calls under the graph at `root` (a URI or a path) relative
    /// to it when drawing their fates: a seeded plan then meets the same
    /// objects in any temporary directory or bucket prefix.
    pub fn name_objects_under(&self, root: &str) {
        let path = root.split_once("://").map_or(root, |(_, rest)| rest);
        // `s3://bucket/key`: object paths start after the bucket.
        let path = match path.strip_prefix('/') {
            Some(absolute) => absolute,
            None if root.contains("://") => path.split_once('/').map_or("", |(_, key)| key),
            None => path,
        };
        self.faults.lock().unwrap().root = path.trim_matches('/').to_string();
    }

    /// Make every later call wait its turn at `turnstile` (`None`: none).
    pub fn set_turnstile(&self, turnstile: Option<Arc<dyn Turnstile>>) {
        *self.turnstile.lock().unwrap() = turnstile;
    }

    /// The faults injected since the plan was set.
    pub fn injected(&self) -> Vec<Injected> {
        self.faults.lock().unwrap().injected.clone()
    }

    fn count(&self, call: Call) {
        *self.counts.lock().unwrap().entry(call).or_default() += 1;
    }

    /// Everything that happens before a call reaches storage: count it,
    /// refuse it if dead or dying, draw its fate, wait if delayed, wait for
    /// its turn. The turn lasts as long as the returned [`Turn`].
    async fn enter(&self, call: Call, path: &Path) -> Result<(Fate, Turn)> {
        self.count(call);
        let fate = {
            let mut faults = self.faults.lock().unwrap();
            if faults.dead {
                return Err(dead(call, "the process is dead"));
            }
            if call.is_write() {
                faults.writes += 1;
                if faults.die_at_write == Some(faults.writes) {
                    faults.dead = true;
                    return Err(dead(call, "the process died at this write"));
                }
            }
            faults.draw(call, path)
        };
        match fate {
            Fate::Fail => return Err(refused(call, "injected transient error")),
            Fate::Delay(d) => tokio::time::sleep(d).await,
            Fate::Yield => tokio::task::yield_now().await,
            Fate::Pause => crate::claims::advance_clock(crate::claims::CLAIM_LEASE),
            Fate::Pass | Fate::LoseAck => {}
        }
        let turnstile = self.turnstile.lock().unwrap().clone();
        if let Some(turnstile) = &turnstile {
            turnstile.park(call, path.to_string()).await;
        }
        Ok((fate, Turn(turnstile)))
    }

    /// A write whose acknowledgement is lost took effect, yet reports an
    /// error.
    fn leave<T>(&self, call: Call, fate: Fate, result: Result<T>) -> Result<T> {
        match (fate, result) {
            (Fate::LoseAck, Ok(_)) => Err(refused(call, "injected lost acknowledgement")),
            (_, result) => result,
        }
    }
}

/// An injected failure. Deliberately not a NotFound or a precondition
/// failure: it reads like an I/O error the engine cannot classify.
fn refused(call: Call, why: &str) -> object_store::Error {
    object_store::Error::Generic {
        store: "stampede-probe",
        source: format!("{} refused: {why}", call.name()).into(),
    }
}

/// A dead process's call. Not a `Generic` error, which Lance retries (a
/// listing up to 5 times, 0.1 to 1.6 s apart): a dead process retries
/// nothing, and those waits were 85% of the crash campaign's time. Lance
/// retries no `NotSupported`.
fn dead(call: Call, why: &str) -> object_store::Error {
    object_store::Error::NotSupported {
        source: format!("{} refused: {why}", call.name()).into(),
    }
}

#[derive(Debug)]
struct ProbeWrapper(Arc<Probe>);

/// Probes by the wrapper `Probe::params` installed them with: the engine's
/// store finds its actor's probe from its parameters (`waiting`). Lance's
/// wrapper trait has no way back to the probe itself.
static INSTALLED: Mutex<Vec<(usize, std::sync::Weak<Probe>)>> = Mutex::new(Vec::new());

fn wrapper_key(wrapper: &Arc<dyn WrappingObjectStore>) -> usize {
    Arc::as_ptr(wrapper) as *const () as usize
}

/// The actor whose store `params` built is about to sleep until another
/// releases a lock or claim: a scheduled round's turnstile hears it as a
/// `Call::Wait` (granted after every other actor's calls), so a waiter's
/// polls never starve the actor it waits for. Unscheduled, nothing.
pub async fn waiting(params: &ObjectStoreParams, what: stampede_protocol::Wait) {
    let Some(wrapper) = &params.object_store_wrapper else {
        return;
    };
    let key = wrapper_key(wrapper);
    let probe = (INSTALLED.lock().unwrap().iter())
        .find(|(k, _)| *k == key)
        .and_then(|(_, probe)| probe.upgrade());
    if let Some(probe) = probe {
        probe.wait_turn(&format!("{what:?}").to_lowercase()).await;
    }
}

impl WrappingObjectStore for ProbeWrapper {
    fn wrap(&self, _store_prefix: &str, original: Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> {
        Arc::new(Probed {
            inner: original,
            probe: self.0.clone(),
        })
    }

    /// No pushdown: every listing goes through `wrap`, where it is counted
    /// and can be intercepted.
    fn wrap_paginated(
        &self,
        _store_prefix: &str,
        _original: Arc<dyn PaginatedListStore>,
    ) -> Option<Arc<dyn PaginatedListStore>> {
        None
    }
}

#[derive(Debug)]
struct Probed {
    inner: Arc<dyn ObjectStore>,
    probe: Arc<Probe>,
}

impl fmt::Display for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Probed({})", self.inner)
    }
}

impl Probed {
    /// A listing stream that first passes the probe's gate.
    fn gated_listing(
        &self,
        prefix: Option<&Path>,
        listing: impl FnOnce() -> BoxStream<'static, Result<ObjectMeta>> + Send + 'static,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let probe = self.probe.clone();
        let prefix = prefix.cloned().unwrap_or_default();
        async move {
            match probe.enter(Call::List, &prefix).await {
                // Read whole within the turn (on S3, page by page), so the
                // listing is one step and the turn ends with it. A turn held
                // until the caller dropped the stream stayed taken while the
                // caller, still iterating, made its next call, parked behind
                // it: a scheduled S3 round waited forever.
                Ok((_, turn)) if turn.is_taken() => {
                    let items: Vec<Result<ObjectMeta>> = listing().collect().await;
                    drop(turn);
                    futures::stream::iter(items).boxed()
                }
                Ok(_) => listing(),
                Err(e) => futures::stream::once(async { Err(e) }).boxed(),
            }
        }
        .flatten_stream()
        .boxed()
    }
}

#[async_trait]
impl ObjectStore for Probed {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let (fate, _turn) = self.probe.enter(Call::Put, location).await?;
        let result = self.inner.put_opts(location, payload, opts).await;
        self.probe.leave(Call::Put, fate, result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        // The upload becomes durable at its completion, which the probe does
        // not see; it counts as one write at its start.
        let (_, _turn) = self.probe.enter(Call::Put, location).await?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let call = if options.head { Call::Head } else { Call::Get };
        let (fate, turn) = self.probe.enter(call, location).await?;
        let result = self.inner.get_opts(location, options).await;
        let result = self.probe.leave(call, fate, result)?;
        if !turn.is_taken() {
            return Ok(result);
        }
        // A get's body is read after the call returns (a local file in a
        // blocking task, a response streamed on S3): read it whole within
        // the turn, so the read finishes before any other call is granted
        // and the turn ends with the call (see `gated_listing`).
        let (meta, range, attributes, extensions) = (
            result.meta.clone(),
            result.range.clone(),
            result.attributes.clone(),
            result.extensions.clone(),
        );
        let body = result.bytes().await;
        drop(turn);
        let body = body?;
        Ok(GetResult {
            payload: GetResultPayload::Stream(futures::stream::once(async { Ok(body) }).boxed()),
            meta,
            range,
            attributes,
            extensions,
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let (fate, _turn) = self.probe.enter(Call::Get, location).await?;
        let result = self.inner.get_ranges(location, ranges).await;
        self.probe.leave(Call::Get, fate, result)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        // Each path is its own durable write: a death can land between two
        // deletes of one batch.
        let probe = self.probe.clone();
        let gated = locations
            .then(move |location| {
                let probe = probe.clone();
                async move {
                    let location = location?;
                    let (fate, turn) = probe.enter(Call::Delete, &location).await?;
                    Ok::<_, object_store::Error>((location, fate, turn))
                }
            })
            .boxed();
        let probe = self.probe.clone();
        let inner = self.inner.clone();
        gated
            .then(move |gate| {
                let probe = probe.clone();
                let inner = inner.clone();
                async move {
                    let (location, fate, _turn) = gate?;
                    let mut one =
                        inner.delete_stream(futures::stream::once(async { Ok(location) }).boxed());
                    let result = one
                        .next()
                        .await
                        .unwrap_or_else(|| Err(refused(Call::Delete, "no result")));
                    probe.leave(Call::Delete, fate, result)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let inner = self.inner.clone();
        let listed = prefix.cloned();
        self.gated_listing(prefix, move || inner.list(listed.as_ref()))
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let inner = self.inner.clone();
        let listed = prefix.cloned();
        let offset = offset.clone();
        self.gated_listing(prefix, move || {
            inner.list_with_offset(listed.as_ref(), &offset)
        })
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let (fate, _turn) = self
            .probe
            .enter(Call::List, &prefix.cloned().unwrap_or_default())
            .await?;
        let listing = self.inner.list_with_delimiter(prefix).await;
        let listing = self.probe.leave(Call::List, fate, listing)?;
        let armed = {
            let mut armed = self.probe.vanish_after_list.lock().unwrap();
            let hit = match (armed.as_deref(), prefix) {
                (Some(dir), Some(p)) => p.as_ref().ends_with(dir) && !listing.objects.is_empty(),
                _ => false,
            };
            if hit {
                armed.take()
            } else {
                None
            }
        };
        if armed.is_some() {
            let victim = listing.objects[0].location.clone();
            let mut gone = self
                .inner
                .delete_stream(Box::pin(futures::stream::once(async { Ok(victim) })));
            while gone.next().await.is_some() {}
        }
        Ok(listing)
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let (fate, _turn) = self.probe.enter(Call::Copy, to).await?;
        let result = self.inner.copy_opts(from, to, options).await;
        self.probe.leave(Call::Copy, fate, result)
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        // Forwarded, never emulated: Lance's local put-if-absent is the inner
        // store's atomic rename.
        let (fate, _turn) = self.probe.enter(Call::Rename, to).await?;
        let result = self.inner.rename_opts(from, to, options).await;
        self.probe.leave(Call::Rename, fate, result)
    }
}

#[cfg(test)]
mod tests {
    use super::{stable_name, Call, Probe};

    /// Every call reads back from its name, in JSON too; a name no call
    /// has is refused.
    #[test]
    fn calls_read_back_from_their_names() {
        for call in Call::ALL {
            let json = serde_json::to_string(&call).unwrap();
            assert_eq!(json, format!("{:?}", call.name()));
            assert_eq!(serde_json::from_str::<Call>(&json).unwrap(), call);
        }
        assert!(serde_json::from_str::<Call>("\"teleport\"").is_err());
    }

    /// A fault plan's names survive a new temporary directory or bucket
    /// prefix and a new UUID, and keep what tells objects apart (a
    /// manifest's version, a table, a ref).
    #[test]
    fn objects_are_named_the_same_in_every_run() {
        let probe = Probe::new();
        let name = |root: &str, path: &str| {
            probe.name_objects_under(root);
            let faults = probe.faults.lock().unwrap();
            stable_name(&faults.root, path)
        };
        let txn = "tables/Person/_transactions/3-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.txn";
        for (root, prefix) in [
            (
                "file-object-store:///dev/shm/.tmpAb12Cd/g0",
                "dev/shm/.tmpAb12Cd/g0/",
            ),
            ("/tmp/.tmpXyZ987/g1", "tmp/.tmpXyZ987/g1/"),
            ("s3://bucket/run-7/g0", "run-7/g0/"),
        ] {
            assert_eq!(
                name(root, &format!("{prefix}{txn}")),
                "tables/Person/_transactions/~.txn"
            );
            assert_eq!(
                name(
                    root,
                    &format!("{prefix}__manifest/_versions/18446744073709551614.manifest")
                ),
                "__manifest/_versions/18446744073709551614.manifest"
            );
        }
        // Outside the root: the whole path, still masked.
        assert_eq!(
            name("/elsewhere", &format!("x/{txn}")),
            "x/tables/Person/_transactions/~.txn"
        );
        // A short hex word (`cafe`) is not a nonce.
        assert_eq!(name("", "tables/cafe/data"), "tables/cafe/data");
        // A deletion file's random number is masked, a version is not.
        assert_eq!(
            name(
                "",
                "tables/Person/_deletions/0-3-12345678901234567890.arrow"
            ),
            "tables/Person/_deletions/0-3-~.arrow"
        );
        // A root is a whole directory: `g1` is not the start of `g10`.
        assert_eq!(name("/t/g1", "t/g10/x"), "t/g10/x");
    }
}
