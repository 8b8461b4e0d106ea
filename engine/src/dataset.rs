//! Reading Lance datasets: the one load path and the one read path the
//! manifest, the tables and `check` share (the lowest layer of the
//! engine's data modules).

use std::cell::Cell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Once;

use arrow_array::RecordBatch;
use futures::{FutureExt, StreamExt};
use lance::dataset::builder::DatasetBuilder;
use lance::dataset::fragment::FragReadConfig;
use lance::Dataset;

/// Load a dataset version (`object` names it in errors).
pub async fn load(builder: DatasetBuilder, object: &str) -> lance::Result<Dataset> {
    guarded(object, builder.load()).await
}

/// Every live row of a dataset version, read fragment by fragment. This is
/// Lance's plain read path: no query planning, deletions applied.
pub async fn read_all(dataset: &Dataset) -> lance::Result<Vec<RecordBatch>> {
    guarded(dataset.uri(), async {
        let mut batches = Vec::new();
        for fragment in dataset.get_fragments() {
            let reader = fragment
                .open(dataset.schema(), FragReadConfig::default())
                .await?;
            let mut reads = reader.read_all(READ_BATCH_ROWS).await?;
            while let Some(read) = reads.next().await {
                batches.push(read.await?);
            }
        }
        Ok(batches)
    })
    .await
}

const READ_BATCH_ROWS: u32 = 8192;

/// Run Lance reading work with its panics turned into errors. Lance 14
/// trusts the offsets a file records about itself: a truncated manifest
/// makes its reader subtract past zero (a panic in debug builds, a slice
/// out of range in any). Damage must be an answer naming the object, not
/// a crash, and the panic message is kept out of stderr while it is.
pub async fn guarded<T>(
    object: &str,
    work: impl Future<Output = lance::Result<T>>,
) -> lance::Result<T> {
    install_quiet_hook();
    let mut work = Box::pin(AssertUnwindSafe(work).catch_unwind());
    let caught = futures::future::poll_fn(|cx| {
        let _quiet = Quiet::enter();
        work.as_mut().poll(cx)
    })
    .await;
    caught.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string());
        Err(lance::Error::corrupt_file_named(
            object,
            format!("Lance could not read it ({what})"),
        ))
    })
}

thread_local! {
    /// How many guarded polls are running on this thread.
    static QUIET: Cell<usize> = const { Cell::new(0) };
}

/// Marks a guarded poll on this thread for as long as it lives.
struct Quiet;

impl Quiet {
    fn enter() -> Quiet {
        QUIET.with(|q| q.set(q.get() + 1));
        Quiet
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(q.get() - 1));
    }
}

/// Wrap the process's panic hook once: silent inside a guarded poll (the
/// panic becomes an error there), the previous hook everywhere else.
fn install_quiet_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(|q| q.get()) == 0 {
                previous(info);
            }
        }));
    });
}
