//! The damage campaign: every file of a corpus of graphs damaged in turn
//! (deleted, truncated at several lengths, garbled, made invalid JSON,
//! rolled back to an older version of itself, replaced by a directory; a
//! ref's numbers put out of range), every directory replaced by a file,
//! plus structural damage file edits do not reach (parent cycles, dangling
//! parents, refs without trees, trees without refs, a table missing, a
//! pinned table version missing, a stale version hint), and every command
//! run on the result as a separate `stampede` process with a time bound.
//! Judged against the contract's damage rules:
//!
//! - every command returns within the bound and never panics;
//! - an error names its kind, and damage is never the unclassified
//!   `storage`;
//! - a retryable answer promises a racer that can finish: with none (every
//!   command here runs alone), one that repeats unchanged is damage
//!   misnamed (the lock's answer counts only while `check` sees no lock);
//! - `check` and every read-only command write nothing;
//! - `check` is never healthy when a read-only command fails, or shows
//!   something other than the undamaged graph showed;
//! - `init` refuses and writes nothing;
//! - a read-write open that fails changes nothing.
//!
//! A failure replays from `damage:<graph>:<target>:<mutation>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stampede_model::{LegacyStamp, Mode, Op, Value, View};

use crate::adapter::{Stampede, SystemUnderTest};
use crate::budgets::Budgets;
use crate::files::{contents, Files};
use crate::tally::CampaignResult;
use crate::verdict::{Campaign, Failure};

/// How long any one command may take on a damaged graph.
pub const BOUND: Duration = Duration::from_secs(30);

/// A graph of the corpus: how it is built through the engine.
pub struct CorpusGraph {
    pub name: &'static str,
    /// The ops that build it; the files before the last one are the
    /// "older versions" a rollback restores.
    pub build: Vec<Op>,
    /// Branches whose rows a scan reads, and a branch a delete may take.
    pub branches: &'static [&'static str],
    pub deletable: &'static str,
}

fn person(name: &str) -> Vec<(String, Value)> {
    vec![("name".to_string(), Value::Str(name.into()))]
}

fn load(branch: &str, type_name: &str, names: &[&str]) -> Op {
    Op::Load {
        branch: branch.into(),
        type_name: type_name.into(),
        rows: names.iter().map(|n| person(n)).collect(),
    }
}

/// The types of the example schema, which every corpus graph has.
pub const TYPES: &[&str] = &["Person", "Company", "WorksAt"];

pub fn corpus() -> Vec<CorpusGraph> {
    vec![
        CorpusGraph {
            name: "fresh",
            build: vec![
                Op::Init,
                load("main", "Person", &["ann", "bob"]),
                Op::create("a", "main"),
                load("a", "Person", &["cat"]),
                Op::create("a/b", "a"),
                load("main", "Company", &["acme"]),
            ],
            branches: &["main", "a", "a/b"],
            deletable: "a/b",
        },
        CorpusGraph {
            name: "legacy-v1",
            build: vec![Op::legacy(
                1,
                2,
                &[("keep", Some("__run__0")), ("u", None)],
                LegacyStamp::Default,
            )],
            branches: &["main", "keep", "u"],
            deletable: "u",
        },
        CorpusGraph {
            name: "legacy-v2",
            build: vec![Op::legacy(
                2,
                3,
                &[("fork", Some("__run__1")), ("u", None)],
                LegacyStamp::Default,
            )],
            branches: &["main", "fork", "u"],
            deletable: "u",
        },
        CorpusGraph {
            name: "locked",
            build: vec![Op::Init, load("main", "Person", &["ann"]), Op::LeaveLock],
            branches: &["main"],
            deletable: "main",
        },
        CorpusGraph {
            name: "history",
            build: vec![
                Op::Init,
                load("main", "Person", &["ann"]),
                load("main", "Person", &["bob"]),
                Op::create("h", "main"),
                load("main", "Person", &["cat"]),
            ],
            branches: &["main", "h"],
            deletable: "h",
        },
    ]
}

/// What is done to one file (or, for `File`, to one directory).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mutation {
    Delete,
    Empty,
    Half,
    /// Truncated to its first byte.
    FirstByte,
    /// Truncated by its last byte.
    AllButLast,
    /// Truncated to a length drawn from its path, between 2 and all but 2
    /// bytes: over a corpus, every length some file's reader meets.
    SomeLength,
    Garble,
    InvalidJson,
    Older,
    /// Replaced by an empty directory of its name: the wrong kind of file
    /// system object where a file belongs.
    Directory,
    /// A ref whose `parentVersion` is far past any version its parent has.
    ParentVersionFar,
    /// A ref whose `parentVersion` is 0, which no dataset has.
    ParentVersionZero,
    /// A directory (and all under it) replaced by an empty file.
    File,
}

impl Mutation {
    pub const ALL: [Mutation; 13] = [
        Mutation::Delete,
        Mutation::Empty,
        Mutation::Half,
        Mutation::FirstByte,
        Mutation::AllButLast,
        Mutation::SomeLength,
        Mutation::Garble,
        Mutation::InvalidJson,
        Mutation::Older,
        Mutation::Directory,
        Mutation::ParentVersionFar,
        Mutation::ParentVersionZero,
        Mutation::File,
    ];

    fn name(self) -> &'static str {
        match self {
            Mutation::Delete => "delete",
            Mutation::Empty => "empty",
            Mutation::Half => "half",
            Mutation::FirstByte => "first-byte",
            Mutation::AllButLast => "all-but-last",
            Mutation::SomeLength => "some-length",
            Mutation::Garble => "garble",
            Mutation::InvalidJson => "invalid-json",
            Mutation::Older => "older",
            Mutation::Directory => "directory",
            Mutation::ParentVersionFar => "parent-version-far",
            Mutation::ParentVersionZero => "parent-version-zero",
            Mutation::File => "file",
        }
    }

    /// Whether this mutation applies to the file (or directory) `rel`.
    fn applies(self, built: &Built, rel: &str, is_dir: bool) -> bool {
        let is_ref = rel.starts_with("__manifest/_refs/branches/") && rel.ends_with(".json");
        match self {
            Mutation::File => is_dir,
            _ if is_dir => false,
            Mutation::InvalidJson => rel.ends_with(".json"),
            Mutation::Older => built.older.contains_key(Path::new(rel)),
            Mutation::ParentVersionFar | Mutation::ParentVersionZero => is_ref,
            _ => true,
        }
    }

    fn parse(name: &str) -> Option<Mutation> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Damage file edits one at a time do not reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Structural {
    ParentCycle,
    DanglingParent,
    RefWithoutTree,
    TreeWithoutRef,
    TableMissing,
    PinnedVersionMissing,
    HintMissing,
    HintStale,
}

impl Structural {
    pub const ALL: [Structural; 8] = [
        Structural::ParentCycle,
        Structural::DanglingParent,
        Structural::RefWithoutTree,
        Structural::TreeWithoutRef,
        Structural::TableMissing,
        Structural::PinnedVersionMissing,
        Structural::HintMissing,
        Structural::HintStale,
    ];

    fn name(self) -> &'static str {
        match self {
            Structural::ParentCycle => "parent-cycle",
            Structural::DanglingParent => "dangling-parent",
            Structural::RefWithoutTree => "ref-without-tree",
            Structural::TreeWithoutRef => "tree-without-ref",
            Structural::TableMissing => "table-missing",
            Structural::PinnedVersionMissing => "pinned-version-missing",
            Structural::HintMissing => "hint-missing",
            Structural::HintStale => "hint-stale",
        }
    }

    fn parse(name: &str) -> Option<Structural> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One damaged graph: a corpus graph, a file (or `*` for structural
/// damage), and what was done to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub graph: String,
    pub target: String,
    pub damage: String,
}

impl Case {
    pub fn token(&self) -> String {
        format!("damage:{}:{}:{}", self.graph, self.target, self.damage)
    }

    pub fn parse(token: &str) -> Option<Case> {
        let rest = token.strip_prefix("damage:")?;
        let (graph, rest) = rest.split_once(':')?;
        let (target, damage) = rest.rsplit_once(':')?;
        Some(Case {
            graph: graph.into(),
            target: target.into(),
            damage: damage.into(),
        })
    }
}

/// A corpus graph built once, where it stays: Lance records branch data
/// by absolute path, so a copy of a graph elsewhere still reads the
/// original's files. Each case damages the graph in place and restores it
/// byte for byte afterwards.
pub struct Built {
    pub graph: CorpusGraph,
    /// Owns the directory the graph lives in.
    _sut: Stampede,
    pub root: PathBuf,
    /// Every file of the undamaged graph.
    pristine: Files,
    /// The contents before the last build op of the files it changed
    /// (relative paths): what an `older` mutation restores.
    pub older: BTreeMap<PathBuf, Vec<u8>>,
    /// The graph as the engine showed it after each build op: the states
    /// its history held.
    history: Vec<View>,
    /// Each file's name in a case token (see [`stable_names`]), by its
    /// path under the root.
    names: BTreeMap<String, String>,
}

pub fn build(graph: CorpusGraph) -> Result<Built, String> {
    let mut sut = Stampede::new();
    let mut before = BTreeMap::new();
    let mut history = Vec::new();
    for (i, op) in graph.build.iter().enumerate() {
        if i + 1 == graph.build.len() {
            before = contents(Path::new(sut.root()));
        }
        sut.apply(op)
            .map_err(|kind| format!("building {}: {op:?} failed: {kind}", graph.name))?;
        history.push(sut.view());
    }
    let root = PathBuf::from(sut.root());
    let names = stable_names(&root);
    let pristine = contents(&root);
    let older = before
        .into_iter()
        .filter(|(path, old)| pristine.get(path) != Some(old))
        .filter_map(|(path, old)| Some((path.strip_prefix(&root).ok()?.to_path_buf(), old)))
        .collect();
    Ok(Built {
        graph,
        _sut: sut,
        root,
        pristine,
        older,
        history,
        names,
    })
}

/// A name for every file and directory under `root` that another build of
/// the same graph gives the same file: its path with generated names as
/// `*` (`files::generic`), and `#k` when several share that form, `k` its
/// place in the order they were written (read from their times, so only
/// right after a build). A token naming a data file then replays on any
/// build.
fn stable_names(root: &Path) -> BTreeMap<String, String> {
    let mut by_form: BTreeMap<String, Vec<(std::time::SystemTime, String)>> = BTreeMap::new();
    let paths = contents(root).into_keys().chain(directories(root));
    for path in paths {
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let rel = rel.to_string_lossy().into_owned();
        let written = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .unwrap_or(std::time::UNIX_EPOCH);
        let form = crate::files::generic(&rel);
        by_form.entry(form).or_default().push((written, rel));
    }
    let mut names = BTreeMap::new();
    for (form, mut paths) in by_form {
        paths.sort();
        let alone = paths.len() == 1 || !form.contains('*');
        for (k, (_, rel)) in paths.into_iter().enumerate() {
            let name = if alone {
                rel.clone()
            } else {
                format!("{form}#{k}")
            };
            names.insert(rel, name);
        }
    }
    names
}

impl Built {
    /// Put the graph back exactly as built.
    fn restore(&self) -> Result<(), String> {
        crate::files::restore(&self.root, &self.pristine)
    }
}

/// Every case of a built graph: each mutation that applies to each file
/// and directory, then every structural damage.
pub fn cases(built: &Built) -> Vec<Case> {
    let mut out = Vec::new();
    let files = contents(&built.root).into_keys().map(|path| (path, false));
    let targets: Vec<(PathBuf, bool)> = files
        .chain(directories(&built.root).into_iter().map(|d| (d, true)))
        .collect();
    for (path, is_dir) in targets {
        let rel = path
            .strip_prefix(&built.root)
            .expect("under the root")
            .to_string_lossy()
            .into_owned();
        let target = built
            .names
            .get(&rel)
            .cloned()
            .unwrap_or_else(|| rel.clone());
        for mutation in Mutation::ALL {
            if mutation.applies(built, &rel, is_dir) {
                out.push(Case {
                    graph: built.graph.name.into(),
                    target: target.clone(),
                    damage: mutation.name().into(),
                });
            }
        }
    }
    for structural in Structural::ALL {
        out.push(Case {
            graph: built.graph.name.into(),
            target: "*".into(),
            damage: structural.name().into(),
        });
    }
    out
}

/// The directories under `root` a `file` mutation replaces: those of the
/// graph's layout, up to three levels down (`__manifest/tree/<branch>`,
/// `tables/<type>/_versions`, ...), that hold a file (an empty one is not
/// part of what is restored: `files`). Deeper ones repeat the same kinds,
/// and each costs its commands Lance's retries of a failed listing.
fn directories(root: &Path) -> Vec<PathBuf> {
    let files = contents(root);
    let mut out: Vec<PathBuf> = files
        .keys()
        .flat_map(|file| file.ancestors().skip(1))
        .filter(|dir| dir.starts_with(root) && *dir != root)
        .filter(|dir| {
            dir.strip_prefix(root)
                .is_ok_and(|rel| rel.components().count() <= 3)
        })
        .map(Path::to_path_buf)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every `stride`-th case of each damage (from the first), so a sample
/// still judges every damage on this graph at least once.
pub fn sample(cases: Vec<Case>, stride: usize) -> Vec<Case> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    cases
        .into_iter()
        .filter(|case| {
            let n = seen.entry(case.damage.clone()).or_default();
            *n += 1;
            (*n - 1).is_multiple_of(stride.max(1))
        })
        .collect()
}

/// Apply a case's damage to a copy of its graph at `root`. `Ok(false)`:
/// this damage does not apply to this graph (nothing to do it to).
fn damage(built: &Built, case: &Case, root: &Path) -> Result<bool, String> {
    match Mutation::parse(&case.damage) {
        Some(mutation) => mutate_file(built, case, mutation, root),
        None => {
            let structural = Structural::parse(&case.damage).ok_or("an unknown damage")?;
            damage_structure(case, structural, root)
        }
    }
}

/// A case's damage to one file of the graph copy at `root`.
fn mutate_file(
    built: &Built,
    case: &Case,
    mutation: Mutation,
    root: &Path,
) -> Result<bool, String> {
    let io = |e: std::io::Error| format!("damaging {}: {e}", case.token());
    let rel = (built.names.iter())
        .find(|(_, name)| **name == case.target)
        .map_or(case.target.as_str(), |(rel, _)| rel.as_str());
    let path = root.join(rel);
    if mutation == Mutation::File {
        std::fs::remove_dir_all(&path).map_err(io)?;
        std::fs::write(&path, b"").map_err(io)?;
        return Ok(true);
    }
    let bytes = std::fs::read(&path).map_err(io)?;
    let truncated = |len: usize| std::fs::write(&path, &bytes[..len.min(bytes.len())]);
    match mutation {
        Mutation::Delete => std::fs::remove_file(&path).map_err(io)?,
        Mutation::Empty => std::fs::write(&path, b"").map_err(io)?,
        Mutation::Half => truncated(bytes.len() / 2).map_err(io)?,
        Mutation::FirstByte => truncated(1).map_err(io)?,
        Mutation::AllButLast => truncated(bytes.len().saturating_sub(1)).map_err(io)?,
        Mutation::SomeLength => {
            let span = bytes.len().saturating_sub(3).max(1) as u64;
            let draw = crate::seeds::mix(crate::seeds::hash_str(&case.target), 0x7e);
            truncated(2 + (draw % span) as usize).map_err(io)?
        }
        Mutation::Directory => {
            std::fs::remove_file(&path).map_err(io)?;
            std::fs::create_dir(&path).map_err(io)?;
        }
        Mutation::ParentVersionFar | Mutation::ParentVersionZero => {
            let mut json: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
            json["parentVersion"] = serde_json::Value::from(match mutation {
                Mutation::ParentVersionFar => 1u64 << 40,
                _ => 0,
            });
            std::fs::write(&path, json.to_string()).map_err(io)?;
        }
        Mutation::File => unreachable!("handled above"),
        Mutation::Garble => {
            let mut garbled = bytes.clone();
            let middle = garbled.len() / 2;
            let end = (middle + 16).min(garbled.len());
            garbled[middle..end].iter_mut().for_each(|b| *b = !*b);
            std::fs::write(&path, garbled).map_err(io)?;
        }
        Mutation::InvalidJson => std::fs::write(&path, b"{ not json").map_err(io)?,
        Mutation::Older => {
            let older = built.older.get(Path::new(rel)).ok_or("no older version")?;
            std::fs::write(&path, older).map_err(io)?;
        }
    }
    Ok(true)
}

/// A case's damage to the graph's structure (refs, trees, tables, hints)
/// at `root`.
fn damage_structure(case: &Case, structural: Structural, root: &Path) -> Result<bool, String> {
    let io = |e: std::io::Error| format!("damaging {}: {e}", case.token());
    let refs = root.join("__manifest/_refs/branches");
    let user_refs: Vec<PathBuf> = std::fs::read_dir(&refs)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    let set_parent = |file: &Path, parent: &str| -> Result<(), String> {
        let text = std::fs::read_to_string(file).map_err(io)?;
        let mut json: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        json["parentBranch"] = serde_json::Value::from(parent);
        std::fs::write(file, json.to_string()).map_err(io)
    };
    let name_of = |file: &Path| {
        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned());
        stem.map(|s| s.replace("%2F", "/")).unwrap_or_default()
    };
    match structural {
        Structural::ParentCycle => {
            let [a, b, ..] = user_refs.as_slice() else {
                return Ok(false);
            };
            set_parent(a, &name_of(b))?;
            set_parent(b, &name_of(a))?;
        }
        Structural::DanglingParent => {
            let Some(a) = user_refs.first() else {
                return Ok(false);
            };
            set_parent(a, "no-such-branch")?;
        }
        Structural::RefWithoutTree => {
            // A ref with a tree (the lock's ref has none).
            let tree_of = |a: &PathBuf| root.join("__manifest/tree").join(name_of(a));
            let Some(tree) = user_refs.iter().map(tree_of).find(|t| t.is_dir()) else {
                return Ok(false);
            };
            std::fs::remove_dir_all(tree).map_err(io)?;
        }
        Structural::TreeWithoutRef => {
            let Some(a) = user_refs.first() else {
                return Ok(false);
            };
            std::fs::remove_file(a).map_err(io)?;
        }
        Structural::TableMissing => {
            std::fs::remove_dir_all(root.join("tables/Person")).map_err(io)?;
        }
        Structural::PinnedVersionMissing => {
            // The newest version file of a table: the one main pins.
            let Some(newest) = newest_version_file(&root.join("tables/Person/_versions")) else {
                return Ok(false);
            };
            std::fs::remove_file(newest).map_err(io)?;
        }
        Structural::HintMissing | Structural::HintStale => {
            let hint = root.join("__manifest/_versions/latest_version_hint.json");
            if !hint.exists() {
                return Ok(false);
            }
            if structural == Structural::HintMissing {
                std::fs::remove_file(hint).map_err(io)?;
            } else {
                std::fs::write(hint, br#"{"version":1}"#).map_err(io)?;
            }
        }
    }
    Ok(true)
}

/// What a command printed and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ran {
    pub args: Vec<String>,
    /// `None`: killed at the bound.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Ran {
    fn error_kind(&self) -> Option<&str> {
        let line = self.stderr.lines().find(|l| l.starts_with("error["))?;
        line.strip_prefix("error[")?.split(']').next()
    }

    fn panicked(&self) -> bool {
        self.code == Some(101) || self.stderr.contains("panicked")
    }

    /// What is wrong with how this one command ended on a damaged graph:
    /// a hang, a panic, an unclassified `storage` error, or a failure that
    /// names no kind.
    pub fn problem(&self) -> Option<String> {
        let shown = self.args.join(" ");
        if self.code.is_none() {
            Some(format!(
                "`stampede {shown}` did not return within {BOUND:?}"
            ))
        } else if self.panicked() {
            Some(format!(
                "`stampede {shown}` panicked: {}",
                self.stderr.trim()
            ))
        } else if self.error_kind() == Some("storage") {
            Some(format!(
                "`stampede {shown}` answered an untyped error: {}",
                self.stderr.trim()
            ))
        } else if self.code == Some(1) && self.error_kind().is_none() && shown.starts_with("check")
        {
            // `check` exits 1 with a report, not an error line.
            None
        } else if self.code != Some(0) && self.error_kind().is_none() {
            Some(format!(
                "`stampede {shown}` exited {:?} without naming a kind",
                self.code
            ))
        } else {
            None
        }
    }
}

fn run(binary: &Path, args: &[String]) -> Ran {
    let mut child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the stampede binary starts");
    let start = Instant::now();
    let code = loop {
        match child.try_wait().expect("a child's status") {
            Some(status) => break status.code(),
            None if start.elapsed() > BOUND => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let output = child.wait_with_output().expect("a child's output");
    Ran {
        elapsed: start.elapsed(),
        args: args.to_vec(),
        code,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The read-only commands a maintainer points at a graph.
fn read_only_commands(built: &Built, root: &str) -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let mut out = vec![
        s(&["open", root, "--read-only", "--json"]),
        s(&["branch", "list", root, "--read-only", "--json"]),
        s(&["stamp", root, "--json"]),
    ];
    for branch in built.graph.branches {
        for type_name in TYPES {
            out.push(s(&["scan", root, branch, type_name, "--json"]));
        }
    }
    out
}

/// What the undamaged graph shows to the read-only commands: the baseline
/// `check` may not call healthy a departure from.
pub fn baseline(binary: &Path, built: &Built) -> Vec<Ran> {
    let root = built.root.to_string_lossy().into_owned();
    read_only_commands(built, &root)
        .iter()
        .map(|args| run(binary, args))
        .collect()
}

/// Damage a copy of the graph, run every command, and judge. `Ok(None)`:
/// the damage does not apply to this graph. The count is commands run.
pub fn judge_case(
    binary: &Path,
    built: &Built,
    pristine: &[Ran],
    case: &Case,
    mut trace: impl FnMut(&Ran),
) -> Result<Option<u64>, String> {
    built.restore()?;
    let verdict = judge_in_place(binary, built, pristine, case, &mut trace);
    built.restore()?;
    verdict
}

fn judge_in_place(
    binary: &Path,
    built: &Built,
    pristine: &[Ran],
    case: &Case,
    trace: &mut impl FnMut(&Ran),
) -> Result<Option<u64>, String> {
    let root_path = built.root.clone();
    if !damage(built, case, &root_path)? {
        return Ok(None);
    }
    let mut findings = Findings {
        problems: Vec::new(),
        commands: 0,
        trace,
    };
    let checks = judge_reads(binary, built, pristine, case, &mut findings);
    judge_init(binary, built, &mut findings)?;
    judge_writes(binary, built, &checks, &mut findings);
    if findings.problems.is_empty() {
        Ok(Some(findings.commands))
    } else {
        Err(findings.problems.join("\n"))
    }
}

/// What a damaged graph's commands showed: the problems, and how many
/// commands ran (each heard by the trace).
struct Findings<'t, T> {
    problems: Vec<String>,
    commands: u64,
    trace: &'t mut T,
}

impl<T: FnMut(&Ran)> Findings<'_, T> {
    fn judge(&mut self, ran: &Ran) {
        self.commands += 1;
        (self.trace)(ran);
        self.problems.extend(ran.problem());
    }
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|a| a.to_string()).collect()
}

/// Read-only: check (both depths) and the reads write nothing, and no
/// check says "healthy" about a graph a read cannot read as it was
/// written. The checks' runs, for the writes' judge.
fn judge_reads(
    binary: &Path,
    built: &Built,
    pristine: &[Ran],
    case: &Case,
    findings: &mut Findings<'_, impl FnMut(&Ran)>,
) -> Vec<Ran> {
    let root = built.root.to_string_lossy().into_owned();
    let before = contents(&built.root);
    let checks: Vec<Ran> = [
        args(&["check", &root, "--json"]),
        args(&["check", &root, "--deep", "--json"]),
    ]
    .iter()
    .map(|args| run(binary, args))
    .collect();
    let reads: Vec<Ran> = read_only_commands(built, &root)
        .iter()
        .map(|args| run(binary, args))
        .collect();
    for ran in checks.iter().chain(&reads) {
        findings.judge(ran);
    }
    if contents(&built.root) != before {
        findings.problems.push("a read-only command wrote".into());
    }
    let departed: Vec<String> = reads
        .iter()
        .zip(pristine)
        .filter(|(now, then)| (now.code, &now.stdout) != (then.code, &then.stdout))
        .map(|(now, _)| now.args.join(" "))
        .collect();
    for check in &checks {
        if check.code == Some(0) && !departed.is_empty() && !rolled_back(built, case) {
            findings.problems.push(format!(
                "`stampede {}` says healthy, but these read otherwise than the undamaged graph: {departed:?}",
                check.args.join(" ")
            ));
        }
    }
    checks
}

/// Init refuses, and writes nothing.
fn judge_init(
    binary: &Path,
    built: &Built,
    findings: &mut Findings<'_, impl FnMut(&Ran)>,
) -> Result<(), String> {
    let root = built.root.to_string_lossy().into_owned();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let init_schema = dir.path().join("schema");
    std::fs::write(&init_schema, stampede_engine::schema::EXAMPLE_SCHEMA)
        .map_err(|e| e.to_string())?;
    let before = contents(&built.root);
    let init = run(
        binary,
        &args(&["init", &root, "--schema", &init_schema.to_string_lossy()]),
    );
    findings.judge(&init);
    if init.code == Some(0) {
        (findings.problems).push("init wrote a graph over a damaged one".into());
    }
    if contents(&built.root) != before {
        findings.problems.push("a refused init wrote".into());
    }
    Ok(())
}

/// A read-write open that cannot proceed changes nothing; then the writes
/// a maintainer would try. Nothing races them: a retryable answer must not
/// come back unchanged.
fn judge_writes(
    binary: &Path,
    built: &Built,
    checks: &[Ran],
    findings: &mut Findings<'_, impl FnMut(&Ran)>,
) {
    let root = built.root.to_string_lossy().into_owned();
    let before = contents(&built.root);
    let lock_held = checks
        .first()
        .and_then(|c| serde_json::from_str::<serde_json::Value>(&c.stdout).ok())
        .is_some_and(|report| report["lock_held"] == serde_json::Value::Bool(true));
    let open = run(binary, &args(&["open", &root, "--json"]));
    findings.judge(&open);
    if open.code != Some(0) && contents(&built.root) != before {
        (findings.problems).push("a read-write open that failed changed the graph".into());
    }
    (findings.problems).extend(retried_in_vain(binary, &open, lock_held));
    for args in [
        args(&["branch", "create", &root, "damage-probe"]),
        args(&["branch", "delete", &root, built.graph.deletable]),
    ] {
        let ran = run(binary, &args);
        findings.judge(&ran);
        (findings.problems).extend(retried_in_vain(binary, &ran, lock_held));
    }
}

/// A retryable answer that comes back unchanged when the command runs
/// again with nothing racing it: a retry can never succeed, so the answer
/// misnames damage. The lock's answer is the contract's while the lock is
/// there (a dead apply's: `unlock` clears it), so it counts only when
/// `check` saw no lock.
fn retried_in_vain(binary: &Path, ran: &Ran, lock_held: bool) -> Option<String> {
    let kind = ran.error_kind()?;
    let persistent = match kind {
        "conflict" => true,
        "schema_apply_in_progress" => !lock_held,
        _ => false,
    };
    if !persistent {
        return None;
    }
    let again = run(binary, &ran.args);
    (again.error_kind() == Some(kind)).then(|| {
        format!(
            "`stampede {}` answered the retryable `{kind}` twice with nothing racing it: {}",
            ran.args.join(" "),
            again.stderr.trim()
        )
    })
}

/// Whether the damaged graph shows only states its history held, after a
/// version file of a dataset was deleted. Deleting the newest leaves the
/// very state a crash leaves just before that commit's manifest put (its
/// data and transaction files written, its version not), so no reader can
/// tell it from history and `check` may call it healthy. Each branch's
/// manifest is a dataset of its own, so each branch is held to its own
/// history: its rows must be rows it had after some build op, and the
/// stamp, refs and listing must each be ones the graph had.
fn rolled_back(built: &Built, case: &Case) -> bool {
    let version_deleted = case.damage == Mutation::Delete.name()
        && case.target.ends_with(".manifest")
        && case.target.contains("_versions/");
    if !version_deleted {
        return false;
    }
    let mut observer = Stampede::observing(&built.root.to_string_lossy());
    if observer.apply(&Op::Open(Mode::ReadOnly)).is_err() {
        return false;
    }
    let now = observer.view();
    let held = |same: &dyn Fn(&View) -> bool| built.history.iter().any(same);
    let rows_of = |view: &View, branch: &str| -> Vec<_> {
        view.rows
            .iter()
            .filter(|((b, _), _)| b == branch)
            .map(|(key, rows)| (key.clone(), rows.clone()))
            .collect()
    };
    held(&|v| v.stamp == now.stamp)
        && held(&|v| v.refs == now.refs)
        && held(&|v| v.list == now.list)
        && now
            .rows
            .keys()
            .map(|(branch, _)| branch)
            .all(|b| held(&|v| rows_of(v, b) == rows_of(&now, b)))
}

/// The newest version file in a Lance `_versions` directory. Lance names
/// versions `u64::MAX - version` (20 digits, newest first) or, in its
/// older scheme, by the version itself.
fn newest_version_file(versions: &Path) -> Option<PathBuf> {
    let version = |path: &Path| -> Option<u64> {
        let stem = path.file_stem()?.to_str()?;
        let n: u64 = stem.parse().ok()?;
        Some(if stem.len() == 20 { u64::MAX - n } else { n })
    };
    std::fs::read_dir(versions)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "manifest"))
        .filter_map(|p| Some((version(&p)?, p)))
        .max()
        .map(|(_, p)| p)
}

/// The `stampede` binary the commands run as (as concurrent actors find it).
pub fn binary() -> PathBuf {
    crate::binary::stampede_binary()
}

/// Units per corpus graph: its cases are dealt out to this many units, so
/// that the `--jobs` of a plan share the biggest graph's cases too.
pub const STRIPES: usize = 4;

/// The damage campaign's units: every stripe of every corpus graph.
pub fn units(_: &Budgets) -> u32 {
    (corpus().len() * STRIPES) as u32
}

/// Run unit `index` of the damage campaign: stripe `index % STRIPES` of
/// corpus graph `index / STRIPES`, i.e. every `STRIPES`-th of its cases
/// (of a sample's: every `damage_stride`-th of each damage). Its units are
/// the cases judged, its ops the commands run.
pub fn run_unit(budgets: &Budgets, index: u32) -> CampaignResult {
    let index = index as usize;
    run_stripe(
        index / STRIPES,
        budgets.damage_stride as usize,
        index % STRIPES,
        STRIPES,
    )
}

/// Every case of corpus graph `index` (of a sample's: every `stride`-th
/// of each damage).
pub fn run_graph(index: usize, stride: usize) -> CampaignResult {
    run_stripe(index, stride, 0, 1)
}

/// Cases `stripe`, `stripe + stripes`, ... of corpus graph `index`.
fn run_stripe(index: usize, stride: usize, stripe: usize, stripes: usize) -> CampaignResult {
    let mut result = CampaignResult::new(Campaign::Damage);
    let graph = corpus().into_iter().nth(index).expect("a corpus graph");
    let built = match build(graph) {
        Ok(b) => b,
        Err(message) => {
            result.failures.push(Failure::new(
                Campaign::Damage,
                format!("damage:{}:*:build", corpus()[index].name),
                message,
            ));
            return result;
        }
    };
    let binary = binary();
    let pristine = baseline(&binary, &built);
    let cases = sample(cases(&built), stride);
    for case in cases.into_iter().skip(stripe).step_by(stripes) {
        match judge_case(&binary, &built, &pristine, &case, |_| {}) {
            Ok(None) => {}
            Ok(Some(n)) => {
                result.units += 1;
                result.ops += n;
            }
            Err(message) => {
                result.units += 1;
                (result.failures).push(Failure::new(Campaign::Damage, case.token(), message));
            }
        }
    }
    result
}

/// Re-run one damaged graph, printing every command and how it ended.
pub fn replay(token: &str) -> Result<bool, String> {
    let case = Case::parse(token).ok_or_else(|| format!("not a damage token: {token}"))?;
    let graph = corpus()
        .into_iter()
        .find(|g| g.name == case.graph)
        .ok_or_else(|| format!("no corpus graph {:?}", case.graph))?;
    let built = build(graph)?;
    let binary = binary();
    let pristine = baseline(&binary, &built);
    let verdict = judge_case(&binary, &built, &pristine, &case, |ran| {
        println!(
            "stampede {}\n  => {:?} in {:.2} s{}",
            ran.args.join(" "),
            ran.code,
            ran.elapsed.as_secs_f64(),
            ran.stderr
                .lines()
                .next()
                .map(|l| format!(" {l}"))
                .unwrap_or_default()
        )
    });
    match verdict {
        Ok(None) => {
            println!("{token}: this damage does not apply to the graph");
            Ok(true)
        }
        Ok(Some(_)) => {
            println!("{token}: passes");
            Ok(true)
        }
        Err(why) => {
            println!("FAIL:\n{why}");
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(args: &[&str], code: Option<i32>, stderr: &str) -> Ran {
        Ran {
            args: args.iter().map(|a| a.to_string()).collect(),
            code,
            stdout: String::new(),
            stderr: stderr.into(),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn a_command_is_judged_by_how_it_ended() {
        let fine = [
            ran(&["scan", "g", "main", "Person"], Some(0), ""),
            ran(
                &["scan", "g", "main", "Person"],
                Some(1),
                "error[missing_data]: x",
            ),
            ran(&["check", "g"], Some(1), ""),
        ];
        assert!(fine.iter().all(|r| r.problem().is_none()));
        let hung = ran(&["check", "g"], None, "");
        assert!(hung.problem().unwrap().contains("did not return"));
        let panicked = ran(&["scan", "g"], Some(101), "thread 'main' panicked at x");
        assert!(panicked.problem().unwrap().contains("panicked"));
        let untyped = ran(&["branch", "list", "g"], Some(1), "error[storage]: raw");
        assert!(untyped.problem().unwrap().contains("untyped"));
        let unnamed = ran(&["open", "g"], Some(1), "something went wrong");
        assert!(unnamed.problem().unwrap().contains("without naming a kind"));
    }

    #[test]
    fn tokens_name_the_graph_the_file_and_the_damage() {
        let case = Case {
            graph: "fresh".into(),
            target: "__manifest/_refs/branches/a.json".into(),
            damage: "garble".into(),
        };
        assert_eq!(Case::parse(&case.token()), Some(case));
    }

    #[test]
    fn a_sample_judges_every_damage_at_least_once() {
        let case = |target: &str, damage: &str| Case {
            graph: "g".into(),
            target: target.into(),
            damage: damage.into(),
        };
        let all = vec![
            case("a", "delete"),
            case("b", "delete"),
            case("c", "delete"),
            case("a", "garble"),
            case("*", "parent-cycle"),
        ];
        let picked: Vec<String> = sample(all.clone(), 2)
            .iter()
            .map(|c| format!("{}:{}", c.target, c.damage))
            .collect();
        assert_eq!(
            picked,
            ["a:delete", "c:delete", "a:garble", "*:parent-cycle"]
        );
        assert_eq!(sample(all.clone(), 1), all);
    }

    /// Deleting main's newest `__manifest` version rolls the graph back to
    /// the state before its last commit: accepted, but only because that
    /// state is in the recorded history (the control forgets all of it but
    /// the final state).
    #[test]
    fn a_deleted_newest_version_passes_only_as_a_state_the_history_held() {
        let history = corpus().into_iter().find(|g| g.name == "history").unwrap();
        let mut built = build(history).expect("the corpus graph builds");
        let newest =
            newest_version_file(&built.root.join("__manifest/_versions")).expect("a version file");
        let newest = newest.file_name().unwrap().to_string_lossy();
        let case = Case {
            graph: "history".into(),
            target: format!("__manifest/_versions/{newest}"),
            damage: "delete".into(),
        };
        assert!(damage(&built, &case, &built.root.clone()).unwrap());
        assert!(rolled_back(&built, &case), "{}", case.token());
        let garbled = Case {
            damage: "garble".into(),
            ..case.clone()
        };
        assert!(!rolled_back(&built, &garbled));
        // Control: the same state, with the build's last op as the only
        // history, is a departure.
        built.history.drain(..built.history.len() - 1);
        assert!(!rolled_back(&built, &case));
        built.restore().unwrap();
    }
}
