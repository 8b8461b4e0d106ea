//! Where this process's graphs live: temp dirs on the local filesystem
//! (the default), or under a prefix of an S3-compatible bucket (`stampede
//! verify --s3`, the S3 lane's tests). Set once per process, before its
//! first graph; a `--jobs` child or an actor process is told the same
//! place by its parent.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use stampede_engine::lance::io::ObjectStoreParams;
use stampede_engine::location::with_storage_options;
pub use stampede_s3server::{FaultProxy, Kind, Rule, S3Server};

/// An S3 place: where new graphs go and the options that reach them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Place {
    /// `s3://bucket/prefix`: every new graph gets its own name under it
    /// (`None`: this process only works on roots it is given, as an actor).
    pub prefix: Option<String>,
    /// The storage options (endpoint, region, keys, allow_http).
    pub options: BTreeMap<String, String>,
    /// The local server this run started, if it did (a replay starts one
    /// of the same kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Kind>,
}

static S3: OnceLock<S3Place> = OnceLock::new();

/// Put this process's graphs on S3. Once: a second, different place is a
/// bug of the caller (graphs would be split across two stores).
pub fn use_s3(place: S3Place) {
    let set = S3.get_or_init(|| place.clone());
    assert_eq!(set, &place, "this process's graphs already live elsewhere");
}

/// The S3 place, if this process's graphs live on one.
pub fn s3() -> Option<&'static S3Place> {
    S3.get()
}

/// A root no graph of this run has used: under the S3 prefix, or `None`
/// for the local filesystem (the caller's temp dir).
pub fn fresh_s3_root() -> Option<String> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = s3()?.prefix.as_ref()?;
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Some(format!("{prefix}/p{}-{n}", std::process::id()))
}

/// `params` (a probe's, or none) with the storage options `root` needs:
/// the place's for an `s3://` root, none for a local one.
pub fn complete(root: &str, params: ObjectStoreParams) -> ObjectStoreParams {
    match s3() {
        Some(place) if root.starts_with("s3://") && params.storage_options().is_none() => {
            let mut options = place.options.clone();
            if let Some(proxy) = PROXY.get() {
                options.insert("aws_endpoint".into(), proxy.endpoint().into());
            }
            with_storage_options(params, options.into_iter().collect())
        }
        _ => params,
    }
}

static PROXY: OnceLock<FaultProxy> = OnceLock::new();

/// This process's fault proxy in front of the S3 place's server, started
/// on first use (the fault campaign on S3): from then on every request of
/// this process goes through it, and it loses an answer only when armed.
pub fn fault_proxy() -> Option<&'static FaultProxy> {
    let endpoint = s3()?.options.get("aws_endpoint")?;
    Some(PROXY.get_or_init(|| {
        FaultProxy::start(endpoint).unwrap_or_else(|e| panic!("a fault proxy on 127.0.0.1: {e}"))
    }))
}

/// What a child `stampede` process is told of the place: the options as
/// `--storage-option` arguments (its roots come with its work).
pub fn child_args() -> Vec<String> {
    s3().into_iter()
        .flat_map(|place| &place.options)
        .flat_map(|(k, v)| ["--storage-option".to_string(), format!("{k}={v}")])
        .collect()
}

/// Start an S3 server of `kind` on 127.0.0.1 and put this process's graphs
/// in it, under `s3://stampede/NAME`. The server stops when the handle
/// drops.
pub fn start_local_s3(kind: Kind, name: &str) -> Result<S3Server, String> {
    let server = S3Server::start_kind(kind).map_err(|e| e.to_string())?;
    // No pooled connections (see `storage_options`): each case of a
    // campaign runs on a runtime of its own.
    // A crash campaign's dead actor leaves its claims; its recovery runs
    // with the claim clock past their lease (`crash`), as a process started
    // later would, so no lease is shortened here.
    let options: BTreeMap<_, _> = server.storage_options().into_iter().collect();
    use_s3(S3Place {
        prefix: Some(server.root(name)),
        options,
        server: Some(kind),
    });
    Ok(server)
}
