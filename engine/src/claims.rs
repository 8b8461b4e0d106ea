//! Claims on Lance (the protocol's `claim` module says what they are for):
//! each claimer puts a mark of its own, `__manifest/_stampede_claims/
//! <millis>-<nonce>.<name>` (the name percent-encoded as Lance encodes ref
//! files), then lists the marks. It holds the claim only if no other live
//! mark on the name is there; otherwise it takes its mark back and waits.
//! The marks lie flat in one directory, which holds only the claims in
//! flight: a listing costs as much for one name as for a batch of them
//! (the sweep's), and a released mark leaves no directory behind. Whichever of
//! two claimers lists second sees the other's mark, so two never both hold
//! it (the listing must show every put that finished before it began:
//! local filesystems and S3 are strongly consistent that way).
//!
//! The lease: a mark older than `CLAIM_LEASE` (by the lister's claim clock
//! against the millis in the mark's name) is its holder's who died, and is
//! cleared by whoever lists it. A holder changes nothing once half the
//! lease has passed since it took the claim ([`fresh`]), so a holder that
//! was only paused stops before anyone can take its name over, provided a
//! single storage step plus the clock skew between processes stays under
//! half the lease (docs/contract.md states this assumption).
//!
//! The same clock and lease serve the ref-delete claims of S3
//! (`exclusive`).

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{StreamExt, TryStreamExt};
use lance::io::ObjectStoreParams;
use object_store::path::{Path, PathPart};
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};
use stampede_protocol::defects::{planted, Defect};
use stampede_protocol::{Claim, StoreError, StoreResult};

use crate::error::classify_object_store;

/// Where the marks live, beside Lance's own directories (which Lance never
/// lists for anything else).
pub const CLAIMS_DIR: &str = "_stampede_claims";

/// The storage option that sets the lease, in seconds (any root).
pub const CLAIM_LEASE_OPTION: &str = "stampede_claim_lease_seconds";

/// How long a claim holds when its holder says nothing more: far longer
/// than any live holder takes between taking a claim and its last step
/// under it (a sweep's batch: a ref read, a tree's listing and batched
/// delete and a ref delete per ref), and than the clock skew between the
/// processes that share a graph.
pub const CLAIM_LEASE: Duration = Duration::from_secs(30);

/// The lease `params` set (checked by `location::resolve`), or
/// [`CLAIM_LEASE`].
pub fn lease(params: &ObjectStoreParams) -> Duration {
    params
        .storage_options()
        .and_then(|o| o.get(CLAIM_LEASE_OPTION))
        .and_then(|v| parse_lease(v))
        .unwrap_or(CLAIM_LEASE)
}

/// A lease given in seconds: a positive, finite number.
pub fn parse_lease(seconds: &str) -> Option<Duration> {
    let seconds = seconds.parse::<f64>().ok()?;
    (seconds.is_finite() && seconds > 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// The claim clock: wall-clock milliseconds (shared by processes on one
/// machine, close across machines), moved ahead where a campaign says time
/// passed (`with_clock_ahead`).
pub fn now_millis() -> u64 {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    wall + ahead_millis()
}

#[cfg(feature = "instrument")]
tokio::task_local! {
    static AHEAD: std::sync::Arc<std::sync::atomic::AtomicU64>;
}

#[cfg(feature = "instrument")]
fn ahead_millis() -> u64 {
    AHEAD
        .try_with(|a| a.load(std::sync::atomic::Ordering::SeqCst))
        .unwrap_or(0)
}

#[cfg(not(feature = "instrument"))]
fn ahead_millis() -> u64 {
    0
}

/// Run `work` with the claim clock `ahead` of the wall clock (instrument):
/// a process that starts that long after another died, as the crash
/// campaign's recovery does, sees the dead one's claims lapsed.
#[cfg(feature = "instrument")]
pub async fn with_clock_ahead<F: std::future::Future>(ahead: Duration, work: F) -> F::Output {
    let ahead = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(ahead.as_millis() as u64));
    AHEAD.scope(ahead, work).await
}

/// Move the claim clock of the running `with_clock_ahead` scope on by
/// `by`, as a pause of that long would (instrument; the fault campaign's
/// paused cleaner). Without a scope, nothing moves.
#[cfg(feature = "instrument")]
pub fn advance_clock(by: Duration) {
    let _ =
        AHEAD.try_with(|a| a.fetch_add(by.as_millis() as u64, std::sync::atomic::Ordering::SeqCst));
}

/// Whether `claim`'s holder may still change what it covers: less than
/// half the lease has passed since it took it.
pub fn fresh(claim: &Claim, lease: Duration) -> bool {
    planted(Defect::HolderIgnoresLapse)
        || u128::from(now_millis().saturating_sub(claim.taken_at)) < lease.as_millis() / 2
}

/// Whether `claim`'s holder may still start a series of steps under it (a
/// swept ref's): less than a quarter of the lease has passed, so a quarter
/// is left for them before [`fresh`] refuses.
pub fn fresh_to_start(claim: &Claim, lease: Duration) -> bool {
    u128::from(now_millis().saturating_sub(claim.taken_at)) < lease.as_millis() / 4
}

/// `ClaimLost` unless the fence, if any, is fresh.
pub fn check_fence(fence: Option<&Claim>, lease: Duration) -> StoreResult<()> {
    match fence {
        Some(claim) if !fresh(claim, lease) => Err(StoreError::ClaimLost(format!(
            "{} ms since {:?} was claimed, the lease is {} ms",
            now_millis().saturating_sub(claim.taken_at),
            claim.name,
            lease.as_millis()
        ))),
        _ => Ok(()),
    }
}

/// Marks this process put and no longer uses, though they may still be
/// there (a put whose answer was lost, a release that failed): this
/// process clears them when it lists them instead of waiting out their
/// lease. Other processes wait for the lease, as they must.
static ABANDONED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn abandon(mark: &Path) {
    ABANDONED.lock().unwrap().insert(mark.to_string());
}

fn abandoned(mark: &Path) -> bool {
    ABANDONED.lock().unwrap().contains(mark.as_ref())
}

fn marks_dir(base: &Path) -> Path {
    base.clone().join(CLAIMS_DIR)
}

fn mark_path(base: &Path, claim: &Claim) -> Path {
    marks_dir(base).join(format!("{}.{}", claim.token, claim.name).as_str())
}

/// Whether `mark` is a mark on `name`: what follows the token in its file
/// name is `name` as `mark_path` encoded it. The name is encoded after a
/// token, as there, never alone: a path part of its own encodes "." whole,
/// where inside a file name it stays as it is.
fn marks_name(mark: &Path, name: &str) -> bool {
    let part = PathPart::from(format!("0.{name}"));
    let encoded = &part.as_ref()[2..];
    mark.filename()
        .and_then(|file| file.split_once('.'))
        .is_some_and(|(_, marked)| marked == encoded)
}

/// When a mark was put, from its file name.
fn mark_millis(mark: &Path) -> Option<u64> {
    mark.filename()?.split('-').next()?.parse().ok()
}

/// One attempt at `name`'s claim (see the module): put a mark, list the
/// marks, hold the claim if no other live mark on the name is there, else
/// take the mark back. Which of several claimers arriving together gets
/// the claim is left to their jittered backoffs, never to the times in the
/// marks, so that a scheduled round decides the same way on every run.
pub async fn try_claim(
    store: &dyn ObjectStore,
    base: &Path,
    name: &str,
    lease: Duration,
) -> StoreResult<Option<Claim>> {
    let claims = try_claims(store, base, std::slice::from_ref(&name.to_string()), lease).await?;
    Ok(claims.into_iter().next().flatten())
}

/// `try_claim` on each of `names` at once: every mark put, then one
/// listing decides each claim. Each mark went in before that listing, so
/// Dekker's argument holds name by name.
pub async fn try_claims(
    store: &dyn ObjectStore,
    base: &Path,
    names: &[String],
    lease: Duration,
) -> StoreResult<Vec<Option<Claim>>> {
    let mut mine = Vec::with_capacity(names.len());
    for name in names {
        match put_mark(store, base, name).await {
            Ok(claim) => mine.push(claim),
            Err(e) => {
                give_back_all(store, base, &mine).await;
                return Err(e);
            }
        }
    }
    let listed = match list_marks(store, base).await {
        Ok(listed) => listed,
        Err(e) => {
            give_back_all(store, base, &mine).await;
            return Err(e);
        }
    };
    let own: Vec<Path> = mine.iter().map(|claim| mark_path(base, claim)).collect();
    let others = live_marks(store, listed.iter().filter(|m| !own.contains(m)), lease).await;
    let mut claims = Vec::with_capacity(mine.len());
    for (claim, mark) in mine.into_iter().zip(&own) {
        if others.iter().any(|other| marks_name(other, &claim.name)) {
            let _ = give_back(store, mark).await;
            claims.push(None);
        } else {
            claims.push(Some(claim));
        }
    }
    Ok(claims)
}

/// Put this claimer's mark for `name`: the claim it holds if the listing
/// after finds no other live mark.
async fn put_mark(store: &dyn ObjectStore, base: &Path, name: &str) -> StoreResult<Claim> {
    let taken_at = now_millis();
    let claim = Claim {
        name: name.to_string(),
        token: format!("{taken_at:013}-{}", crate::nonce::writer_nonce()),
        taken_at,
    };
    let mine = mark_path(base, &claim);
    let put = PutOptions::from(PutMode::Create);
    match store.put_opts(&mine, PutPayload::new(), put).await {
        // The name is this claimer's own: "already there" is its own put,
        // landed, whose answer was lost and retried (S3 answers the retry
        // with 412).
        Ok(_)
        | Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. }) => Ok(claim),
        Err(e) => {
            // It may have landed (a lost answer): never wait on it here.
            abandon(&mine);
            Err(classify_object_store(e))
        }
    }
}

/// Every mark in the claims directory (a path deeper than it is no mark).
async fn list_marks(store: &dyn ObjectStore, base: &Path) -> StoreResult<Vec<Path>> {
    let dir = marks_dir(base);
    let listed: Vec<Path> = store
        .list(Some(&dir))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .map_err(classify_object_store)?;
    Ok(listed
        .into_iter()
        .filter(|mark| {
            mark.prefix_match(&dir)
                .is_some_and(|rest| rest.count() == 1)
        })
        .collect())
}

/// Which of `others` still count: a lapsed or abandoned mark is cleared on
/// the way, whatever its name, so a dead holder's mark never outlives the
/// next claim on any name.
async fn live_marks<'a>(
    store: &dyn ObjectStore,
    others: impl Iterator<Item = &'a Path>,
    lease: Duration,
) -> Vec<&'a Path> {
    let now = now_millis();
    let mut live = Vec::new();
    for mark in others {
        if dead(mark, now, lease) {
            match store.delete(mark).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                    ABANDONED.lock().unwrap().remove(mark.as_ref());
                }
                Err(_) => {}
            }
        } else {
            live.push(mark);
        }
    }
    live
}

/// Whether another claimer holds `name`'s claim now (a live mark is
/// there): an operation on the name is in flight. Writes nothing.
pub async fn held_by_another(
    store: &dyn ObjectStore,
    base: &Path,
    name: &str,
    lease: Duration,
) -> StoreResult<bool> {
    let listed = list_marks(store, base).await?;
    let now = now_millis();
    Ok(listed
        .iter()
        .any(|mark| marks_name(mark, name) && !dead(mark, now, lease)))
}

/// Whether `mark` no longer counts at `now`: lapsed (or with no time in
/// its name), or abandoned by this process.
fn dead(mark: &Path, now: u64, lease: Duration) -> bool {
    mark_millis(mark).is_none_or(|at| u128::from(now.saturating_sub(at)) > lease.as_millis())
        || abandoned(mark)
}

/// Take a mark back (one already cleared counts as gone); one that will
/// not go is abandoned (see `ABANDONED`).
async fn give_back(store: &dyn ObjectStore, mark: &Path) -> StoreResult<()> {
    match store.delete(mark).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => {
            abandon(mark);
            Err(classify_object_store(e))
        }
    }
}

async fn give_back_all(store: &dyn ObjectStore, base: &Path, claims: &[Claim]) {
    for claim in claims {
        let _ = give_back(store, &mark_path(base, claim)).await;
    }
}

/// Release claims: their marks go, in one batched delete (a single request
/// on object stores that batch); one already cleared counts as gone. A
/// mark that would not go is abandoned, and the first such error returned.
pub async fn release(store: &dyn ObjectStore, base: &Path, claims: &[Claim]) -> StoreResult<()> {
    if let [claim] = claims {
        // One mark: a plain delete (S3's batched delete is a request of
        // its own kind, for no gain).
        return give_back(store, &mark_path(base, claim)).await;
    }
    let marks: Vec<object_store::Result<Path>> = claims
        .iter()
        .map(|claim| Ok(mark_path(base, claim)))
        .collect();
    let mut deletes = store.delete_stream(futures::stream::iter(marks).boxed());
    let mut first_error = Ok(());
    while let Some(deleted) = deletes.next().await {
        match deleted {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => first_error = first_error.and(Err(classify_object_store(e))),
        }
    }
    if first_error.is_err() {
        // A batch's error need not say which mark would not go: abandon
        // them all (one gone already costs nothing when it is listed).
        for claim in claims {
            abandon(&mark_path(base, claim));
        }
    }
    first_error
}

/// How long a claimer waits, in all, for a claim held by another: past
/// the lease, by when a dead holder's mark has lapsed.
pub fn wait_bound(lease: Duration) -> Duration {
    lease * 2 + Duration::from_secs(5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_says_when_it_was_put() {
        // As a listing gives it back: the name encoded as `mark_path` put it.
        let mark = Path::parse(
            "g/__manifest/_stampede_claims/1733400000000-00ff00ff00ff00ff0000abcd.x%2Fy",
        )
        .unwrap();
        assert_eq!(mark_millis(&mark), Some(1_733_400_000_000));
        assert!(marks_name(&mark, "x/y"));
        assert!(!marks_name(&mark, "x"));
        // "." alone is a path part encoded whole; in a mark it is not.
        let dot = mark_path(
            &Path::from("g/__manifest"),
            &Claim {
                name: ".".into(),
                token: "1733400000000-00ff".into(),
                taken_at: 0,
            },
        );
        let listed = Path::parse(dot.as_ref()).unwrap();
        assert!(marks_name(&listed, "."), "{listed}");
        assert!(!marks_name(&listed, ".."), "{listed}");
        assert_eq!(mark_millis(&Path::from("g/x/garbage")), None);
    }

    #[test]
    fn a_holder_is_fresh_for_half_the_lease() {
        let lease = Duration::from_secs(30);
        let claim = |ago: u64| Claim {
            name: "x".into(),
            token: "t".into(),
            taken_at: now_millis() - ago,
        };
        assert!(fresh(&claim(0), lease));
        assert!(fresh(&claim(14_000), lease));
        assert!(!fresh(&claim(16_000), lease));
        assert!(check_fence(Some(&claim(16_000)), lease).is_err());
        assert!(check_fence(None, lease).is_ok());
    }
}
