//! The Lance implementation of the protocols' [`RefStore`].
//!
//! Refs and trees keep Lance's own layout (`_refs/branches/<name>.json`,
//! `tree/<name>`), so Lance and the seed engine read what this writes. Each
//! method is a single step of Lance's: the protocols, not this file, decide
//! how the steps compose under concurrency.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use lance::dataset::builder::DatasetBuilder;
use lance::dataset::refs::{
    base_branches_contents_path, branch_contents_path, BranchContents, BranchIdentifier,
};
use lance::dataset::transaction::{Operation, Transaction};
use lance::dataset::{CommitBuilder, WriteDestination};
use lance::io::{ObjectStore, ObjectStoreParams};
use lance::Dataset;
use object_store::path::Path;
use object_store::{ObjectStore as _, ObjectStoreExt as _, PutPayload};
use stampede_protocol::stamp::STAMP_KEY;
use stampede_protocol::{
    Claim, Fence, MainHead, PkState, RefRecord, RefStore, StoreError, StoreResult, TreeState, Wait,
};

use crate::error::{classify_lance, classify_object_store};
use crate::manifest::{main_head, MANIFEST_DIR, OBJECT_ID, PK_KEY};

/// Lance's directory of branch trees under a dataset.
const TREE_DIR: &str = "tree";
/// The ref metadata key of the put that wrote it (a nonce): a conditional
/// put whose answer was lost tells its own ref from a racer's by it.
const WRITER_KEY: &str = "stampede_writer";

/// How many times a conditional put that met "already exists" reads the
/// object back to learn whether it is its own (a landed put whose answer
/// was lost and retried).
const READ_BACK_ATTEMPTS: usize = 3;

/// Where ref deletes on S3 claim the version they delete (`exclusive`),
/// beside Lance's own directories, which Lance never lists.
pub const DELETE_CLAIMS_DIR: &str = "_stampede_delete_claims";
/// The directories of one Lance dataset; a tree's own files live only here,
/// whatever other branch trees nest beside them.
const DATASET_DIRS: [&str; 5] = [
    "_versions",
    "_transactions",
    "_deletions",
    "_indices",
    "data",
];
/// The directories of `__manifest` every reader and writer goes through,
/// by their parent: a file in the place of one (damage) hides everything it
/// should hold (every branch, when it is `_refs` or `_refs/branches`), and
/// a listing of it answers nothing rather than an error.
const LAYOUT_DIRS: [(&str, &[&str]); 2] = [
    ("", &["_versions", "_transactions", TREE_DIR, "_refs"]),
    ("_refs", &["branches"]),
];
/// How long a create waits out a held lock before it gives up (see
/// `backoff`): longer than any live apply holds the lock, short enough that
/// a create racing an apply that died holding it gives up.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// The `attempt`-th wait (from 0) of an actor polling a held lock or
/// claim: 5 ms doubling to 100 ms, until `bound` has passed in all
/// (`None`).
fn poll_delay(attempt: usize, bound: std::time::Duration) -> Option<std::time::Duration> {
    let delay =
        |n: usize| std::time::Duration::from_millis(5u64.saturating_mul(1 << n.min(5)).min(100));
    let waited: std::time::Duration = (0..attempt).map(delay).sum();
    (waited < bound).then(|| delay(attempt))
}

/// A wait of between half and all of `delay`, drawn afresh each time:
/// claimers that collided and backed off together do not come back
/// together. (A scheduled round waits for a sleeper whatever it sleeps, so
/// the draw never decides a turn.)
fn jittered(delay: std::time::Duration) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let draw = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    delay / 2 + delay.mul_f64((draw % 1024) as f64 / 2048.0)
}

/// Refs read at once during an enumeration.
const READ_PARALLELISM: usize = 16;

/// Bounds of the process-wide Lance session's caches: manifests of the
/// control plane are small, and the engine builds no indexes.
const METADATA_CACHE_BYTES: usize = 64 << 20;
const INDEX_CACHE_BYTES: usize = 8 << 20;

/// One Lance session for every dataset the process opens, so repeated opens
/// of the same manifest hit Lance's metadata cache (a read-write open of a
/// current graph costs a quarter of a cold `Dataset::open`). Lance keys a
/// cached manifest by version *and* e-tag, so a tree rewritten at the same
/// version (a re-forked zombie) is never served stale.
fn shared_session() -> Arc<lance::session::Session> {
    #[cfg(feature = "instrument")]
    if let Ok(own) = OWN_SESSION.try_with(Arc::clone) {
        return own;
    }
    static SESSION: std::sync::OnceLock<Arc<lance::session::Session>> = std::sync::OnceLock::new();
    SESSION.get_or_init(new_session).clone()
}

fn new_session() -> Arc<lance::session::Session> {
    Arc::new(lance::session::Session::new(
        INDEX_CACHE_BYTES,
        METADATA_CACHE_BYTES,
        Default::default(),
    ))
}

#[cfg(feature = "instrument")]
tokio::task_local! {
    static OWN_SESSION: Arc<lance::session::Session>;
}

/// Run `work` with a Lance session of its own instead of the process's, as
/// a separate process would have (instrumentation). Scheduled rounds run
/// each task actor this way: with one shared cache, an actor can wait on
/// another's in-flight load of the same manifest, a wait outside storage
/// that no turn can order.
#[cfg(feature = "instrument")]
pub async fn with_own_session<F: std::future::Future>(work: F) -> F::Output {
    OWN_SESSION.scope(new_session(), work).await
}

/// One graph's `__manifest` on Lance.
#[derive(Clone, Debug)]
pub struct LanceStore {
    root_uri: String,
    manifest_uri: String,
    object_store: Arc<ObjectStore>,
    base: Path,
    params: ObjectStoreParams,
}

impl LanceStore {
    pub async fn connect(root_uri: &str, params: ObjectStoreParams) -> StoreResult<Self> {
        let manifest_uri = format!("{}/{MANIFEST_DIR}", root_uri.trim_end_matches('/'));
        // The session's registry: the store built here is the one Lance's
        // dataset opens then find (while this handle holds it), not a second.
        let registry = shared_session().store_registry();
        let (object_store, base) =
            ObjectStore::from_uri_and_params(registry, &manifest_uri, &params)
                .await
                .map_err(classify_lance)?;
        Ok(LanceStore {
            root_uri: root_uri.trim_end_matches('/').to_string(),
            manifest_uri,
            object_store,
            base,
            params,
        })
    }

    pub fn root_uri(&self) -> &str {
        &self.root_uri
    }

    pub fn manifest_uri(&self) -> &str {
        &self.manifest_uri
    }

    pub fn params(&self) -> &ObjectStoreParams {
        &self.params
    }

    pub fn object_store(&self) -> &Arc<ObjectStore> {
        &self.object_store
    }

    /// Rewrite the ref `name` as written `by` earlier (its `createAt`): a
    /// fixture's, for the lock an apply that died a while ago left.
    pub async fn backdate_ref(&self, name: &str, by: std::time::Duration) -> StoreResult<()> {
        let mut contents = self.read_contents(name).await?;
        contents.create_at = contents.create_at.saturating_sub(by.as_secs());
        let json = serde_json::to_vec_pretty(&contents)
            .map_err(|e| StoreError::other(format!("encoding ref {name:?}: {e}")))?;
        self.object_store
            .inner
            .put(&self.ref_path(name), PutPayload::from(json))
            .await
            .map(drop)
            .map_err(classify_object_store)
    }

    /// When the ref `name` says it was written (`createAt`, in seconds).
    pub async fn ref_created_at(&self, name: &str) -> StoreResult<u64> {
        Ok(self.read_contents(name).await?.create_at)
    }

    /// How long this root's claims hold (`claims::lease`).
    pub fn lease(&self) -> std::time::Duration {
        crate::claims::lease(&self.params)
    }

    fn builder(&self, uri: &str) -> DatasetBuilder {
        DatasetBuilder::from_uri(uri)
            .with_store_params(self.params.clone())
            .with_session(shared_session())
    }

    /// Main's latest version of `__manifest`.
    pub async fn open_main(&self) -> lance::Result<Dataset> {
        crate::dataset::load(self.builder(&self.manifest_uri), &self.manifest_uri).await
    }

    /// A branch's latest version (`None`: main), or a given version of it.
    pub async fn open_branch(
        &self,
        branch: Option<&str>,
        version: Option<u64>,
    ) -> lance::Result<Dataset> {
        let builder = self.builder(&self.manifest_uri);
        let builder = match (branch, version) {
            (Some(b), v) => builder.with_branch(b, v),
            (None, Some(v)) => builder.with_version(v),
            (None, None) => builder,
        };
        crate::dataset::load(builder, &self.source_uri(branch)).await
    }

    fn ref_path(&self, name: &str) -> Path {
        branch_contents_path(&self.base, name)
    }

    /// Whether a delete of a missing object succeeds here (S3), so that a
    /// ref's delete must find out for itself whether it was the one.
    fn deletes_are_idempotent(&self) -> bool {
        self.object_store.scheme() == "s3"
    }

    /// `__manifest` in the object store.
    /// Every directory of `__manifest`'s layout ([`LAYOUT_DIRS`]) that is a
    /// file instead, by its path under the root (`__manifest/_refs`).
    pub async fn files_in_place_of_directories(&self) -> crate::error::Result<Vec<String>> {
        let mut files: Vec<String> = Vec::new();
        for (parent, dirs) in LAYOUT_DIRS {
            let shown = |name: &str| {
                [MANIFEST_DIR, parent, name]
                    .into_iter()
                    .filter(|part| !part.is_empty())
                    .collect::<Vec<_>>()
                    .join("/")
            };
            // Below a file there is nothing to list.
            if files.contains(&shown("")) {
                continue;
            }
            let at = match parent {
                "" => self.manifest_base().clone(),
                _ => self.manifest_base().clone().join(parent),
            };
            let listing = match self.object_store.inner.list_with_delimiter(Some(&at)).await {
                Ok(listing) => listing,
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => {
                    return Err(crate::error::Error::storage(
                        &format!("listing {}", shown("")),
                        e,
                    ))
                }
            };
            files.extend(
                (listing.objects.iter())
                    .filter_map(|o| o.location.filename())
                    .filter(|name| dirs.contains(name))
                    .map(shown),
            );
        }
        Ok(files)
    }

    pub fn manifest_base(&self) -> &Path {
        &self.base
    }

    /// `tables`, beside `__manifest`: where every type's table lives.
    pub fn tables_path(&self) -> Path {
        let parts: Vec<_> = self.base.parts().collect();
        let root = &parts[..parts.len().saturating_sub(1)];
        Path::from_iter(root.iter().cloned()).join(crate::manifest::TABLES_DIR)
    }

    /// `__manifest/tree`, where every branch's tree lives.
    pub fn trees_path(&self) -> Path {
        self.base.clone().join(TREE_DIR)
    }

    /// Parsed, not joined: `join` percent-encodes every non-ASCII byte, and
    /// Lance lays trees out by the raw name (`tree/é`, not `tree/%C3%A9`).
    pub fn tree_path(&self, name: &str) -> Path {
        Path::parse(format!("{}/{name}", self.trees_path())).unwrap_or_else(|_| {
            name.split('/')
                .fold(self.trees_path(), |path, segment| path.join(segment))
        })
    }

    fn tree_uri(&self, name: &str) -> String {
        format!("{}/{TREE_DIR}/{name}", self.manifest_uri)
    }

    fn source_uri(&self, branch: Option<&str>) -> String {
        branch.map_or_else(|| self.manifest_uri.clone(), |b| self.tree_uri(b))
    }

    async fn read_contents(&self, name: &str) -> StoreResult<BranchContents> {
        let corrupt_or = |e: object_store::Error| {
            if crate::error::is_a_directory(&e) {
                return StoreError::CorruptRef {
                    name: name.to_string(),
                    detail: format!("_refs/branches/{name}.json is a directory, not a ref file"),
                };
            }
            classify_object_store(e)
        };
        let bytes = self
            .object_store
            .inner
            .get(&self.ref_path(name))
            .await
            .map_err(corrupt_or)?
            .bytes()
            .await
            .map_err(corrupt_or)?;
        let contents: BranchContents =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::CorruptRef {
                name: name.to_string(),
                detail: format!("_refs/branches/{name}.json is not a ref: {e}"),
            })?;
        Ok(contents)
    }

    /// Delete the files of the dataset at `tree`, leaving any other tree
    /// nested in its directory (`tree/<child>/...`). `NotFound` when there
    /// were none: the tree was already gone. The batched delete starts only
    /// while `fence` is fresh.
    async fn remove_own_dataset_files(&self, tree: &Path, fence: Fence<'_>) -> StoreResult<()> {
        crate::claims::check_fence(fence, self.lease())?;
        let files: Vec<Path> = self
            .object_store
            .inner
            .list(Some(tree))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(classify_object_store)?;
        let own: Vec<object_store::Result<Path>> = files
            .into_iter()
            .filter(|f| is_own_dataset_file(tree, f))
            .map(Ok)
            .collect();
        crate::claims::check_fence(fence, self.lease())?;
        // One batched delete (a single request on object stores that batch).
        let mut deletes = self
            .object_store
            .inner
            .delete_stream(futures::stream::iter(own).boxed());
        let mut removed = 0;
        while let Some(deleted) = deletes.next().await {
            match deleted {
                Ok(_) => removed += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(classify_object_store(e)),
            }
        }
        if removed == 0 {
            return Err(StoreError::NotFound(format!("no tree at {tree}")));
        }
        Ok(())
    }
}

/// Whether `file` belongs to the dataset at `tree` itself: directly inside
/// one of a Lance dataset's directories (anywhere under `_indices`), not in
/// a nested branch's tree.
fn is_own_dataset_file(tree: &Path, file: &Path) -> bool {
    let Some(rest) = file.prefix_match(tree) else {
        return false;
    };
    let rest: Vec<_> = rest.collect();
    match rest.first().map(|p| p.as_ref()) {
        Some("_indices") => true,
        Some(dir) if DATASET_DIRS.contains(&dir) => rest.len() == 2,
        _ => false,
    }
}

impl RefStore for LanceStore {
    async fn list_ref_names(&self) -> StoreResult<Vec<String>> {
        let dir = base_branches_contents_path(&self.base);
        let listing = match self
            .object_store
            .inner
            .list_with_delimiter(Some(&dir))
            .await
        {
            Ok(listing) => listing,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(classify_object_store(e)),
        };
        // `put_if_absent` stages `<name>.json.tmp.<uuid>`: not a ref yet. A
        // local directory in a ref's place is listed too, to be read (and
        // named as damage): on S3 a "directory" is only a prefix, and the
        // ref file beside it can still be written.
        let misplaced = listing
            .common_prefixes
            .iter()
            .filter(|_| !self.deletes_are_idempotent());
        let names = (listing.objects.iter().map(|o| &o.location))
            .chain(misplaced)
            .filter_map(|location| location.filename())
            .filter_map(|f| f.strip_suffix(".json"))
            .map(|encoded| {
                Path::from_url_path(encoded)
                    .map(|p| p.to_string())
                    .map_err(|e| StoreError::CorruptRef {
                        name: encoded.to_string(),
                        detail: format!("the ref file name {encoded:?} does not decode: {e}"),
                    })
            })
            .collect::<StoreResult<Vec<String>>>()?;
        Ok(names)
    }

    async fn read_ref(&self, name: &str) -> StoreResult<RefRecord> {
        let contents = self.read_contents(name).await?;
        Ok(RefRecord {
            name: name.to_string(),
            parent: contents.parent_branch,
            parent_version: contents.parent_version,
            writer: contents.metadata.get(WRITER_KEY).cloned(),
        })
    }

    async fn read_refs(&self, names: &[String]) -> Vec<StoreResult<RefRecord>> {
        let reads: Vec<_> = names.iter().map(|name| self.read_ref(name)).collect();
        futures::stream::iter(reads)
            .buffered(READ_PARALLELISM)
            .collect()
            .await
    }

    async fn delete_ref(&self, name: &str, fence: Fence<'_>) -> StoreResult<()> {
        let object = self.ref_path(name);
        let store = self.object_store.inner.as_ref();
        crate::claims::check_fence(fence, self.lease())?;
        if self.deletes_are_idempotent() {
            let claims = self.base.clone().join(DELETE_CLAIMS_DIR);
            return crate::exclusive::delete_exactly_once(
                store,
                &object,
                &claims,
                name,
                self.lease(),
            )
            .await;
        }
        store.delete(&object).await.map_err(classify_object_store)
    }

    async fn remove_tree(&self, name: &str, fence: Fence<'_>) -> StoreResult<()> {
        // Never `remove_dir_all`: a branch nested under this name may be
        // getting created right now, its tree inside this one's directory.
        self.remove_own_dataset_files(&self.tree_path(name), fence)
            .await
    }

    /// Whether `tree/<name>` holds a dataset version (a directory alone
    /// does not count: deleted trees may leave empty ones behind).
    async fn tree_exists(&self, name: &str) -> StoreResult<bool> {
        let versions = self.tree_path(name).join("_versions");
        match self
            .object_store
            .inner
            .list_with_delimiter(Some(&versions))
            .await
        {
            Ok(listing) => Ok(listing
                .objects
                .iter()
                .any(|o| o.location.as_ref().ends_with(".manifest"))),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(classify_object_store(e)),
        }
    }

    async fn head_version(&self, branch: Option<&str>) -> StoreResult<u64> {
        let dataset = self
            .open_branch(branch, None)
            .await
            .map_err(classify_lance)?;
        Ok(dataset.version().version)
    }

    async fn write_tree(
        &self,
        name: &str,
        parent: Option<&str>,
        version: u64,
        fence: Fence<'_>,
    ) -> StoreResult<TreeState> {
        if self.tree_exists(name).await? {
            return Ok(TreeState::AlreadyExists);
        }
        crate::claims::check_fence(fence, self.lease())?;
        let clone = Operation::Clone {
            is_shallow: true,
            ref_name: parent.map(str::to_string),
            ref_version: version,
            ref_path: self.source_uri(parent),
            branch_name: Some(name.to_string()),
        };
        let tree_uri = self.tree_uri(name);
        let result = CommitBuilder::new(WriteDestination::Uri(&tree_uri))
            .with_store_params(self.params.clone())
            .execute(Transaction::new(version, clone, None))
            .await;
        match result {
            Ok(_) => Ok(TreeState::Created),
            // A racing create committed the tree's first version first. Lance
            // says so as "already exists", as a conflict, or, when it tries to
            // rebase the Clone onto that tree, as an internal error. The tree
            // may be gone again by now (the ref's owner re-forks it).
            Err(
                lance::Error::DatasetAlreadyExists { .. }
                | lance::Error::CommitConflict { .. }
                | lance::Error::RetryableCommitConflict { .. }
                | lance::Error::IncompatibleTransaction { .. }
                | lance::Error::Internal { .. },
            ) => Ok(TreeState::AlreadyExists),
            Err(e) if self.tree_exists(name).await? => {
                let _lost_race = e;
                Ok(TreeState::AlreadyExists)
            }
            Err(e) => Err(classify_lance(e)),
        }
    }

    async fn put_ref_if_absent(
        &self,
        record: &RefRecord,
        fence: Fence<'_>,
    ) -> StoreResult<RefRecord> {
        // A ref put back (a delete backing off) keeps its writer.
        let nonce = record
            .writer
            .clone()
            .unwrap_or_else(crate::nonce::writer_nonce);
        let parent = record.parent.as_deref();
        let parent_identifier = match parent {
            None => BranchIdentifier::main(),
            Some(p) => self.read_contents(p).await?.identifier,
        };
        let source = self
            .open_branch(parent, Some(record.parent_version))
            .await
            .map_err(classify_lance)?;
        let contents = BranchContents {
            parent_branch: record.parent.clone(),
            identifier: BranchIdentifier::new(&parent_identifier, record.parent_version),
            parent_version: record.parent_version,
            create_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            manifest_size: source.manifest_location().size.unwrap_or(0) as usize,
            metadata: [(WRITER_KEY.to_string(), nonce.clone())].into(),
        };
        let json = serde_json::to_vec_pretty(&contents)
            .map_err(|e| StoreError::other(format!("encoding ref {:?}: {e}", record.name)))?;
        let path = self.ref_path(&record.name);
        crate::claims::check_fence(fence, self.lease())?;
        let put = self
            .object_store
            .put_if_absent(&path, PutPayload::from(json))
            .await
            .map_err(classify_object_store);
        let written = RefRecord {
            writer: Some(nonce.clone()),
            ..record.clone()
        };
        match put {
            Ok(()) => Ok(written),
            // On S3 object_store retries a conditional put answered with a
            // 5xx; one that had landed fails its retry as "already
            // exists". The ref there is this put's if it carries its nonce.
            // A read-back that fails tells neither: it is asked again, and
            // one that keeps failing is that error, never "exists" (the
            // ref may be this put's own: finding 52).
            Err(StoreError::AlreadyExists(detail)) => {
                let mut attempt = 1;
                loop {
                    match self.read_contents(&record.name).await {
                        Ok(found) if found.metadata.get(WRITER_KEY) == Some(&nonce) => {
                            return Ok(written)
                        }
                        Ok(_) | Err(StoreError::NotFound(_)) => {
                            return Err(StoreError::AlreadyExists(detail))
                        }
                        Err(_) if attempt < READ_BACK_ATTEMPTS => attempt += 1,
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn try_claim(&self, name: &str) -> StoreResult<Option<Claim>> {
        crate::claims::try_claim(
            self.object_store.inner.as_ref(),
            &self.base,
            name,
            self.lease(),
        )
        .await
    }

    async fn release_claim(&self, claim: &Claim) -> StoreResult<()> {
        self.release_claims(std::slice::from_ref(claim)).await
    }

    async fn try_claims(&self, names: &[String]) -> StoreResult<Vec<Option<Claim>>> {
        crate::claims::try_claims(
            self.object_store.inner.as_ref(),
            &self.base,
            names,
            self.lease(),
        )
        .await
    }

    fn fresh_to_start(&self, claim: &Claim) -> bool {
        crate::claims::fresh_to_start(claim, self.lease())
    }

    async fn release_claims(&self, claims: &[Claim]) -> StoreResult<()> {
        crate::claims::release(self.object_store.inner.as_ref(), &self.base, claims).await
    }

    async fn read_main(&self) -> StoreResult<MainHead> {
        let dataset = self.open_main().await.map_err(classify_lance)?;
        Ok(main_head(&dataset))
    }

    async fn epoch_at(&self, branch: Option<&str>, version: u64) -> StoreResult<u64> {
        let dataset = self
            .open_branch(branch, Some(version))
            .await
            .map_err(classify_lance)?;
        Ok(main_head(&dataset).schema_epoch)
    }

    /// Waits `poll_delay(attempt, ..)`; false once `LOCK_WAIT` (a lock) or
    /// the claims' wait bound (past the lease) has passed. A scheduled
    /// round hears that this actor waits (`probe::waiting`), so its turn
    /// comes after the others'.
    async fn backoff(&self, what: Wait, attempt: usize) -> bool {
        let bound = match what {
            Wait::Lock => LOCK_WAIT,
            Wait::Claim => crate::claims::wait_bound(self.lease()),
        };
        match poll_delay(attempt, bound) {
            Some(delay) => {
                #[cfg(feature = "instrument")]
                crate::probe::waiting(&self.params, what).await;
                let delay = match what {
                    Wait::Lock => delay,
                    Wait::Claim => jittered(delay),
                };
                tokio::time::sleep(delay).await;
                true
            }
            None => false,
        }
    }

    async fn write_stamp(&self, expected_version: u64, value: &str) -> StoreResult<()> {
        let mut dataset = self
            .open_branch(None, Some(expected_version))
            .await
            .map_err(classify_lance)?;
        dataset
            .update_schema_metadata([(STAMP_KEY, value)])
            .await
            .map(|_| ())
            .map_err(classify_lance)
    }

    async fn set_primary_key(&self, expected_version: u64) -> StoreResult<()> {
        let mut dataset = self
            .open_branch(None, Some(expected_version))
            .await
            .map_err(classify_lance)?;
        let result = match dataset
            .update_field_metadata()
            .update(OBJECT_ID, [(PK_KEY, "true")])
        {
            Ok(update) => update.await.map(|_| ()),
            Err(e) => Err(e),
        };
        match result.map_err(classify_lance) {
            Ok(()) => Ok(()),
            Err(StoreError::Other(cause)) => {
                // Lance refuses to set a primary key that is already set. If a
                // concurrent opener set it first, that refusal is a lost race.
                match self.read_main().await?.pk {
                    PkState::OnObjectId => Err(StoreError::Conflict(cause.to_string())),
                    _ => Err(StoreError::Other(cause)),
                }
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{poll_delay, LOCK_WAIT};

    #[test]
    fn a_create_waits_out_a_lock_for_lock_wait_then_gives_up() {
        let delays: Vec<_> = (0..).map_while(|n| poll_delay(n, LOCK_WAIT)).collect();
        let waited: std::time::Duration = delays.iter().sum();
        assert!(waited >= LOCK_WAIT, "{waited:?}");
        assert!(
            waited < LOCK_WAIT + std::time::Duration::from_millis(100),
            "{waited:?}"
        );
        assert_eq!(delays[0], std::time::Duration::from_millis(5));
    }
}
