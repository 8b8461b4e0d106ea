//! Open-time migrations of main, v1 → v2 → v3.
//!
//! Every step is idempotent under sequential retry and under any number of
//! concurrent openers: a step re-reads main before it writes, a stamp write
//! that loses a commit race re-reads and accepts a stamp already at its
//! target, and a delete that finds its ref gone counts as done.

use crate::claim::release;
use crate::defects::{planted, Defect};
use crate::enumerate::enumerate;
use crate::error::{Error, Result};
use crate::stamp::{StampState, CURRENT_VERSION};
use crate::store::{Claim, Fence, MainHead, PkState, RefRecord, RefStore, StoreError, Wait};

/// How many commit races a single stamp or PK write may lose before the
/// open gives up with a retryable `Conflict`.
pub const COMMIT_ATTEMPTS: usize = 32;

/// What one read-write open did to the graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Main's effective version before the open.
    pub from: u32,
    /// Main's version after it (always current on success).
    pub to: u32,
    /// Legacy `__run__*` refs this open deleted (a ref a concurrent opener
    /// deleted first is that opener's).
    pub swept: Vec<String>,
    /// Legacy refs this open left because a user branch descends from them.
    pub kept: Vec<String>,
}

/// Read main's head and apply the stamp guard.
pub async fn guarded_head<S: RefStore>(store: &S) -> Result<(MainHead, u32)> {
    let head = read_main(store).await?;
    let version = StampState::of(&head).guard()?;
    Ok((head, version))
}

async fn read_main<S: RefStore>(store: &S) -> Result<MainHead> {
    store
        .read_main()
        .await
        .map_err(|e| Error::storage("reading main's head of __manifest", e))
}

/// Bring main to the current version, starting from the `head` the opener
/// already read. Runs before anything observes branches.
pub async fn migrate<S: RefStore>(store: &S, head: &MainHead) -> Result<OpenReport> {
    let from = StampState::of(head).guard()?;
    let mut report = OpenReport {
        from,
        to: from,
        ..OpenReport::default()
    };
    if report.to == 1 {
        // The v1→v2 step writes before the sweep reads the refs: read them
        // first, so an open that cannot finish (a ref that does not parse)
        // has written nothing.
        crate::enumerate::enumerate(store).await?;
        migrate_v1_to_v2(store).await?;
        report.to = 2;
    }
    if report.to == 2 {
        let (swept, kept) = migrate_v2_to_v3(store).await?;
        report.swept = swept;
        report.kept = kept;
        report.to = 3;
    }
    debug_assert_eq!(report.to, CURRENT_VERSION);
    Ok(report)
}

/// Set the primary key if absent (never twice: Lance refuses to change a PK
/// once set), then stamp 2.
pub async fn migrate_v1_to_v2<S: RefStore>(store: &S) -> Result<()> {
    for _ in 0..COMMIT_ATTEMPTS {
        let (head, version) = guarded_head(store).await?;
        if version >= 2 {
            return Ok(());
        }
        match &head.pk {
            PkState::OnObjectId if planted(Defect::PkSetAgain) => {
                return match store.set_primary_key(head.version).await {
                    Ok(()) => write_stamp_at_least(store, 2).await,
                    Err(e) => Err(Error::storage("setting the primary key", e)),
                }
            }
            PkState::OnObjectId => return write_stamp_at_least(store, 2).await,
            PkState::OnOtherField(field) => {
                return Err(Error::CorruptManifest {
                    detail: format!(
                        "primary key is on field {field:?}, expected object_id; refusing to migrate"
                    ),
                })
            }
            PkState::Absent => match store.set_primary_key(head.version).await {
                // Either way, the next round re-reads and finds the PK set.
                Ok(()) | Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(Error::storage("setting the primary key", e)),
            },
        }
    }
    Err(commit_race_lost("the v1→v2 primary key"))
}

/// Sweep legacy `__run__*` refs, then stamp 3. Returns (swept, kept).
pub async fn migrate_v2_to_v3<S: RefStore>(store: &S) -> Result<(Vec<String>, Vec<String>)> {
    let refs = enumerate(store).await?;
    // Every enumerated ref existed before this re-read. If main is not yet
    // at 3 here, none of them was created through a migrated handle, so none
    // is a user's `__run__*` branch; if it is at 3, another opener finished.
    let (_, version) = guarded_head(store).await?;
    if version >= 3 {
        return Ok((Vec::new(), Vec::new()));
    }
    let plan = refs.sweep_plan();
    let mut swept = Vec::new();
    // Refs another opener has claimed are passed over and come back to,
    // so concurrent openers share the work instead of queueing ref by ref.
    let mut pending = plan.sweep;
    let mut wait = 0;
    while !pending.is_empty() {
        let mut to_retry = Vec::new();
        for batch in pending.chunks(SWEEP_CLAIM_BATCH) {
            if planted(Defect::SweepWithoutClaim) {
                for name in batch {
                    if sweep_without_claim(store, name).await? {
                        swept.push(name.clone());
                    }
                }
                continue;
            }
            let claims = store
                .try_claims(batch)
                .await
                .map_err(|e| Error::storage(&format!("claiming {batch:?}"), e))?;
            let mut held = Vec::new();
            for (name, claim) in batch.iter().zip(claims) {
                match claim {
                    Some(claim) => held.push(claim),
                    None => to_retry.push(name.clone()),
                }
            }
            let swept_here = sweep_batch(store, &refs, &held).await;
            let (done, stale) = release(store, &held, swept_here).await?;
            swept.extend(done);
            to_retry.extend(stale);
        }
        if !to_retry.is_empty() && !store.backoff(Wait::Claim, wait).await {
            return Err(Error::Conflict {
                detail: format!(
                    "legacy refs {to_retry:?} stayed claimed by other operations past the wait"
                ),
            });
        }
        wait += 1;
        pending = to_retry;
    }
    swept.sort();
    write_stamp_at_least(store, 3).await?;
    Ok((swept, plan.keep))
}

/// How many legacy refs the sweep claims at a time. Taken together, a
/// batch's claims cost one listing instead of one each (Lance); the batch
/// stays small enough that its last ref is swept long before its claim
/// passes half the lease, even on S3 (a few requests per ref). A claim
/// that grew too old all the same (`fresh_to_start`) is taken again.
pub const SWEEP_CLAIM_BATCH: usize = 32;

/// Sweep each ref `held` claims, in order: the names this open removed,
/// and those whose claims grew too old to start on (taken again later).
async fn sweep_batch<S: RefStore>(
    store: &S,
    refs: &crate::enumerate::Refs,
    held: &[Claim],
) -> Result<(Vec<String>, Vec<String>)> {
    let mut swept = Vec::new();
    for (i, claim) in held.iter().enumerate() {
        if !store.fresh_to_start(claim) {
            let stale = held[i..].iter().map(|c| c.name.clone()).collect();
            return Ok((swept, stale));
        }
        let enumerated = refs.get(&claim.name).expect("planned from these refs");
        if sweep_claimed(store, enumerated, claim).await? {
            swept.push(claim.name.clone());
        }
    }
    Ok((swept, Vec::new()))
}

/// Sweep one legacy ref under its name's claim; whether this open removed
/// it. The tree goes first, while the ref still holds the name: a sweep
/// that dies half-way leaves the legacy ref, which the next read-write
/// open sweeps again. The ref must still be the one enumerated: another
/// opener may have swept it already, and a handle of the migrated graph may
/// have created a branch of that name since.
async fn sweep_claimed<S: RefStore>(
    store: &S,
    enumerated: &RefRecord,
    claim: &Claim,
) -> Result<bool> {
    let name = enumerated.name.as_str();
    let fence = Some(claim);
    match store.read_ref(name).await {
        Ok(found) if found == *enumerated => {}
        Ok(_) => return Ok(false),
        // Another opener swept it. Under the claim and with no ref, a tree
        // left there is a zombie (its sweeper died between the two steps).
        Err(StoreError::NotFound(_)) if !planted(Defect::SweepPlainDelete) => {
            remove_swept_tree(store, name, fence).await?;
            return Ok(false);
        }
        Err(e) => return Err(Error::storage(&format!("sweeping ref {name:?}"), e)),
    }
    remove_swept_tree(store, name, fence).await?;
    match store.delete_ref(name, fence).await {
        Ok(()) => Ok(true),
        Err(StoreError::NotFound(_)) if !planted(Defect::SweepPlainDelete) => Ok(false),
        Err(e) => Err(Error::storage(&format!("sweeping the ref of {name:?}"), e)),
    }
}

/// The sweep of one ref as it was before claims (finding 39, planted
/// back): the ref, then the tree, under no claim. The tree goes even when
/// the ref was already gone, since its deleter may have died in between;
/// so a sweeper slower than the one that deleted the ref can list and
/// remove the tree of a branch re-created under the name.
async fn sweep_without_claim<S: RefStore>(store: &S, name: &str) -> Result<bool> {
    let deleted_here = match store.delete_ref(name, None).await {
        Ok(()) => true,
        Err(StoreError::NotFound(_)) => false,
        Err(e) => return Err(Error::storage(&format!("sweeping ref {name:?}"), e)),
    };
    remove_swept_tree(store, name, None).await?;
    Ok(deleted_here)
}

/// The sweep's removal of a legacy tree: one already gone (removed by an
/// opener that died before its ref delete, or by the opener that swept
/// the ref) counts as removed.
async fn remove_swept_tree<S: RefStore>(store: &S, name: &str, fence: Fence<'_>) -> Result<()> {
    match store.remove_tree(name, fence).await {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound(_)) if !planted(Defect::SweepForceDeleteNotFound) => Ok(()),
        Err(e) => Err(Error::storage(&format!("removing the tree of {name:?}"), e)),
    }
}

/// A tree already gone counts as removed.
pub async fn remove_tree_if_present<S: RefStore>(
    store: &S,
    name: &str,
    fence: Fence<'_>,
) -> Result<()> {
    match store.remove_tree(name, fence).await {
        Ok(()) | Err(StoreError::NotFound(_)) => Ok(()),
        Err(e) => Err(Error::storage(&format!("removing the tree of {name:?}"), e)),
    }
}

/// Write `target` unless main is already there; a lost race re-reads.
pub async fn write_stamp_at_least<S: RefStore>(store: &S, target: u32) -> Result<()> {
    for _ in 0..COMMIT_ATTEMPTS {
        let (head, version) = guarded_head(store).await?;
        if version >= target {
            return Ok(());
        }
        match store.write_stamp(head.version, &target.to_string()).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict(_)) if !planted(Defect::StampWriteNotIdempotent) => continue,
            Err(e) => return Err(Error::storage(&format!("writing stamp {target}"), e)),
        }
    }
    Err(commit_race_lost(&format!("stamp {target}")))
}

fn commit_race_lost(what: &str) -> Error {
    Error::Conflict {
        detail: format!("writing {what} lost {COMMIT_ATTEMPTS} commit races in a row"),
    }
}
