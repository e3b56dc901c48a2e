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
    UnitOutcome::failed(Failure::new(Stage::Build, message))
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
    let (hint, prior_start) = if attach {
        // Following a build someone started: its current run is ours. No run operation gives
        // the server's interval: the group's last hint, else the default (Azure time).
        (None, None)
    } else {
        match start_run(shared, names, prior_start.clone()).await? {
            Started::Detached => return Ok(BuildEnd::Detached),
            Started::Following { hint } => (hint, prior_start),
        }
    };
    let rx = shared.watchers.subscribe(&names.group(), hint);
    let limit =
        Duration::from_secs(u64::from(unit.settings.build_timeout_minutes) * 60) + BUILD_GRACE;
    Follower {
        shared,
        names,
        key: names.template_name.to_ascii_lowercase(),
        prior_start,
        last_sub: None,
        list_failures: 0,
        missing: 0,
        staging_rg: None,
    }
    .follow(rx, limit)
    .await
}

/// What starting the run left to do.
enum Started {
    /// `--detach`: the build goes on without this process.
    Detached,
    /// Follow it; `hint` is the server's polling interval when the run operation gave one.
    Following { hint: Option<Duration> },
}

/// POSTs `run` (after the template's known last run, `prior_start`), records the run
/// operation, and reads the server's polling interval once per resource group.
async fn start_run(
    shared: &Arc<RunShared>,
    names: &UnitNames,
    prior_start: Option<String>,
) -> Result<Started, UnitOutcome> {
    let id = &names.id;
    // The template's last run is known: none when this run deployed it, else the one
    // preflight listed (nobody else runs it while we hold the state lock).
    let before = prior_start.map(|t| aib_azure::types::LastRunStatus {
        start_time: Some(t),
        ..Default::default()
    });
    let op = match shared
        .arm
        .run_image_template_after(&names.template_id(), before)
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
        return Ok(Started::Detached);
    }
    let mut hint = None;
    // One status read per resource group tells the poller the server's interval.
    if !shared.watchers.has_hint(&names.group())
        && let Ok(o) = op.poll().await
    {
        hint = o
            .retry_after
            .map(|h| shared.arm.config().retry.server_wait(h));
    }
    Ok(Started::Following { hint })
}

/// Follows one unit's build through the resource group's shared poller.
struct Follower<'a> {
    shared: &'a Arc<RunShared>,
    names: &'a UnitNames,
    /// The template's name as the poller's snapshots key it.
    key: String,
    /// The start of the template's run before ours (still that run until it changes).
    prior_start: Option<String>,
    /// The last `runSubState` shown.
    last_sub: Option<String>,
    /// Failed lists in a row.
    list_failures: u32,
    /// Lists in a row without the template.
    missing: u32,
    /// The build's staging resource group, once Azure names it.
    staging_rg: Option<String>,
}

impl Follower<'_> {
    /// Waits for each new snapshot until the build ends, the deadline (`limit` in Azure time)
    /// passes, or Ctrl-C cancels it.
    async fn follow(
        mut self,
        mut rx: tokio::sync::watch::Receiver<Arc<Snapshot>>,
        limit: Duration,
    ) -> Result<BuildEnd, UnitOutcome> {
        let shared = self.shared;
        let id = &self.names.id;
        let deadline = tokio::time::Instant::now() + shared.azure_time(limit);
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
                    return Ok(cancel(shared, self.names, &mut rx, self.staging_rg).await);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let m = format!("no result from the build after {} minutes; stopped waiting (the template keeps running in Azure)", limit.as_secs() / 60);
                    shared.stage_finished(id, Stage::Build, StageStatus::Failed, Some(m.clone()));
                    return Ok(BuildEnd::Failed { message: m, staging_rg: self.staging_rg });
                }
            }
            let snap: Arc<Snapshot> = rx.borrow_and_update().clone();
            let Some(t) = self.template(&snap).await? else {
                continue;
            };
            if let Some(end) = self.observe(&t) {
                return Ok(end);
            }
        }
    }

    /// The template in a snapshot (`None`: wait for the next one), or why the build stage
    /// gives up: too many failed lists, or the template is gone.
    async fn template(&mut self, snap: &Snapshot) -> Result<Option<TemplateStatus>, UnitOutcome> {
        let (shared, names) = (self.shared, self.names);
        let id = &names.id;
        if let Some(err) = &snap.error {
            self.list_failures += 1;
            if snap.fatal || self.list_failures >= MAX_LIST_FAILURES {
                let m = format!("cannot read the build's progress: {err}");
                shared.stage_finished(id, Stage::Build, StageStatus::Failed, Some(short(&m)));
                return Err(failure(m));
            }
            return Ok(None);
        }
        self.list_failures = 0;
        if let Some(t) = snap.templates.get(&self.key) {
            self.missing = 0;
            return Ok(Some(t.clone()));
        }
        // A paged list read while other templates are created or deleted can skip one; ask
        // for this template before calling it gone.
        match names.template(&shared.arm).await {
            Ok(t) => {
                self.missing = 0;
                Ok(Some(TemplateStatus::from(t)))
            }
            Err(e) => {
                self.missing += 1;
                if !e.is_not_found() && self.missing < MAX_MISSING {
                    return Ok(None);
                }
                let m = if e.is_not_found() {
                    format!(
                        "image template {} disappeared during the build",
                        names.template_name
                    )
                } else {
                    format!("cannot read image template {}: {e}", names.template_name)
                };
                shared.stage_finished(id, Stage::Build, StageStatus::Failed, Some(m.clone()));
                Err(failure(m))
            }
        }
    }

    /// Shows a new `runSubState`; the end of the build once the template's run says so.
    fn observe(&mut self, t: &TemplateStatus) -> Option<BuildEnd> {
        let (shared, id) = (self.shared, &self.names.id);
        if t.staging_rg.is_some() {
            self.staging_rg = t.staging_rg.clone();
        }
        match interpret(t, self.prior_start.as_deref()) {
            RunView::NotYet => None,
            RunView::Running { state, sub } => {
                if self.last_sub.as_deref() != Some(sub.as_str()) {
                    shared.emit(BuildEvent::BuildProgress {
                        unit: id.clone(),
                        run_state: state,
                        sub_state: Some(sub.clone()),
                    });
                    self.last_sub = Some(sub);
                }
                None
            }
            RunView::Succeeded => {
                shared.stage_finished(id, Stage::Build, StageStatus::Succeeded, None);
                Some(BuildEnd::Succeeded)
            }
            RunView::Failed(message) => {
                shared.stage_finished(id, Stage::Build, StageStatus::Failed, Some(short(&message)));
                Some(BuildEnd::Failed {
                    message,
                    staging_rg: self.staging_rg.take(),
                })
            }
            RunView::Canceled => {
                shared.stage_finished(
                    id,
                    Stage::Build,
                    StageStatus::Cancelled,
                    Some("canceled in Azure".into()),
                );
                Some(BuildEnd::Failed {
                    message: "the build was canceled in Azure (not by this run)".into(),
                    staging_rg: self.staging_rg.take(),
                })
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
    if let Err(e) = shared.arm.cancel_image_template(&names.template_id()).await {
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
                    "the build of {} did not reach Canceled within {} minutes; it may still be canceling in Azure: {}",
                    names.template_name,
                    CANCEL_WAIT.as_secs() / 60,
                    names.template_id()
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
