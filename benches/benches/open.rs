//! Open latency and the sweep, each against a baseline in the same run:
//! - `open/*`: a read-write and a read-only open of a current graph against
//!   raw Lance `Dataset::open` of `__manifest` (the floor), cold and with a
//!   warm shared session (the engine keeps one process-wide session, so the
//!   warm floor is the fair one).
//! - `sweep/*`: a read-write open of a v2 graph with N `__run__` refs (fresh
//!   copy per iteration) against the naive sweep with Lance's own
//!   `force_delete_branch`, which re-lists every ref per call.
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

fn open_latency(c: &mut Criterion) {
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

criterion_group!(benches, open_latency, sweep);
criterion_main!(benches);
