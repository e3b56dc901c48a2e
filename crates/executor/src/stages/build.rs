//! `build`: POST `run` and follow it through the resource group's shared poller, showing
//! `runSubState`; on Ctrl-C, POST `cancel` and wait (bounded) for Canceled.

use std::sync::Arc;
use std::time::Duration;

use aib_planner::Unit;
use aib_state::{Failure, StageStatus};

use super::{BuildEnd, RunShared, UnitNames, UnitOutcome, short};
use crate::events::{BuildEvent, Level, Stage};
use crate::runner::watch::{Snapshot, TemplateStatus};

/// Extra time beyond `build_timeout_minutes` before we stop waiting (Azure time).
pub const BUILD_GRACE: Duration = Duration::from_secs(30 * 60);
/// How long to wait for Canceled after POSTing cancel (Azure time).
pub const CANCEL_WAIT: Duration = Duration::from_secs(10 * 60);
/// Consecutive failed lists tolerated before the build stage gives up.
pub const MAX_LIST_FAILURES: u32 = 10;
/// Lists in a row where a started build's template is missing (and cannot be read) before
/// giving up.
pub const MAX_MISSING: u32 = 3;

fn failure(message: String) -> UnitOutcome {
    UnitOutcome::failed(Failure::new(Stage::Build.as_str(), message))
}

/// Starts (or attaches to) the run and follows it to the end.
pub async fn build(
    shared: &Arc<RunShared>,
    unit: &Unit,
    names: &UnitNames,
    prior_start: Option<String>,
    attach: bool,
) -> Result<BuildEnd, UnitOutcome> {
    let id = &names.id;
    shared.stage_started(id, Stage::Build);
    if shared.interrupt.is_cancelled() {
        shared.stage_finished(id, Stage::Build, StageStatus::Cancelled, None);
        return Err(UnitOutcome::cancelled(
            "interrupted before the build started",
        ));
    }
    if attach && shared.config.detach {
        // Following is a later `aib resume`'s job.
        return Ok(BuildEnd::Detached);
    }
    let mut hint = None;
    let mut prior_start = prior_start;
    if !attach {
        // The template's last run is known: none when this run deployed it, else the one
        // preflight listed (nobody else runs it while we hold the state lock).
        let before = prior_start
            .clone()
            .map(|t| aib_azure::types::LastRunStatus {
                start_time: Some(t),
                ..Default::default()
            });
        let op = match shared
            .arm
            .run_image_template_after(
                &names.subscription,
                &names.resource_group,
                &names.template_name,
                before,
            )
            .await
        {
            Ok(op) => op,
            Err(e) => {
                let m = format!("could not start the build of {}: {e}", names.template_name);
                shared.stage_finished(id, Stage::Build, StageStatus::Failed, Some(short(&m)));
                return Err(failure(m));
            }
        };
        if let Some(h) = op.handle() {
            shared.emit(BuildEvent::RunOperation {
                unit: id.clone(),
                url: aib_azure::error::redact_url(&h.status_url),
            });
        }
        if shared.config.detach {
            return Ok(BuildEnd::Detached);
        }
        // One status read per resource group tells the poller the server's interval.
        if !shared
            .watchers
            .has_hint(&names.subscription, &names.resource_group)
            && let Ok(o) = op.poll().await
        {
            hint = o
                .retry_after
                .map(|h| shared.arm.config().retry.server_wait(h));
        }
    } else {
        // Following a build someone started: its current run is ours. No run operation gives
        // the server's interval: the group's last hint, else the default (Azure time).
        prior_start = None;
    }
    let mut rx = shared
        .watchers
        .subscribe(&names.subscription, &names.resource_group, hint);
    let key = names.template_name.to_ascii_lowercase();
    let limit =
        Duration::from_secs(u64::from(unit.settings.build_timeout_minutes) * 60) + BUILD_GRACE;
    let deadline = tokio::time::Instant::now() + shared.azure_time(limit);
    let mut last_sub: Option<String> = None;
    let mut list_failures = 0u32;
    let mut missing = 0u32;
    let mut staging_rg: Option<String> = None;
    loop {
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    let m = "internal: the progress poller stopped".to_string();
                    shared.stage_finished(id, Stage::Build, StageStatus::Failed, Some(m.clone()));
                    return Err(failure(m));
                }
            }
            _ = shared.interrupt.cancelled() => {
                return Ok(cancel(shared, names, &mut rx, staging_rg).await);
            }
            _ = tokio::time::sleep_until(deadline) => {
                let m = format!("no result from the build after {} minutes; stopped waiting (the template keeps running in Azure)", limit.as_secs() / 60);
                shared.stage_finished(id, Stage::Build, StageStatus::Failed, Some(m.clone()));
                return Ok(BuildEnd::Failed { message: m, staging_rg });
            }
        }
        let snap: Arc<Snapshot> = rx.borrow_and_update().clone();
        if let Some(err) = &snap.error {
            list_failures += 1;
            if snap.fatal || list_failures >= MAX_LIST_FAILURES {
                let m = format!("cannot read the build's progress: {err}");
                shared.stage_finished(id, Stage::Build, StageStatus::Failed, Some(short(&m)));
                return Err(failure(m));
            }
            continue;
        }
        list_failures = 0;
        let fetched;
        let t = match snap.templates.get(&key) {
            Some(t) => t,
            None => {
                // A paged list read while other templates are created or deleted can skip
                // one; ask for this template before calling it gone.
                match names.template(&shared.arm).await {
                    Ok(t) => {
                        fetched = TemplateStatus::from(t);
                        &fetched
                    }
                    Err(e) => {
                        missing += 1;
                        if e.is_not_found() || missing >= MAX_MISSING {
                            let m = if e.is_not_found() {
                                format!(
                                    "image template {} disappeared during the build",
                                    names.template_name
                                )
                            } else {
                                format!("cannot read image template {}: {e}", names.template_name)
                            };
                            shared.stage_finished(
                                id,
                                Stage::Build,
                                StageStatus::Failed,
                                Some(m.clone()),
                            );
                            return Err(failure(m));
                        }
                        continue;
                    }
                }
            }
        };
        missing = 0;
        if t.staging_rg.is_some() {
            staging_rg = t.staging_rg.clone();
        }
        match interpret(t, prior_start.as_deref()) {
            RunView::NotYet => {}
            RunView::Running { state, sub } => {
                if last_sub.as_deref() != Some(sub.as_str()) {
                    shared.emit(BuildEvent::BuildProgress {
                        unit: id.clone(),
                        run_state: state,
                        sub_state: Some(sub.clone()),
                    });
                    last_sub = Some(sub);
                }
            }
            RunView::Succeeded => {
                shared.stage_finished(id, Stage::Build, StageStatus::Succeeded, None);
                return Ok(BuildEnd::Succeeded);
            }
            RunView::Failed(message) => {
                shared.stage_finished(id, Stage::Build, StageStatus::Failed, Some(short(&message)));
                return Ok(BuildEnd::Failed {
                    message,
                    staging_rg,
                });
            }
            RunView::Canceled => {
                shared.stage_finished(
                    id,
                    Stage::Build,
                    StageStatus::Cancelled,
                    Some("canceled in Azure".into()),
                );
                return Ok(BuildEnd::Failed {
                    message: "the build was canceled in Azure (not by this run)".into(),
                    staging_rg,
                });
            }
        }
    }
}

enum RunView {
    NotYet,
    Running { state: String, sub: String },
    Succeeded,
    Failed(String),
    Canceled,
}

fn interpret(t: &TemplateStatus, prior_start: Option<&str>) -> RunView {
    let Some(l) = &t.last_run else {
        return RunView::NotYet;
    };
    if prior_start.is_some() && l.start_time.as_deref() == prior_start {
        // Still the previous run of a reused template.
        return RunView::NotYet;
    }
    let state = l.run_state.clone().unwrap_or_default();
    match aib_azure::lro::parse_run_state(&state) {
        aib_azure::OperationState::Running => RunView::Running {
            sub: l.run_sub_state.clone().unwrap_or_else(|| state.clone()),
            state,
        },
        aib_azure::OperationState::Succeeded => RunView::Succeeded,
        aib_azure::OperationState::Failed => RunView::Failed(
            l.message
                .clone()
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| format!("the build ended in state {state}")),
        ),
        aib_azure::OperationState::Canceled => RunView::Canceled,
    }
}

/// POST cancel, then wait (bounded) for Canceled.
async fn cancel(
    shared: &Arc<RunShared>,
    names: &UnitNames,
    rx: &mut tokio::sync::watch::Receiver<Arc<Snapshot>>,
    mut staging_rg: Option<String>,
) -> BuildEnd {
    let id = &names.id;
    shared.message(
        id,
        Level::Warn,
        format!("cancelling the build of {}", names.template_name),
    );
    if let Err(e) = shared
        .arm
        .cancel_image_template(
            &names.subscription,
            &names.resource_group,
            &names.template_name,
        )
        .await
    {
        // A 409 means no run is active any more; anything else is reported.
        if e.status() != Some(409) {
            shared.message(id, Level::Warn, format!("cancel failed: {e}"));
        }
    }
    let key = names.template_name.to_ascii_lowercase();
    let deadline = tokio::time::Instant::now() + shared.azure_time(CANCEL_WAIT);
    loop {
        tokio::select! {
            r = rx.changed() => if r.is_err() { break },
            _ = tokio::time::sleep_until(deadline) => {
                shared.message(id, Level::Warn, format!(
                    "the build of {} did not reach Canceled within {} minutes; it may still be canceling in Azure: /subscriptions/{}/resourceGroups/{}/providers/Microsoft.VirtualMachineImages/imageTemplates/{}",
                    names.template_name,
                    CANCEL_WAIT.as_secs() / 60,
                    names.subscription,
                    names.resource_group,
                    names.template_name
                ));
                break;
            }
        }
        let snap = rx.borrow_and_update().clone();
        if let Some(t) = snap.templates.get(&key) {
            if t.staging_rg.is_some() {
                staging_rg = t.staging_rg.clone();
            }
            let state = t
                .last_run
                .as_ref()
                .and_then(|l| l.run_state.clone())
                .unwrap_or_default();
            if aib_azure::lro::parse_run_state(&state).is_terminal() {
                break;
            }
        }
    }
    shared.stage_finished(
        id,
        Stage::Build,
        StageStatus::Cancelled,
        Some("interrupted".into()),
    );
    BuildEnd::Cancelled { staging_rg }
}
