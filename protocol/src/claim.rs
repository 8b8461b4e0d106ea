//! Claims on branch names: who may change a name's tree and ref right now.
//!
//! Lance lays a branch out as a ref file plus a tree directory whose path
//! derives from the name alone, and no store deletes a file only if it is
//! still the version one listed. So any step that removes a tree's files
//! (a sweep, a delete, a withdrawal, a create replacing a zombie tree)
//! races every later owner of the name: it lists the files, and deletes
//! them after a new branch of that name may have written its own (finding
//! 39: a late sweep removed a re-created branch's tables). A claim closes
//! that race: every step that writes or removes a name's tree, or puts or
//! removes its ref as a branch, runs under the name's claim, and the holder
//! checks, under it, that the ref is still what justifies the step.
//!
//! A claim is a mutual exclusion with a lease. Taking one is Dekker's
//! pattern on the store (put my mark, then list the name's marks: I hold
//! it only if no other live mark is there), so two claimers never both
//! hold it. A mark whose holder died lapses after the store's lease
//! (`CLAIM_LEASE` on Lance), and a holder refuses to change anything once
//! half the lease has passed since it took the claim: the one assumption
//! (docs/contract.md) is that a single storage step plus the clock skew
//! between processes stays under half the lease.

use crate::defects::{planted, Defect};
use crate::error::{Error, Result};
use crate::store::{Claim, RefStore, Wait};

/// Take `name`'s claim, waiting while another actor holds it (until it is
/// released, or lapses and is taken over). A retryable `Conflict` only
/// when the store's wait bound passes first.
pub async fn claim<S: RefStore>(store: &S, name: &str) -> Result<Claim> {
    let mut attempt = 0;
    loop {
        match store.try_claim(name).await {
            Ok(Some(claim)) => return Ok(claim),
            Ok(None) => {}
            Err(e) => return Err(Error::storage(&format!("claiming {name:?}"), e)),
        }
        if !store.backoff(Wait::Claim, attempt).await {
            return Err(Error::Conflict {
                detail: format!("{name:?} stayed claimed by another operation past the wait"),
            });
        }
        attempt += 1;
    }
}

/// `claim`, unless `defect` (a planted old protocol that took no claim) is
/// planted.
pub async fn claim_unless<S: RefStore>(
    store: &S,
    name: &str,
    defect: Defect,
) -> Result<Option<Claim>> {
    if planted(defect) {
        return Ok(None);
    }
    claim(store, name).await.map(Some)
}

/// How many times a release is asked for: a claim left behind holds its
/// name up for a whole lease, and a lock left behind blocks every writer
/// until `unlock`.
pub(crate) const RELEASE_ATTEMPTS: usize = 3;

/// Give `claims` up (none, one, or a batch of the sweep's), then hand back
/// `result`: what was done under them. A release that keeps failing is not
/// the operation's failure (what it did is done); the claims then lapse on
/// their own.
pub async fn release<S: RefStore, T>(store: &S, claims: &[Claim], result: T) -> T {
    if !claims.is_empty() {
        for _ in 0..RELEASE_ATTEMPTS {
            if store.release_claims(claims).await.is_ok() {
                break;
            }
        }
    }
    result
}
