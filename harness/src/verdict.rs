//! What a campaign's unit concludes, in the words every report uses: the
//! campaigns' names, a failure with the token that replays it, and where
//! an engine and the model parted. A low layer: every campaign and the
//! plan import it; it imports no campaign and not the plan.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use stampede_model::{ErrorKind, Observation, Op, Outcome, StampState, StampView, View};

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Campaign {
    /// Random op sequences, engine vs model, op by op.
    Sequential,
    /// Rounds of concurrent actors, judged against serial orders.
    Concurrent,
    /// Every writing op killed at each of its durable writes.
    Crash,
    /// The sequential alphabet under a seeded storage fault plan.
    Faults,
    /// The control-plane protocols under loom (a `cargo test` of the
    /// protocol crate; needs the source tree and cargo).
    Loom,
    /// Every file of a corpus of graphs damaged in turn, every command run
    /// on the result as a process, judged by the damage rules.
    Damage,
}

impl Campaign {
    pub fn name(self) -> &'static str {
        match self {
            Campaign::Sequential => "sequential",
            Campaign::Concurrent => "concurrent",
            Campaign::Crash => "crash",
            Campaign::Faults => "faults",
            Campaign::Loom => "loom",
            Campaign::Damage => "damage",
        }
    }

    /// Whether the campaign has no end of its own (its units are generated
    /// from seeds), so a time budget decides how many it runs; the others
    /// enumerate a fixed set of units and always run all of it.
    pub fn open_ended(self) -> bool {
        matches!(
            self,
            Campaign::Sequential | Campaign::Concurrent | Campaign::Faults
        )
    }

    /// Whether it runs with its graphs on S3 (`verify --s3`): the damage
    /// campaign rewrites graph files on disk, and loom has no graphs.
    /// Whether it can judge a peer engine over the wire (which offers no
    /// storage probe: no crash, fault or schedule, and graphs of its own
    /// layout, so no damage).
    pub fn runs_on_peers(self) -> bool {
        matches!(self, Campaign::Sequential | Campaign::Concurrent)
    }

    pub fn runs_on_s3(self) -> bool {
        matches!(
            self,
            Campaign::Sequential | Campaign::Concurrent | Campaign::Faults | Campaign::Crash
        )
    }

    /// What the table counts: crash scenarios run as many states.
    pub fn unit(self) -> &'static str {
        match self {
            Campaign::Sequential | Campaign::Faults | Campaign::Damage => "cases",
            Campaign::Concurrent => "rounds",
            Campaign::Crash => "states",
            Campaign::Loom => "models",
        }
    }

    /// The token of a case of seeded op sequences (sequential, faults):
    /// `seq:SEED:MAX_OPS` or `faults:SEED:MAX_OPS`, the seed in hex.
    pub fn case_token(self, case_seed: u64, max_ops: usize) -> String {
        format!("{}:{case_seed:016x}:{max_ops}", self.case_prefix())
    }

    /// The case seed and op bound of a [`Campaign::case_token`] of this
    /// campaign.
    pub fn parse_case_token(self, token: &str) -> Option<(u64, usize)> {
        let rest = token.strip_prefix(self.case_prefix())?;
        let mut parts = rest.strip_prefix(':')?.split(':');
        let seed = u64::from_str_radix(parts.next()?, 16).ok()?;
        let max_ops = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some((seed, max_ops))
    }

    fn case_prefix(self) -> &'static str {
        match self {
            Campaign::Sequential => "seq",
            other => other.name(),
        }
    }
}

/// One failure of any campaign, with the token that replays it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub campaign: Campaign,
    /// The unit's index in its campaign (set by the plan's loop): merged
    /// shards list failures in the order one run would.
    #[serde(default)]
    pub unit: u32,
    /// `stampede replay <this>` re-runs it (loom: a command to run).
    pub replay: String,
    pub message: String,
    /// Where engine and model parted, when the campaign can say in words
    /// a table groups by (the sequential and concurrent campaigns).
    /// (Boxed: a failure travels in `Result`s, and is rare.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divergence: Option<Box<Divergence>>,
}

/// Where an engine and the model parted: the op, and what each answered,
/// each as one word (an error kind, or the name of the observation). The
/// violations table of a peer (`make peer-omnigraph`) groups failures by
/// it: one row per distinct divergence, however many cases showed it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Divergence {
    pub op: String,
    pub model: String,
    pub engine: String,
}

impl Divergence {
    /// `op` answered `engine` where the model answered `model`.
    pub fn of_outcomes(op: &Op, model: &Outcome, engine: &Outcome) -> Self {
        let (model, mut engine) = (outcome_word(model), outcome_word(engine));
        if model == engine {
            engine.push_str(" (other content)");
        }
        Divergence {
            op: op.name().to_string(),
            model,
            engine,
        }
    }

    /// After `op`, the views differed: the engine's column names the
    /// parts that differ (a stamp by its state on each side, else the
    /// model's column says only "view").
    pub fn of_views(op: &Op, model: &View, engine: &View) -> Self {
        let model_word = if model.stamp == engine.stamp {
            "view".to_string()
        } else {
            format!("view with stamp {}", stamp_word(&model.stamp))
        };
        Divergence {
            op: format!("{} (view after)", op.name()),
            model: model_word,
            engine: format!("view differs: {}", ViewDiff::of(engine, model).parts()),
        }
    }
}

/// The parts of two views that differ, the engine's against the model's:
/// named in a divergence's column (`parts`), in full in a failure's
/// message (`Display`).
pub struct ViewDiff<'a> {
    engine: &'a View,
    model: &'a View,
    rows: BTreeSet<&'a (String, String)>,
}

impl<'a> ViewDiff<'a> {
    pub fn of(engine: &'a View, model: &'a View) -> Self {
        let rows = (engine.rows.keys().chain(model.rows.keys()))
            .filter(|key| engine.rows.get(*key) != model.rows.get(*key))
            .collect();
        ViewDiff {
            engine,
            model,
            rows,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.parts().is_empty()
    }

    /// The differing parts by name: a stamp by the engine's state, rows by
    /// their types.
    pub fn parts(&self) -> String {
        let (engine, model) = (self.engine, self.model);
        let mut parts = Vec::new();
        if model.stamp != engine.stamp {
            parts.push(format!("stamp {}", stamp_word(&engine.stamp)));
        }
        if model.refs != engine.refs {
            parts.push("refs".to_string());
        }
        if model.list != engine.list {
            parts.push("list".to_string());
        }
        let types: BTreeSet<&str> = self.rows.iter().map(|(_, t)| t.as_str()).collect();
        if !types.is_empty() {
            let types: Vec<&str> = types.into_iter().collect();
            parts.push(format!("rows of {}", types.join(", ")));
        }
        if engine.off_schema != model.off_schema {
            parts.push("branches off main's schema".to_string());
        }
        parts.join("; ")
    }
}

/// Every differing part with both sides' values.
impl std::fmt::Display for ViewDiff<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (engine, model) = (self.engine, self.model);
        let mut parts = Vec::new();
        let mut differs = |part: &str, e: &dyn std::fmt::Debug, m: &dyn std::fmt::Debug| {
            parts.push(format!("{part} engine {e:?} model {m:?}"));
        };
        if engine.stamp != model.stamp {
            differs("stamp", &engine.stamp, &model.stamp);
        }
        if engine.refs != model.refs {
            differs("refs", &engine.refs, &model.refs);
        }
        if engine.list != model.list {
            differs("list", &engine.list, &model.list);
        }
        for key in &self.rows {
            let part = format!("rows {}/{}", key.0, key.1);
            differs(&part, &engine.rows.get(*key), &model.rows.get(*key));
        }
        if engine.off_schema != model.off_schema {
            let part = "branches off main's schema";
            differs(part, &engine.off_schema, &model.off_schema);
        }
        f.write_str(&parts.join("; "))
    }
}

/// An outcome in one word: its error kind, or its observation's name (an
/// open with where it migrated from and to).
pub fn outcome_word(outcome: &Outcome) -> String {
    match outcome {
        Err(kind) => kind.name().to_string(),
        Ok(Observation::Opened(report)) => format!("opened v{} to v{}", report.from, report.to),
        Ok(Observation::Done) => "done".into(),
        Ok(Observation::Branches(_)) => "branches".into(),
        Ok(Observation::Stamp(_)) => "stamp".into(),
        Ok(Observation::Applied { applied, .. }) => if *applied {
            "applied"
        } else {
            "nothing to apply"
        }
        .into(),
        Ok(Observation::Loaded(_)) => "loaded".into(),
        Ok(Observation::Rows(_)) => "rows".into(),
        Ok(Observation::Unlocked(_)) => "unlocked".into(),
        Ok(Observation::Checked { healthy: true }) => "healthy".into(),
        Ok(Observation::Checked { healthy: false }) => "unhealthy".into(),
    }
}

fn stamp_word(stamp: &Result<StampView, ErrorKind>) -> String {
    match stamp.as_ref().map(|view| &view.state) {
        Ok(StampState::Unstamped) => "unstamped".into(),
        Ok(StampState::PkSetUnstamped) => "unstamped, key set".into(),
        Ok(StampState::Version(v)) => format!("v{v}"),
        Ok(StampState::Corrupt(_)) => "corrupt".into(),
        Err(kind) => kind.name().to_string(),
    }
}

impl Failure {
    /// A failure of `campaign` that `replay` re-runs; the plan's loop sets
    /// its unit, and a campaign that can name its divergence adds it.
    pub fn new(campaign: Campaign, replay: String, message: String) -> Self {
        Failure {
            campaign,
            unit: 0,
            replay,
            message,
            divergence: None,
        }
    }

    /// What a person runs to see this failure again.
    pub fn replay_line(&self) -> String {
        let peer = crate::wire::peer::peer().map(|p| p.command.as_str());
        self.replay_line_in(crate::place::s3(), peer)
    }

    /// As [`Failure::replay_line`], for a failure found with its graphs on
    /// `s3` and on the peer `engine_cmd` (a report's budgets say which).
    pub fn replay_line_in(
        &self,
        s3: Option<&crate::place::S3Place>,
        engine_cmd: Option<&str>,
    ) -> String {
        match self.campaign {
            Campaign::Loom => format!("replay: {}", self.replay),
            // A failure on S3 replays on S3 (a fresh local server).
            _ => {
                let flag = match s3.map(|p| p.server) {
                    None => String::new(),
                    Some(Some(kind)) if kind != crate::place::Kind::SeaweedFs => {
                        format!("--s3={} ", kind.name())
                    }
                    Some(_) => "--s3 ".to_string(),
                };
                let peer = engine_cmd
                    .map(|command| format!("--engine-cmd {} ", shell_quote(command)))
                    .unwrap_or_default();
                format!("replay: stampede replay {flag}{peer}{}", self.replay)
            }
        }
    }
}

/// `text` as one word of a POSIX shell command line.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The shell form of a command, to print for a person to run from any
/// directory (`cd DIR && VAR=value program args`).
pub fn shell_form(command: &std::process::Command) -> String {
    let cd = command
        .get_current_dir()
        .map(|dir| format!("cd {} &&", shell_quote(&dir.to_string_lossy())));
    let env = command
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_string_lossy(), v?.to_string_lossy())));
    let program = std::iter::once(command.get_program().to_string_lossy().into_owned());
    let args = command.get_args().map(|a| a.to_string_lossy().into_owned());
    cd.into_iter()
        .chain(env)
        .chain(program)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A divergence in rows alone once printed an empty diff.
    #[test]
    fn regression_a_rows_only_divergence_is_named() {
        let empty = View {
            stamp: Err(ErrorKind::NotInitialized),
            refs: Default::default(),
            list: None,
            rows: Default::default(),
            off_schema: Default::default(),
        };
        let mut with_rows = empty.clone();
        with_rows
            .rows
            .insert(("main".into(), "Person".into()), Ok(Vec::new()));
        let diff = ViewDiff::of(&with_rows, &empty).to_string();
        assert!(diff.contains("main/Person"), "{diff:?}");
        assert!(ViewDiff::of(&empty, &empty).is_empty());
    }

    /// A case token names its campaign: it parses back as that campaign's
    /// only (control: the other's, and a malformed one, do not).
    #[test]
    fn a_case_token_parses_back_as_its_own_campaign_only() {
        let token = Campaign::Faults.case_token(0x44554003750deae1, 20);
        assert_eq!(token, "faults:44554003750deae1:20");
        let parsed = Campaign::Faults.parse_case_token(&token);
        assert_eq!(parsed, Some((0x44554003750deae1, 20)));
        assert_eq!(Campaign::Sequential.parse_case_token(&token), None);
        let seq = Campaign::Sequential.case_token(7, 30);
        assert_eq!(Campaign::Sequential.parse_case_token(&seq), Some((7, 30)));
        assert_eq!(Campaign::Faults.parse_case_token("faultsx:7:30"), None);
        assert_eq!(Campaign::Faults.parse_case_token("faults:7:30:1"), None);
    }

    /// A divergence names outcomes by kind, and says when the kinds agree
    /// but the content does not; a view's names the parts that differ.
    #[test]
    fn a_divergence_is_in_words_a_table_groups_by() {
        let create = Op::create("a", "main");
        let d = Divergence::of_outcomes(
            &create,
            &Err(ErrorKind::BranchExists),
            &Err(ErrorKind::Storage),
        );
        assert_eq!(
            (d.op.as_str(), d.model.as_str(), d.engine.as_str()),
            ("BranchCreate", "branch_exists", "storage")
        );
        let branches = |names: &[&str]| {
            Ok(Observation::Branches(
                names.iter().map(ToString::to_string).collect(),
            ))
        };
        let d = Divergence::of_outcomes(&Op::BranchList, &branches(&["main"]), &branches(&[]));
        assert_eq!(d.engine, "branches (other content)");
        let mut model = stampede_model::Model::default();
        model.apply(&Op::Init).unwrap();
        let mut engine = model.view();
        engine.refs.insert("__run__0".into(), None);
        let d = Divergence::of_views(&Op::Init, &model.view(), &engine);
        assert_eq!(
            (d.model.as_str(), d.engine.as_str()),
            ("view", "view differs: refs")
        );
    }
}
