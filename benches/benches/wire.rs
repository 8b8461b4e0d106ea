//! What the wire protocol costs per op: the ops of fixed sequential cases,
//! each followed by a full view (as the sequential campaign runs them),
//! applied to our engine in process and to the same engine behind the
//! wire (`stampede serve`, one process per case), in one run.
//!
//! Run in the dev profile, the campaigns' own (`make wire-cost`), which
//! also builds the `stampede` binary the peer runs; `wire_report` writes
//! the ratio into the README and docs/wire-protocol.md.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use stampede_harness::adapter::{Stampede, SystemUnderTest};
use stampede_harness::seeds::derive;
use stampede_harness::sequential::case_ops;
use stampede_harness::wire::peer::Peer;
use stampede_model::Op;

const CASES: u32 = 12;

fn run_case(sut: &mut dyn SystemUnderTest, ops: &[Op]) {
    for op in ops {
        let _ = sut.apply(op);
        let _ = sut.view();
    }
}

fn wire(c: &mut Criterion) {
    stampede_benches::BenchRun::record("wire");
    let cases: Vec<Vec<Op>> = (0..CASES)
        .map(|i| {
            case_ops(derive(1, i), 30)
                .into_iter()
                .map(|(op, _)| op)
                .collect()
        })
        .collect();
    let ops: usize = cases.iter().map(Vec::len).sum();
    let serve = format!(
        "'{}' serve",
        stampede_harness::binary::stampede_binary().display()
    );
    let mut group = c.benchmark_group("wire");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(ops as u64));
    group.bench_function("in_process", |b| {
        b.iter(|| {
            for ops in &cases {
                run_case(&mut Stampede::new(), ops);
            }
        })
    });
    group.bench_function("over_the_wire", |b| {
        b.iter(|| {
            for ops in &cases {
                let mut peer = Peer::start(&serve).unwrap_or_else(|e| panic!("{e}"));
                run_case(&mut peer, ops);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, wire);
criterion_main!(benches);
