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
    let refs = enumerate(store).await?;
    check_unlocked(&refs)?;
    if refs.contains(name) {
        return Err(Error::BranchExists { name: name.into() });
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
                return Err(Error::BranchExists { name: name.into() });
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
        Err(StoreError::AlreadyExists(_)) => return Err(Error::BranchExists { name: name.into() }),
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
    if tree == TreeState::AlreadyExists {
        refork_tree(store, &record).await?;
    }
    // The ref is written; now look for a schema apply (see `lock`): one that
    // took the lock before this ref appeared, or one that published after
    // this create read main, would leave the branch with a stale schema.
    let seeds_create =
        planted(Defect::CreateWithoutRecheck) || planted(Defect::NoRecheckBeforePublish);
    let backoff = if seeds_create {
        None
    } else if parent_gone(store, parent).await {
        // `from` is being deleted while this create forked it. The delete
        // may yet see this ref and restore `from` (see `delete_branch`), so
        // neither order is settled: back off, retryably.
        Some(Error::Conflict {
            detail: format!("{from:?} was deleted while {name:?} was being forked from it"),
        })
    } else if lock_held(store).await? {
        Some(Error::SchemaApplyInProgress)
    } else {
        let now = store
            .read_main()
            .await
            .map_err(|e| Error::storage("re-reading main's head", e))?
            .schema_epoch;
        (now != epoch).then(|| Error::Conflict {
            detail: format!("main's schema changed while {name:?} was being created"),
        })
    };
    if let Some(error) = backoff {
        match store.delete_ref(name).await {
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(e) => {
                return Err(Error::storage(
                    &format!("withdrawing the ref of {name:?}"),
                    e,
                ))
            }
        }
        remove_tree_if_present(store, name).await?;
        return Err(error);
    }
    Ok(record)
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
