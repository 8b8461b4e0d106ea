//! The graph handle: init, open, and the branch API.

use lance::dataset::{CommitBuilder, InsertBuilder, WriteMode, WriteParams};
use lance::io::ObjectStoreParams;
use stampede_protocol::branches::{create_branch, delete_branch};
use stampede_protocol::defects::{planted, Defect};
use stampede_protocol::enumerate::enumerate;
use stampede_protocol::migrate::migrate;
use stampede_protocol::{MainHead, OpenReport, RefStore, StampState, StoreError, CURRENT_VERSION};

use crate::error::{classify_lance, Error, Result};
use crate::manifest::{self, ManifestShape};
use crate::schema::Schema;
use crate::storage::LanceStore;
use crate::tables;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    ReadWrite,
    ReadOnly,
}

/// An open graph. A read-write handle has brought main to the current
/// internal version before it was returned; a read-only one never writes.
#[derive(Debug)]
pub struct Graph {
    store: LanceStore,
    mode: Mode,
    report: OpenReport,
}

impl Graph {
    /// Create a graph: the tables, then `__manifest` in one Create commit
    /// that already carries stamp CURRENT and the primary key.
    pub async fn init(root: &str, schema_source: &str) -> Result<Graph> {
        Self::init_with(root, schema_source, ObjectStoreParams::default()).await
    }

    pub async fn init_with(
        root: &str,
        schema_source: &str,
        params: ObjectStoreParams,
    ) -> Result<Graph> {
        let schema = Schema::parse(schema_source)?;
        let store = connect(root, params).await?;
        if planted(Defect::StampInSecondCommit) {
            let unstamped = ManifestShape::stamped(None, true);
            write_graph(&store, &schema, schema_source, &unstamped).await?;
            let head = read_main_head(&store).await?;
            store
                .write_stamp(head.version, &CURRENT_VERSION.to_string())
                .await
                .map_err(|e| Error::storage("writing the stamp after init", e))?;
        } else {
            write_graph(&store, &schema, schema_source, &current_shape()).await?;
        }
        Ok(Graph {
            store,
            mode: Mode::ReadWrite,
            report: OpenReport {
                from: CURRENT_VERSION,
                to: CURRENT_VERSION,
                ..OpenReport::default()
            },
        })
    }

    pub async fn open(root: &str, mode: Mode) -> Result<Graph> {
        Self::open_with(root, mode, ObjectStoreParams::default()).await
    }

    /// Guard main's stamp; in read-write mode, migrate main to the current
    /// version before anything can observe branches.
    pub async fn open_with(root: &str, mode: Mode, params: ObjectStoreParams) -> Result<Graph> {
        let store = connect(root, params).await?;
        let head = read_main_head(&store).await?;
        let report = match mode {
            Mode::ReadWrite if !planted(Defect::MigrationDeferred) => {
                if StampState::of(&head)
                    .guard()
                    .is_ok_and(|v| v < CURRENT_VERSION)
                {
                    commits_can_land(&store).await?;
                }
                migrate(&store, &head).await?
            }
            Mode::ReadWrite | Mode::ReadOnly => {
                let version = match StampState::of(&head).guard() {
                    Err(_) if planted(Defect::ReadOnlySkipsGuard) && mode == Mode::ReadOnly => {
                        CURRENT_VERSION
                    }
                    guarded => guarded?,
                };
                OpenReport {
                    from: version,
                    to: version,
                    ..OpenReport::default()
                }
            }
        };
        Ok(Graph {
            store,
            mode,
            report,
        })
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// What this open did: versions before and after, refs swept and kept.
    pub fn report(&self) -> &OpenReport {
        &self.report
    }

    pub fn store(&self) -> &LanceStore {
        &self.store
    }

    pub fn root_uri(&self) -> &str {
        self.store.root_uri()
    }

    /// `main`, then every public branch sorted bytewise. A read-only handle
    /// on a graph not yet migrated hides the legacy refs the next
    /// read-write open will sweep.
    pub async fn branch_list(&self) -> Result<Vec<String>> {
        if self.report.to >= CURRENT_VERSION || !self.sweep_pending().await? {
            return Ok(enumerate(&self.store).await?.public_list(&[]));
        }
        let refs = enumerate(&self.store).await?;
        // A sweep that finished while the refs were listed stamped main
        // after its last delete, and a ref it swept may be in the listing
        // (finding 40): only a stamp still short of CURRENT after the
        // listing says the listing is of the graph before its sweep; else
        // list again, now that every swept ref is gone.
        if !self.sweep_pending().await? {
            return Ok(enumerate(&self.store).await?.public_list(&[]));
        }
        Ok(refs.public_list(&refs.sweep_plan().sweep))
    }

    /// Whether main is still short of the current version: a read-write
    /// open has yet to sweep it.
    async fn sweep_pending(&self) -> Result<bool> {
        let head = read_main_head(&self.store).await?;
        Ok(StampState::of(&head).guard()? < CURRENT_VERSION)
    }

    /// Fork `name` from the head of `from` (`"main"` or a branch).
    pub async fn branch_create(&self, name: &str, from: &str) -> Result<()> {
        self.writable("branch create")?;
        create_branch(&self.store, name, from).await.map(|_| ())
    }

    pub async fn branch_delete(&self, name: &str) -> Result<()> {
        self.writable("branch delete")?;
        delete_branch(&self.store, name).await
    }

    pub(crate) fn writable(&self, operation: &'static str) -> Result<()> {
        match self.mode {
            Mode::ReadWrite => Ok(()),
            Mode::ReadOnly => Err(Error::ReadOnly { operation }),
        }
    }
}

/// Before a migration's first write: the directories its steps write into
/// or list (every commit's, the refs it sweeps, the branch trees it
/// removes) must not be files (damage). A migration that stamped 2, or
/// swept refs, and then could not go on would have changed a graph it
/// failed to open; one that listed no refs through a file would stamp 3
/// over branches it never saw.
async fn commits_can_land(store: &LanceStore) -> Result<()> {
    match store
        .files_in_place_of_directories()
        .await?
        .into_iter()
        .next()
    {
        Some(object) => Err(Error::CorruptData {
            object,
            detail: "a file where the graph's layout needs a directory".into(),
        }),
        None => Ok(()),
    }
}

/// Main's stamp state, read without writing anything.
#[derive(Clone, Debug)]
pub struct StampReport {
    pub head: MainHead,
    pub state: StampState,
    /// The guard's verdict: the version a read-write open starts from.
    pub verdict: std::result::Result<u32, Error>,
}

pub async fn read_stamp(root: &str) -> Result<StampReport> {
    read_stamp_with(root, ObjectStoreParams::default()).await
}

pub async fn read_stamp_with(root: &str, params: ObjectStoreParams) -> Result<StampReport> {
    let store = connect(root, params).await?;
    let head = read_main_head(&store).await?;
    let state = StampState::of(&head);
    let verdict = state.guard();
    Ok(StampReport {
        head,
        state,
        verdict,
    })
}

pub(crate) fn current_shape() -> ManifestShape {
    ManifestShape::stamped(Some(CURRENT_VERSION.to_string()), true)
}

/// The store of `root`, its settings checked before any request.
pub(crate) async fn connect(root: &str, params: ObjectStoreParams) -> Result<LanceStore> {
    let (uri, params) = crate::location::resolve(root, params)?;
    LanceStore::connect(&uri, params)
        .await
        .map_err(|e| Error::storage(&format!("opening the store at {root:?}"), e))
}

pub(crate) async fn read_main_head(store: &LanceStore) -> Result<MainHead> {
    match store.read_main().await {
        Ok(head) => Ok(head),
        Err(StoreError::NotFound(_)) => Err(Error::NotInitialized {
            root: store.root_uri().to_string(),
        }),
        Err(e) => Err(Error::storage("reading main's head of __manifest", e)),
    }
}

/// What of an earlier graph a root without a manifest version still holds,
/// if anything: branch refs or trees (an init, even one that died, never
/// writes either), or a table with rows (an init's tables are empty).
async fn remnant_of_a_graph(store: &LanceStore) -> Result<Option<String>> {
    use futures::TryStreamExt;
    let objects = store.object_store();
    let base = store.manifest_base();
    for (dir, what) in [("_refs", "branch refs"), ("tree", "branch trees")] {
        let first = objects
            .inner
            .list(Some(&base.clone().join(dir)))
            .try_next()
            .await
            .map_err(|e| Error::storage("listing __manifest", e))?;
        if let Some(object) = first {
            return Ok(Some(format!("it holds {what} ({})", object.location)));
        }
    }
    let listed = objects
        .inner
        .list_with_delimiter(Some(&store.tables_path()))
        .await;
    for dir in listed.map(|l| l.common_prefixes).unwrap_or_default() {
        let Some(type_name) = dir.filename() else {
            continue;
        };
        let uri = format!("{}/{}/{type_name}", store.root_uri(), manifest::TABLES_DIR);
        let opened = crate::dataset::load(
            lance::dataset::builder::DatasetBuilder::from_uri(&uri)
                .with_store_params(store.params().clone()),
            &uri,
        )
        .await;
        let rows = match opened {
            Ok(table) => table.count_rows(None).await.unwrap_or(0),
            Err(_) => 0,
        };
        if rows > 0 {
            return Ok(Some(format!("tables/{type_name} holds {rows} rows")));
        }
    }
    Ok(None)
}

/// Tables first, then the manifest's single Create commit: a crash before
/// it leaves no manifest (and init may be retried), after it a whole graph.
pub(crate) async fn write_graph(
    store: &LanceStore,
    schema: &Schema,
    schema_source: &str,
    shape: &ManifestShape,
) -> Result<()> {
    match store.open_main().await.map_err(classify_lance) {
        Ok(_) => {
            return Err(Error::AlreadyInitialized {
                root: store.root_uri().to_string(),
            })
        }
        Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(Error::storage("checking for an existing __manifest", e)),
    }
    if let Some(remnant) = remnant_of_a_graph(store).await? {
        return Err(Error::CorruptManifest {
            detail: format!(
                "__manifest has no version, but {remnant}: the remains of a graph (init never writes over them; restore __manifest/_versions from a backup, or clear {})",
                store.root_uri()
            ),
        });
    }
    let pins = tables::create_all(store.root_uri(), schema, store.params())
        .await
        .map_err(|e| Error::storage("creating the type tables", e))?;
    let rows = manifest::rows(shape, schema_source, &pins)
        .map_err(|e| Error::storage("building the manifest rows", e))?;
    let params = WriteParams {
        mode: WriteMode::Create,
        store_params: Some(store.params().clone()),
        ..WriteParams::default()
    };
    // Lance rebases the loser of two racing Creates into an Overwrite at
    // version 2, which would replace a graph born a moment earlier. A strict
    // commit (no retries) is exclusive: exactly one init's manifest is born.
    let birth = InsertBuilder::new(store.manifest_uri())
        .with_params(&params)
        .execute_uncommitted(vec![rows])
        .await;
    let committed = match birth {
        Ok(transaction) => {
            CommitBuilder::new(store.manifest_uri())
                .with_store_params(store.params().clone())
                .with_max_retries(0)
                .execute(transaction)
                .await
        }
        Err(e) => Err(e),
    };
    match committed {
        Ok(_) => Ok(()),
        // A racing init's Create committed first (Lance reports that as
        // "already exists" or as a commit conflict).
        Err(e) => match store.open_main().await {
            Ok(_) => Err(Error::AlreadyInitialized {
                root: store.root_uri().to_string(),
            }),
            Err(_) => Err(Error::storage("committing __manifest", e)),
        },
    }
}
