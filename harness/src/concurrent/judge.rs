//! The order-blind judge: a round is explained when some serial order of
//! its actors, run in the model, gives every observed outcome and the final
//! state. An actor that failed with a retryable kind may have had no effect,
//! but only when another actor of the round could have caused it (DESIGN:
//! "an operation that overlapped a conflicting one"); who swept which
//! legacy ref is judged in aggregate. Nothing is relaxed: a round passes
//! or fails.

use std::collections::BTreeSet;

use stampede_model::{ErrorKind, Mode, Model, Observation, Op, Outcome, View};

use super::{Round, Seen};

pub(super) fn retryable(outcome: &Outcome) -> bool {
    matches!(outcome, Err(kind) if kind.is_retryable())
}

/// Search serial orders; return the first that explains the round. Who
/// swept what is judged when opens report it (ours do; a peer says).
pub fn judge(round: &Round, seen: &[Seen], final_view: &View) -> Result<Vec<usize>, String> {
    judge_with(round, seen, final_view, crate::wire::peer::reports_sweeps())
}

/// [`judge`], saying whether the opens' reports name what each swept.
fn judge_with(
    round: &Round,
    seen: &[Seen],
    final_view: &View,
    sweeps_judged: bool,
) -> Result<Vec<usize>, String> {
    let base = super::starting_model(&round.setup, &round.prelude)?;
    // When opens say what they swept (a peer's may not: then only the
    // final view shows the sweep).
    let swept_by_actors = swept_once(seen.iter().filter(|_| sweeps_judged).map(|s| &s.swept))?;
    let ops = round.actors.iter().zip(seen);
    let judge = Judge {
        round,
        seen,
        swept: sweeps_judged.then_some(&swept_by_actors),
        final_view,
        withdrawn: withdrawn(ops.filter_map(|(op, s)| Some((op.as_ref()?, &s.outcome)))),
    };
    let mut order = Vec::with_capacity(round.actors.len());
    if judge.search(&base, &BTreeSet::new(), &mut order) {
        Ok(order)
    } else {
        Err(format!(
            "no serial order explains the round\n  setup: {:?}\n  actors: {:?}\n  seen: {seen:?}\n  final: {final_view:?}",
            round.setup, round.actors
        ))
    }
}

/// A round no serial order explains, in a table's words, so the same
/// fault names the same divergence in whatever round shows it: first an
/// open that succeeded where the model refuses it on the round's graph
/// (the stamp's guard: no other actor changes that answer); then a step
/// that answered a raw storage error (a kind the model never answers);
/// then any error, preferring an open to an op and then the op's name;
/// then a step whose answer differs from the model's for that actor
/// alone; else the final view. An open names its graph, since the same
/// open fails differently on a legacy graph and on one whose sweep must
/// keep a `__run__` ref.
pub fn round_divergence(round: &Round, seen: &[Seen]) -> crate::verdict::Divergence {
    let base = super::starting_model(&round.setup, &round.prelude).unwrap_or_default();
    let step_of = |op: &Option<Op>, open_failed: bool| match op {
        Some(op) if !open_failed => op.name(),
        _ => "Open",
    };
    let errors = (round.actors.iter().zip(seen)).filter_map(|(op, s)| {
        let kind = *s.outcome.as_ref().err()?;
        Some((
            step_of(op, s.open_failed),
            "an order that explains it".to_string(),
            kind.name().to_string(),
        ))
    });
    let first_error = errors
        .min_by_key(|(step, _, kind)| (kind != ErrorKind::Storage.name(), *step != "Open", *step));
    // The model's answer for each actor alone, first on the round's graph,
    // where the engine answered something else without an error.
    let alone: Vec<(&str, Outcome, &Outcome)> = (round.actors.iter().zip(seen))
        .filter_map(|(op, s)| {
            let mut model = base.clone();
            let opened = model.apply(&Op::Open(Mode::ReadWrite));
            let (step, expected) = match (op, opened) {
                (Some(op), Ok(_)) => (op.name(), model.apply(op)),
                (_, opened) => ("Open", opened),
            };
            let differs =
                crate::verdict::outcome_word(&expected) != crate::verdict::outcome_word(&s.outcome);
            (differs && s.outcome.is_ok()).then_some((step, expected, &s.outcome))
        })
        .collect();
    let words = |(step, expected, observed): &(&'static str, Outcome, &Outcome)| {
        (
            *step,
            crate::verdict::outcome_word(expected),
            crate::verdict::outcome_word(observed),
        )
    };
    let refused_open = alone
        .iter()
        .find(|(step, expected, _)| *step == "Open" && expected.is_err())
        .map(words);
    let first_alone = alone
        .iter()
        .min_by_key(|(step, _, _)| (*step != "Open", *step))
        .map(words);
    let (step, model, engine) = (refused_open.or(first_error).or(first_alone)).unwrap_or((
        "round",
        "an order that explains it".to_string(),
        "a final view no order explains".to_string(),
    ));
    let graph = match (&round.setup, step) {
        (_, step) if step != "Open" && step != "round" => String::new(),
        (Some(legacy), _) => {
            let mut model = base.clone();
            let keeps = matches!(
                model.apply(&Op::Open(Mode::ReadWrite)),
                Ok(Observation::Opened(report)) if !report.kept.is_empty()
            );
            let keeps = if keeps {
                " whose sweep keeps a ref"
            } else {
                ""
            };
            format!(" on a v{} graph{keeps}", legacy.version)
        }
        (None, _) => " on a current graph".to_string(),
    };
    crate::verdict::Divergence {
        op: format!("concurrent {step}{graph}"),
        model,
        engine,
    }
}

/// What a round's serial orders are judged against.
struct Judge<'a> {
    round: &'a Round,
    seen: &'a [Seen],
    /// What the actors swept, in all; `None` when opens do not say.
    swept: Option<&'a BTreeSet<String>>,
    final_view: &'a View,
    withdrawn: BTreeSet<String>,
}

impl Judge<'_> {
    /// Depth-first over serial orders, extending `order` one actor at a
    /// time and abandoning a prefix at its first unexplained outcome, so
    /// 8 actors cost far less than 8! replays.
    fn search(
        &self,
        model: &Model,
        model_swept: &BTreeSet<String>,
        order: &mut Vec<usize>,
    ) -> bool {
        if order.len() == self.round.actors.len() {
            return ends_as_seen(model, model_swept, self.swept, self.final_view);
        }
        for i in 0..self.round.actors.len() {
            if order.contains(&i) {
                continue;
            }
            let (mut next, mut next_swept) = (model.clone(), model_swept.clone());
            if self.step(&mut next, &mut next_swept, i) {
                order.push(i);
                if self.search(&next, &next_swept, order) {
                    return true;
                }
                order.pop();
            }
        }
        false
    }

    /// Run actor `i` (open read-write, then its op) on `model`; whether its
    /// outcome is the one seen.
    fn step(&self, model: &mut Model, model_swept: &mut BTreeSet<String>, i: usize) -> bool {
        let seen = &self.seen[i].outcome;
        let opened = model.apply(&Op::Open(Mode::ReadWrite));
        if let Ok(Observation::Opened(report)) = &opened {
            model_swept.extend(report.swept.iter().cloned());
        }
        let expected = match (&self.round.actors[i], opened) {
            (_, Err(e)) => Err(e),
            (Some(op), Ok(_)) => match seen {
                // Explained by this order itself (an apply that meets a
                // branch), or else allowed to have had no effect if some
                // other actor could have caused it.
                Err(kind) if kind.is_retryable() => {
                    return retried(model, op, seen, || {
                        let others: Vec<Option<&Op>> = (self.round.actors.iter().enumerate())
                            .filter(|(j, _)| *j != i)
                            .map(|(_, op)| op.as_ref())
                            .collect();
                        caused(Some(op), &others, self.round.setup.is_some(), *kind)
                    });
                }
                _ => model.apply(op),
            },
            (None, Ok(observation)) => Ok(observation),
        };
        same_outcome(&expected, seen, &self.withdrawn)
    }
}

/// Whether the model's outcome explains the one seen: equal, except that
/// open reports are compared by where they migrated to (who swept what is
/// judged in aggregate), and a list may show names whose create withdrew
/// in the same round (a create writes its ref and then looks for the lock,
/// DESIGN's protocol: one that withdraws was briefly visible), and only
/// such names, beyond the model's.
pub(super) fn same_outcome(
    expected: &Outcome,
    seen: &Outcome,
    withdrawn: &BTreeSet<String>,
) -> bool {
    match (expected, seen) {
        (Ok(Observation::Opened(e)), Ok(Observation::Opened(o))) => e.to == o.to,
        (Ok(Observation::Branches(e)), Ok(Observation::Branches(o))) => {
            o.iter().all(|n| e.contains(n) || withdrawn.contains(n))
                && e.iter().all(|n| o.contains(n))
        }
        (e, o) => e == o,
    }
}

/// Whether one of `others` (the other actors' ops) could have caused
/// `mine`'s retryable `kind`: an apply for `schema_apply_in_progress`, a
/// create (whose ref is briefly visible) for an apply's
/// `blocking_branches`, and for `conflict` a writer of something `mine`
/// depends on (see [`Target`]). On a legacy graph every actor's open
/// migrates main, so each commits on main.
pub(super) fn caused(
    mine: Option<&Op>,
    others: &[Option<&Op>],
    legacy: bool,
    kind: ErrorKind,
) -> bool {
    match kind {
        ErrorKind::SchemaApplyInProgress => others
            .iter()
            .any(|op| matches!(op, Some(Op::ApplySchema(_)))),
        ErrorKind::BlockingBranches => others
            .iter()
            .any(|op| matches!(op, Some(Op::BranchCreate { .. }))),
        ErrorKind::Conflict => {
            let mine = touched(mine);
            others
                .iter()
                .any(|op| overlap(&mine, &written(*op, legacy)))
        }
        _ => false,
    }
}

/// What an op depends on or changes, as far as a racing writer can make
/// it answer `conflict`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    /// A branch's ref and tree: created, deleted, forked from.
    Ref(String),
    /// The branches forked from a branch: a create adds one, and a delete
    /// of the parent that sees it appear backs off.
    Dependents(String),
    /// A branch's manifest head: what a load, merge, apply or migration
    /// commits on.
    Head(String),
    Table(String),
    /// Every type's table (a merge or a schema apply).
    AnyTable,
    /// Main's schema epoch (an apply publishes it; a create checks it).
    Schema,
}

fn overlap(mine: &BTreeSet<Target>, theirs: &BTreeSet<Target>) -> bool {
    let table = |t: &Target| matches!(t, Target::Table(_) | Target::AnyTable);
    mine.iter().any(|m| {
        theirs.contains(m)
            || (table(m) && theirs.contains(&Target::AnyTable))
            || (*m == Target::AnyTable && theirs.iter().any(table))
    })
}

fn touched(op: Option<&Op>) -> BTreeSet<Target> {
    let (r, h) = (
        |b: &str| Target::Ref(b.to_string()),
        |b: &str| Target::Head(b.to_string()),
    );
    match op {
        Some(Op::BranchCreate { name, from }) => [r(name), r(from), Target::Schema].into(),
        Some(Op::BranchDelete { name }) => [r(name), Target::Dependents(name.clone())].into(),
        Some(Op::Load {
            branch, type_name, ..
        }) => [r(branch), h(branch), Target::Table(type_name.clone())].into(),
        Some(Op::Merge { source, target }) => {
            [r(source), r(target), h(source), h(target), Target::AnyTable].into()
        }
        Some(Op::ApplySchema(_)) => [h("main"), Target::AnyTable, Target::Schema].into(),
        // A list, or the open alone: only the open's migration commits.
        _ => [h("main")].into(),
    }
}

fn written(op: Option<&Op>, legacy: bool) -> BTreeSet<Target> {
    let (r, h) = (
        |b: &str| Target::Ref(b.to_string()),
        |b: &str| Target::Head(b.to_string()),
    );
    let mut out: BTreeSet<Target> = match op {
        Some(Op::BranchCreate { name, from }) => [r(name), Target::Dependents(from.clone())].into(),
        Some(Op::BranchDelete { name }) => [r(name), h(name)].into(),
        Some(Op::Load {
            branch, type_name, ..
        }) => [h(branch), Target::Table(type_name.clone())].into(),
        Some(Op::Merge { target, .. }) => [h(target), Target::AnyTable].into(),
        Some(Op::ApplySchema(_)) => [h("main"), Target::AnyTable, Target::Schema].into(),
        _ => BTreeSet::new(),
    };
    if legacy {
        out.insert(h("main"));
    }
    out
}

// The steps both judges take, rounds and histories alike.

/// Each legacy ref is swept by at most one open: every ref the opens say
/// they swept, once.
pub(super) fn swept_once<'a>(
    sweeps: impl Iterator<Item = &'a Vec<String>>,
) -> Result<BTreeSet<String>, String> {
    let mut swept = BTreeSet::new();
    for name in sweeps.flatten() {
        if !swept.insert(name.clone()) {
            return Err(format!("{name} was swept by two opens"));
        }
    }
    Ok(swept)
}

/// The names of creates that answered a retryable kind: withdrawn, yet
/// briefly visible to a list (see [`same_outcome`]).
pub(super) fn withdrawn<'a>(ops: impl Iterator<Item = (&'a Op, &'a Outcome)>) -> BTreeSet<String> {
    ops.filter_map(|(op, outcome)| match op {
        Op::BranchCreate { name, .. } if retryable(outcome) => Some(name.clone()),
        _ => None,
    })
    .collect()
}

/// A retryable answer: explained by this order itself (an apply that
/// meets a branch: `model` goes on from the op), or else allowed to have
/// had no effect if another actor could have `caused` it.
pub(super) fn retried(
    model: &mut Model,
    op: &Op,
    seen: &Outcome,
    caused: impl FnOnce() -> bool,
) -> bool {
    let mut tried = model.clone();
    if tried.apply(op) == *seen {
        *model = tried;
        return true;
    }
    caused()
}

/// An order that explained every answer explains the run when it ends as
/// the run did: the final view (read by a read-only handle) and, when the
/// opens say so, what was swept.
pub(super) fn ends_as_seen(
    model: &Model,
    model_swept: &BTreeSet<String>,
    seen_swept: Option<&BTreeSet<String>>,
    final_view: &View,
) -> bool {
    let mut model = model.clone();
    let _ = model.reopen(Mode::ReadOnly);
    seen_swept.is_none_or(|swept| model_swept == swept) && model.view() == *final_view
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_model::{LegacyStamp, OpenReport};

    /// Two openers of a legacy graph that each claim its one sweep (what a
    /// peer deriving reports from the refs says): refused when opens report
    /// their sweeps, admitted when they do not, and only while the final
    /// view shows the ref gone.
    #[test]
    fn who_swept_is_judged_only_when_opens_report_it() {
        let Op::WriteLegacy(graph) = Op::legacy(2, 1, &[], LegacyStamp::Default) else {
            unreachable!()
        };
        let round = Round {
            prelude: Vec::new(),
            swarm: None,
            setup: Some(graph),
            actors: vec![None, None],
        };
        let claims = |swept: &[&str]| Seen {
            swept: swept.iter().map(ToString::to_string).collect(),
            outcome: Ok(Observation::Opened(OpenReport {
                from: 2,
                to: 3,
                swept: swept.iter().map(ToString::to_string).collect(),
                kept: vec![],
            })),
            open_failed: false,
            open: Default::default(),
            op: Default::default(),
        };
        let mut model = Model::default();
        model
            .apply(&round.setup.clone().map(Op::WriteLegacy).unwrap())
            .unwrap();
        model.apply(&Op::Open(Mode::ReadWrite)).unwrap();
        model.apply(&Op::Open(Mode::ReadOnly)).unwrap();
        let swept_view = model.view();
        let both = [claims(&["__run__0"]), claims(&["__run__0"])];
        assert!(judge_with(&round, &both, &swept_view, true).is_err());
        assert!(judge_with(&round, &both, &swept_view, false).is_ok());
        // The control: one claim is what a reporting engine says.
        let one = [claims(&["__run__0"]), claims(&[])];
        assert!(judge_with(&round, &one, &swept_view, true).is_ok());
        // Unjudged claims still need the ref gone from the final view.
        let mut unswept = Model::default();
        unswept
            .apply(&round.setup.clone().map(Op::WriteLegacy).unwrap())
            .unwrap();
        unswept.apply(&Op::Open(Mode::ReadOnly)).unwrap();
        assert!(judge_with(&round, &both, &unswept.view(), false).is_err());
    }

    fn seen(outcome: Outcome, open_failed: bool) -> Seen {
        Seen {
            swept: vec![],
            outcome,
            open_failed,
            open: Default::default(),
            op: Default::default(),
        }
    }

    /// A round's divergence names one step, the same in every round the
    /// fault shows in: a raw storage error first, an open before an op;
    /// with no error, a step that should have failed.
    #[test]
    fn a_round_divergence_names_the_raw_error_first() {
        let round = Round {
            prelude: Vec::new(),
            swarm: None,
            setup: None,
            actors: vec![Some(Op::delete("a")), Some(Op::create("b", "main")), None],
        };
        let ok = Ok(Observation::Done);
        let parted = round_divergence(
            &round,
            &[
                seen(Err(ErrorKind::BranchNotFound), false),
                seen(Err(ErrorKind::Storage), false),
                seen(ok.clone(), false),
            ],
        );
        assert_eq!(
            (parted.op.as_str(), parted.engine.as_str()),
            ("concurrent BranchCreate", "storage")
        );
        // The control: without a raw error, the open that failed is named.
        let parted = round_divergence(
            &round,
            &[
                seen(Err(ErrorKind::BranchNotFound), false),
                seen(Err(ErrorKind::Conflict), true),
                seen(ok, false),
            ],
        );
        assert_eq!(
            (parted.op.as_str(), parted.engine.as_str()),
            ("concurrent Open on a current graph", "conflict")
        );
        // No error: the delete of a branch that is not there said done.
        let opened = Ok(Observation::Opened(OpenReport {
            from: 3,
            to: 3,
            ..OpenReport::default()
        }));
        let parted = round_divergence(
            &round,
            &[
                seen(Ok(Observation::Done), false),
                seen(Ok(Observation::Done), false),
                seen(opened, false),
            ],
        );
        assert_eq!(
            (
                parted.op.as_str(),
                parted.model.as_str(),
                parted.engine.as_str()
            ),
            ("concurrent BranchDelete", "branch_not_found", "done")
        );
    }

    /// An open of a graph the model refuses, that opened, comes before the
    /// raw errors its racing migrations then meet.
    #[test]
    fn a_round_divergence_names_a_refused_open_that_opened_first() {
        let Op::WriteLegacy(corrupt) = Op::legacy(2, 0, &[], LegacyStamp::Raw("abc".into())) else {
            unreachable!()
        };
        let round = Round {
            prelude: Vec::new(),
            swarm: None,
            setup: Some(corrupt),
            actors: vec![None, None],
        };
        let migrated = Ok(Observation::Opened(OpenReport {
            from: 1,
            to: 3,
            ..OpenReport::default()
        }));
        let parted = round_divergence(
            &round,
            &[seen(Err(ErrorKind::Storage), false), seen(migrated, false)],
        );
        assert_eq!(
            (
                parted.op.as_str(),
                parted.model.as_str(),
                parted.engine.as_str()
            ),
            (
                "concurrent Open on a v2 graph",
                "corrupt_stamp",
                "opened v1 to v3"
            )
        );
    }

    /// The causes a conflict may have, each with a control that is not one.
    #[test]
    fn a_conflict_needs_a_writer_of_what_it_depends_on() {
        let conflict =
            |mine: &Op, other: &Op| caused(Some(mine), &[Some(other)], false, ErrorKind::Conflict);
        let delete_a = Op::delete("a");
        // A delete backs off when a branch is forked from it meanwhile.
        assert!(conflict(&delete_a, &Op::create("b", "a")));
        assert!(!conflict(&delete_a, &Op::create("b", "main")));
        // A create backs off when its parent goes, or for a same-name racer.
        let create_b = Op::create("b", "a");
        assert!(conflict(&create_b, &delete_a));
        assert!(conflict(&create_b, &Op::create("b", "main")));
        assert!(!conflict(&create_b, &Op::create("c", "a")));
        assert!(!conflict(&create_b, &Op::BranchList));
        // On a legacy graph every opener commits on main.
        let list = Op::BranchList;
        assert!(!conflict(&list, &list));
        assert!(caused(
            Some(&list),
            &[Some(&list)],
            true,
            ErrorKind::Conflict
        ));
    }
}
