//! The schema-apply lock and the apply protocol.
//!
//! The invariant the lock exists for: every public branch always has main's
//! schema. No branch is forked from, or left standing across, a schema
//! change. Apply and branch create each write their own ref first and then
//! look for the other's (Dekker's pattern): apply puts the lock, then checks
//! for branches; create puts its branch ref, then checks for the lock and
//! for a schema change on main since the version it forked from. Whichever
//! looks second sees the first, and backs off with a retryable error.

use std::future::Future;

use crate::claim::RELEASE_ATTEMPTS;
use crate::defects::{planted, Defect};
use crate::enumerate::{enumerate, Refs};
use crate::error::{Error, Result};
use crate::names::{is_internal, SCHEMA_APPLY_LOCK};
use crate::store::{RefRecord, RefStore, StoreError};

/// The table writes and the publish of one schema change. The protocol
/// decides when they run; the engine decides what they do.
pub trait SchemaChange: Sync {
    type Staged: Send;
    /// Write the table changes, invisible until published.
    fn write(&self) -> impl Future<Output = Result<Self::Staged>> + Send;
    /// Publish schema and table versions in one commit on main, as a
    /// compare-and-swap on what `write` read (`Conflict` when main moved).
    fn publish(&self, staged: Self::Staged) -> impl Future<Output = Result<()>> + Send;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Applied {
    /// False when the publish committed but the lock could not be removed:
    /// the schema is applied; `unlock` clears the lock.
    pub lock_released: bool,
}

/// Public branches other than main.
pub fn blocking_branches(refs: &Refs) -> Vec<String> {
    refs.names()
        .filter(|n| !is_internal(n))
        .map(str::to_string)
        .collect()
}

async fn check_no_branches<S: RefStore>(store: &S) -> Result<()> {
    let blocking = blocking_branches(&enumerate(store).await?);
    if blocking.is_empty() {
        Ok(())
    } else {
        Err(Error::BlockingBranches { branches: blocking })
    }
}

/// Steps 1–6 of an apply: fail fast on branches, take the lock, re-check,
/// write, check once more, publish, release.
pub async fn apply_under_lock<S: RefStore, C: SchemaChange>(
    store: &S,
    change: &C,
) -> Result<Applied> {
    check_no_branches(store).await?;
    let lock = acquire(store).await?;
    let recheck_after_lock = !planted(Defect::LockWithoutRecheck);
    let recheck_before_publish = recheck_after_lock && !planted(Defect::NoRecheckBeforePublish);
    let applied = async {
        // A branch created between the first check and the lock.
        if recheck_after_lock {
            check_no_branches(store).await?;
        }
        let staged = change.write().await?;
        // A branch created while the tables were written, before it saw
        // the lock, is still standing: do not publish across it.
        if recheck_before_publish {
            check_no_branches(store).await?;
        }
        change.publish(staged).await
    }
    .await;
    let released = release(store, &lock).await;
    applied?;
    if planted(Defect::ReleaseErrorAfterApply) {
        released.clone()?;
    }
    Ok(Applied {
        lock_released: released.is_ok(),
    })
}

/// Create the lock ref; `SchemaApplyInProgress` when it exists (also for
/// the loser of two racing applies). Returns the lock as written: its
/// `writer` tells it from a later apply's.
pub async fn acquire<S: RefStore>(store: &S) -> Result<RefRecord> {
    let main = store
        .read_main()
        .await
        .map_err(|e| Error::storage("reading main's head before taking the lock", e))?;
    let lock = RefRecord::new(SCHEMA_APPLY_LOCK, None, main.version);
    match store.put_ref_if_absent(&lock, None).await {
        Ok(written) => Ok(written),
        Err(StoreError::AlreadyExists(_)) => Err(Error::SchemaApplyInProgress),
        Err(e) => Err(Error::storage("creating the schema-apply lock", e)),
    }
}

/// Remove this apply's `lock`; one already gone counts as released. A
/// delete that reported an error may still have happened (a lost
/// acknowledgement), and another apply may have taken the lock since: so
/// before asking again, re-read it, and delete only while the lock there is
/// still this apply's own (by its `writer`). Up to `RELEASE_ATTEMPTS`
/// deletes; an error comes back only when no attempt found it gone.
///
/// Between the re-read and the delete only `unlock` (an operator clearing
/// a lock left behind) could remove it and let another apply take it; an
/// unlock beside a live apply is outside the contract (`docs/contract.md`).
pub async fn release<S: RefStore>(store: &S, lock: &RefRecord) -> Result<()> {
    let mut last = None;
    for attempt in 0..RELEASE_ATTEMPTS {
        if attempt > 0 {
            match store.read_ref(SCHEMA_APPLY_LOCK).await {
                Ok(found) if found == *lock => {}
                // Gone, or another apply's taken since this one's went.
                Ok(_) | Err(StoreError::NotFound(_)) => return Ok(()),
                Err(e) => {
                    last = Some(Error::storage("reading the schema-apply lock", e));
                    continue;
                }
            }
        }
        match store.delete_ref(SCHEMA_APPLY_LOCK, None).await {
            Ok(()) | Err(StoreError::NotFound(_)) => return Ok(()),
            Err(e) => last = Some(Error::storage("removing the schema-apply lock", e)),
        }
    }
    Err(last.expect("at least one attempt"))
}

/// Remove a lock left by a crashed apply; whether one was there. Always
/// safe: a crashed apply is either fully published or invisible.
pub async fn unlock<S: RefStore>(store: &S) -> Result<bool> {
    match store.delete_ref(SCHEMA_APPLY_LOCK, None).await {
        Ok(()) => Ok(true),
        Err(StoreError::NotFound(_)) => Ok(false),
        Err(e) => Err(Error::storage("removing the schema-apply lock", e)),
    }
}

/// Whether the lock is held, in one read.
pub async fn lock_held<S: RefStore>(store: &S) -> Result<bool> {
    match store.read_ref(SCHEMA_APPLY_LOCK).await {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound(_)) => Ok(false),
        Err(e) => Err(Error::storage("reading the schema-apply lock", e)),
    }
}
