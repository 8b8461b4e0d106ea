//! The JSON the operator commands print with `--json`, one type each, so
//! each shape is derived and pinned (snapshot `cli_json_shapes`).

use serde::Serialize;
use stampede_engine::schema_apply::ApplyReport;
use stampede_engine::{OpenReport, PkState, StampReport};

/// `stampede check --json`: the report and whether it is healthy.
#[derive(Debug, Serialize)]
pub struct Checked<'a> {
    pub healthy: bool,
    #[serde(flatten)]
    pub report: &'a stampede_engine::check::CheckReport,
}

/// `stampede open --json`.
#[derive(Debug, Serialize)]
pub struct Opened {
    pub from: u32,
    pub to: u32,
    pub swept: Vec<String>,
    pub kept: Vec<String>,
}

impl From<&OpenReport> for Opened {
    fn from(report: &OpenReport) -> Self {
        Opened {
            from: report.from,
            to: report.to,
            swept: report.swept.clone(),
            kept: report.kept.clone(),
        }
    }
}

/// `stampede schema show --json`.
#[derive(Debug, Serialize)]
pub struct SchemaShown {
    pub source: String,
    pub types: Vec<String>,
}

/// `stampede schema apply --json`.
#[derive(Debug, Serialize)]
pub struct Applied {
    pub applied: bool,
    pub steps: Vec<String>,
    pub lock_released: bool,
}

impl From<&ApplyReport> for Applied {
    fn from(report: &ApplyReport) -> Self {
        Applied {
            applied: report.applied,
            steps: report.steps.iter().map(ToString::to_string).collect(),
            lock_released: report.lock_released,
        }
    }
}

/// `stampede stamp --json`.
#[derive(Debug, Serialize)]
pub struct StampShown {
    /// The raw value of the stamp key; `None` when absent.
    pub raw: Option<String>,
    /// `unstamped`, `pk-set-unstamped`, `v<N>` or `corrupt`.
    pub state: String,
    /// `absent`, `object_id` or `other:<field>`.
    pub primary_key: String,
    pub main_version: u64,
    pub guard: Guard,
}

/// The stamp guard's verdict: the version an open starts from, or its
/// refusal.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Guard {
    Ok {
        ok: bool,
        version: u32,
    },
    Refused {
        ok: bool,
        kind: stampede_engine::ErrorKind,
        message: String,
    },
}

impl From<&StampReport> for StampShown {
    fn from(report: &StampReport) -> Self {
        StampShown {
            raw: report.head.stamp.clone(),
            state: report.state.to_string(),
            primary_key: match &report.head.pk {
                PkState::Absent => "absent".to_string(),
                PkState::OnObjectId => "object_id".to_string(),
                PkState::OnOtherField(f) => format!("other:{f}"),
            },
            main_version: report.head.version,
            guard: match &report.verdict {
                Ok(version) => Guard::Ok {
                    ok: true,
                    version: *version,
                },
                Err(e) => Guard::Refused {
                    ok: false,
                    kind: e.kind(),
                    message: e.to_string(),
                },
            },
        }
    }
}
