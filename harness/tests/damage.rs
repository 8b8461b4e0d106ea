//! The damage campaign's machinery on real graphs: a corpus graph is built,
//! damaged and judged through the `stampede` binary. Structural damage the
//! engine now survives (a parent cycle once hung every command; a garbage
//! ref once failed as a raw storage error) must pass; the full campaign is
//! `stampede verify --campaign damage` (see docs/findings.md for what it
//! still finds).

use stampede_harness::damage::{baseline, build, corpus, judge_case, Case};

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
