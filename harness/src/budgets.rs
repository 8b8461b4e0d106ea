//! What names a run: the root seed, every campaign's budget, and how
//! concurrent actors interleave. Every campaign reads its part of it; the
//! plan hands it to shards as a file.

use serde::{Deserialize, Serialize};

/// Everything that names a run: the root seed and every budget. Shards get
/// it as a file, so a child runs exactly its parent's plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Budgets {
    pub seed: u64,
    pub cases: u32,
    pub max_ops: usize,
    pub rounds: u32,
    pub actors: usize,
    /// Concurrent actors as `stampede` processes instead of tasks.
    pub processes: bool,
    /// How concurrent actors interleave: timing plus seeded delays
    /// (`wild`), turns at the storage boundary (`random`, `pct<d>`), or
    /// each in turn, round by round (`mix`, the default).
    #[serde(default = "mix")]
    pub schedule: Schedule,
    /// Concurrent rounds drawn from the uniform mix (`--swarm off`)
    /// instead of in swarm configurations.
    #[serde(default)]
    pub uniform: bool,
    /// Concurrent rounds as histories of up to this many ops per actor on
    /// its own handle, judged for linearizability (0: one op each).
    #[serde(default)]
    pub history: usize,
    pub fault_cases: u32,
    /// Kill the recovering open at every n-th write (0: never).
    pub second_death_stride: u64,
    pub loom_bound: u32,
    /// Damage campaign: judge every n-th damaged graph of each corpus graph
    /// (1: all of them).
    pub damage_stride: u32,
    /// A time budget for each open-ended campaign: it runs units until this
    /// many seconds have passed, its count (`cases`, `rounds`,
    /// `fault_cases`) a cap. With `--jobs`, every job has the whole budget.
    #[serde(default)]
    pub seconds: Option<f64>,
    /// A time budget for the whole plan: the campaigns of fixed size run
    /// first, then the open-ended ones share what is left (each gets its
    /// share in `seconds`).
    #[serde(default)]
    pub plan_seconds: Option<f64>,
    /// Where the graphs live when not in local temp dirs: the S3 place the
    /// parent started (`verify --s3`), handed to every job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<crate::place::S3Place>,
    /// The peer engine judged instead of ours (`verify --engine-cmd`),
    /// handed to every job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_cmd: Option<String>,
}

fn mix() -> Schedule {
    Schedule::Mix
}

impl Budgets {
    /// `stampede verify`'s defaults (its flags take them from here).
    pub const DEFAULT: Budgets = Budgets {
        seed: 1,
        cases: 100,
        max_ops: 30,
        rounds: 50,
        actors: 4,
        processes: false,
        schedule: Schedule::Mix,
        uniform: false,
        history: 0,
        fault_cases: 50,
        second_death_stride: 1,
        loom_bound: 3,
        damage_stride: 1,
        seconds: None,
        plan_seconds: None,
        s3: None,
        engine_cmd: None,
    };
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets::DEFAULT
    }
}

/// How a round's actors interleave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Schedule {
    /// Real timing plus the seeded delay injector: fast, and what a race
    /// in production looks like, but a failure recurs only sometimes.
    Wild,
    /// One parked call at a time, chosen uniformly.
    Random,
    /// Probabilistic concurrency testing with `depth` (≥ 1): `depth - 1`
    /// priority change points.
    Pct { depth: u32 },
    /// Actors run one at a time in a drawn order; the running one (the
    /// victim) is stopped just before its `j`-th write (`j` drawn) and
    /// goes on only when every other actor has finished or waits for it.
    /// That is the shape of a check-then-act race, the others' whole ops
    /// between a check and the write that trusts it, and it lands inside
    /// the victim's op whatever the others do: PCT at depth 2 with its
    /// change point on the victim's own writes. An actor that finishes
    /// before its `j`-th write hands the role to the next, whose writes
    /// count from then.
    Preempt,
    /// A campaign's default: round by round, each of [`Schedule::MIX`] in
    /// turn, so one run gets each schedule's strengths. A round's token
    /// names the schedule it ran under, never `mix`.
    Mix,
}

impl Schedule {
    /// What [`Schedule::Mix`] cycles through: real timing, uniform turns,
    /// and PCT at three depths (a shallow race, and deeper ones).
    /// [`Schedule::Preempt`] is not in it: in the rounds-to-catch table
    /// (10 seeds, 20 rounds, tasks and histories) a mix with it caught no
    /// defect more often than this one; it serves held rounds of a known
    /// shape (`sensitivity::targeted_catch`).
    pub const MIX: [Schedule; 5] = [
        Schedule::Wild,
        Schedule::Random,
        Schedule::Pct { depth: 2 },
        Schedule::Pct { depth: 3 },
        Schedule::Pct { depth: 4 },
    ];

    /// The schedule round `index` runs under.
    pub fn for_round(self, index: u32) -> Schedule {
        match self {
            Schedule::Mix => Schedule::MIX[index as usize % Schedule::MIX.len()],
            pinned => pinned,
        }
    }

    /// The form tokens and reports use: `wild`, `random`, `pct3`, `mix`.
    pub fn name(self) -> String {
        match self {
            Schedule::Wild => "wild".into(),
            Schedule::Random => "random".into(),
            Schedule::Pct { depth } => format!("pct{depth}"),
            Schedule::Preempt => "preempt".into(),
            Schedule::Mix => "mix".into(),
        }
    }

    /// `wild`, `random`, `pct` (depth 3), `pct:N`, `pctN`, `preempt` or
    /// `mix`.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let bad =
            || format!("not a schedule: {text:?} (mix, wild, random, pct, pct:DEPTH or preempt)");
        match text {
            "mix" => Ok(Schedule::Mix),
            "preempt" => Ok(Schedule::Preempt),
            "wild" => Ok(Schedule::Wild),
            "random" => Ok(Schedule::Random),
            "pct" => Ok(Schedule::Pct { depth: 3 }),
            _ => {
                let depth = text
                    .strip_prefix("pct:")
                    .or_else(|| text.strip_prefix("pct"))
                    .ok_or_else(bad)?;
                match depth.parse() {
                    Ok(depth) if depth >= 1 => Ok(Schedule::Pct { depth }),
                    _ => Err(bad()),
                }
            }
        }
    }

    /// Whether its rounds take turns at the storage boundary (for `mix`:
    /// whether some do).
    pub fn is_scheduled(self) -> bool {
        self != Schedule::Wild
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl From<Schedule> for String {
    fn from(schedule: Schedule) -> String {
        schedule.name()
    }
}

impl TryFrom<String> for Schedule {
    type Error = String;
    fn try_from(text: String) -> Result<Schedule, String> {
        Schedule::parse(&text)
    }
}
