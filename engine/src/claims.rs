//! Claims on Lance (the protocol's `claim` module says what they are for):
//! each claimer puts a mark of its own, `__manifest/_stampede_claims/<name>/
//! <millis>-<nonce>` (the name percent-encoded as Lance encodes ref files),
//! then lists the name's marks. It holds the claim only if no other live
//! mark is there; otherwise it takes its mark back and waits. Whichever of
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

use futures::TryStreamExt;
use lance::io::ObjectStoreParams;
use object_store::path::Path;
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
/// under it (one listing, a batched delete and a ref delete), and than the
/// clock skew between the processes that share a graph.
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

fn marks_dir(base: &Path, name: &str) -> Path {
    base.clone().join(CLAIMS_DIR).join(name)
}

/// When a mark was put, from its file name.
fn mark_millis(mark: &Path) -> Option<u64> {
    mark.filename()?.split('-').next()?.parse().ok()
}

/// One attempt at `name`'s claim (see the module): put a mark, list the
/// marks, hold the claim if no other live mark is there, else take the
/// mark back. Which of several claimers arriving together gets the claim
/// is left to their jittered backoffs, never to the times in the marks,
/// so that a scheduled round decides the same way on every run.
pub async fn try_claim(
    store: &dyn ObjectStore,
    base: &Path,
    name: &str,
    lease: Duration,
) -> StoreResult<Option<Claim>> {
    let dir = marks_dir(base, name);
    let taken_at = now_millis();
    let token = format!("{taken_at:013}-{}", crate::nonce::writer_nonce());
    let mine = dir.clone().join(token.as_str());
    let put = PutOptions::from(PutMode::Create);
    match store.put_opts(&mine, PutPayload::new(), put).await {
        Ok(_) => {}
        // The name is this claimer's own: "already there" is its own put,
        // landed, whose answer was lost and retried (S3 answers the retry
        // with 412).
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. }) => {}
        Err(e) => {
            // It may have landed (a lost answer): never wait on it here.
            abandon(&mine);
            return Err(classify_object_store(e));
        }
    }
    match live_marks(store, &dir, &mine, lease).await {
        Ok(live) if live.is_empty() => Ok(Some(Claim {
            name: name.to_string(),
            token,
            taken_at,
        })),
        Ok(_) => {
            give_back(store, &mine).await;
            Ok(None)
        }
        Err(e) => {
            give_back(store, &mine).await;
            Err(e)
        }
    }
}

/// The marks in `dir` other than `mine` that still count: a lapsed or
/// abandoned one is cleared on the way.
async fn live_marks(
    store: &dyn ObjectStore,
    dir: &Path,
    mine: &Path,
    lease: Duration,
) -> StoreResult<Vec<Path>> {
    let listed: Vec<Path> = store
        .list(Some(dir))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .map_err(classify_object_store)?;
    let now = now_millis();
    let mut live = Vec::new();
    for mark in listed.into_iter().filter(|m| m != mine) {
        let lapsed = mark_millis(&mark)
            .is_none_or(|at| u128::from(now.saturating_sub(at)) > lease.as_millis());
        if lapsed || abandoned(&mark) {
            match store.delete(&mark).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                    ABANDONED.lock().unwrap().remove(mark.as_ref());
                }
                Err(_) => {}
            }
        } else {
            live.push(mark);
        }
    }
    Ok(live)
}

/// Whether another claimer holds `name`'s claim now (a live mark is
/// there): an operation on the name is in flight. Writes nothing.
pub async fn held_by_another(
    store: &dyn ObjectStore,
    base: &Path,
    name: &str,
    lease: Duration,
) -> StoreResult<bool> {
    let listed: Vec<Path> = store
        .list(Some(&marks_dir(base, name)))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .map_err(classify_object_store)?;
    let now = now_millis();
    Ok(listed.iter().any(|mark| {
        mark_millis(mark).is_some_and(|at| u128::from(now.saturating_sub(at)) <= lease.as_millis())
            && !abandoned(mark)
    }))
}

/// Take a mark back; one that will not go is abandoned (see `ABANDONED`).
async fn give_back(store: &dyn ObjectStore, mark: &Path) {
    match store.delete(mark).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(_) => abandon(mark),
    }
}

/// Release a claim: its mark goes (one already cleared counts as gone).
pub async fn release(store: &dyn ObjectStore, base: &Path, claim: &Claim) -> StoreResult<()> {
    let mark = marks_dir(base, &claim.name).join(claim.token.as_str());
    match store.delete(&mark).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => {
            abandon(&mark);
            Err(classify_object_store(e))
        }
    }
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
        let mark =
            Path::from("g/__manifest/_stampede_claims/x/1733400000000-00ff00ff00ff00ff0000abcd");
        assert_eq!(mark_millis(&mark), Some(1_733_400_000_000));
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
