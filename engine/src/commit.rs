//! Graph commits: reading a branch's manifest, and publishing schema and
//! table pins as one compare-and-swap commit on it. Loads, merges and
//! schema applies all commit through here.

use std::collections::BTreeMap;

use stampede_protocol::defects::{planted, Defect};
use stampede_protocol::StoreError;

use crate::error::{classify_lance, Error, Result};
use crate::manifest::{ManifestState, TablePin};
use crate::storage::LanceStore;

/// The manifest of a graph branch (`None`: main) at its head.
pub async fn read_manifest(store: &LanceStore, branch: Option<&str>) -> Result<ManifestState> {
    let dataset = store
        .open_branch(branch, None)
        .await
        .map_err(|e| Error::storage("opening __manifest", e))?;
    ManifestState::read(dataset)
        .await
        .map_err(|e| Error::CorruptManifest {
            detail: e.to_string(),
        })
}

/// Publish, mapping a lost compare-and-swap to the retryable `Conflict`.
pub async fn publish(
    store: &LanceStore,
    base: &ManifestState,
    schema_source: &str,
    pins: &BTreeMap<String, TablePin>,
) -> Result<()> {
    if planted(Defect::MigrationDeferred) {
        let head = crate::graph::read_main_head(store).await?;
        stampede_protocol::migrate::migrate(store, &head).await?;
    }
    match base.publish(schema_source, pins, store.params()).await {
        Ok(()) => Ok(()),
        Err(e) => match classify_lance(e) {
            StoreError::Conflict(detail) | StoreError::AlreadyExists(detail) => {
                Err(Error::Conflict { detail })
            }
            other => Err(Error::storage("publishing a graph commit", other)),
        },
    }
}
