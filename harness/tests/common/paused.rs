//! A cleaner paused past its claim's lease (docs/contract.md, "Claims"):
//! a delete of `x` is stopped at the listing of `x`'s tree, for longer
//! than the lease as its claim clock sees it; meanwhile a create of `x`,
//! in a process started after the delete's claim lapsed, takes the name
//! over and writes a tree of its own. When the delete resumes, it must
//! notice that its claim is no longer fresh and stop instead of deleting
//! what it listed. Both halves use it: the clean engine keeps the new `x`
//! whole (`faults.rs`); a holder that ignores its lapse (defect 21)
//! destroys it (`sensitivity.rs`).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use stampede_engine::claims::{advance_clock, with_clock_ahead, CLAIM_LEASE};
use stampede_engine::probe::{Call, Probe, Turnstile};
use stampede_engine::schema::EXAMPLE_SCHEMA;
use stampede_engine::{Graph, Mode};
use tokio::sync::Notify;

/// Parks the first listing under `x`'s tree: the holder sleeps there, its
/// clock moving on by twice the lease, until the test lets it go.
#[derive(Debug)]
struct PauseAtTreeListing {
    paused: Arc<Notify>,
    resume: Arc<Notify>,
    once: std::sync::atomic::AtomicBool,
}

impl Turnstile for PauseAtTreeListing {
    fn park(&self, call: Call, path: String) -> BoxFuture<'static, ()> {
        let hit = call == Call::List
            && path.contains("/tree/x")
            && !self.once.swap(true, std::sync::atomic::Ordering::SeqCst);
        let (paused, resume) = (self.paused.clone(), self.resume.clone());
        async move {
            if hit {
                advance_clock(CLAIM_LEASE * 2);
                paused.notify_one();
                resume.notified().await;
            }
        }
        .boxed()
    }

    fn done(&self) {}
}

/// The rows of `x` as a fresh handle scans them after the race, or why
/// they cannot be read: `Ok` holding the create's row when the paused
/// delete stopped.
pub fn a_paused_delete_meets_a_create_that_took_its_name_over() -> Result<usize, String> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = format!("file-object-store://{}", dir.path().join("g").display());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let graph = Graph::init(&root, EXAMPLE_SCHEMA)
            .await
            .map_err(|e| e.to_string())?;
        graph
            .branch_create("x", "main")
            .await
            .map_err(|e| e.to_string())?;
        for i in 0..3 {
            let row = serde_json::json!({ "name": format!("old{i}") });
            graph
                .load("x", "Person", &[row])
                .await
                .map_err(|e| e.to_string())?;
        }
        let (paused, resume) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let probe = Probe::new();
        probe.set_turnstile(Some(Arc::new(PauseAtTreeListing {
            paused: paused.clone(),
            resume: resume.clone(),
            once: false.into(),
        })));
        let params = probe.params();
        let deleting = {
            let root = root.clone();
            tokio::spawn(with_clock_ahead(Duration::ZERO, async move {
                let graph = Graph::open_with(&root, Mode::ReadWrite, params).await?;
                graph.branch_delete("x").await
            }))
        };
        paused.notified().await;
        // A process started after the delete's claim lapsed.
        with_clock_ahead(CLAIM_LEASE * 2, async {
            let graph = Graph::open(&root, Mode::ReadWrite).await?;
            graph.branch_create("x", "main").await?;
            let row = serde_json::json!({ "name": "new" });
            graph.load("x", "Person", &[row]).await.map(drop)
        })
        .await
        .map_err(|e| format!("the create that took the name over: {e}"))?;
        resume.notify_one();
        deleting
            .await
            .expect("the delete's task")
            .map_err(|e| format!("the paused delete: {e}"))?;
        let observer = Graph::open(&root, Mode::ReadOnly)
            .await
            .map_err(|e| e.to_string())?;
        let rows = observer
            .scan("x", "Person")
            .await
            .map_err(|e| format!("the new branch x lost its data to the paused delete: {e}"))?;
        Ok(rows.len())
    })
}
