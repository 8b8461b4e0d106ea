//! The interesting overlaps a concurrent run actually had, counted from
//! when each actor's open and op were in flight (wall-clock spans, so actor
//! processes on one machine compare too), never from what the generator
//! meant: a shape the whole of `make verify` never produces shows as a
//! zero in its figures.

use std::collections::BTreeSet;

use stampede_model::Op;

use super::history::History;
use super::{Round, Seen};

/// When something was in flight: microseconds of the wall clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    /// The wall clock now, in microseconds.
    pub fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64)
    }

    /// A span from `start` to now.
    pub fn since(start: u64) -> Span {
        Span {
            start,
            end: Span::now(),
        }
    }

    fn overlaps(self, other: Span) -> bool {
        self.start <= other.end && other.start <= self.end && self.end > 0 && other.end > 0
    }
}

/// An overlap worth having: each is the shape of a race this area has had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shape {
    /// An apply in flight while a create was (the lock's handshake).
    ApplyAndCreate,
    /// Two loads of one key of one table on one branch (a lost update).
    TwoWritersOfOneKey,
    /// An open sweeping a `__run__` ref while a create of that name ran
    /// (finding 39).
    SweepAndCreateOfItsName,
    /// A delete of a branch while a create forked from it.
    DeleteAndCreateFromIt,
    /// A delete of a branch while a create of its name ran (finding 39's
    /// create).
    DeleteAndCreateOfItsName,
    /// A `check` while a sweep or a delete ran (issue #33).
    CheckAndCleanup,
}

impl Shape {
    pub const ALL: [Shape; 6] = [
        Shape::ApplyAndCreate,
        Shape::TwoWritersOfOneKey,
        Shape::SweepAndCreateOfItsName,
        Shape::DeleteAndCreateFromIt,
        Shape::DeleteAndCreateOfItsName,
        Shape::CheckAndCleanup,
    ];

    /// Its name in reports and figures.
    pub fn name(self) -> &'static str {
        match self {
            Shape::ApplyAndCreate => "apply ∥ create",
            Shape::TwoWritersOfOneKey => "two loads of one key",
            Shape::SweepAndCreateOfItsName => "sweep ∥ create of a swept name",
            Shape::DeleteAndCreateFromIt => "delete ∥ create from it",
            Shape::DeleteAndCreateOfItsName => "delete ∥ create of its name",
            Shape::CheckAndCleanup => "check ∥ sweep or delete",
        }
    }
}

/// One thing an actor did, and when.
struct Act<'a> {
    op: &'a Op,
    span: Span,
}

/// The shapes a single-op round had.
pub fn of_round(round: &Round, seen: &[Seen]) -> BTreeSet<Shape> {
    let acts: Vec<Act> = (round.actors.iter().zip(seen))
        .filter(|(_, s)| !s.open_failed)
        .filter_map(|(op, s)| {
            Some(Act {
                op: op.as_ref()?,
                span: s.op,
            })
        })
        .collect();
    let sweeps: Vec<(&[String], Span)> =
        seen.iter().map(|s| (s.swept.as_slice(), s.open)).collect();
    shapes(&acts, &sweeps)
}

/// The shapes a history had.
pub fn of_history(_history: &History, events: &[Vec<super::history::Event>]) -> BTreeSet<Shape> {
    let span = |e: &super::history::Event| Span {
        start: e.start,
        end: e.end,
    };
    let acts: Vec<Act> = events
        .iter()
        .flatten()
        .filter(|e| !matches!(e.op, Op::Open(_)))
        .map(|e| Act {
            op: &e.op,
            span: span(e),
        })
        .collect();
    let sweeps: Vec<(&[String], Span)> = events
        .iter()
        .flatten()
        .filter(|e| !e.swept.is_empty())
        .map(|e| (e.swept.as_slice(), span(e)))
        .collect();
    shapes(&acts, &sweeps)
}

fn shapes(acts: &[Act], sweeps: &[(&[String], Span)]) -> BTreeSet<Shape> {
    let mut out = BTreeSet::new();
    for (i, a) in acts.iter().enumerate() {
        for b in &acts[i + 1..] {
            if !a.span.overlaps(b.span) {
                continue;
            }
            for (x, y) in [(a, b), (b, a)] {
                out.extend(pair(x.op, y.op));
            }
        }
        for (swept, span) in sweeps {
            if !a.span.overlaps(*span) || swept.is_empty() {
                continue;
            }
            match a.op {
                Op::BranchCreate { name, .. } if swept.contains(name) => {
                    out.insert(Shape::SweepAndCreateOfItsName);
                }
                Op::Check => {
                    out.insert(Shape::CheckAndCleanup);
                }
                _ => {}
            }
        }
    }
    out
}

/// The shape two overlapping ops make, `x` first.
fn pair(x: &Op, y: &Op) -> Option<Shape> {
    match (x, y) {
        (Op::ApplySchema(_), Op::BranchCreate { .. }) => Some(Shape::ApplyAndCreate),
        (
            Op::Load {
                branch: b1,
                type_name: t1,
                rows: r1,
            },
            Op::Load {
                branch: b2,
                type_name: t2,
                rows: r2,
            },
        ) if b1 == b2
            && t1 == t2
            && r1
                .iter()
                .any(|row| r2.iter().any(|other| key(row) == key(other))) =>
        {
            Some(Shape::TwoWritersOfOneKey)
        }
        (Op::BranchDelete { name }, Op::BranchCreate { from, .. }) if from == name => {
            Some(Shape::DeleteAndCreateFromIt)
        }
        (Op::BranchDelete { name }, Op::BranchCreate { name: created, .. }) if created == name => {
            Some(Shape::DeleteAndCreateOfItsName)
        }
        (Op::Check, Op::BranchDelete { .. }) => Some(Shape::CheckAndCleanup),
        _ => None,
    }
}

/// A row's key (its `name`, the example schema's `Person` key).
fn key(row: &stampede_model::RowInput) -> Option<&stampede_model::Value> {
    row.iter()
        .find(|(field, _)| field == "name")
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: u64, end: u64) -> Span {
        Span { start, end }
    }

    #[test]
    fn only_overlaps_count() {
        let create = Op::create("a", "main");
        let delete = Op::delete("a");
        let acts = |second: Span| {
            vec![
                Act {
                    op: &delete,
                    span: at(1, 5),
                },
                Act {
                    op: &create,
                    span: second,
                },
            ]
        };
        assert_eq!(
            shapes(&acts(at(4, 9)), &[]),
            BTreeSet::from([Shape::DeleteAndCreateOfItsName])
        );
        // The control: one after the other is no shape.
        assert!(shapes(&acts(at(6, 9)), &[]).is_empty());
        // A sweep of `a` overlapping the create.
        let swept = vec!["a".to_string()];
        let only_create = [Act {
            op: &create,
            span: at(4, 9),
        }];
        assert_eq!(
            shapes(&only_create, &[(&swept, at(0, 5))]),
            BTreeSet::from([Shape::SweepAndCreateOfItsName])
        );
    }
}
