//! The storage boundary's probe: a Lance `WrappingObjectStore`, installed
//! through the store parameters of every dataset a graph opens, that counts
//! calls by kind and can act like a concurrent actor at one exact point (a
//! ref that vanishes between Lance's list and its read). Campaigns build on
//! it; the engine never installs it by itself.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use lance::io::{ObjectStoreParams, WrappingObjectStore};
use object_store::list::PaginatedListStore;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// A storage call, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Call {
    List,
    Get,
    Head,
    Put,
    Delete,
    Copy,
    Rename,
}

#[derive(Debug, Default)]
pub struct Probe {
    counts: Mutex<BTreeMap<Call, u64>>,
    /// Armed: after the next listing of a directory ending with this, remove
    /// the first object it listed, once.
    vanish_after_list: Mutex<Option<String>>,
}

impl Probe {
    pub fn new() -> Arc<Probe> {
        Arc::new(Probe::default())
    }

    /// Store parameters that install this probe.
    pub fn params(self: &Arc<Self>) -> ObjectStoreParams {
        ObjectStoreParams {
            object_store_wrapper: Some(Arc::new(ProbeWrapper(self.clone()))),
            ..ObjectStoreParams::default()
        }
    }

    pub fn counts(&self) -> BTreeMap<Call, u64> {
        self.counts.lock().unwrap().clone()
    }

    pub fn reset(&self) {
        self.counts.lock().unwrap().clear();
    }

    /// After the next listing of a directory whose path ends with `dir`,
    /// delete the first object it listed, as a concurrent deleter would.
    pub fn vanish_after_next_list(&self, dir: &str) {
        *self.vanish_after_list.lock().unwrap() = Some(dir.to_string());
    }

    fn count(&self, call: Call) {
        *self.counts.lock().unwrap().entry(call).or_default() += 1;
    }
}

#[derive(Debug)]
struct ProbeWrapper(Arc<Probe>);

impl WrappingObjectStore for ProbeWrapper {
    fn wrap(&self, _store_prefix: &str, original: Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> {
        Arc::new(Probed {
            inner: original,
            probe: self.0.clone(),
        })
    }

    /// No pushdown: every listing goes through `wrap`, where it is counted
    /// and can be intercepted.
    fn wrap_paginated(
        &self,
        _store_prefix: &str,
        _original: Arc<dyn PaginatedListStore>,
    ) -> Option<Arc<dyn PaginatedListStore>> {
        None
    }
}

#[derive(Debug)]
struct Probed {
    inner: Arc<dyn ObjectStore>,
    probe: Arc<Probe>,
}

impl fmt::Display for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Probed({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Probed {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.probe.count(Call::Put);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.probe.count(Call::Put);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.probe
            .count(if options.head { Call::Head } else { Call::Get });
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.probe.count(Call::Get);
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.probe.count(Call::Delete);
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.probe.count(Call::List);
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.probe.count(Call::List);
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.probe.count(Call::List);
        let listing = self.inner.list_with_delimiter(prefix).await?;
        let armed = {
            let mut armed = self.probe.vanish_after_list.lock().unwrap();
            let hit = match (armed.as_deref(), prefix) {
                (Some(dir), Some(p)) => p.as_ref().ends_with(dir) && !listing.objects.is_empty(),
                _ => false,
            };
            if hit {
                armed.take()
            } else {
                None
            }
        };
        if armed.is_some() {
            let victim = listing.objects[0].location.clone();
            let mut gone = self
                .inner
                .delete_stream(Box::pin(futures::stream::once(async { Ok(victim) })));
            use futures::StreamExt;
            while gone.next().await.is_some() {}
        }
        Ok(listing)
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.probe.count(Call::Copy);
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        // Forwarded, never emulated: Lance's local put-if-absent is the inner
        // store's atomic rename.
        self.probe.count(Call::Rename);
        self.inner.rename_opts(from, to, options).await
    }
}
