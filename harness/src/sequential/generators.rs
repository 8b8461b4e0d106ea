//! Strategies for the sequential campaign: small alphabets so that names
//! collide, a hostile alphabet for the name rules, and targets picked by
//! index into the model's refs so a shrink never invalidates them.

use proptest::prelude::*;
use proptest::sample::Index;
use stampede_model::{LegacyGraph, LegacyStamp, Mode};

/// Names that collide with each other, with legacy refs and with the rules.
pub const TINY: &[&str] = &[
    "a",
    "b",
    "a/b",
    "c",
    "__run__0",
    "__run__1",
    "__run__a/x",
    "main",
];

/// Names each of which breaks, or nearly breaks, one rule.
pub fn hostile() -> Vec<String> {
    let mut names: Vec<String> = [
        " a",
        "a ",
        "\ta",
        "",
        "é",
        "数据/ü",
        "a/b/c",
        "..",
        "a..b",
        "a//b",
        "/a",
        "a/",
        "a.lock",
        "a:b",
        "Main",
        "MAIN",
        "__RUN__x",
        "__run__",
        "__schema_apply_lock__",
        "__schema_apply_lock__/x",
        "/__schema_apply_lock__",
        " __schema_apply_lock__",
        "x/__schema_apply_lock__",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.push("x".repeat(210));
    names.push("x".repeat(211));
    names.push("é".repeat(36));
    names
}

/// Valid names a legacy writer may have used for user branches.
/// `__runs` only looks like a legacy run: the sweep must keep it.
const LEGACY_USER: &[&str] = &["u", "v", "w/x", "__RUN__y", "a", "__runs"];

const RAW_STAMPS: &[&str] = &["1", "2", "3", "4", "99", "abc", " 3", "0", "03", ""];

/// A branch-name argument, resolved against the model when applied.
#[derive(Clone, Debug)]
pub enum NameChoice {
    /// One of the model's refs (`main` when there are none).
    Existing(Index),
    Named(String),
}

pub fn name_choice() -> impl Strategy<Value = NameChoice> {
    let hostile = hostile();
    prop_oneof![
        5 => any::<Index>().prop_map(NameChoice::Existing),
        5 => proptest::sample::select(TINY).prop_map(|s| NameChoice::Named(s.to_string())),
        2 => proptest::sample::select(hostile).prop_map(NameChoice::Named),
    ]
}

pub fn from_choice() -> impl Strategy<Value = NameChoice> {
    prop_oneof![
        4 => Just(NameChoice::Named("main".to_string())),
        3 => any::<Index>().prop_map(NameChoice::Existing),
        1 => name_choice(),
    ]
}

pub fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![3 => Just(Mode::ReadWrite), 2 => Just(Mode::ReadOnly)]
}

/// A graph as an older engine left it: `__run__*` refs, user branches
/// forked from main, from a `__run__*` ref or from each other, and a stamp
/// that is usually the version's own.
pub fn legacy_graph() -> impl Strategy<Value = LegacyGraph> {
    let stamp = prop_oneof![
        8 => Just(LegacyStamp::Default),
        1 => Just(LegacyStamp::Absent),
        2 => proptest::sample::select(RAW_STAMPS).prop_map(|s| LegacyStamp::Raw(s.to_string())),
    ];
    let users = proptest::collection::vec(
        (proptest::sample::select(LEGACY_USER), any::<Index>()),
        0..=3,
    );
    (1u32..=2, 0usize..=3, users, stamp).prop_map(|(version, runs, users, stamp)| {
        let mut branches: Vec<(String, Option<String>)> = Vec::new();
        for (name, parent_pick) in users {
            if branches.iter().any(|(n, _)| n == name) {
                continue;
            }
            // Parents: main, any `__run__<i>`, or an earlier user branch.
            let mut parents: Vec<Option<String>> = vec![None];
            parents.extend((0..runs).map(|i| Some(format!("__run__{i}"))));
            parents.extend(branches.iter().map(|(n, _)| Some(n.clone())));
            branches.push((name.to_string(), parent_pick.get(&parents).clone()));
        }
        LegacyGraph {
            version,
            run_branches: runs,
            branches,
            stamp,
        }
    })
}

/// Types a load or scan names: the example's, the ones schema changes add,
/// and one that never exists.
pub const TYPES: &[&str] = &[
    "Person", "Person", "Company", "WorksAt", "Project", "Funds", "Nope",
];

/// A schema change, resolved against the model's schema when applied.
#[derive(Clone, Debug)]
pub enum SchemaPick {
    /// Add an optional property to an existing type.
    AddProperty(Index, usize),
    /// Add `node Project { id: I64 @key }`.
    AddProject,
    /// Add `edge Funds: Company -> Project` (and Project if missing).
    AddFunds,
    Same,
    RemoveProperty(Index),
    RetypeProperty(Index),
    AddRequiredProperty(Index),
    RemoveType(Index),
    Malformed,
}

/// Optional properties a change may add.
pub const NEW_PROPERTIES: &[(&str, stampede_model::schema::PropType)] = &[
    ("email", stampede_model::schema::PropType::String),
    ("active", stampede_model::schema::PropType::Bool),
    ("rank", stampede_model::schema::PropType::I64),
];

pub fn schema_pick() -> impl Strategy<Value = SchemaPick> {
    prop_oneof![
        6 => (any::<Index>(), 0..NEW_PROPERTIES.len()).prop_map(|(t, p)| SchemaPick::AddProperty(t, p)),
        3 => Just(SchemaPick::AddProject),
        2 => Just(SchemaPick::AddFunds),
        2 => Just(SchemaPick::Same),
        1 => any::<Index>().prop_map(SchemaPick::RemoveProperty),
        1 => any::<Index>().prop_map(SchemaPick::RetypeProperty),
        1 => any::<Index>().prop_map(SchemaPick::AddRequiredProperty),
        1 => any::<Index>().prop_map(SchemaPick::RemoveType),
        1 => Just(SchemaPick::Malformed),
    ]
}

/// One row, shaped for whatever type it is loaded into when applied.
#[derive(Clone, Debug)]
pub struct RowPick {
    pub key: u8,
    pub value: u8,
    /// 1 in 8 rows breaks its type on purpose.
    pub corrupt: Option<u8>,
}

pub fn row_picks() -> impl Strategy<Value = Vec<RowPick>> {
    let row = (
        any::<u8>(),
        any::<u8>(),
        proptest::option::weighted(0.12, any::<u8>()),
    )
        .prop_map(|(key, value, corrupt)| RowPick {
            key,
            value,
            corrupt,
        });
    proptest::collection::vec(row, 1..=3)
}
