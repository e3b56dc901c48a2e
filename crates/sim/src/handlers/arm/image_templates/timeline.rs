//! The lazy build timeline: a run's phase at a time, and moving runs and deletions on to now
//! (ending a run as it succeeds, fails, times out or is canceled).

use super::distribute::distribute;
use crate::context::Ctx;
use crate::handlers::arm::resources;
use crate::handlers::customization_log::{self, LogEnd};
use crate::model::blob::Blob;
use crate::model::image_template::{ImageTemplate, Run, RunEnd};
use crate::model::operation::OpFinal;
use crate::model::staging::StagingGroup;
use crate::scenario::OutcomeResult;
use crate::state::State;
use serde_json::{Value, json};

impl Run {
    fn planned_end(&self) -> f64 {
        match self.result {
            // A template whose creation succeeded (after `times` failed ones) builds normally.
            OutcomeResult::Succeed
            | OutcomeResult::StuckCanceling
            | OutcomeResult::ProvisionFail => self.start + self.build_minutes,
            OutcomeResult::Fail => self.start + self.build_minutes * 0.7,
            OutcomeResult::Timeout | OutcomeResult::TimeoutDistributing => {
                self.start + self.timeout_minutes
            }
        }
    }

    pub(super) fn sub_state_at(&self, t: f64) -> &'static str {
        // A run that times out while distributing goes through every phase before its timeout.
        let duration = if self.result == OutcomeResult::TimeoutDistributing {
            self.timeout_minutes
        } else {
            self.build_minutes
        };
        let x = if duration > 0.0 {
            (t - self.start) / duration
        } else {
            1.0
        };
        let s = if x < 0.1 {
            "Queued"
        } else if x < 0.3 {
            "Building"
        } else if x < 0.7 {
            "Customizing"
        } else if self.has_validate && x < 0.8 {
            "Validating"
        } else {
            "Distributing"
        };
        if self.result == OutcomeResult::Timeout && matches!(s, "Validating" | "Distributing") {
            return "Customizing";
        }
        s
    }
}

/// Advance runs and deletions to `now`.
pub fn tick(ctx: &Ctx, st: &mut State, now: f64) {
    let gone: Vec<String> = st
        .templates
        .iter()
        .filter(|(_, t)| {
            t.deleting_at
                .is_some_and(|d| now >= d + ctx.scenario.delete_minutes)
        })
        .map(|(k, _)| k.clone())
        .collect();
    for k in gone {
        if let Some(t) = st.templates.remove(&k) {
            let acct = t.storage_account.clone();
            st.blobs.retain(|(a, _), _| *a != acct);
            if t.has_staging() && resources::keeps_staging(ctx, &t.name) {
                let g = StagingGroup::of(&t);
                st.staging_leftovers.insert(g.id().to_ascii_lowercase(), g);
            }
        }
    }
    let active: Vec<String> = st
        .templates
        .iter()
        .filter(|(_, t)| t.running())
        .map(|(k, _)| k.clone())
        .collect();
    for k in active {
        let Some(mut t) = st.templates.remove(&k) else {
            continue;
        };
        advance(ctx, st, &mut t, now);
        st.templates.insert(k, t);
    }
}

fn advance(ctx: &Ctx, st: &mut State, t: &mut ImageTemplate, now: f64) {
    let Some(run) = t.run.clone() else { return };
    if run.end.is_some() {
        return;
    }
    if let Some(c) = run.cancel_at {
        if run.result == OutcomeResult::StuckCanceling {
            return;
        }
        let at = c + ctx.scenario.cancel_minutes;
        if now >= at {
            let sub_state = run.sub_state_at(c);
            finish(
                st,
                t,
                RunEnd {
                    state: "Canceled",
                    sub_state,
                    at,
                    message: "The build was canceled".into(),
                },
                None,
            );
        }
        return;
    }
    let end = run.planned_end();
    if now < end {
        return;
    }
    match run.result {
        OutcomeResult::Succeed | OutcomeResult::StuckCanceling | OutcomeResult::ProvisionFail => {
            distribute_and_finish(ctx, st, t, &run, end)
        }
        OutcomeResult::Fail | OutcomeResult::Timeout | OutcomeResult::TimeoutDistributing => {
            fail_build(ctx, st, t, &run, end)
        }
    }
}

/// A build that reached its end: publish to the distribute targets, then succeed, or fail
/// while distributing.
fn distribute_and_finish(ctx: &Ctx, st: &mut State, t: &mut ImageTemplate, run: &Run, end: f64) {
    let (outputs, error) = distribute(ctx, st, t, end, None);
    match error {
        None => {
            t.run_outputs = outputs;
            finish(
                st,
                t,
                RunEnd {
                    state: "Succeeded",
                    sub_state: "Distributing",
                    at: end,
                    message: String::new(),
                },
                None,
            );
        }
        Some(e) => {
            t.run_outputs = outputs;
            let message = format!(
                "Failed while distributing: Distribution to the Azure Compute Gallery failed. Error: {}: {}. OperationId: {}",
                e.code, e.message, run.op_id
            );
            let err = json!({"code": "DistributionFailed", "message": message});
            finish(
                st,
                t,
                RunEnd {
                    state: "Failed",
                    sub_state: "Distributing",
                    at: end,
                    message,
                },
                Some(err),
            );
        }
    }
}

/// A failed or timed-out build: its `customization.log` in the staging account, and AIB's
/// failure message pointing at it.
fn fail_build(ctx: &Ctx, st: &mut State, t: &mut ImageTemplate, run: &Run, end: f64) {
    if run.result == OutcomeResult::TimeoutDistributing {
        // The versions were being published when the timeout hit.
        let rm = ctx.scenario.replicate_minutes.max(2.0);
        let _ = distribute(ctx, st, t, end, Some(rm));
    }
    let guid = uuid::Uuid::new_v4().to_string();
    let kind = if run.result == OutcomeResult::Fail {
        LogEnd::Failed
    } else {
        LogEnd::Timeout
    };
    let log = customization_log::render(ctx, t, run, kind, end);
    let blob_name = format!("{guid}/customization.log");
    let url = format!("{}packerlogs/{}", t.blob_endpoint(ctx), blob_name);
    st.blobs
        .entry((t.storage_account.clone(), "packerlogs".into()))
        .or_default()
        .insert(blob_name, Blob::new(log.into_bytes(), ctx.clock.utc(end)));
    let message = if run.result == OutcomeResult::Fail {
        let what = match customization_log::failing_commands(t, run).last() {
            Some(c) if customization_log::echoes(ctx, t) => {
                format!("The failing command was: {c}")
            }
            _ => "Packer build command has failed".to_string(),
        };
        format!(
            "Failed while waiting for packerizer: Microservice has failed: Failed while processing request: Error when executing packerizer: {what}: exit status 1. During the image build, a failure has occurred. Please review the build log to identify which build/customization step failed. For more troubleshooting steps go to https://aka.ms/azvmimagebuilderts. Image Build log location: {url}. OperationId: {}. Use this operationId to search packer logs.",
            run.op_id
        )
    } else {
        format!(
            "Failed while waiting for packerizer: Timeout waiting for microservice to complete: 'context deadline exceeded'. The build exceeded buildTimeoutInMinutes ({} minutes). Image Build log location: {url}. OperationId: {}.",
            run.timeout_minutes, run.op_id
        )
    };
    let code = if run.result == OutcomeResult::Fail {
        "PackerBuildFailed"
    } else {
        "BuildTimeout"
    };
    let err = json!({"code": code, "message": message});
    let sub_state = if run.result == OutcomeResult::TimeoutDistributing {
        "Distributing"
    } else {
        "Customizing"
    };
    finish(
        st,
        t,
        RunEnd {
            state: "Failed",
            sub_state,
            at: end,
            message,
        },
        Some(err),
    );
}

fn finish(st: &mut State, t: &mut ImageTemplate, end: RunEnd, error: Option<Value>) {
    let Some(run) = t.run.as_mut() else { return };
    let status: &'static str = match end.state {
        "Succeeded" => "Succeeded",
        "Canceled" => "Canceled",
        _ => "Failed",
    };
    if let Some(op) = st.operations.get_mut(&run.op_id.to_ascii_lowercase()) {
        op.fin = Some(OpFinal {
            status,
            end: end.at,
            error: error.clone(),
        });
    }
    run.end = Some(end);
}
