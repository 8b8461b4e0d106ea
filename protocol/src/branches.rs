//! Branch create and delete, with Lance's two-step layout: a branch is a
//! tree (`tree/<name>`) plus a ref (`_refs/branches/<name>.json`), and the ref
//! is the authority. Neither step pair is atomic, so the ref's put-if-absent
//! is the single point that decides which of two racing creates wins, and
//! the ref's delete which of two racing deletes does.

use crate::defects::{planted, Defect};
use crate::enumerate::{enumerate, Refs};
use crate::error::{Error, Result};
use crate::lock::lock_held;
use crate::migrate::remove_tree_if_present;
use crate::names::{as_parent, check_branch_reference, checked_public_name};
use crate::store::{RefRecord, RefStore, StoreError, TreeState};

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
    if let Some(parent) = parent {
        if !refs.contains(parent) {
            return Err(Error::BranchNotFound { name: from.into() });
        }
    }
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
    let tree = match store.write_tree(name, parent, version).await {
        Ok(tree) => tree,
        // The create that owns the name may be re-forking this tree under
        // us: then the name is taken, whatever the failed write said. Or
        // `from` was deleted after its head was read: then it is not found.
        Err(e) => {
            if store.read_ref(name).await.is_ok() {
                return Err(taken(store, name).await);
            }
            if parent_gone(store, parent).await {
                return Err(Error::BranchNotFound { name: from.into() });
            }
            return Err(Error::storage(&format!("writing the tree of {name:?}"), e));
        }
    };
    let record = RefRecord {
        name: name.into(),
        parent: parent.map(str::to_string),
        parent_version: version,
    };
    match store.put_ref_if_absent(&record).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => return Err(taken(store, name).await),
        Err(e) => {
            if parent_gone(store, parent).await {
                if tree == TreeState::Created {
                    remove_tree_if_present(store, name).await?;
                }
                return Err(Error::BranchNotFound { name: from.into() });
            }
            return Err(Error::storage(&format!("writing the ref of {name:?}"), e));
        }
    }
    // From here the ref holds the name. Until the tree is the fork the ref
    // records, a failure must withdraw the ref: a ref over a missing or
    // foreign tree is a branch no serial order created.
    let tree_is_ours = match tree {
        TreeState::Created => store.tree_exists(name).await,
        TreeState::AlreadyExists => Ok(false),
    };
    // The tree this create wrote is gone if the name's previous owner
    // re-forked it and then withdrew; one found there is a racer's or a
    // zombie. Either way, the name is ours now: fork it afresh.
    let forked = match tree_is_ours {
        Ok(true) => Ok(()),
        Ok(false) => refork_tree(store, &record).await,
        Err(e) => Err(Error::storage(&format!("reading the tree of {name:?}"), e)),
    };
    if let Err(failure) = forked {
        withdraw(store, name).await?;
        return Err(failure);
    }
    // The ref is written; now look for a schema apply (see `lock`): one that
    // took the lock before this ref appeared, or one that published after
    // this create read main, would leave the branch with a stale schema.
    let backoff = if planted(Defect::CreateWithoutRecheck) {
        None
    } else if parent_gone(store, parent).await {
        // `from` is being deleted while this create forked it. The delete
        // may yet see this ref and restore `from` (see `delete_branch`), so
        // neither order is settled: back off, retryably.
        Some(Error::Conflict {
            detail: format!("{from:?} was deleted while {name:?} was being forked from it"),
        })
    } else {
        outlast_apply(store, name, epoch).await?
    };
    match backoff {
        Some(error) => {
            withdraw(store, name).await?;
            Err(error)
        }
        None => Ok(record),
    }
}

/// How many times a withdrawal asks for its ref's delete: a delete is
/// idempotent, and one that failed leaves a branch without its tree.
const WITHDRAW_ATTEMPTS: usize = 3;

/// Take back a create's ref. The tree goes first, while the ref still
/// holds the name: once the ref is gone, a new create may own the name and
/// re-fork a tree there, which this one must not touch. A tree that would
/// not go is left a zombie, which is invisible: the name's next owner
/// re-forks it and `check` reports it.
async fn withdraw<S: RefStore>(store: &S, name: &str) -> Result<()> {
    let _ = remove_tree_if_present(store, name).await;
    let mut attempt = 1;
    loop {
        match store.delete_ref(name).await {
            Ok(()) | Err(StoreError::NotFound(_)) => return Ok(()),
            Err(_) if attempt < WITHDRAW_ATTEMPTS => attempt += 1,
            Err(e) => {
                return Err(Error::storage(
                    &format!("withdrawing the ref of {name:?}"),
                    e,
                ))
            }
        }
    }
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
        if !store.backoff(attempt).await {
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
        Err(e) => return Error::storage(&format!("reading the fork point of {name:?}"), e),
    };
    match store.read_main().await {
        Ok(main) if main.schema_epoch == forked => Error::BranchExists { name: name.into() },
        Ok(_) => unsettled("main's schema changed since it was forked"),
        Err(e) => Error::storage("reading main's head", e),
    }
}

/// How many foreign trees a ref's owner replaces before it gives up: each
/// losing racer writes at most one, and only while it sees no tree.
pub const REFORK_ATTEMPTS: usize = 16;

/// The name is ours: no other create touches its tree after losing the
/// ref. What stood there was a zombie or a losing racer's fork, possibly of
/// another version: fork it afresh from what the ref records.
async fn refork_tree<S: RefStore>(store: &S, record: &RefRecord) -> Result<()> {
    let name = &record.name;
    for _ in 0..REFORK_ATTEMPTS {
        remove_tree_if_present(store, name).await?;
        match store
            .write_tree(name, record.parent.as_deref(), record.parent_version)
            .await
        {
            Ok(TreeState::Created) => return Ok(()),
            // A racer still in its first step wrote one in between.
            Ok(TreeState::AlreadyExists) => continue,
            Err(e) => {
                return Err(Error::storage(
                    &format!("re-forking the tree of {name:?}"),
                    e,
                ))
            }
        }
    }
    Err(Error::Conflict {
        detail: format!("the tree of {name:?} kept being rewritten by racing creates"),
    })
}

/// Whether the branch a create forks from (`None`: main) is gone now.
async fn parent_gone<S: RefStore>(store: &S, parent: Option<&str>) -> bool {
    match parent {
        Some(p) => matches!(store.read_ref(p).await, Err(StoreError::NotFound(_))),
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
    match store.delete_ref(name).await {
        Ok(()) => {}
        // A racing delete removed it first: that one is the delete.
        Err(StoreError::NotFound(_)) => return Err(Error::BranchNotFound { name: name.into() }),
        Err(e) => return Err(Error::storage(&format!("deleting the ref of {name:?}"), e)),
    }
    // The ref is gone; now look for a child forked meanwhile (the create's
    // side of this handshake is in `create_branch`). If one appeared, put
    // the ref back before the tree is touched and back off.
    if !enumerate(store).await?.children_of(name).is_empty() {
        let record = refs.get(name).expect("checked above").clone();
        match store.put_ref_if_absent(&record).await {
            Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(Error::storage(&format!("restoring the ref of {name:?}"), e)),
        }
        return Err(Error::Conflict {
            detail: format!("a branch was forked from {name:?} while it was being deleted"),
        });
    }
    remove_tree_if_present(store, name).await
}

fn check_unlocked(refs: &Refs) -> Result<()> {
    if refs.lock_held() {
        Err(Error::SchemaApplyInProgress)
    } else {
        Ok(())
    }
}
