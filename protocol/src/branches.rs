//! Branch create and delete, with Lance's two-step layout: a branch is a
//! tree (`tree/<name>`) plus a ref (`_refs/branches/<name>.json`), and the ref
//! is the authority. Neither step pair is atomic, so the ref's put-if-absent
//! is the single point that decides which of two racing creates wins, and
//! the ref's delete which of two racing deletes does. Every write or
//! removal of a name's tree happens under the name's claim (`claim`).

use crate::claim::{claim, claim_unless, release};
use crate::defects::{planted, Defect};
use crate::enumerate::{enumerate, Refs};
use crate::error::{Error, Result};
use crate::lock::lock_held;
use crate::migrate::remove_tree_if_present;
use crate::names::{as_parent, check_branch_reference, checked_public_name};
use crate::store::{Claim, Fence, RefRecord, RefStore, StoreError, StoreResult, TreeState, Wait};

/// Create `name` forked from the head of `from` (`"main"` or a branch).
///
/// Check order: names (`name`, then `from`) → lock → `name` exists → `from`
/// missing. The caller checks the handle's mode first.
pub async fn create_branch<S: RefStore>(store: &S, name: &str, from: &str) -> Result<RefRecord> {
    let name = &*checked_public_name(name)?;
    check_branch_reference(from)?;
    if planted(Defect::SpuriousConflict) && name.ends_with('b') {
        return Err(Error::Conflict {
            detail: "planted: a conflict with nothing".into(),
        });
    }
    let refs = enumerate(store).await?;
    check_unlocked(&refs)?;
    if refs.contains(name) {
        return Err(taken(store, name).await);
    }
    let main = store
        .read_main()
        .await
        .map_err(|e| Error::storage("reading main's head", e))?;
    let epoch = main.schema_epoch;
    let parent = as_parent(from);
    // The ref of `from` this create forks, as enumerated: the fork is only
    // good while that ref, not merely one of its name, stands.
    let parent_record = match parent {
        Some(parent) => match refs.get(parent) {
            Some(record) => Some(record.clone()),
            None => return Err(Error::BranchNotFound { name: from.into() }),
        },
        None => None,
    };
    // A fork of main forks the head just read (with its epoch).
    let head = match parent {
        None => Ok(main.version),
        Some(_) => store.head_version(parent).await,
    };
    let version = match head {
        Ok(v) => v,
        Err(StoreError::NotFound(_)) => return Err(Error::BranchNotFound { name: from.into() }),
        // Reading a head is several storage steps; a delete of `from` can
        // land between them with any error. Gone is gone.
        Err(_) if parent_gone(store, parent).await => {
            return Err(Error::BranchNotFound { name: from.into() })
        }
        Err(e) => return Err(Error::storage(&format!("reading the head of {from:?}"), e)),
    };
    let claim = claim_unless(store, name, Defect::CreateWithoutClaim).await?;
    let written = fork(store, name, parent, version, from, claim.as_ref()).await;
    let record = release(store, claim.as_slice(), written).await?;
    // The ref is written; now look for a schema apply (see `lock`): one that
    // took the lock before this ref appeared, or one that published after
    // this create read main, would leave the branch with a stale schema.
    let backoff = if planted(Defect::CreateWithoutRecheck) {
        None
    } else if parent_changed(store, parent_record.as_ref()).await {
        // `from` is being deleted while this create forked it (or was
        // deleted and created again, its data gone with the old tree). The
        // delete may yet see this ref and restore `from` (see
        // `delete_branch`), so neither order is settled: back off,
        // retryably.
        Some(Error::Conflict {
            detail: format!("{from:?} was deleted while {name:?} was being forked from it"),
        })
    } else {
        outlast_apply(store, name, epoch).await?
    };
    match backoff {
        Some(error) => match withdraw(store, &record).await? {
            Withdrawal::Withdrawn => Err(error),
            // A delete saw this branch stand and removed it (finding 47):
            // the create took effect before that delete, whatever it met
            // afterwards, and answers so.
            Withdrawal::RemovedByAnother => Ok(record),
        },
        None => Ok(record),
    }
}

/// The create's writes, under the name's claim (`fence`): the tree, then
/// the ref. Under the claim nobody else writes or removes this name's tree,
/// and only a claimer puts its ref; so a tree found here with no ref is a
/// zombie (a create or delete that died half-way, a withdrawal whose tree
/// would not go), and is replaced by a fresh fork.
async fn fork<S: RefStore>(
    store: &S,
    name: &str,
    parent: Option<&str>,
    version: u64,
    from: &str,
    fence: Fence<'_>,
) -> Result<RefRecord> {
    let failed = |e: StoreError| Error::storage(&format!("writing the tree of {name:?}"), e);
    match store.write_tree(name, parent, version, fence).await {
        Ok(TreeState::Created) => {}
        Ok(TreeState::AlreadyExists) => {
            match store.read_ref(name).await {
                // The name was taken after this create enumerated.
                Ok(_) => return Err(taken(store, name).await),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(Error::storage(&format!("reading the ref of {name:?}"), e)),
            }
            remove_tree_if_present(store, name, fence).await?;
            match store.write_tree(name, parent, version, fence).await {
                Ok(TreeState::Created) => {}
                // Only a create that took no claim writes here meanwhile.
                Ok(TreeState::AlreadyExists) => {
                    return Err(Error::Conflict {
                        detail: format!("the tree of {name:?} was rewritten by a racing create"),
                    })
                }
                Err(e) => return Err(failed(e)),
            }
        }
        Err(e) if parent_gone(store, parent).await => {
            let _deleted_meanwhile = e;
            return Err(Error::BranchNotFound { name: from.into() });
        }
        Err(e) => return Err(failed(e)),
    }
    let record = RefRecord::new(name, parent, version);
    match store.put_ref_if_absent(&record, fence).await {
        Ok(written) => Ok(written),
        // Only without a claim (the planted old create) can the name be
        // taken here: the tree this create wrote is then another's to keep.
        Err(StoreError::AlreadyExists(_)) => Err(taken(store, name).await),
        Err(e) => {
            if parent_gone(store, parent).await {
                remove_tree_if_present(store, name, fence).await?;
                return Err(Error::BranchNotFound { name: from.into() });
            }
            Err(Error::storage(&format!("writing the ref of {name:?}"), e))
        }
    }
}

/// How many times a withdrawal asks for its ref's delete: a delete is
/// idempotent, and one that failed leaves a branch without its tree.
const WITHDRAW_ATTEMPTS: usize = 3;

/// Take back a create's ref, under the name's claim, and only if the ref
/// there is still the one this create put (a delete may have removed it
/// since, and a new branch may stand there now). The ref goes first (the
/// create is then undone), then the tree: no create writes this name's tree
/// while the claim is held, and a tree that would not go is a zombie, which
/// is invisible (the name's next owner replaces it; `check` reports it).
/// A withdrawal whose claim lapsed before its ref went takes it afresh.
async fn withdraw<S: RefStore>(store: &S, record: &RefRecord) -> Result<Withdrawal> {
    let name = &record.name;
    let mut attempt = 1;
    // Once a delete of the ref was asked for, a ref found gone may be this
    // withdrawal's own (a delete that landed but lost its answer).
    let mut asked = false;
    loop {
        let claim = claim_unless(store, name, Defect::CreateWithoutClaim).await?;
        let withdrawn = withdraw_claimed(store, record, claim.as_ref(), &mut asked).await;
        match release(store, claim.as_slice(), withdrawn).await {
            Err(_) if attempt < WITHDRAW_ATTEMPTS => attempt += 1,
            Err(e) => {
                return Err(Error::storage(
                    &format!("withdrawing the ref of {name:?}"),
                    e,
                ))
            }
            Ok(withdrawal) => return Ok(withdrawal),
        }
    }
}

/// What a withdrawal found under the name's claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Withdrawal {
    /// This create's ref, now removed: the create is undone.
    Withdrawn,
    /// No ref, or another one of the name: a delete removed this branch
    /// after it stood (under the claim, so that delete is done), and maybe
    /// a create made the name anew.
    RemovedByAnother,
}

async fn withdraw_claimed<S: RefStore>(
    store: &S,
    record: &RefRecord,
    fence: Fence<'_>,
    asked: &mut bool,
) -> StoreResult<Withdrawal> {
    let name = record.name.as_str();
    match store.read_ref(name).await {
        Ok(found) if found == *record => {}
        Ok(_) | Err(StoreError::NotFound(_)) if !*asked => return Ok(Withdrawal::RemovedByAnother),
        Ok(_) | Err(StoreError::NotFound(_)) => return Ok(Withdrawal::Withdrawn),
        Err(e) => return Err(e),
    }
    *asked = true;
    match store.delete_ref(name, fence).await {
        Ok(()) | Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    let _zombie_if_it_fails = remove_tree_if_present(store, name, fence).await;
    Ok(Withdrawal::Withdrawn)
}

/// The create's side of the handshake with an apply, after its ref is
/// written: `None` when the branch stands, else why it must withdraw.
///
/// An apply that holds the lock now will look for branches before it
/// publishes, and this ref is visible to it. So wait for the lock to go,
/// rather than withdraw at once: withdrawing a ref that other operations
/// may already have seen (a same-name create answering `branch_exists`, a
/// list) makes a branch appear that no serial order created. Once the lock
/// is gone, the schema epoch says whether the apply published without
/// seeing this ref; only then is the branch stale and withdrawn.
async fn outlast_apply<S: RefStore>(store: &S, name: &str, epoch: u64) -> Result<Option<Error>> {
    let mut attempt = 0;
    while lock_held(store).await? {
        if !store.backoff(Wait::Lock, attempt).await {
            return Ok(Some(Error::SchemaApplyInProgress));
        }
        attempt += 1;
    }
    let now = store
        .read_main()
        .await
        .map_err(|e| Error::storage("re-reading main's head", e))?
        .schema_epoch;
    Ok((now != epoch).then(|| Error::Conflict {
        detail: format!("main's schema changed while {name:?} was being created"),
    }))
}

/// The answer for a create that found `name` taken. The ref may belong to
/// a create still in `outlast_apply`, which can withdraw it; `branch_exists`
/// is only right for a branch that will stand, so each way the owner could
/// still back off turns the answer retryable instead:
/// - the lock is held (also the serial answer: the lock is checked first);
/// - the ref is gone again, or its parent is (a delete is racing it);
/// - the ref forked a version of another schema epoch than main's now (an
///   apply published while the owner waited; it will withdraw).
///
/// Seen with the lock free after the ref appeared, an apply that takes the
/// lock later sees the ref and backs off, so a matching epoch is final.
async fn taken<S: RefStore>(store: &S, name: &str) -> Error {
    let unsettled = |why: &str| Error::Conflict {
        detail: format!("{name:?} is being created or withdrawn by a racing operation ({why})"),
    };
    if planted(Defect::ExistsBeforeSettled) {
        return Error::BranchExists { name: name.into() };
    }
    match lock_held(store).await {
        Ok(true) => return Error::SchemaApplyInProgress,
        Ok(false) => {}
        Err(e) => return e,
    }
    let record = match store.read_ref(name).await {
        Ok(record) => record,
        Err(StoreError::NotFound(_)) => return unsettled("its ref is gone"),
        Err(e) => return Error::storage(&format!("reading the ref of {name:?}"), e),
    };
    let parent = record.parent.as_deref();
    let forked = store.epoch_at(parent, record.parent_version).await;
    if parent_gone(store, parent).await {
        return unsettled("its parent is gone");
    }
    let forked = match forked {
        Ok(epoch) => epoch,
        // The parent stands, yet has no such version: the ref is damaged
        // (a retry would meet it again, so no retryable answer).
        Err(StoreError::NotFound(detail)) => {
            return Error::CorruptRef {
                name: name.into(),
                detail: format!(
                "it says it was forked at version {} of {}, which has no such version: {detail}",
                record.parent_version,
                parent.unwrap_or("main")
            ),
            }
        }
        Err(e) => return Error::storage(&format!("reading the fork point of {name:?}"), e),
    };
    match store.read_main().await {
        Ok(main) if main.schema_epoch == forked => Error::BranchExists { name: name.into() },
        Ok(_) => unsettled("main's schema changed since it was forked"),
        Err(e) => Error::storage("reading main's head", e),
    }
}

/// Whether the branch a create forks from (`None`: main) is gone now.
async fn parent_gone<S: RefStore>(store: &S, parent: Option<&str>) -> bool {
    match parent {
        Some(p) => matches!(store.read_ref(p).await, Err(StoreError::NotFound(_))),
        None => false,
    }
}

/// Whether the ref a create forked from (`None`: main) is no longer there
/// as it was enumerated: gone, or another ref of the same name.
async fn parent_changed<S: RefStore>(store: &S, parent: Option<&RefRecord>) -> bool {
    match parent {
        Some(record) => match store.read_ref(&record.name).await {
            Ok(found) => found != *record,
            Err(StoreError::NotFound(_)) => true,
            Err(_) => false,
        },
        None => false,
    }
}

/// Delete `name`. Check order: name → lock → missing → dependents.
pub async fn delete_branch<S: RefStore>(store: &S, name: &str) -> Result<()> {
    let name = &*checked_public_name(name)?;
    let refs = enumerate(store).await?;
    check_unlocked(&refs)?;
    if !refs.contains(name) {
        return Err(Error::BranchNotFound { name: name.into() });
    }
    let dependents = refs.children_of(name);
    if !dependents.is_empty() {
        return Err(Error::DependentBranches {
            name: name.into(),
            dependents,
        });
    }
    let record = refs.get(name).expect("checked above").clone();
    let claim = claim(store, name).await?;
    let deleted = delete_claimed(store, &record, Some(&claim)).await;
    release(store, &[claim], deleted).await
}

/// Publish a commit on the branch `record` names (a load's, a merge's),
/// under the name's claim and only while its ref is still `record`: the
/// ref whose tree the writer read its base from. `publish` gets the claim
/// to fence its commit with, and its outcome comes back inside: outside
/// are this protocol's own answers (the claim's wait ran out, the branch
/// is gone), which a writer does not retry as a lost commit race.
///
/// A branch's commit is a put-if-absent of its next version in its tree,
/// which no file the delete removed stands in the way of. Unclaimed, a
/// commit that read the branch before a delete landed after it: in the
/// removed tree (a tree without a ref, which `check` reports), or as the
/// head of a branch created under the name since (finding 51). Under the
/// claim no delete or create changes the name meanwhile; a branch gone or
/// replaced before the claim is `branch_not_found`: in a serial order the
/// delete came first.
pub async fn publish_on_branch<S, P, F, T>(store: &S, record: &RefRecord, publish: P) -> Result<T>
where
    S: RefStore,
    P: FnOnce(Option<Claim>) -> F,
    F: std::future::Future<Output = T>,
{
    if planted(Defect::PublishWithoutClaim) {
        return Ok(publish(None).await);
    }
    let name = record.name.as_str();
    let claim = claim(store, name).await?;
    let published = async {
        match store.read_ref(name).await {
            Ok(found) if found == *record => Ok(publish(Some(claim.clone())).await),
            Ok(_) | Err(StoreError::NotFound(_)) => {
                Err(Error::BranchNotFound { name: name.into() })
            }
            Err(e) => Err(Error::storage(&format!("reading the ref of {name:?}"), e)),
        }
    }
    .await;
    release(store, &[claim], published).await
}

/// The delete's writes, under the name's claim: the ref (the delete takes
/// effect here), then, unless a child was forked meanwhile, the tree. No
/// create writes this name's tree while the claim is held, so the removal
/// cannot reach a branch created under the name after the ref went.
async fn delete_claimed<S: RefStore>(
    store: &S,
    record: &RefRecord,
    fence: Fence<'_>,
) -> Result<()> {
    let name = record.name.as_str();
    match store.delete_ref(name, fence).await {
        Ok(()) => {}
        // A racing delete removed it first: that one is the delete.
        Err(StoreError::NotFound(_)) => return Err(Error::BranchNotFound { name: name.into() }),
        Err(e) => return Err(Error::storage(&format!("deleting the ref of {name:?}"), e)),
    }
    // The ref is gone; now look for a child forked meanwhile (the create's
    // side of this handshake is in `create_branch`). If one appeared, put
    // the ref back before the tree is touched and back off.
    if !enumerate(store).await?.children_of(name).is_empty() {
        // The same ref, its writer too (a create forking from it checks it
        // is still the ref it forked). Unfenced: the ref must come back
        // even if the claim lapsed (a put if absent cannot overwrite a
        // branch created meanwhile).
        match store.put_ref_if_absent(record, None).await {
            Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(Error::storage(&format!("restoring the ref of {name:?}"), e)),
        }
        return Err(Error::Conflict {
            detail: format!("a branch was forked from {name:?} while it was being deleted"),
        });
    }
    // The delete has taken effect. A removal refused because the claim
    // lapsed meanwhile leaves a zombie tree, invisible to the graph.
    match store.remove_tree(name, fence).await {
        Ok(()) | Err(StoreError::NotFound(_)) | Err(StoreError::ClaimLost(_)) => Ok(()),
        Err(e) => Err(Error::storage(&format!("removing the tree of {name:?}"), e)),
    }
}

fn check_unlocked(refs: &Refs) -> Result<()> {
    if refs.lock_held() {
        Err(Error::SchemaApplyInProgress)
    } else {
        Ok(())
    }
}
