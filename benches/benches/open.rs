//! Open latency and the sweep, each against a baseline in the same run:
//! - `open/*`: a read-write and a read-only open of a current graph against
//!   raw Lance `Dataset::open` of `__manifest` (the floor), cold and with a
//!   warm shared session (the engine keeps one process-wide session, so the
//!   warm floor is the fair one).
//! - `sweep/*`: a read-write open of a v2 graph with N `__run__` refs (fresh
//!   copy per iteration) against the naive sweep with Lance's own
//!   `force_delete_branch`, which re-lists every ref per call.
//! - `create/*`: a branch create from main on a fresh copy of a current
//!   graph, its handle open, against Lance's own `create_branch` of
//!   `__manifest` on such a copy, its dataset open: the floor a create
//!   builds on (a create also takes its name's claim and checks the lock).
//! - `open_s3/*`: the `open/*` comparison with the graph on a SeaweedFS
//!   server on 127.0.0.1, where every call is a request; the requests of
//!   each open, counted once through the probe, go beside criterion's
//!   estimates (`open_s3/requests.json`) for `bench_report`
//!   (`benches/src/bin/bench_report.rs`), with the build and machine the
//!   run was on (`open/stampede-run.json`).
//!
//! The campaigns' own throughput is `benches/campaigns.rs`.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use stampede_benches::fresh_copy;
use stampede_engine::lance::dataset::builder::DatasetBuilder;
use stampede_engine::lance::session::Session;
use stampede_engine::lance::Dataset;
use stampede_engine::legacy::{write_legacy, LegacySpec, LegacyVersion};
use stampede_engine::schema::EXAMPLE_SCHEMA;
use stampede_engine::{Graph, Mode};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The `open/*` comparison on S3, and each open's requests.
fn open_latency_on_s3(c: &mut Criterion) {
    use stampede_engine::location::with_storage_options;
    use stampede_engine::probe::Probe;
    let rt = runtime();
    let server = stampede_s3server::S3Server::start().unwrap_or_else(|e| panic!("{e}"));
    let options: std::collections::HashMap<_, _> = server.storage_options().into_iter().collect();
    let params = || with_storage_options(Default::default(), options.clone());
    let probed = |probe: &Arc<Probe>| with_storage_options(probe.params(), options.clone());
    let root = server.root("bench/open");
    rt.block_on(Graph::init_with(&root, EXAMPLE_SCHEMA, params()))
        .unwrap();
    let manifest = format!("{root}/__manifest");
    let session = Arc::new(Session::default());
    let raw = |session: Arc<Session>, params| {
        DatasetBuilder::from_uri(&manifest)
            .with_session(session)
            .with_store_params(params)
            .load()
    };
    // Requests, once each: a cold raw open (a session of its own), a warm
    // one (the second in a session), and the engine's opens (warm: the
    // engine's process-wide session has read this graph).
    let mut requests = std::collections::BTreeMap::new();
    let count = |probe: &Arc<Probe>| probe.counts().values().sum::<u64>();
    let probe = Probe::new();
    rt.block_on(raw(Arc::new(Session::default()), probed(&probe)))
        .unwrap();
    requests.insert("raw_lance_open_cold", count(&probe));
    rt.block_on(raw(session.clone(), params())).unwrap();
    let probe = Probe::new();
    rt.block_on(raw(session.clone(), probed(&probe))).unwrap();
    requests.insert("raw_lance_open_warm_session", count(&probe));
    for (mode, name) in [
        (Mode::ReadWrite, "stampede_read_write_open"),
        (Mode::ReadOnly, "stampede_read_only_open"),
    ] {
        let probe = Probe::new();
        rt.block_on(Graph::open_with(&root, mode, probed(&probe)))
            .unwrap();
        requests.insert(name, count(&probe));
    }
    let dir = stampede_benches::criterion_dir().join("open_s3");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("requests.json"),
        serde_json::to_string_pretty(&requests).unwrap(),
    )
    .unwrap();

    let mut group = c.benchmark_group("open_s3");
    group.bench_function("raw_lance_open_cold", |b| {
        b.iter(|| {
            rt.block_on(raw(Arc::new(Session::default()), params()))
                .unwrap()
        })
    });
    group.bench_function("raw_lance_open_warm_session", |b| {
        b.iter(|| rt.block_on(raw(session.clone(), params())).unwrap())
    });
    group.bench_function("stampede_read_write_open", |b| {
        b.iter(|| {
            rt.block_on(Graph::open_with(&root, Mode::ReadWrite, params()))
                .unwrap()
        })
    });
    group.bench_function("stampede_read_only_open", |b| {
        b.iter(|| {
            rt.block_on(Graph::open_with(&root, Mode::ReadOnly, params()))
                .unwrap()
        })
    });
    group.finish();
}

fn open_latency(c: &mut Criterion) {
    stampede_benches::BenchRun::record("open");
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("graph").to_string_lossy().into_owned();
    rt.block_on(Graph::init(&root, EXAMPLE_SCHEMA)).unwrap();
    let manifest = format!("{root}/__manifest");
    let session = Arc::new(Session::default());
    let mut group = c.benchmark_group("open");
    group.bench_function("raw_lance_open_cold", |b| {
        b.iter(|| rt.block_on(Dataset::open(&manifest)).unwrap())
    });
    group.bench_function("raw_lance_open_warm_session", |b| {
        b.iter(|| {
            rt.block_on(
                DatasetBuilder::from_uri(&manifest)
                    .with_session(session.clone())
                    .load(),
            )
            .unwrap()
        })
    });
    group.bench_function("stampede_read_write_open", |b| {
        b.iter(|| rt.block_on(Graph::open(&root, Mode::ReadWrite)).unwrap())
    });
    group.bench_function("stampede_read_only_open", |b| {
        b.iter(|| rt.block_on(Graph::open(&root, Mode::ReadOnly)).unwrap())
    });
    group.finish();
}

/// Lance's own way: list, then `force_delete_branch` each `__run__` ref
/// (every call re-lists every ref: quadratic), then stamp 3.
async fn naive_sweep(root: &str) {
    let mut manifest = Dataset::open(&format!("{root}/__manifest")).await.unwrap();
    let names: Vec<String> = manifest
        .list_branches()
        .await
        .unwrap()
        .into_keys()
        .collect();
    for name in names.iter().filter(|n| n.starts_with("__run__")) {
        manifest.force_delete_branch(name).await.unwrap();
    }
    manifest
        .update_schema_metadata([("omnigraph:internal_schema_version", "3")])
        .await
        .unwrap();
}

fn sweep(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("sweep");
    group.sample_size(10);
    for refs in [0usize, 10, 100, 1000] {
        let fixture = tempfile::tempdir().unwrap();
        let root = fixture.path().join("graph").to_string_lossy().into_owned();
        let spec = LegacySpec::new(LegacyVersion::V2)
            .run_branches(refs)
            .branch("user", None);
        rt.block_on(write_legacy(&root, &spec, Default::default()))
            .unwrap();
        let fixture_path = fixture.path().join("graph");
        group.throughput(Throughput::Elements(refs.max(1) as u64));
        group.bench_with_input(BenchmarkId::new("stampede_open", refs), &refs, |b, _| {
            b.iter_batched(
                || fresh_copy(&fixture_path),
                |(_dir, copy)| {
                    let graph = rt.block_on(Graph::open(&copy, Mode::ReadWrite)).unwrap();
                    assert_eq!(graph.report().swept.len(), refs);
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_with_input(
            BenchmarkId::new("naive_force_delete", refs),
            &refs,
            |b, _| {
                b.iter_batched(
                    || fresh_copy(&fixture_path),
                    |(_dir, copy)| rt.block_on(naive_sweep(&copy)),
                    BatchSize::PerIteration,
                )
            },
        );
    }
    group.finish();
}

fn create(c: &mut Criterion) {
    let rt = runtime();
    let fixture = tempfile::tempdir().unwrap();
    let fixture_path = fixture.path().join("graph");
    let root = fixture_path.to_string_lossy().into_owned();
    rt.block_on(Graph::init(&root, EXAMPLE_SCHEMA)).unwrap();
    let mut group = c.benchmark_group("create");
    group.bench_function("raw_lance_create_branch", |b| {
        b.iter_batched(
            || {
                let (dir, copy) = fresh_copy(&fixture_path);
                let manifest = rt
                    .block_on(Dataset::open(&format!("{copy}/__manifest")))
                    .unwrap();
                (dir, manifest)
            },
            |(_dir, mut manifest)| {
                let version = manifest.version().version;
                rt.block_on(manifest.create_branch("b", ("main", version), None))
                    .unwrap();
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("stampede_branch_create", |b| {
        b.iter_batched(
            || {
                let (dir, copy) = fresh_copy(&fixture_path);
                let graph = rt.block_on(Graph::open(&copy, Mode::ReadWrite)).unwrap();
                (dir, graph)
            },
            |(_dir, graph)| rt.block_on(graph.branch_create("b", "main")).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, open_latency, sweep, create, open_latency_on_s3);
criterion_main!(benches);
