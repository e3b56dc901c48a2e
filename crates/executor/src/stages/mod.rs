//! The stages of one unit — deploy, build, verify, collect-logs (on failure, before any
//! delete), cleanup — run in order by [`run_unit`], which reports every step as an event.

pub mod build;
pub mod cleanup;
pub mod collect;
pub mod deploy;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use aib_azure::types::ImageTemplate;
use aib_azure::{ArmClient, ResourceGroupId, ResourceId};
use aib_manifest::CleanupPolicy;
use aib_planner::{ResolvedSource, Unit};
use aib_render::render::{
    RenderInputs, RenderedDeployment, Renderer, SecretValues, final_input_hash,
};
use aib_state::{Failure, StageStatus, StateStore, UnitStatus};
use aib_vocab::UnitId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::events::{BuildEvent, Level, Stage, Stamped};
use crate::preflight::Preflight;
use crate::runner::config::ExecutorConfig;
use crate::runner::watch::Watchers;
use crate::sync::lock;

/// What every unit of a run shares.
pub struct RunShared {
    pub arm: ArmClient,
    pub store: StateStore,
    pub run_id: String,
    pub renderer: Renderer,
    pub watchers: Arc<Watchers>,
    pub events: mpsc::UnboundedSender<Stamped>,
    pub preflight: Preflight,
    pub secrets: std::collections::BTreeMap<String, SecretValues>,
    pub config: ExecutorConfig,
    /// Ctrl-C / SIGTERM.
    pub interrupt: CancellationToken,
    /// Stops new units from starting (`--fail-fast`; a child of `interrupt`).
    pub stop_new: CancellationToken,
    /// Why `stop_new` was cancelled.
    pub stop_reason: Arc<std::sync::Mutex<Option<String>>>,
    /// Knows the run's secret values (logs are redacted before they are saved).
    pub redactor: crate::redact::Redactor,
    /// What a stage could not save in the state (a collected log): the build ends with it.
    pub state_errors: Arc<std::sync::Mutex<Vec<String>>>,
    /// Units whose build an earlier process of this run started (see
    /// [`crate::runner::RunInput::resumed_builds`]).
    pub resumed_builds: std::collections::HashSet<String>,
}

impl std::fmt::Debug for RunShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunShared")
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

impl RunShared {
    /// Send an event (the recorder outlives every worker; a closed channel is ignored).
    pub fn emit(&self, event: BuildEvent) {
        let _ = self.events.send(Stamped::now(event));
    }

    /// A duration in Azure's time, scaled to real time (the simulator runs faster).
    pub fn azure_time(&self, d: Duration) -> Duration {
        d.mul_f64(self.config.time_scale.max(0.0))
    }

    pub(crate) fn message(&self, unit: &UnitId, level: Level, text: impl Into<String>) {
        self.emit(BuildEvent::Message {
            unit: Some(unit.clone()),
            level,
            text: text.into(),
        });
    }

    pub(crate) fn stage_started(&self, unit: &UnitId, stage: Stage) {
        self.emit(BuildEvent::StageStarted {
            unit: unit.clone(),
            stage,
        });
    }

    pub(crate) fn stage_finished(
        &self,
        unit: &UnitId,
        stage: Stage,
        status: StageStatus,
        message: Option<String>,
    ) {
        self.emit(BuildEvent::StageFinished {
            unit: unit.clone(),
            stage,
            status,
            message,
        });
    }
}

/// A unit gave its build slot back before it ended (to clean up): with the image version it
/// verified, the units built from it may start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    /// The unit's position in the plan.
    pub unit: usize,
    pub image_version_id: Option<String>,
}

/// A running unit's build slot, given back at most once through [`Slot::release`]; a unit that
/// never gives it back holds it until it ends.
#[derive(Debug)]
pub struct Slot {
    unit: usize,
    to: Option<mpsc::UnboundedSender<Released>>,
}

impl Slot {
    /// The slot of the unit at `unit` (plan position), given back over `to`.
    pub fn new(unit: usize, to: mpsc::UnboundedSender<Released>) -> Self {
        Self { unit, to: Some(to) }
    }

    /// Gives the slot back (a closed channel is ignored: the run is ending).
    pub fn release(&mut self, image_version_id: Option<String>) {
        if let Some(to) = self.to.take() {
            let _ = to.send(Released {
                unit: self.unit,
                image_version_id,
            });
        }
    }
}

/// How a unit ended.
#[derive(Debug, Clone)]
pub struct UnitOutcome {
    pub status: UnitStatus,
    pub image_version_id: Option<String>,
    pub reason: Option<String>,
    pub failure: Option<Failure>,
}

impl UnitOutcome {
    fn failed(failure: Failure) -> Self {
        Self {
            status: UnitStatus::Failed,
            image_version_id: None,
            reason: None,
            failure: Some(failure),
        }
    }

    /// The unit goes on without this process (`--detach`): it stays `running` in the record.
    fn detached() -> Self {
        Self {
            status: UnitStatus::Running,
            image_version_id: None,
            reason: None,
            failure: None,
        }
    }

    fn cancelled(reason: &str) -> Self {
        Self {
            status: UnitStatus::Cancelled,
            image_version_id: None,
            reason: Some(reason.to_string()),
            failure: None,
        }
    }
}

/// The names a unit's stages work with.
#[derive(Debug, Clone)]
pub struct UnitNames {
    pub id: UnitId,
    pub subscription: String,
    pub resource_group: String,
    pub template_name: String,
    pub deployment_name: String,
    pub image_version: Option<String>,
}

impl UnitNames {
    /// The resource group the unit deploys its template to.
    pub fn group(&self) -> ResourceGroupId {
        ResourceGroupId::new(&self.subscription, &self.resource_group)
    }

    /// The unit's image template.
    pub fn template_id(&self) -> ResourceId {
        ResourceId::image_template(&self.group(), &self.template_name)
    }

    /// The deployment that deploys the unit's template.
    pub fn deployment_id(&self) -> ResourceId {
        ResourceId::deployment(&self.group(), &self.deployment_name)
    }

    /// GET the unit's image template.
    pub async fn template(
        &self,
        arm: &ArmClient,
    ) -> aib_azure::Result<aib_azure::types::ImageTemplate> {
        arm.get_image_template(&self.template_id()).await
    }
}

/// How the build stage ended.
#[derive(Debug)]
pub enum BuildEnd {
    Succeeded,
    Failed {
        message: String,
        staging_rg: Option<String>,
    },
    Cancelled {
        staging_rg: Option<String>,
    },
    /// `--detach`: the build goes on in Azure; a later `aib resume` follows it.
    Detached,
}

/// Runs every stage of a unit. `parent_version` is the image version id its parent
/// published (for `source = { variant }`). The slot is given back after verify (with the
/// verified version, so the units built from this one start while it cleans up): cleanup does
/// not hold a build slot.
pub async fn run_unit(
    shared: Arc<RunShared>,
    unit: Arc<Unit>,
    parent_version: Option<String>,
    mut slot: Slot,
) -> UnitOutcome {
    let out = run_stages(&shared, &unit, parent_version, &mut slot).await;
    // --fail-fast: stop new units before this one's build slot frees up.
    if out.status == UnitStatus::Failed
        && shared.config.fail_fast
        && !shared.stop_new.is_cancelled()
    {
        *lock(&shared.stop_reason) = Some(format!("--fail-fast: `{}` failed", unit.id));
        shared.stop_new.cancel();
    }
    if out.status == UnitStatus::Running {
        // Detached: not finished.
        return out;
    }
    shared.emit(BuildEvent::UnitFinished {
        unit: unit.id.clone(),
        status: out.status,
        reason: out.reason.clone(),
        image_version_id: out.image_version_id.clone(),
        failure: out.failure.clone(),
    });
    out
}

async fn run_stages(
    shared: &Arc<RunShared>,
    unit: &Unit,
    parent_version: Option<String>,
    slot: &mut Slot,
) -> UnitOutcome {
    let prepared = match prepare(shared, unit, parent_version) {
        Ok(p) => p,
        Err(out) => return *out,
    };
    let names = &prepared.names;
    let template = match assess_template(shared, names, &prepared.rendered).await {
        Ok(t) => t,
        Err(out) => return out,
    };
    if let Err(out) = deploy_stage(shared, unit, &prepared, &template).await {
        return out;
    }
    let build_end = match build_stage(shared, unit, names, &template).await {
        Ok(end) => end,
        Err(out) => return out,
    };
    let Some(built) = verify_stage(shared, unit, names, build_end).await else {
        return UnitOutcome::detached();
    };
    // Cleanup does not hold a build slot.
    if built.failure.is_none() {
        slot.release(built.image_version_id.clone());
    }
    finish(shared, unit, names, built).await
}

/// A unit rendered and named, as the stages work with it.
struct Prepared {
    rendered: RenderedDeployment,
    names: UnitNames,
}

/// Renders the unit (a rendering error fails its deploy stage) and announces its names.
fn prepare(
    shared: &Arc<RunShared>,
    unit: &Unit,
    parent_version: Option<String>,
) -> Result<Prepared, Box<UnitOutcome>> {
    let id = unit.id.clone();
    let source_version = match &unit.settings.source {
        ResolvedSource::Variant { .. } => parent_version,
        ResolvedSource::Platform { .. } => shared.preflight.platform_versions.get(&*id).cloned(),
        _ => None,
    };
    let image_version = shared.preflight.versions.get(&*id).cloned().flatten();
    let inputs = RenderInputs {
        source_version: source_version.as_deref(),
        image_version: image_version.as_deref(),
        secrets: shared.secrets.get(&*id),
    };
    let rendered = match shared.renderer.render(unit, &inputs) {
        Ok(r) => r,
        Err(e) => {
            shared.stage_started(&id, Stage::Deploy);
            shared.stage_finished(&id, Stage::Deploy, StageStatus::Failed, Some(e.to_string()));
            return Err(Box::new(UnitOutcome::failed(Failure::new(
                Stage::Deploy,
                e.to_string(),
            ))));
        }
    };
    let names = UnitNames {
        id: id.clone(),
        subscription: unit.settings.subscription.clone(),
        resource_group: unit.settings.resource_group.clone(),
        template_name: rendered.template_name.clone(),
        deployment_name: rendered.deployment_name.clone(),
        image_version: image_version.clone(),
    };
    shared.emit(BuildEvent::UnitPrepared {
        unit: id,
        template_name: names.template_name.clone(),
        deployment_name: names.deployment_name.clone(),
        resource_group: names.resource_group.clone(),
        subscription: names.subscription.clone(),
        input_hash: final_input_hash(unit, source_version.as_deref()),
        source_version,
        image_version,
    });
    Ok(Prepared { rendered, names })
}

/// What the unit's image template already in Azure (if any) means for its deploy and build.
struct TemplateAt {
    /// The template with the same content-addressed name, if one is there to reuse.
    existing: Option<ImageTemplate>,
    /// An earlier process of this run started its build.
    resumed: Option<Resumed>,
    /// When the template's last build started (a build that follows it must be newer).
    prior_start: Option<String>,
    /// Its last build is still Canceling (an interrupted run cancelled it).
    canceling: bool,
    /// Follow the build running in it instead of starting one.
    attach: bool,
    /// Its build already succeeded: verify the result instead of building again.
    finished_before: bool,
    /// Delete it and deploy it again (it carries secret values, which may have changed).
    recreate: bool,
}

/// Looks at the template with the unit's name (a template that failed to provision is deleted
/// and deployed again) and decides what is reused, followed, verified or recreated.
async fn assess_template(
    shared: &Arc<RunShared>,
    names: &UnitNames,
    rendered: &RenderedDeployment,
) -> Result<TemplateAt, UnitOutcome> {
    let mut existing = shared
        .preflight
        .existing_template(&names.template_id())
        .cloned();
    if let Some(t) = &existing {
        match deploy::settle_existing(shared, names, t.properties.provisioning_state.as_deref())
            .await
        {
            Ok(true) => {}
            Ok(false) => existing = None,
            Err(out) => return Err(out),
        }
    }
    // A build an earlier process of this run started is never run again: followed while it
    // runs (or before Azure shows it), verified once it succeeded, taken as failed otherwise.
    let resumed = match resumed_build(shared, names, existing.as_ref()) {
        Ok(r) => r,
        Err(m) => {
            shared.stage_started(&names.id, Stage::Build);
            shared.stage_finished(
                &names.id,
                Stage::Build,
                StageStatus::Failed,
                Some(short(&m)),
            );
            return Err(UnitOutcome::failed(Failure::new(Stage::Build, m)));
        }
    };
    Ok(template_at(shared, existing, resumed, rendered))
}

/// The decisions of [`assess_template`] once the existing template and a resumed build are known.
fn template_at(
    shared: &Arc<RunShared>,
    existing: Option<ImageTemplate>,
    resumed: Option<Resumed>,
    rendered: &RenderedDeployment,
) -> TemplateAt {
    let last = existing
        .as_ref()
        .and_then(|t| t.properties.last_run_status.as_ref());
    let prior_start = last.and_then(|l| l.start_time.clone());
    // A build an interrupted run left Canceling is not ours to follow: it ends Canceled.
    let canceling = last.is_some_and(is_canceling);
    let attach =
        resumed == Some(Resumed::Follow) || (!canceling && last.is_some_and(|l| l.is_active()));
    // A build an earlier (e.g. crashed) run started and Azure finished: verify its result
    // instead of running the template again (unless --force).
    let finished_before = resumed == Some(Resumed::Verify)
        || !shared.config.force
            && last.and_then(|l| l.run_state.as_deref()).is_some_and(|s| {
                aib_azure::lro::parse_run_state(s) == aib_azure::OperationState::Succeeded
            });
    // A template holds the secret values it was created with, and the input hash leaves
    // values out: one that carries a secret is deployed again (unless it is building), so a
    // rotated value is never stale.
    let recreate = resumed.is_none()
        && existing.is_some()
        && !rendered.secret_parameters.is_empty()
        && !attach
        && !finished_before;
    TemplateAt {
        existing,
        resumed,
        // A recreated template has no earlier run.
        prior_start: if recreate { None } else { prior_start },
        canceling,
        attach,
        finished_before,
        recreate,
    }
}

/// Deploys the unit's template, reuses the existing one, or deletes and deploys it again; then
/// waits out a build still canceling in it.
async fn deploy_stage(
    shared: &Arc<RunShared>,
    unit: &Unit,
    prepared: &Prepared,
    at: &TemplateAt,
) -> Result<(), UnitOutcome> {
    let names = &prepared.names;
    let identity = &unit.settings.identity;
    if at.recreate {
        if at.canceling {
            wait_out_cancel(shared, names).await?;
        }
        recreate_template(shared, names).await?;
        return deploy::deploy(shared, names, &prepared.rendered, identity).await;
    }
    if at.existing.is_none() {
        deploy::deploy(shared, names, &prepared.rendered, identity).await?;
    } else if at.resumed.is_none() {
        // (A resumed build said so when it was started.)
        shared.message(
            &names.id,
            Level::Info,
            format!(
                "image template {} already exists with the same inputs: reusing it (templates are never updated){}",
                names.template_name,
                if at.attach {
                    "; following its running build"
                } else if at.finished_before {
                    "; its build already succeeded: verifying its result"
                } else {
                    ""
                }
            ),
        );
    }
    if at.canceling {
        wait_out_cancel(shared, names).await?;
    }
    Ok(())
}

/// The build stage: taken as failed or succeeded from a resumed or finished build, otherwise
/// run (or followed). When it gives up, `cleanup = "always"` still deletes the template.
async fn build_stage(
    shared: &Arc<RunShared>,
    unit: &Unit,
    names: &UnitNames,
    at: &TemplateAt,
) -> Result<BuildEnd, UnitOutcome> {
    let id = &names.id;
    if let Some(Resumed::Failed(message)) = at.resumed.clone() {
        shared.stage_finished(id, Stage::Build, StageStatus::Failed, Some(short(&message)));
        return Ok(BuildEnd::Failed {
            message,
            staging_rg: at
                .existing
                .as_ref()
                .and_then(|t| t.properties.exact_staging_resource_group.clone()),
        });
    }
    if at.finished_before {
        shared.stage_started(id, Stage::Build);
        shared.stage_finished(
            id,
            Stage::Build,
            StageStatus::Succeeded,
            Some("already built by an earlier run".into()),
        );
        return Ok(BuildEnd::Succeeded);
    }
    let out = match build::build(shared, unit, names, at.prior_start.clone(), at.attach).await {
        Ok(end) => return Ok(end),
        Err(out) => out,
    };
    // The build stage gave up (the run could not start, its progress could not be read):
    // `cleanup = "always"` still deletes the template.
    if unit.settings.cleanup == CleanupPolicy::Always
        && out.status == UnitStatus::Failed
        && !shared.interrupt.is_cancelled()
    {
        // A build aib stopped following may still run: cancel it (AIB deletes no template
        // while it builds), then delete.
        let _ = shared.arm.cancel_image_template(&names.template_id()).await;
        cleanup::cleanup(shared, names).await;
    }
    Err(out)
}

/// What the build and verify stages left: the verified version, or why the unit failed.
struct Built {
    image_version_id: Option<String>,
    failure: Option<Failure>,
    cancelled: bool,
}

/// Verifies a successful build; reconciles a failed one whose version was published anyway,
/// else collects its logs. `None` when the build goes on detached.
async fn verify_stage(
    shared: &Arc<RunShared>,
    unit: &Unit,
    names: &UnitNames,
    build_end: BuildEnd,
) -> Option<Built> {
    let mut built = Built {
        image_version_id: None,
        failure: None,
        cancelled: false,
    };
    match build_end {
        BuildEnd::Succeeded => match verify::verify(shared, unit, names).await {
            Ok(v) => built.image_version_id = Some(v),
            Err(f) => built.failure = Some(f),
        },
        BuildEnd::Failed {
            message,
            staging_rg,
        } => {
            // A build that "failed" by timeout while the version replicated is reconciled.
            match verify::reconcile(shared, unit, names, &message).await {
                Some(v) => {
                    shared.message(
                        &names.id,
                        Level::Warn,
                        format!("the build reported a failure ({}) but image version {v} is published and replicated: counted as succeeded", short(&message)),
                    );
                    built.image_version_id = Some(v);
                }
                None => {
                    let f =
                        collect::collect(shared, unit, names, staging_rg, Stage::Build, &message)
                            .await;
                    built.failure = Some(f);
                }
            }
        }
        BuildEnd::Detached => return None,
        BuildEnd::Cancelled { staging_rg } => {
            built.cancelled = true;
            let _ =
                collect::collect(shared, unit, names, staging_rg, Stage::Build, "cancelled").await;
        }
    }
    Some(built)
}

/// The unit's status, and the cleanup its policy asks for (or a note that the template is kept).
async fn finish(
    shared: &Arc<RunShared>,
    unit: &Unit,
    names: &UnitNames,
    built: Built,
) -> UnitOutcome {
    let status = if built.cancelled {
        UnitStatus::Cancelled
    } else if built.failure.is_some() {
        UnitStatus::Failed
    } else {
        UnitStatus::Succeeded
    };
    let delete = match unit.settings.cleanup {
        CleanupPolicy::Always => true,
        CleanupPolicy::OnSuccess => status == UnitStatus::Succeeded,
        CleanupPolicy::Never => false,
    };
    if delete && !shared.interrupt.is_cancelled() {
        cleanup::cleanup(shared, names).await;
    } else if status == UnitStatus::Failed && !delete {
        shared.message(
            &names.id,
            Level::Info,
            format!(
                "image template {} kept for inspection (cleanup = \"{}\")",
                names.template_name,
                match unit.settings.cleanup {
                    CleanupPolicy::Never => "never",
                    _ => "on-success",
                }
            ),
        );
    }
    UnitOutcome {
        status,
        image_version_id: built.image_version_id,
        reason: built.cancelled.then(|| "interrupted".to_string()),
        failure: built.failure,
    }
}

/// What an earlier process of the run left of a unit whose build it started.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resumed {
    /// Still building (or not yet shown as building): follow it.
    Follow,
    /// It succeeded: verify its result.
    Verify,
    /// It failed or was canceled in Azure.
    Failed(String),
}

/// `None` unless an earlier process of this run started the unit's build; the failure when its
/// template is gone (the run's resume found no version it published either).
fn resumed_build(
    shared: &Arc<RunShared>,
    names: &UnitNames,
    existing: Option<&aib_azure::types::ImageTemplate>,
) -> Result<Option<Resumed>, String> {
    if !shared.resumed_builds.contains(&*names.id) {
        return Ok(None);
    }
    let Some(t) = existing else {
        return Err(format!(
            "image template {} of this run's build is gone and no image version it published was found; build the unit again",
            names.template_name
        ));
    };
    let Some(last) = t.properties.last_run_status.as_ref() else {
        return Ok(Some(Resumed::Follow));
    };
    let state = last.run_state.clone().unwrap_or_default();
    Ok(Some(match aib_azure::lro::parse_run_state(&state) {
        aib_azure::OperationState::Running => Resumed::Follow,
        aib_azure::OperationState::Succeeded => Resumed::Verify,
        aib_azure::OperationState::Canceled => {
            Resumed::Failed("the build was canceled in Azure".into())
        }
        aib_azure::OperationState::Failed => Resumed::Failed(
            last.message
                .clone()
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| format!("the build ended in state {state}")),
        ),
    }))
}

/// Deletes a template this unit will deploy again (see [`TemplateAt::recreate`]).
async fn recreate_template(shared: &Arc<RunShared>, names: &UnitNames) -> Result<(), UnitOutcome> {
    let id = &names.id;
    shared.message(
        id,
        Level::Info,
        format!(
            "image template {} already exists but carries secrets, which it keeps as they were when it was created: deleting it to deploy it with the current values",
            names.template_name
        ),
    );
    let why = match cleanup::remove(shared, names).await {
        Ok(true) => return Ok(()),
        Err(e) if e.is_not_found() => return Ok(()),
        Ok(false) => format!(
            "image template {} was still being deleted after {} minutes",
            names.template_name,
            cleanup::DELETE_WAIT.as_secs() / 60
        ),
        Err(e) => format!(
            "could not delete image template {}: {e}",
            names.template_name
        ),
    };
    let message = format!("{why}; it carries secrets and is deployed again, never reused");
    shared.stage_started(id, Stage::Deploy);
    shared.stage_finished(
        id,
        Stage::Deploy,
        StageStatus::Failed,
        Some(short(&message)),
    );
    Err(UnitOutcome::failed(Failure::new(Stage::Deploy, message)))
}

fn is_canceling(l: &aib_azure::types::LastRunStatus) -> bool {
    l.run_state
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("canceling"))
}

/// A template whose last build is still Canceling (an interrupted run cancelled it and exited
/// at once): AIB refuses a new run while one is active, so wait, bounded like a cancel, for it
/// to end; the build stage then runs the template again.
async fn wait_out_cancel(shared: &Arc<RunShared>, names: &UnitNames) -> Result<(), UnitOutcome> {
    let id = &names.id;
    shared.message(
        id,
        Level::Info,
        format!(
            "image template {} is still canceling a build an earlier run started; waiting for it to end",
            names.template_name
        ),
    );
    let mut rx = shared.watchers.subscribe(&names.group(), None);
    let key = names.template_name.to_ascii_lowercase();
    let limit = build::CANCEL_WAIT;
    let deadline = tokio::time::Instant::now() + shared.azure_time(limit);
    let failed = |message: String| {
        shared.stage_started(id, Stage::Build);
        shared.stage_finished(id, Stage::Build, StageStatus::Failed, Some(short(&message)));
        UnitOutcome::failed(Failure::new(Stage::Build, message))
    };
    loop {
        {
            let snap = rx.borrow_and_update().clone();
            if snap.seq > 0 && snap.error.is_none() {
                let still = snap
                    .templates
                    .get(&key)
                    .and_then(|t| t.last_run.as_ref())
                    .is_some_and(is_canceling);
                if !still {
                    return Ok(());
                }
            }
        }
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    return Err(failed("internal: the progress poller stopped".into()));
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                return Err(failed(format!(
                    "the earlier build of {} did not leave Canceling within {} minutes: {}",
                    names.template_name,
                    limit.as_secs() / 60,
                    names.template_id()
                )));
            }
            _ = shared.interrupt.cancelled() => {
                return Err(UnitOutcome::cancelled("interrupted while an earlier build was canceling"));
            }
        }
    }
}

/// The first line of a message, cut to 200 characters.
pub fn short(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() > 200 {
        let mut t: String = line.chars().take(199).collect();
        t.push('…');
        t
    } else {
        line.to_string()
    }
}
