//! The figures a campaign's units add up to: the one result type every
//! campaign's `run_unit` returns and the plan sums, shards and reports.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::verdict::{Campaign, Failure};

/// Per-operation figures of the crash campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrashDetail {
    pub operation: String,
    pub writes: u64,
    pub states: u64,
    pub violations: u64,
    /// `check`'s problem and note kinds after recovery, by states.
    pub residue: std::collections::BTreeMap<String, u64>,
    pub seconds: f64,
}

impl CrashDetail {
    /// The residue as people read it: `kind: states, ...`, or `–`.
    pub fn residue_text(&self) -> String {
        if self.residue.is_empty() {
            return "–".to_string();
        }
        self.residue
            .iter()
            .map(|(kind, states)| format!("{kind}: {states}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a campaign's units came to: one unit's (each campaign's
/// `run_unit`), a shard's, or a whole plan's, summed by `absorb`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignResult {
    pub campaign: Campaign,
    /// Cases, rounds, crash states or loom models run.
    pub units: u64,
    pub ops: u64,
    /// Fault campaign: ops that met at least one injected fault.
    pub faulted_ops: u64,
    /// Concurrent campaign: actors that answered a retryable kind (each
    /// admitted only with a cause in its round).
    #[serde(default)]
    pub retryable_ops: u64,
    /// Scheduled concurrent rounds: turns granted, and escapes (decisions
    /// timing made; a scheduled run must have none).
    #[serde(default)]
    pub grants: u64,
    #[serde(default)]
    pub escapes: u64,
    /// Concurrent histories: the linearizability judge's time, in all.
    #[serde(default)]
    pub judge_seconds: f64,
    /// Concurrent campaign: how many rounds had each interesting overlap
    /// (`concurrent::shapes`), as it happened.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shapes: BTreeMap<String, u64>,
    pub failures: Vec<Failure>,
    pub seconds: f64,
    pub crash: Vec<CrashDetail>,
}

impl CampaignResult {
    pub fn new(campaign: Campaign) -> Self {
        CampaignResult {
            campaign,
            units: 0,
            ops: 0,
            faulted_ops: 0,
            retryable_ops: 0,
            grants: 0,
            escapes: 0,
            judge_seconds: 0.0,
            shapes: BTreeMap::new(),
            failures: Vec::new(),
            seconds: 0.0,
            crash: Vec::new(),
        }
    }

    pub fn ops_per_second(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }

    /// Count one round's shapes, by name.
    pub fn count_shapes<'a>(&mut self, shapes: impl IntoIterator<Item = &'a str>) {
        for shape in shapes {
            *self.shapes.entry(shape.to_string()).or_default() += 1;
        }
    }

    /// Add one unit's (or one shard's) figures.
    pub fn absorb(&mut self, other: CampaignResult) {
        self.units += other.units;
        self.ops += other.ops;
        self.faulted_ops += other.faulted_ops;
        self.retryable_ops += other.retryable_ops;
        self.grants += other.grants;
        self.escapes += other.escapes;
        self.judge_seconds += other.judge_seconds;
        for (shape, rounds) in other.shapes {
            *self.shapes.entry(shape).or_default() += rounds;
        }
        self.failures.extend(other.failures);
        self.crash.extend(other.crash);
    }
}
