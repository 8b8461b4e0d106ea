//! Rows on branches: load, scan, merge. Every write is one compare-and-swap
//! publish on the branch's manifest; a lost race re-reads and re-applies
//! the upsert (upserts are idempotent), a bounded number of times.

use std::collections::BTreeMap;

use serde_json::Value;
use stampede_protocol::branches::publish_on_branch;
use stampede_protocol::lock::lock_held;
use stampede_protocol::names::{check_branch_reference, MAIN};
use stampede_protocol::{RefRecord, RefStore, StoreError};

use crate::commit::{publish, read_manifest};
use crate::error::{read_failed, write_failed, Error, ErrorKind, Result};
use crate::graph::Graph;
use crate::manifest::{pin_of, ManifestState, TablePin};
use crate::rows::{self, Row};
use crate::schema::Schema;
use crate::tables;

/// Lost publish races a write re-applies before it reports `Conflict`.
pub const PUBLISH_ATTEMPTS: usize = 8;

impl Graph {
    /// Upsert `rows` by key into `type_name` on `branch`, as one commit.
    /// Check order: read-only → branch name → lock → branch exists → type →
    /// rows.
    pub async fn load(&self, branch: &str, type_name: &str, rows: &[Value]) -> Result<usize> {
        self.writable("load")?;
        check_branch_reference(branch)?;
        if lock_held(self.store()).await? {
            return Err(Error::SchemaApplyInProgress);
        }
        // `load_checked` reads the branch's ref first (branch exists).
        let loaded = self.load_checked(branch, type_name, rows).await;
        self.unless_deleted_meanwhile(loaded, &[branch]).await
    }

    async fn load_checked(&self, branch: &str, type_name: &str, rows: &[Value]) -> Result<usize> {
        let graph_branch = branch;
        let branch = (branch != MAIN).then_some(branch);
        for _ in 0..PUBLISH_ATTEMPTS {
            let on = self.branch_ref(graph_branch).await?;
            let manifest = read_manifest(self.store(), branch).await?;
            let schema = Schema::parse(&manifest.schema_source)?;
            let def = schema.get(type_name).ok_or_else(|| Error::TypeNotFound {
                name: type_name.into(),
            })?;
            let batch = rows::to_batch(&schema, def, rows)?;
            let written = batch.num_rows();
            let mut pins = manifest.pins.clone();
            let pin = pin_of(&pins, type_name)?;
            let new_pin = tables::upsert(
                self.root_uri(),
                pin,
                graph_branch,
                rows::key_columns(def),
                batch,
                self.store().params(),
            )
            .await
            .map_err(|e| write_failed(&format!("writing {type_name} on {graph_branch:?}"), e))?;
            pins.insert(type_name.to_string(), new_pin);
            match self.publish_on(on.as_ref(), &manifest, &pins).await? {
                Err(Error::Conflict { .. }) => continue,
                other => return other.map(|()| written),
            }
        }
        Err(lost_races(&format!("load into {graph_branch:?}")))
    }

    /// The rows of `type_name` on `branch`, in key order. Works on
    /// read-only handles and while the lock is held.
    pub async fn scan(&self, branch: &str, type_name: &str) -> Result<Vec<Row>> {
        check_branch_reference(branch)?;
        self.check_branch_exists(branch).await?;
        let scanned = self.scan_checked(branch, type_name).await;
        self.unless_deleted_meanwhile(scanned, &[branch]).await
    }

    async fn scan_checked(&self, branch: &str, type_name: &str) -> Result<Vec<Row>> {
        let manifest = read_manifest(self.store(), (branch != MAIN).then_some(branch)).await?;
        let schema = Schema::parse(&manifest.schema_source)?;
        if schema.get(type_name).is_none() {
            return Err(Error::TypeNotFound {
                name: type_name.into(),
            });
        }
        self.scan_pinned(&schema, type_name, pin_of(&manifest.pins, type_name)?)
            .await
    }

    /// Upsert every row of every table on `source` into `target` (source
    /// wins on a key collision), as one commit on `target`.
    /// Check order: read-only → names → same branch → lock → source exists
    /// → target exists.
    pub async fn branch_merge(&self, source: &str, target: &str) -> Result<()> {
        self.writable("branch merge")?;
        check_branch_reference(source)?;
        check_branch_reference(target)?;
        if source == target {
            return Err(Error::SameBranch {
                name: source.into(),
            });
        }
        if lock_held(self.store()).await? {
            return Err(Error::SchemaApplyInProgress);
        }
        self.check_branch_exists(source).await?;
        // `merge_checked` reads the target's ref first (target exists).
        let merged = self.merge_checked(source, target).await;
        self.unless_deleted_meanwhile(merged, &[source, target])
            .await
    }

    async fn merge_checked(&self, source: &str, target: &str) -> Result<()> {
        for _ in 0..PUBLISH_ATTEMPTS {
            let on = self.branch_ref(target).await?;
            let from = read_manifest(self.store(), (source != MAIN).then_some(source)).await?;
            let into = read_manifest(self.store(), (target != MAIN).then_some(target)).await?;
            let schema = Schema::parse(&into.schema_source)?;
            let mut pins = into.pins.clone();
            for (type_name, def) in &schema.types {
                let rows = self
                    .scan_pinned(&schema, type_name, pin_of(&from.pins, type_name)?)
                    .await?;
                if rows.is_empty() {
                    continue;
                }
                let rows: Vec<Value> = rows.into_iter().map(Value::Object).collect();
                let batch = rows::to_batch(&schema, def, &rows)?;
                let new_pin = tables::upsert(
                    self.root_uri(),
                    pin_of(&pins, type_name)?,
                    target,
                    rows::key_columns(def),
                    batch,
                    self.store().params(),
                )
                .await
                .map_err(|e| write_failed(&format!("merging {type_name} into {target:?}"), e))?;
                pins.insert(type_name.clone(), new_pin);
            }
            match self.publish_on(on.as_ref(), &into, &pins).await? {
                Err(Error::Conflict { .. }) => continue,
                other => return other,
            }
        }
        Err(lost_races(&format!("merge into {target:?}")))
    }

    async fn scan_pinned(
        &self,
        schema: &Schema,
        type_name: &str,
        pin: &crate::manifest::TablePin,
    ) -> Result<Vec<Row>> {
        let def = &schema.types[type_name];
        let object = format!("{} version {}", pin.path, pin.version);
        let table = tables::open_pinned(self.root_uri(), pin, self.store().params())
            .await
            .map_err(|e| read_failed(&object, e))?;
        rows::read_rows(&table, schema, def)
            .await
            .map_err(|e| read_failed(&object, e))
    }

    /// A branch deleted while an operation read or wrote it fails that
    /// operation with whatever storage error Lance met half-way; in a serial
    /// order the delete came first, so it is `branch_not_found`.
    async fn unless_deleted_meanwhile<T>(&self, result: Result<T>, branches: &[&str]) -> Result<T> {
        let Err(error) = result else { return result };
        // What a read of a branch deleted under it meets: its files gone.
        if !matches!(
            error.kind(),
            ErrorKind::Storage
                | ErrorKind::CorruptManifest
                | ErrorKind::MissingData
                | ErrorKind::CorruptData
        ) {
            return Err(error);
        }
        for branch in branches {
            if let Err(gone @ Error::BranchNotFound { .. }) = self.check_branch_exists(branch).await
            {
                return Err(gone);
            }
        }
        Err(error)
    }

    pub(crate) async fn check_branch_exists(&self, branch: &str) -> Result<()> {
        self.branch_ref(branch).await.map(drop)
    }

    /// The ref of `branch` (none for main), read before the base a write
    /// publishes on: the publish goes ahead only while it is unchanged.
    async fn branch_ref(&self, branch: &str) -> Result<Option<RefRecord>> {
        if branch == MAIN {
            return Ok(None);
        }
        match self.store().read_ref(branch).await {
            Ok(record) => Ok(Some(record)),
            Err(StoreError::NotFound(_)) => Err(Error::BranchNotFound {
                name: branch.into(),
            }),
            Err(e) => Err(Error::storage(&format!("reading the ref of {branch:?}"), e)),
        }
    }

    /// Publish `pins` on `base`'s branch: on main a compare-and-swap alone
    /// (main is never deleted); on any other under the name's claim, while
    /// its ref is still `on` (`publish_on_branch`, finding 51). The commit's
    /// outcome is inside (a lost race is `Conflict`, retried); outside are
    /// answers a retry of the commit cannot change (the claim's wait ran
    /// out, the branch is gone).
    async fn publish_on(
        &self,
        on: Option<&RefRecord>,
        base: &ManifestState,
        pins: &BTreeMap<String, TablePin>,
    ) -> Result<Result<()>> {
        let store = self.store();
        let Some(record) = on else {
            return Ok(publish(store, base, &base.schema_source, pins).await);
        };
        publish_on_branch(store, record, |claim| async move {
            crate::claims::check_fence(claim.as_ref(), store.lease())
                .map_err(|e| Error::storage("publishing a graph commit", e))?;
            publish(store, base, &base.schema_source, pins).await
        })
        .await
    }
}

fn lost_races(what: &str) -> Error {
    Error::Conflict {
        detail: format!("{what} lost {PUBLISH_ATTEMPTS} publish races in a row"),
    }
}
