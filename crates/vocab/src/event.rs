//! What happens during a run: one [`RunEvent`] per thing, serde-tagged by its `event` name.
//! Serialized, an event is the body of an `events.ndjson` line (DESIGN.md, "Events"): the
//! state's line puts `ts`, `run_id`, [`RunEvent::unit`] and [`RunEvent::stage`] before it.

use serde::{Deserialize, Serialize};

use crate::{Failure, RunStatus, Stage, StageStatus, UnitId, UnitStatus};

/// How loud a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
}

/// One thing that happened during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum RunEvent {
    /// The run began; `units` are the ids in plan order.
    #[serde(rename = "run.started")]
    RunStarted {
        units: Vec<UnitId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A unit's names and inputs are known (rendered).
    #[serde(rename = "unit.prepared")]
    UnitPrepared {
        unit: UnitId,
        template_name: String,
        deployment_name: String,
        resource_group: String,
        subscription: String,
        input_hash: String,
        #[serde(default)]
        source_version: Option<String>,
        #[serde(default)]
        image_version: Option<String>,
    },
    /// A stage began.
    #[serde(rename = "stage.started")]
    StageStarted { unit: UnitId, stage: Stage },
    /// A stage ended.
    #[serde(rename = "stage.finished")]
    StageFinished {
        unit: UnitId,
        stage: Stage,
        status: StageStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// The build's run state changed (`Running`/`Customizing`, ...); stage `build`.
    #[serde(rename = "build.progress")]
    BuildProgress {
        unit: UnitId,
        run_state: String,
        #[serde(default)]
        sub_state: Option<String>,
    },
    /// The `run` operation to re-attach to after a restart; stage `build`.
    #[serde(rename = "build.operation")]
    RunOperation {
        unit: UnitId,
        #[serde(rename = "operation")]
        url: String,
    },
    /// A log was saved in the run's state; stage `collect-logs`.
    #[serde(rename = "log.collected")]
    LogCollected {
        unit: UnitId,
        file: String,
        path: String,
    },
    /// A unit reached its final status.
    #[serde(rename = "unit.finished")]
    UnitFinished {
        unit: UnitId,
        status: UnitStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image_version_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<Failure>,
    },
    /// Something worth telling the user.
    #[serde(rename = "message")]
    Message {
        #[serde(default)]
        unit: Option<UnitId>,
        level: Level,
        #[serde(rename = "message")]
        text: String,
    },
    /// Ctrl-C / SIGTERM was received.
    #[serde(rename = "run.interrupted")]
    Interrupted,
    /// The run ended.
    #[serde(rename = "run.finished")]
    RunFinished { status: RunStatus },
}

impl RunEvent {
    /// The unit it is about.
    pub fn unit(&self) -> Option<&UnitId> {
        use RunEvent::*;
        match self {
            UnitPrepared { unit, .. }
            | StageStarted { unit, .. }
            | StageFinished { unit, .. }
            | BuildProgress { unit, .. }
            | RunOperation { unit, .. }
            | LogCollected { unit, .. }
            | UnitFinished { unit, .. } => Some(unit),
            Message { unit, .. } => unit.as_ref(),
            RunStarted { .. } | Interrupted | RunFinished { .. } => None,
        }
    }

    /// The stage it is about.
    pub fn stage(&self) -> Option<Stage> {
        use RunEvent::*;
        match self {
            StageStarted { stage, .. } | StageFinished { stage, .. } => Some(*stage),
            BuildProgress { .. } | RunOperation { .. } => Some(Stage::Build),
            LogCollected { .. } => Some(Stage::CollectLogs),
            _ => None,
        }
    }

    /// The `event` name.
    pub fn name(&self) -> &'static str {
        use RunEvent::*;
        match self {
            RunStarted { .. } => "run.started",
            UnitPrepared { .. } => "unit.prepared",
            StageStarted { .. } => "stage.started",
            StageFinished { .. } => "stage.finished",
            BuildProgress { .. } => "build.progress",
            RunOperation { .. } => "build.operation",
            LogCollected { .. } => "log.collected",
            UnitFinished { .. } => "unit.finished",
            Message { .. } => "message",
            Interrupted => "run.interrupted",
            RunFinished { .. } => "run.finished",
        }
    }
}
