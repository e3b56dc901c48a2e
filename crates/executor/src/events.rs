//! What workers report: one [`BuildEvent`] per thing that happened, stamped, sent over a
//! channel to the run's recorder (which keeps the run record and `events.ndjson`) and from
//! there to the reporter that owns the terminal.

use aib_state::{Failure, RunStatus, StageStatus, UnitStatus};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

pub use aib_vocab::Stage;

/// How loud a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
}

/// One thing that happened during a run.
#[derive(Debug, Clone)]
pub enum BuildEvent {
    /// The run began; `units` are the ids in plan order.
    RunStarted {
        units: Vec<String>,
        note: Option<String>,
    },
    /// A unit's names and inputs are known (rendered).
    UnitPrepared {
        unit: String,
        template_name: String,
        deployment_name: String,
        resource_group: String,
        subscription: String,
        input_hash: String,
        source_version: Option<String>,
        image_version: Option<String>,
    },
    /// A stage began.
    StageStarted { unit: String, stage: Stage },
    /// A stage ended.
    StageFinished {
        unit: String,
        stage: Stage,
        status: StageStatus,
        message: Option<String>,
    },
    /// The build's run state changed (`Running`/`Customizing`, ...).
    BuildProgress {
        unit: String,
        run_state: String,
        sub_state: Option<String>,
    },
    /// The `run` operation to re-attach to after a restart.
    RunOperation { unit: String, url: String },
    /// A log was saved in the run's state.
    LogCollected {
        unit: String,
        file: String,
        path: String,
    },
    /// A unit reached its final status.
    UnitFinished {
        unit: String,
        status: UnitStatus,
        reason: Option<String>,
        image_version_id: Option<String>,
        failure: Option<Failure>,
    },
    /// Something worth telling the user.
    Message {
        unit: Option<String>,
        level: Level,
        text: String,
    },
    /// Ctrl-C / SIGTERM was received.
    Interrupted,
    /// The run ended.
    RunFinished { status: RunStatus },
}

impl BuildEvent {
    /// Every text of the event that can come from Azure or a log, redacted in place (see
    /// [`crate::redact`]); names aib made itself (units, stages) are left as they are.
    pub fn redact(&mut self, r: &crate::redact::Redactor) {
        use BuildEvent::*;
        if r.is_empty() {
            return;
        }
        let opt = |s: &mut Option<String>| {
            if let Some(s) = s {
                r.redact_string(s);
            }
        };
        match self {
            RunStarted { note, .. } => opt(note),
            UnitPrepared { source_version, .. } => opt(source_version),
            StageFinished { message, .. } => opt(message),
            BuildProgress {
                run_state,
                sub_state,
                ..
            } => {
                r.redact_string(run_state);
                opt(sub_state);
            }
            RunOperation { url, .. } => r.redact_string(url),
            UnitFinished {
                reason,
                image_version_id,
                failure,
                ..
            } => {
                opt(reason);
                opt(image_version_id);
                if let Some(f) = failure {
                    r.redact_string(&mut f.message);
                    opt(&mut f.customizer);
                    opt(&mut f.log_excerpt);
                    opt(&mut f.log_path);
                }
            }
            Message { text, .. } => r.redact_string(text),
            StageStarted { .. } | LogCollected { .. } | Interrupted | RunFinished { .. } => {}
        }
    }
}

/// An event with its time.
#[derive(Debug, Clone)]
pub struct Stamped {
    pub ts: DateTime<Utc>,
    pub event: BuildEvent,
}

impl Stamped {
    /// Stamp an event now.
    pub fn now(event: BuildEvent) -> Self {
        Self {
            ts: Utc::now(),
            event,
        }
    }

    /// The unit it is about.
    pub fn unit(&self) -> Option<&str> {
        use BuildEvent::*;
        match &self.event {
            UnitPrepared { unit, .. }
            | StageStarted { unit, .. }
            | StageFinished { unit, .. }
            | BuildProgress { unit, .. }
            | RunOperation { unit, .. }
            | LogCollected { unit, .. }
            | UnitFinished { unit, .. } => Some(unit),
            Message { unit, .. } => unit.as_deref(),
            RunStarted { .. } | Interrupted | RunFinished { .. } => None,
        }
    }

    /// The event as stored in `events.ndjson` and printed by `--log-format json`.
    pub fn to_state_event(&self, run_id: &str) -> aib_state::Event {
        use BuildEvent::*;
        let mut e = aib_state::Event::new(run_id, self.name());
        e.ts = self.ts;
        if let Some(u) = self.unit() {
            e = e.unit(u);
        }
        let f = |e: aib_state::Event, k: &str, v: Value| e.field(k, v);
        match &self.event {
            RunStarted { units, note } => {
                e = f(e, "units", json!(units));
                if let Some(n) = note {
                    e = f(e, "note", json!(n));
                }
            }
            UnitPrepared {
                template_name,
                deployment_name,
                resource_group,
                subscription,
                input_hash,
                source_version,
                image_version,
                ..
            } => {
                e = f(e, "template_name", json!(template_name));
                e = f(e, "deployment_name", json!(deployment_name));
                e = f(e, "resource_group", json!(resource_group));
                e = f(e, "subscription", json!(subscription));
                e = f(e, "input_hash", json!(input_hash));
                e = f(e, "source_version", json!(source_version));
                e = f(e, "image_version", json!(image_version));
            }
            StageStarted { stage, .. } => e = e.stage(stage.as_str()),
            StageFinished {
                stage,
                status,
                message,
                ..
            } => {
                e = e.stage(stage.as_str());
                e = f(e, "status", json!(status));
                if let Some(m) = message {
                    e = f(e, "message", json!(m));
                }
            }
            BuildProgress {
                run_state,
                sub_state,
                ..
            } => {
                e = e.stage("build");
                e = f(e, "run_state", json!(run_state));
                e = f(e, "sub_state", json!(sub_state));
            }
            RunOperation { url, .. } => {
                e = e.stage("build");
                e = f(e, "operation", json!(url));
            }
            LogCollected { file, path, .. } => {
                e = e.stage("collect-logs");
                e = f(e, "file", json!(file));
                e = f(e, "path", json!(path));
            }
            UnitFinished {
                status,
                reason,
                image_version_id,
                failure,
                ..
            } => {
                e = f(e, "status", json!(status));
                if let Some(r) = reason {
                    e = f(e, "reason", json!(r));
                }
                if let Some(v) = image_version_id {
                    e = f(e, "image_version_id", json!(v));
                }
                if let Some(fl) = failure {
                    e = f(
                        e,
                        "failure",
                        serde_json::to_value(fl).unwrap_or(Value::Null),
                    );
                }
            }
            Message { level, text, .. } => {
                e = f(
                    e,
                    "level",
                    json!(match level {
                        Level::Info => "info",
                        Level::Warn => "warn",
                    }),
                );
                e = f(e, "message", json!(text));
            }
            Interrupted => {}
            RunFinished { status } => e = f(e, "status", json!(status)),
        }
        e
    }

    /// The `event` name.
    pub fn name(&self) -> &'static str {
        use BuildEvent::*;
        match &self.event {
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// One of every event, with its optional fields set and (where it has them) unset.
    fn every_event() -> Vec<BuildEvent> {
        use BuildEvent::*;
        let unit = || "prod/ubuntu[arch=x64]".to_string();
        let failure = Failure {
            customizer: Some("harden".into()),
            log_excerpt: Some("+ make\nError 2".into()),
            log_path: Some("runs/r/prod_ubuntu/customization.log".into()),
            phase: Some("customizer".into()),
            cause: Some("error".into()),
            ..Failure::new(Stage::Build, "Customizer 'harden' failed")
        };
        vec![
            RunStarted {
                units: vec![unit(), "dev/win".into()],
                note: Some("retrying 1 failed unit".into()),
            },
            RunStarted {
                units: vec![],
                note: None,
            },
            UnitPrepared {
                unit: unit(),
                template_name: "t".into(),
                deployment_name: "d".into(),
                resource_group: "g".into(),
                subscription: "s".into(),
                input_hash: "sha256:ab".into(),
                source_version: Some("1.0.0".into()),
                image_version: Some("1.2.3".into()),
            },
            UnitPrepared {
                unit: unit(),
                template_name: "t".into(),
                deployment_name: "d".into(),
                resource_group: "g".into(),
                subscription: "s".into(),
                input_hash: "sha256:ab".into(),
                source_version: None,
                image_version: None,
            },
            StageStarted {
                unit: unit(),
                stage: Stage::CollectLogs,
            },
            StageFinished {
                unit: unit(),
                stage: Stage::Deploy,
                status: StageStatus::Failed,
                message: Some("quota".into()),
            },
            StageFinished {
                unit: unit(),
                stage: Stage::Cleanup,
                status: StageStatus::Succeeded,
                message: None,
            },
            BuildProgress {
                unit: unit(),
                run_state: "Running".into(),
                sub_state: Some("Customizing".into()),
            },
            BuildProgress {
                unit: unit(),
                run_state: "Running".into(),
                sub_state: None,
            },
            RunOperation {
                unit: unit(),
                url: "https://management.azure.com/op/1".into(),
            },
            LogCollected {
                unit: unit(),
                file: "customization.log".into(),
                path: "runs/r/prod_ubuntu/customization.log".into(),
            },
            UnitFinished {
                unit: unit(),
                status: UnitStatus::Failed,
                reason: Some("why".into()),
                image_version_id: Some("/subscriptions/s/x/versions/1.2.3".into()),
                failure: Some(failure),
            },
            UnitFinished {
                unit: unit(),
                status: UnitStatus::Succeeded,
                reason: None,
                image_version_id: None,
                failure: None,
            },
            Message {
                unit: Some(unit()),
                level: Level::Warn,
                text: "slow".into(),
            },
            Message {
                unit: None,
                level: Level::Info,
                text: "hello".into(),
            },
            Interrupted,
            RunFinished {
                status: RunStatus::Cancelled,
            },
        ]
    }

    /// The `events.ndjson` line of every event, pinned: the format is a contract (DESIGN.md,
    /// "Events") that `--log-format json` readers and older records rely on.
    #[test]
    fn one_line_per_event() {
        let ts = Utc
            .with_ymd_and_hms(2026, 11, 28, 23, 35, 0)
            .single()
            .expect("time");
        let lines: Vec<String> = every_event()
            .into_iter()
            .map(|event| {
                let e = Stamped { ts, event }.to_state_event("20261128T233500Z-abcdef");
                serde_json::to_string(&e).expect("serialize")
            })
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }
}
