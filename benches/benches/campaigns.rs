//! What one unit of each campaign costs, the way the campaigns run it:
//! one sequential case, one concurrent round, one crash state, one fault
//! case, each over a fixed sample so that two builds measure the same work.
//!
//! Run in the dev profile, which is the one `make verify` and `make test`
//! run the campaigns in (`cargo bench --profile dev`): a release figure
//! would say nothing about their minutes. `make throughput` runs this bench
//! in a worktree of a baseline revision and in this tree, in one run, and
//! writes the ratio table (`scripts/throughput_report.py`).
//!
//! The bench calls only entry points that both revisions have
//! (`sequential::run_case`, `concurrent::{generate, execute_with, judge}`,
//! `crash::run_scenario`, `faults::run_case`), so the same file measures
//! the baseline.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};
use stampede_harness::concurrent;
use stampede_harness::crash;
use stampede_harness::seeds::derive;
use stampede_harness::sequential::{self, machine};

const SEED: u64 = 1;
const MAX_OPS: usize = 30;
/// Cases (rounds) per measured iteration: enough that one iteration holds
/// the campaign's mix of short and long cases (8 cases once measured 1.9×
/// where 100 measured 2.4×: a legacy-heavy handful skews the mix).
const CASES: u32 = 24;
const ROUNDS: u32 = 8;
const ACTORS: usize = 5;

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20))
}

/// A group of long iterations: every sample runs the same (small) number of
/// them, instead of criterion's growing 1, 2, ... 10.
fn group<'a>(c: &'a mut Criterion, name: &str, units: u64) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(units));
    group
}

fn sequential_case(c: &mut Criterion) {
    let seeds: Vec<u64> = (0..CASES).map(|i| derive(SEED, i)).collect();
    let run = || {
        for seed in &seeds {
            sequential::run_case(*seed, MAX_OPS).expect("the clean engine passes");
        }
    };
    let before = machine::engine_ops();
    run();
    let ops = machine::engine_ops() - before;
    let mut group = group(c, "sequential", ops);
    group.bench_function("ops", |b| b.iter(run));
    group.finish();
}

/// Rounds as the campaign runs them by default: swarm configurations, the
/// schedule mix round by round, actors as tasks.
fn concurrent_round(c: &mut Criterion) {
    let budgets = stampede_harness::budgets::Budgets {
        seed: SEED,
        actors: ACTORS,
        ..Default::default()
    };
    let rounds: Vec<_> = (0..ROUNDS)
        .map(|i| {
            let token = stampede_harness::concurrent::Token::of_unit(&budgets, i);
            (token.round(), token)
        })
        .collect();
    let mut group = group(c, "concurrent", u64::from(ROUNDS));
    group.bench_function("rounds", |b| {
        b.iter(|| {
            for (round, token) in &rounds {
                let (seen, view, _) = concurrent::run_round(token, round);
                concurrent::judge(round, &seen, &view).expect("the clean engine passes");
            }
        })
    });
    group.finish();
}

fn crash_state(c: &mut Criterion) {
    // Whole scenarios, as the campaign runs them (a scenario's states share
    // its setup), killed at every write once (no second deaths).
    let scenarios = crash::scenarios();
    let budget = crash::Budget {
        second_death_stride: None,
    };
    let run = || {
        scenarios
            .iter()
            .map(|scenario| {
                let report = crash::run_scenario(scenario, budget, |_| {});
                assert!(report.violations.is_empty(), "the clean engine passes");
                report.states
            })
            .sum::<u64>()
    };
    // First deaths only: a scenario has as many states as the op's writes.
    let states = scenarios
        .iter()
        .map(|s| crash::count_writes(s).expect("a clean run"))
        .sum();
    let mut group = group(c, "crash", states);
    group.bench_function("states", |b| b.iter(run));
    group.finish();
}

fn fault_case(c: &mut Criterion) {
    let seeds: Vec<u64> = (0..CASES).map(|i| derive(SEED, i)).collect();
    let run = || {
        seeds
            .iter()
            .map(|seed| {
                stampede_harness::faults::run_case(*seed, MAX_OPS, |_| {})
                    .expect("the clean engine passes")
                    .ops
            })
            .sum::<u64>()
    };
    let ops = run();
    let mut group = group(c, "faults", ops);
    group.bench_function("ops", |b| b.iter(run));
    group.finish();
}

criterion_group! {
    name = campaigns;
    config = config();
    targets = sequential_case, concurrent_round, crash_state, fault_case
}
criterion_main!(campaigns);
