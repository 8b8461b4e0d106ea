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
/// A version file that is gone is `missing_data` naming the branch's
/// manifest; rows that are not a Stampede manifest's are `corrupt_manifest`
/// (a foreign or damaged layout); rows that cannot be read are
/// `missing_data`.
pub async fn read_manifest(store: &LanceStore, branch: Option<&str>) -> Result<ManifestState> {
    let object = match branch {
        Some(b) => format!("the __manifest of branch {b:?}"),
        None => "main's __manifest".to_string(),
    };
    let dataset = store
        .open_branch(branch, None)
        .await
        .map_err(|e| match classify_lance(e) {
            StoreError::NotFound(detail) => Error::MissingData {
                object: object.clone(),
                detail,
            },
            other => Error::storage(&format!("opening {object}"), other),
        })?;
    ManifestState::read(dataset).await.map_err(|e| match e {
        lance::Error::CorruptFile { .. } => Error::CorruptManifest {
            detail: e.to_string(),
        },
        other => crate::error::read_failed(&format!("the rows of {object}"), other),
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
