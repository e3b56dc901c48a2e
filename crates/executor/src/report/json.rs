//! The `--report-json` document: `{ run_id, started, finished, units: [ { id, status, stages,
//! image_version_id, failure } ] }`, built from the run record; its JSON Schema comes from
//! schemars and is checked in as `schemas/aib-report.schema.json`.

use aib_state::{RunRecord, StageStatus, UnitStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Report format version.
pub const REPORT_VERSION: u32 = 1;

/// `aib build --report-json`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(title = "aib build report", deny_unknown_fields)]
pub struct BuildReport {
    /// Format version (1).
    pub version: u32,
    /// Run id (`YYYYMMDDTHHMMSSZ-xxxxxx`).
    pub run_id: String,
    /// `[pipeline].name`.
    pub pipeline: String,
    /// Run status: running, succeeded, failed, cancelled, interrupted, detached (waiting for
    /// `aib resume`).
    pub status: String,
    /// RFC 3339 start time.
    pub started: String,
    /// RFC 3339 end time (null while running).
    pub finished: Option<String>,
    /// Units in plan order.
    pub units: Vec<UnitReport>,
}

/// One unit.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(deny_unknown_fields)]
pub struct UnitReport {
    /// `env/variant[axis=value,...]`.
    pub id: String,
    pub status: ReportUnitStatus,
    /// Why it was skipped, unchanged or cancelled.
    pub reason: Option<String>,
    /// The imageTemplate name.
    pub template_name: String,
    /// Stages in the order they ran.
    pub stages: Vec<StageReport>,
    /// The published gallery image version id.
    pub image_version_id: Option<String>,
    /// What failed.
    pub failure: Option<FailureReport>,
}

/// Final status of a unit.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReportUnitStatus {
    Succeeded,
    Failed,
    Skipped,
    Unchanged,
    Cancelled,
    /// Only in a report of a run that did not finish.
    Pending,
    /// Only in a report of a run that did not finish.
    Running,
}

/// One stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(deny_unknown_fields)]
pub struct StageReport {
    /// deploy, build, verify, collect-logs, cleanup.
    pub name: String,
    /// pending, running, succeeded, failed, skipped, cancelled.
    pub status: String,
    pub started: Option<String>,
    pub finished: Option<String>,
}

/// Why a unit failed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(deny_unknown_fields)]
pub struct FailureReport {
    /// The stage that failed.
    pub stage: String,
    pub message: String,
    /// The failing customizer, from the build log.
    pub customizer: Option<String>,
    /// The relevant lines of the build log.
    pub log_excerpt: Option<String>,
    /// Where the whole log is stored.
    pub log_path: Option<String>,
    /// Where the build failed, from its log (absent without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<crate::logs::Phase>,
    /// Why it failed, from its log (absent without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<crate::logs::Cause>,
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    aib_state::record::rfc3339(t)
}

fn stage_status(s: StageStatus) -> &'static str {
    match s {
        StageStatus::Pending => "pending",
        StageStatus::Running => "running",
        StageStatus::Succeeded => "succeeded",
        StageStatus::Failed => "failed",
        StageStatus::Skipped => "skipped",
        StageStatus::Cancelled => "cancelled",
    }
}

impl BuildReport {
    /// The report of a run record.
    pub fn from_record(r: &RunRecord) -> Self {
        Self {
            version: REPORT_VERSION,
            run_id: r.run_id.clone(),
            pipeline: r.pipeline.clone(),
            status: serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            started: ts(r.started),
            finished: r.finished.map(ts),
            units: r
                .units
                .iter()
                .map(|u| UnitReport {
                    id: u.id.clone(),
                    status: match u.status {
                        UnitStatus::Succeeded => ReportUnitStatus::Succeeded,
                        UnitStatus::Failed => ReportUnitStatus::Failed,
                        UnitStatus::Skipped => ReportUnitStatus::Skipped,
                        UnitStatus::Unchanged => ReportUnitStatus::Unchanged,
                        UnitStatus::Cancelled => ReportUnitStatus::Cancelled,
                        UnitStatus::Pending => ReportUnitStatus::Pending,
                        UnitStatus::Running => ReportUnitStatus::Running,
                    },
                    reason: u.reason.clone(),
                    template_name: u.template_name.clone(),
                    stages: u
                        .stages
                        .iter()
                        .map(|s| StageReport {
                            name: s.name.clone(),
                            status: stage_status(s.status).to_string(),
                            started: s.started.map(ts),
                            finished: s.finished.map(ts),
                        })
                        .collect(),
                    image_version_id: u.image_version_id.clone(),
                    failure: u.failure.as_ref().map(|f| FailureReport {
                        stage: f.stage.to_string(),
                        message: f.message.clone(),
                        customizer: f.customizer.clone(),
                        log_excerpt: f.log_excerpt.clone(),
                        log_path: f.log_path.clone(),
                        phase: f.phase.as_deref().and_then(crate::logs::Phase::parse),
                        cause: f.cause.as_deref().and_then(crate::logs::Cause::parse),
                    }),
                })
                .collect(),
        }
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// The JSON Schema of [`BuildReport`] (pretty, final newline), as checked in.
pub fn report_schema() -> String {
    let schema = schemars::schema_for!(BuildReport);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}
