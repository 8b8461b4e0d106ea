//! The S3 lane: campaigns with every graph on a real S3-compatible server
//! (SeaweedFS's `weed mini` on 127.0.0.1, started once for this binary and
//! stopped when it exits; `make deps` installs it). Every test here runs
//! on S3, so this binary's process-wide place (`stampede_harness::place`)
//! is set once, before any graph.
//!
//! Small fixed budgets (`make test`); STAMPEDE_S3_CASES,
//! STAMPEDE_S3_FAULT_CASES, STAMPEDE_S3_ROUNDS and STAMPEDE_S3_FLEET_ROUNDS
//! raise them (`make verify`). A failure prints `stampede replay --s3 TOKEN`.

mod common;

use std::sync::OnceLock;

use stampede_engine::probe::{Call, Injected, Probe, Scripted};
use stampede_harness::adapter::{Stampede, SystemUnderTest};
use stampede_harness::budgets::Budgets;
use stampede_harness::concurrent::{execute_scheduled_with, execute_with, judge, Actors, Schedule};
use stampede_harness::env_or;
use stampede_harness::plan::{run, Shard, Stop};
use stampede_harness::tally::CampaignResult;
use stampede_harness::verdict::Campaign;
use stampede_model::{ErrorKind, Mode, Model, Op, Outcome};
use stampede_s3server::Rule;
use stampede_s3server::S3Server;

fn on_s3() {
    static SERVER: OnceLock<S3Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        stampede_harness::place::start_local_s3(stampede_harness::place::Kind::SeaweedFs, "harness")
            .unwrap_or_else(|e| panic!("{e}"))
    });
}

/// Held by the tests that make the fault proxy lose answers: each counts
/// the answers lost while it runs (the proxy's count is the process's).
static LOSING_ANSWERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn campaign(campaign: Campaign, budgets: Budgets) -> CampaignResult {
    on_s3();
    let result = run(campaign, &budgets, Shard::ALL, Stop::Budget, true);
    eprintln!(
        "{} on S3: {} {}, {} ops, {} failures, {:.1} s",
        campaign.name(),
        result.units,
        campaign.unit(),
        result.ops,
        result.failures.len(),
        result.seconds
    );
    if let Some(first) = result.failures.first() {
        panic!(
            "{} of {} failed on S3; first:\n{}\n{}",
            result.failures.len(),
            result.units,
            first.message,
            first.replay_line()
        );
    }
    assert!(result.ops > 0, "the campaign ran no engine ops");
    result
}

#[test]
fn sequential_campaign_on_s3() {
    campaign(
        Campaign::Sequential,
        Budgets {
            seed: env_or("STAMPEDE_SEED", 20261201),
            cases: env_or("STAMPEDE_S3_CASES", 12) as u32,
            max_ops: 20,
            ..Budgets::default()
        },
    );
}

/// Finding 52: a create whose ref put landed but lost its answer (the fault
/// proxy's 503, retried into a 412), and whose read-back of the ref then
/// failed once, answered `branch_exists` for the branch it had made. The
/// read-back is asked again, and one that keeps failing is `storage`.
/// Found as `faults:44554003750deae1:20`; held here with its two faults
/// placed by hand, since a seed's faults move to other calls whenever the
/// engine's calls change. The control: a read-back failing every time.
#[test]
fn regression_a_failed_read_back_is_not_branch_exists() {
    on_s3();
    let _alone = LOSING_ANSWERS.lock().unwrap_or_else(|e| e.into_inner());
    for (read_back_failures, expected) in [(1, None), (3, Some(ErrorKind::Storage))] {
        let (outcome, lost, injected) = create_losing_its_answer("x", read_back_failures);
        let replay = "cargo test -p stampede-harness --test s3 regression_a_failed_read_back_is_not_branch_exists";
        assert!(lost, "the ref put's answer was not lost: {replay}");
        assert!(
            injected
                .iter()
                .any(|i| i.call == Call::Get && i.object == "__manifest/_refs/branches/x.json"),
            "the read-back met no fault ({injected:?}): {replay}"
        );
        assert_eq!(
            outcome.err(),
            expected,
            "{read_back_failures} read-back failures: {replay}"
        );
    }
}

/// Create `name` from main on a fresh graph, the ref put's answer lost and
/// the ref's next `read_back_failures` reads failing: the create's outcome
/// (a created branch must then be as the model says), whether the answer
/// was lost, and the probe's faults.
fn create_losing_its_answer(name: &str, read_back_failures: u32) -> (Outcome, bool, Vec<Injected>) {
    let proxy = stampede_harness::place::fault_proxy().expect("the S3 lane's fault proxy");
    let probe = Probe::new();
    let mut sut = Stampede::through_object_store();
    sut.use_params(probe.params());
    let mut model = Model::default();
    for op in [Op::Init, Op::Open(Mode::ReadWrite)] {
        assert_eq!(sut.apply(&op), model.apply(&op), "{op:?}");
    }
    probe.name_objects_under(sut.root());
    let scope = stampede_harness::faults::proxy_scope(sut.root());
    proxy.lose_next_answer(Rule {
        scope: scope.clone(),
        method: "PUT",
        path_part: format!("/_refs/branches/{name}.json"),
        header: Some("if-none-match"),
        skip: 0,
    });
    probe.script(
        Call::Get,
        &format!("_refs/branches/{name}.json"),
        Scripted::TransientError,
        read_back_failures,
    );
    let create = Op::BranchCreate {
        name: name.into(),
        from: "main".into(),
    };
    let outcome = sut.apply(&create);
    let (lost, injected) = (proxy.disarm(&scope), probe.injected());
    if outcome.is_ok() {
        let _ = model.apply(&create);
        assert_eq!(sut.view(), model.view(), "after the create");
    }
    (outcome, lost, injected)
}

#[test]
fn fault_campaign_on_s3() {
    on_s3();
    let _alone = LOSING_ANSWERS.lock().unwrap_or_else(|e| e.into_inner());
    let lost_before = stampede_harness::place::fault_proxy().map_or(0, |p| p.injected());
    let result = campaign(
        Campaign::Faults,
        Budgets {
            seed: env_or("STAMPEDE_SEED", 20261201),
            fault_cases: env_or("STAMPEDE_S3_FAULT_CASES", 24) as u32,
            max_ops: 20,
            ..Budgets::default()
        },
    );
    assert!(
        result.faulted_ops * 8 >= result.ops,
        "too few ops met a fault to judge anything: {result:?}"
    );
    // Below object_store's retry too: conditional puts that landed and lost
    // their answer (the place's fault proxy, in this process).
    let lost = stampede_harness::place::fault_proxy().map_or(0, |p| p.injected()) - lost_before;
    assert!(lost > 0, "no conditional put lost its answer: {result:?}");
    eprintln!("faults on S3: {lost} answers lost after their put landed");
}

/// The crash campaign on S3: every writing op killed at each of its writes
/// (first deaths), judged and recovered. Its states rerun their setup on
/// S3 (no files to put back), so it runs as `stampede verify --s3 --jobs
/// 4`, with a server of its own.
#[test]
fn crash_campaign_first_deaths_on_s3() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("crash.json");
    let output = std::process::Command::new(stampede_harness::binary::stampede_binary())
        .args(["verify", "--s3", "--campaign", "crash", "--quiet"])
        .args(["--second-death-stride", "0", "--jobs", "4", "--json"])
        .arg(&report)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: stampede_harness::report::Report =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let crash = &report.results[0];
    assert!(crash.failures.is_empty(), "{printed}");
    assert!(crash.units > 50, "too few crash states judged: {printed}");
    eprintln!(
        "crash on S3: {} states, {:.1} s",
        crash.units, crash.seconds
    );
}

/// Concurrent rounds as `stampede actor` processes: the many-machines case.
#[test]
fn concurrent_rounds_as_processes_on_s3() {
    campaign(
        Campaign::Concurrent,
        Budgets {
            seed: env_or("STAMPEDE_SEED", 20261201),
            rounds: env_or("STAMPEDE_S3_ROUNDS", 6) as u32,
            actors: 4,
            processes: true,
            ..Budgets::default()
        },
    );
}

/// Finding 48: scheduled rounds on S3 (the campaign's default mix has
/// them) hung for good. A listing's turn, and a get's, lasted until the
/// caller dropped the stream, and on S3 a caller still iterating a page
/// made its next call, parked behind its own turn: seed 1's third round
/// under uniform random turns never ended. A hang fails this test after
/// five minutes instead of holding the suite (the stuck round prints its
/// turns after one).
#[test]
fn scheduled_rounds_on_s3_never_wait_behind_their_own_turn() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = campaign(
            Campaign::Concurrent,
            Budgets {
                seed: 1,
                rounds: env_or("STAMPEDE_S3_ROUNDS", 6) as u32,
                actors: 5,
                schedule: Schedule::Random,
                ..Budgets::default()
            },
        );
        let _ = done.send(result.units);
    });
    match finished.recv_timeout(std::time::Duration::from_secs(300)) {
        Ok(units) => assert!(units >= 3, "{units} rounds"),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("scheduled rounds on S3 did not finish in 5 minutes")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            panic!("the scheduled rounds on S3 failed (above)")
        }
    }
}

/// The fleet on S3: 8 `stampede actor` processes open a v2 graph with 200
/// `__run__` refs (one kept by a user branch) read-write at once, judged
/// against the model: every open succeeds, each swept ref is swept by
/// exactly one process, the final state is one open's.
#[test]
fn eight_processes_open_a_graph_with_200_run_refs_on_s3() {
    on_s3();
    let round = stampede_harness::concurrent::fleet();
    for seed in 0..env_or("STAMPEDE_S3_FLEET_ROUNDS", 1) {
        let (seen, view) = execute_with(&round, Actors::Processes, seed);
        if let Err(why) = judge(&round, &seen, &view) {
            panic!("injector seed {seed}: {why}");
        }
    }
}

/// Postmortem (finding 39, on S3): the wild round `concurrent:1:31:5:
/// tasks:wild:30` re-created `__run__0` while an opener's tree removal,
/// a listing and a batched delete on S3, was still under way, and the new
/// branch lost its tables. The round held, run as it ran (wild, injector
/// seed 30) and under two schedules: it passes.
#[test]
fn regression_round_31_keeps_the_recreated_branch_on_s3() {
    on_s3();
    let round = stampede_harness::concurrent::held::round("s3-31").unwrap();
    let (seen, view) = execute_with(&round, Actors::Tasks, 30);
    if let Err(why) = judge(&round, &seen, &view) {
        panic!("wild: {why}");
    }
    for schedule in [Schedule::Random, Schedule::Pct { depth: 3 }] {
        let run = execute_scheduled_with(&round, Actors::Tasks, schedule, 30);
        if let Err(why) = judge(&round, &run.seen, &run.view) {
            panic!("{schedule:?}: {why}");
        }
    }
}

/// `check` beside a live graph on S3 (see `concurrent.rs`):
/// STAMPEDE_S3_LIVE_CHECKS checks of each scenario, every one healthy.
#[test]
fn check_beside_a_live_graph_on_s3_is_healthy() {
    on_s3();
    let checks = env_or("STAMPEDE_S3_LIVE_CHECKS", 20) as usize;
    common::live_check::every_check_is_healthy(checks, "on S3");
}
