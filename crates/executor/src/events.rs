//! What workers report: one [`BuildEvent`] per thing that happened, stamped, sent over a
//! channel to the run's recorder (which keeps the run record and `events.ndjson`) and from
//! there to the reporter that owns the terminal.

use aib_vocab::UnitId;
use chrono::{DateTime, Utc};

pub use aib_vocab::Stage;

/// One thing that happened during a run: the shared vocabulary's [`aib_vocab::RunEvent`],
/// which is also what an `events.ndjson` line holds.
pub use aib_vocab::{Level, RunEvent as BuildEvent};

/// Every text of the event that can come from Azure or a log, redacted in place (see
/// [`crate::redact`]); names aib made itself (units, stages) are left as they are.
pub fn redact(event: &mut BuildEvent, r: &crate::redact::Redactor) {
    use BuildEvent::*;
    if r.is_empty() {
        return;
    }
    let opt = |s: &mut Option<String>| {
        if let Some(s) = s {
            r.redact_string(s);
        }
    };
    match event {
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
        self.event.unit().map(UnitId::as_str)
    }

    /// The event as stored in `events.ndjson` and printed by `--log-format json`.
    pub fn to_state_event(&self, run_id: &str) -> aib_state::Event {
        aib_state::Event::of(self.ts, run_id, &self.event)
    }

    /// The `event` name.
    pub fn name(&self) -> &'static str {
        self.event.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aib_state::{Failure, RunStatus, StageStatus, UnitStatus};
    use chrono::TimeZone;

    /// One of every event, with its optional fields set and (where it has them) unset.
    fn every_event() -> Vec<BuildEvent> {
        use BuildEvent::*;
        let unit = || UnitId::from("prod/ubuntu[arch=x64]");
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

    /// Every event's line reads back as the same event (`ts` and `run_id` included).
    #[test]
    fn every_event_round_trips_through_its_line() {
        let ts = Utc
            .with_ymd_and_hms(2026, 11, 28, 23, 35, 0)
            .single()
            .expect("time");
        for event in every_event() {
            let line = Stamped {
                ts,
                event: event.clone(),
            }
            .to_state_event("r1");
            let text = serde_json::to_string(&line).expect("serialize");
            let back: aib_state::Event = serde_json::from_str(&text).expect("deserialize");
            assert_eq!((back.ts, back.run_id.as_str()), (ts, "r1"), "{text}");
            assert_eq!(back.run_event(), Some(event), "{text}");
        }
    }
}
