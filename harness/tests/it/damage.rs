//! The damage campaign on real graphs: a corpus graph is built, damaged
//! and judged through the `stampede` binary. Structural damage the engine
//! now survives (a parent cycle once hung every command; a garbage ref once
//! failed as a raw storage error) must pass, and so must a sample of the
//! campaign (every `STAMPEDE_DAMAGE_STRIDE`-th case of each damage, default
//! 11, on every corpus graph: each damage at least once on each). The full
//! campaign is `stampede verify --campaign damage`, in `make verify`.

use stampede_harness::damage::{baseline, build, corpus, judge_case, run_graph, Case};
use stampede_vocabulary::env_budget;

/// Judge the sample of corpus graph `name`; one test per graph so the
/// graphs run in parallel.
fn sample_is_clean(name: &str) {
    let index = corpus().iter().position(|g| g.name == name).unwrap();
    let stride = env_budget("STAMPEDE_DAMAGE_STRIDE", 11) as usize;
    let result = run_graph(index, stride);
    let (judged, commands, failures) = (result.units, result.ops, result.failures);
    assert!(
        judged > 10 && commands > judged,
        "{name}: {judged} cases, {commands} commands"
    );
    let shown: Vec<String> = failures
        .iter()
        .map(|f| {
            format!(
                "{}\n{}\nreplay: stampede replay {}",
                f.replay, f.message, f.replay
            )
        })
        .collect();
    assert!(failures.is_empty(), "{}", shown.join("\n\n"));
}

#[test]
fn sample_of_the_fresh_graph() {
    sample_is_clean("fresh");
}

#[test]
fn sample_of_the_legacy_v1_graph() {
    sample_is_clean("legacy-v1");
}

#[test]
fn sample_of_the_legacy_v2_graph() {
    sample_is_clean("legacy-v2");
}

#[test]
fn sample_of_the_locked_graph() {
    sample_is_clean("locked");
}

#[test]
fn sample_of_the_history_graph() {
    sample_is_clean("history");
}

#[test]
fn every_corpus_graph_has_a_sample_test() {
    let names: Vec<&str> = corpus().iter().map(|g| g.name).collect();
    assert_eq!(
        names,
        ["fresh", "legacy-v1", "legacy-v2", "locked", "history"]
    );
}

#[test]
fn structural_damage_the_engine_survives_is_judged_clean() {
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_stampede"));
    let fresh = corpus().into_iter().find(|g| g.name == "fresh").unwrap();
    let built = build(fresh).expect("the corpus graph builds");
    let pristine = baseline(&binary, &built);
    assert!(pristine.iter().all(|r| r.code == Some(0)), "{pristine:?}");
    for (target, damage) in [
        ("*", "parent-cycle"),
        ("*", "tree-without-ref"),
        ("__manifest/_refs/branches/a.json", "invalid-json"),
    ] {
        let case = Case {
            graph: "fresh".into(),
            target: target.into(),
            damage: damage.into(),
        };
        let judged = judge_case(&binary, &built, &pristine, &case, |_| {});
        assert!(
            matches!(judged, Ok(Some(n)) if n > 10),
            "{}: {judged:?}\nreplay: stampede replay {}",
            case.token(),
            case.token()
        );
    }
}
