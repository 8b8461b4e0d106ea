//! The storage boundary the protocols are written against.
//!
//! Each method is one step that another actor can interleave with: a
//! protocol never assumes two calls happen atomically. The Lance
//! implementation maps each to the same non-atomic steps Lance itself takes
//! (list the refs directory, read one ref file, put a ref if absent, ...).

use std::future::Future;

use crate::cause::Cause;

/// One branch ref as the protocols see it. Two records are the same ref
/// only if every field is equal: a ref deleted and put again under its name
/// carries another `writer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefRecord {
    pub name: String,
    /// The branch it was forked from; `None` is main.
    pub parent: Option<String>,
    /// The parent's version it was forked at.
    pub parent_version: u64,
    /// The nonce of the put that wrote it, for refs Stampede wrote; `None`
    /// for refs other writers made (Lance itself, the seed engine, the
    /// legacy fixture) and for records not yet written.
    pub writer: Option<String>,
}

impl RefRecord {
    /// A record to put: a fresh writer is the store's to fill in.
    pub fn new(name: &str, parent: Option<&str>, parent_version: u64) -> Self {
        RefRecord {
            name: name.to_string(),
            parent: parent.map(str::to_string),
            parent_version,
            writer: None,
        }
    }
}

/// A claim on one branch name: while its holder keeps it, no other actor
/// writes or removes that name's tree or ref (see `claim`). The protocols
/// pass it to every step that changes them, and the store refuses such a
/// step once the claim is no longer fresh (`StoreError::ClaimLost`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub name: String,
    /// The holder's mark in the store: what `release_claim` removes, and how
    /// the store tells this claim from a successor's.
    pub token: String,
    /// When it was taken, by the claim clock of the store that took it
    /// (milliseconds; the in-memory store keeps none).
    pub taken_at: u64,
}

/// The claim a changing step is made under: `None` for refs no claim
/// covers (the schema-apply lock) and for the planted old protocols.
pub type Fence<'a> = Option<&'a Claim>;

/// What a waiting actor waits for (see [`RefStore::backoff`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// A schema apply to release the lock: a create outlasting it.
    Lock,
    /// Another actor's claim on a name to be released or to lapse.
    Claim,
}

/// What main's head says about the internal schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MainHead {
    /// Main's latest version; stamp and PK writes are compare-and-swap on it.
    pub version: u64,
    /// The raw value of the stamp key, if present.
    pub stamp: Option<String>,
    pub pk: PkState,
    /// Bumped by every published schema change on main. A branch forked at
    /// one epoch must not stand at another.
    pub schema_epoch: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PkState {
    Absent,
    OnObjectId,
    /// A primary key on some other field: not a shape any engine wrote.
    OnOtherField(String),
}

/// Whether writing a branch tree found one already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeState {
    Created,
    /// A tree was there already: left by a create that died before its ref,
    /// by a delete that died before its cleanup, or written by a racing create.
    AlreadyExists,
}

/// The store's classification of a failed step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// A compare-and-swap lost to a concurrent commit.
    #[error("commit conflict: {0}")]
    Conflict(String),
    /// The ref file is there but does not read as a ref: damage, named.
    #[error("ref {name:?} is corrupt: {detail}")]
    CorruptRef { name: String, detail: String },
    /// A file that is there but reads as something no writer wrote
    /// (garbled, truncated): damage, never transient, so never retried.
    #[error("damaged file: {0}")]
    Damaged(String),
    /// A step under a claim the holder no longer holds: too long has passed
    /// since it was taken (the holder was paused), so another actor may
    /// have taken it over. The step did nothing.
    #[error("claim lost: {0}")]
    ClaimLost(String),
    /// The store refused the credentials: the setting it names is wrong
    /// (an S3 server's 403 for an unknown key or a bad signature).
    #[error("the store refused {option}: {detail}")]
    Refused { option: String, detail: String },
    /// Anything else, with the store's own error.
    #[error(transparent)]
    Other(Cause),
}

impl StoreError {
    /// An unclassified failure described only by a message.
    pub fn other(message: impl Into<String>) -> Self {
        StoreError::Other(Cause::message(message))
    }
}

pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// The refs, trees and main head of one `__manifest` dataset.
pub trait RefStore: Sync {
    /// List the refs directory: names only, read nothing.
    fn list_ref_names(&self) -> impl Future<Output = StoreResult<Vec<String>>> + Send;

    /// Read one ref; `NotFound` when it vanished since it was listed.
    fn read_ref(&self, name: &str) -> impl Future<Output = StoreResult<RefRecord>> + Send;

    /// Read several refs, one result per name in order. A store may read them
    /// concurrently; each read is still its own step.
    fn read_refs(
        &self,
        names: &[String],
    ) -> impl Future<Output = Vec<StoreResult<RefRecord>>> + Send {
        async move {
            let mut out = Vec::with_capacity(names.len());
            for name in names {
                out.push(self.read_ref(name).await);
            }
            out
        }
    }

    /// Remove one ref file; `NotFound` when it is already gone.
    fn delete_ref(
        &self,
        name: &str,
        fence: Fence<'_>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Remove a branch's own tree: its dataset files only. Trees of other
    /// branches nested under its path (`name/child`) survive, including one
    /// a concurrent create is writing right now. Several steps (list the
    /// files, then delete them): a removal a claim does not cover can
    /// delete files written after its listing.
    fn remove_tree(
        &self,
        name: &str,
        fence: Fence<'_>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Whether a branch's tree holds a dataset, in one step.
    fn tree_exists(&self, name: &str) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Latest version of a branch's chain (`None`: main).
    fn head_version(&self, branch: Option<&str>) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Write the tree of a new branch forked from `parent` at `version`.
    fn write_tree(
        &self,
        name: &str,
        parent: Option<&str>,
        version: u64,
        fence: Fence<'_>,
    ) -> impl Future<Output = StoreResult<TreeState>> + Send;

    /// Atomically create a ref; `AlreadyExists` when the name is taken.
    /// Returns the record as written, its `writer` filled in: a fresh one,
    /// or the record's own when it names one (a ref put back as it was).
    fn put_ref_if_absent(
        &self,
        record: &RefRecord,
        fence: Fence<'_>,
    ) -> impl Future<Output = StoreResult<RefRecord>> + Send;

    /// One attempt at `name`'s claim: `Some` when this actor holds it now
    /// (no other live claim on the name), `None` when another actor's live
    /// claim holds it (the attempt leaves nothing behind). A claim whose
    /// holder is gone lapses (the store's lease) and no longer counts.
    fn try_claim(&self, name: &str) -> impl Future<Output = StoreResult<Option<Claim>>> + Send;

    /// Give a claim up. One already gone (lapsed and cleared by another
    /// claimer) counts as given up.
    fn release_claim(&self, claim: &Claim) -> impl Future<Output = StoreResult<()>> + Send;

    /// Whether `claim`'s holder may still start a series of steps under it
    /// (the sweep of one ref of a batch): a store with a lease says no once
    /// too little of it is left for them. A step past that is refused
    /// (`ClaimLost`) anyway; this lets the sweep take the name afresh
    /// instead of failing the open.
    fn fresh_to_start(&self, _claim: &Claim) -> bool {
        true
    }

    /// `try_claim` on each of `names`, in order: the sweep's claims, taken
    /// a batch at a time. Every mark goes in, then one listing decides
    /// them all: each name's mark still goes in before the listing that
    /// decides it, so the argument for one claim holds for each. On an
    /// error, no claim is left held.
    fn try_claims(
        &self,
        names: &[String],
    ) -> impl Future<Output = StoreResult<Vec<Option<Claim>>>> + Send;

    /// `release_claim` on each of `claims` (a store may remove the marks
    /// in one batch); the first error, after trying them all.
    fn release_claims(&self, claims: &[Claim]) -> impl Future<Output = StoreResult<()>> + Send {
        async move {
            let mut first_error = Ok(());
            for claim in claims {
                if let Err(e) = self.release_claim(claim).await {
                    first_error = first_error.and(Err(e));
                }
            }
            first_error
        }
    }

    fn read_main(&self) -> impl Future<Output = StoreResult<MainHead>> + Send;

    /// The schema epoch of version `version` of `branch` (`None`: main):
    /// what a fork at that point carries.
    fn epoch_at(
        &self,
        branch: Option<&str>,
        version: u64,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Wait before polling again for `what`, the `attempt`-th time (from
    /// 0); false when the caller should stop waiting.
    fn backoff(&self, what: Wait, attempt: usize) -> impl Future<Output = bool> + Send;

    /// Set main's stamp, as a commit that conflicts with any other stamp
    /// write made after `expected_version`.
    fn write_stamp(
        &self,
        expected_version: u64,
        value: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Set the primary-key annotation on `object_id`, likewise.
    fn set_primary_key(
        &self,
        expected_version: u64,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
