//! A delete that succeeds for exactly one of its racers, on a store whose
//! deletes are idempotent (S3 answers a delete of a missing key with 204).
//!
//! The ref protocols count on `delete_ref` answering `NotFound` to all but
//! one of racing deletes: a legacy ref is swept by one opener, and only
//! that opener reports it; an unlock that removed nothing says so. A local
//! filesystem answers that itself. On S3 a deleter first claims the
//! object's version (its e-tag) with a conditional create of
//! `<claims>/<hex name>/<hex e-tag>`, which one racer wins. The winner
//! deletes the object, then its claim. A loser waits until the version it
//! saw is gone, and answers `NotFound` only then (the winner's delete has
//! happened before the loser returns, so the two order as a serial run
//! would). A claim older than its lease (`claims::CLAIM_LEASE`, or the
//! root's `stampede_claim_lease_seconds`, by the claim clock) is its
//! owner's who died: a waiting loser takes it over.

use std::time::Duration;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};
use stampede_protocol::{StoreError, StoreResult};

use crate::error::classify_object_store;

/// How many times a deleter claims before giving up (each retry follows a
/// lapsed or abandoned claim).
const ATTEMPTS: usize = 8;

/// Delete `object` (ref `name`) unless a racing delete does: then, or if
/// it is missing, `NotFound`.
pub async fn delete_exactly_once(
    store: &dyn ObjectStore,
    object: &Path,
    claims: &Path,
    name: &str,
    lease: Duration,
) -> StoreResult<()> {
    for _ in 0..ATTEMPTS {
        let Some(version) = version_of(store, object).await? else {
            return Err(not_found(name));
        };
        let claim = claims.clone().join(hex(name)).join(hex(&version));
        // When it was made, and by which put (a put whose answer was lost
        // finds its own claim by the nonce).
        let stamp = format!("{} {}", now_millis(), crate::nonce::writer_nonce());
        let put = PutOptions::from(PutMode::Create);
        let claimed = match store
            .put_opts(&claim, PutPayload::from(stamp.clone()), put)
            .await
        {
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. })
                if read_claim(store, &claim).await.ok().flatten().as_deref()
                    == Some(stamp.as_str()) =>
            {
                Ok(())
            }
            other => other.map(drop),
        };
        match claimed {
            Ok(()) => {
                let deleted = delete_if_still(store, object, &version, name).await;
                let _ = store.delete(&claim).await;
                return deleted;
            }
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {
                if outwait(store, object, &version, &claim, lease).await? == Outwaited::Gone {
                    return Err(not_found(name));
                }
                // The claim lapsed or was given up: clear it, claim afresh.
                let _ = store.delete(&claim).await;
            }
            Err(e) => return Err(classify_object_store(e)),
        }
    }
    Err(StoreError::other(format!(
        "could not claim the delete of {name:?}: {ATTEMPTS} claims lapsed"
    )))
}

/// The object's version (its e-tag, else its modification time), or
/// `None` when it is missing.
async fn version_of(store: &dyn ObjectStore, object: &Path) -> StoreResult<Option<String>> {
    match store.head(object).await {
        Ok(meta) => {
            Ok(Some(meta.e_tag.unwrap_or_else(|| {
                meta.last_modified.timestamp_micros().to_string()
            })))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(classify_object_store(e)),
    }
}

/// The claim's owner: delete the object if it is still the version
/// claimed (a re-created ref is another version, not this delete's).
async fn delete_if_still(
    store: &dyn ObjectStore,
    object: &Path,
    version: &str,
    name: &str,
) -> StoreResult<()> {
    match version_of(store, object).await? {
        Some(now) if now == version => store.delete(object).await.map_err(classify_object_store),
        _ => Err(not_found(name)),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outwaited {
    /// The version is gone: the claim's owner deleted it.
    Gone,
    /// The claim lapsed, or its owner gave it up with the version still
    /// there: claim again.
    Lapsed,
}

/// Wait for the claim's owner to finish: until the version is gone, or
/// the claim is gone or older than the lease.
async fn outwait(
    store: &dyn ObjectStore,
    object: &Path,
    version: &str,
    claim: &Path,
    lease: Duration,
) -> StoreResult<Outwaited> {
    let mut delay = Duration::from_millis(20);
    loop {
        if version_of(store, object).await?.as_deref() != Some(version) {
            return Ok(Outwaited::Gone);
        }
        let Some(text) = read_claim(store, claim).await? else {
            return Ok(Outwaited::Lapsed);
        };
        let claimed_at = text.split(' ').next().and_then(|t| t.parse::<u128>().ok());
        // A claim that does not say when it was made counts as lapsed.
        let held = claimed_at.map(|at| now_millis().saturating_sub(at));
        if held.is_none_or(|ms| ms > lease.as_millis()) {
            return Ok(Outwaited::Lapsed);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

/// A claim's text ("millis nonce"; lossy, so a garbled claim reads as one
/// that does not say when it was made), or `None` when there is none.
async fn read_claim(store: &dyn ObjectStore, claim: &Path) -> StoreResult<Option<String>> {
    let bytes = match store.get(claim).await {
        Ok(found) => found.bytes().await,
        Err(e) => Err(e),
    };
    match bytes {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(classify_object_store(e)),
    }
}

fn not_found(name: &str) -> StoreError {
    StoreError::NotFound(format!(
        "ref {name:?} is gone (deleted by this or a racing delete)"
    ))
}

fn now_millis() -> u128 {
    u128::from(crate::claims::now_millis())
}

/// A flat, key-safe spelling of any string (names hold `/`, e-tags quotes).
fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}
