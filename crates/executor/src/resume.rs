//! `aib resume`: advance a run an earlier process started (`aib build --detach`, an earlier
//! resume, or a process that died) from its record: units it ended stay ended, units it
//! started are taken up where Azure has them (followed, verified, taken as failed — never run
//! again), pending units start when ready. The caller holds the state lock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use aib_azure::ArmClient;
use aib_manifest::Manifest;
use aib_planner::{Action, Plan, ResolvedSource, UnitId};
use aib_state::{RunRecord, RunStatus, StateStore, UnitRecord, UnitStatus};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::events::Stamped;
use crate::preflight;
use crate::runner::{self, ExecutorConfig, RunInput, RunResult};
use crate::secrets::{self, SecretOptions};
use crate::session::BuildError;

/// A run to advance.
pub struct ResumeRequest {
    pub manifest: Arc<Manifest>,
    /// The run's units as the manifest plans them now.
    pub plan: Plan,
    pub arm: ArmClient,
    pub store: StateStore,
    /// The run as recorded (unfinished).
    pub record: RunRecord,
    pub config: ExecutorConfig,
    pub interrupt: CancellationToken,
    pub forward: Option<mpsc::UnboundedSender<Stamped>>,
    pub secret_options: SecretOptions,
    pub redactor: crate::redact::Redactor,
}

impl std::fmt::Debug for ResumeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumeRequest")
            .field("run_id", &self.record.run_id)
            .finish_non_exhaustive()
    }
}

/// Whether the record left this unit to do.
fn open(u: &UnitRecord) -> bool {
    matches!(u.status, UnitStatus::Pending | UnitStatus::Running)
}

/// Whether an earlier process started this unit's build.
fn build_started(u: &UnitRecord) -> bool {
    u.status == UnitStatus::Running && u.stages.iter().any(|s| s.name == "build")
}

/// Ends the open units the manifest no longer plans as they were planned when the run
/// started: they are not deployed from a changed manifest (their dependents are skipped).
fn end_changed_units(record: &mut RunRecord, plan: &Plan) {
    let hashes = record
        .resume
        .as_ref()
        .map(|r| r.plan_hashes.clone())
        .unwrap_or_default();
    for u in record.units.iter_mut().filter(|u| open(u)) {
        let why = match plan.unit(&UnitId::from(u.id.as_str())) {
            None => {
                "no longer in the manifest: not resumed (a build it started in Azure is left to `aib gc`)"
            }
            Some(p)
                if hashes
                    .get(&u.id)
                    .is_some_and(|h| h != p.input_hash.preview()) =>
            {
                "its manifest entry changed since the run started: not resumed; build it again (a build it started in Azure is left to `aib gc`)"
            }
            Some(_) => continue,
        };
        u.status = UnitStatus::Skipped;
        u.reason = Some(why.to_string());
    }
}

/// Advances a run once (`config.detach`) or to its end.
pub async fn resume(req: ResumeRequest) -> Result<RunResult, BuildError> {
    let ResumeRequest {
        manifest,
        mut plan,
        arm,
        store,
        mut record,
        config,
        interrupt,
        forward,
        secret_options,
        redactor,
    } = req;
    reopen(&mut record, &plan, config.detach);
    let by_id: HashMap<String, UnitRecord> = record
        .units
        .iter()
        .map(|u| (u.id.clone(), u.clone()))
        .collect();
    let (work, to_deploy, followed) = set_actions(&mut plan, &by_id);
    let (known_platform, known_versions) = known_versions(&work, &by_id);
    let resolved = secrets::resolve(&to_deploy, Some(&arm), secret_options)
        .await
        .map_err(BuildError::Secrets)?;
    redactor.add(resolved.per_unit.values().flat_map(|v| v.values()));
    mask_followed(&followed, &arm, &redactor).await;
    // What the units need was checked when the run started: only the templates are read.
    let preflight = tokio::select! {
        r = preflight::resumed(&arm, &work, known_platform, known_versions) => r?,
        _ = interrupt.cancelled() => return Err(BuildError::State("interrupted during preflight".into())),
    };
    let resumed_builds: HashSet<String> = by_id
        .values()
        .filter(|u| build_started(u))
        .map(|u| u.id.clone())
        .collect();
    adopt_published(&arm, &plan, &preflight, &mut record, &resumed_builds).await;
    rewind_to_build(&mut record, &resumed_builds);
    let index = store
        .read_family_index()
        .await
        .map_err(|e| BuildError::State(format!("reading the index: {e}")))?;
    let external_versions = external_versions(&plan, &index);
    let expected_durations = runner::history::expected_durations(&store, &plan).await;
    store
        .write_run(&record)
        .await
        .map_err(|e| BuildError::State(e.to_string()))?;
    let store_for_index = store.clone();
    let mut result = runner::execute(RunInput {
        manifest,
        plan,
        arm,
        store,
        record,
        secrets: resolved.per_unit,
        preflight,
        config,
        interrupt,
        forward,
        note: None,
        external_versions,
        redactor,
        expected_durations,
        resumed_builds,
    })
    .await;
    update_index(&store_for_index, &index, &mut result).await;
    Ok(result)
}

/// The record as a run going on again: changed units ended, detached when this is a tick.
fn reopen(record: &mut RunRecord, plan: &Plan, detach: bool) {
    end_changed_units(record, plan);
    if detach && let Some(r) = record.resume.as_mut() {
        r.detached = true;
    }
    record.status = RunStatus::Running;
    record.finished = None;
}

/// Sets each unit's action (unchanged units stay unchanged; every other unit of the run
/// builds or has built) and returns the plans of what is left: the units still open (for
/// preflight), those still to deploy (for secrets) and those whose builds an earlier process
/// started (followed: their secrets are only masked).
fn set_actions(plan: &mut Plan, by_id: &HashMap<String, UnitRecord>) -> (Plan, Plan, Plan) {
    let ids: Vec<UnitId> = plan.units().iter().map(|u| u.id.clone()).collect();
    for id in &ids {
        let unchanged = by_id
            .get(id.as_str())
            .is_some_and(|u| u.status == UnitStatus::Unchanged);
        let action = if unchanged {
            Action::Unchanged
        } else {
            Action::Build
        };
        plan.set_action(id, action);
    }
    let mut work = plan.clone();
    let mut to_deploy = plan.clone();
    let mut followed = plan.clone();
    for id in &ids {
        let u = by_id.get(id.as_str());
        if !u.is_some_and(open) {
            work.set_action(id, Action::Unchanged);
        }
        if !u.is_some_and(|u| open(u) && !build_started(u)) {
            to_deploy.set_action(id, Action::Unchanged);
        }
        if !u.is_some_and(build_started) {
            followed.set_action(id, Action::Unchanged);
        }
    }
    (work, to_deploy, followed)
}

/// The secret values of units whose builds an earlier process started, for masking only: the
/// logs and messages Azure sends back about them may quote the values they were deployed
/// with. They are not needed to deploy, so a value that cannot be read now is not an error
/// (nothing is known to mask).
async fn mask_followed(followed: &Plan, arm: &ArmClient, redactor: &crate::redact::Redactor) {
    let lenient = SecretOptions {
        placeholder_for_missing_env: true,
        placeholders_only: false,
    };
    match secrets::resolve(followed, Some(arm), lenient).await {
        Ok(r) => redactor.add(
            r.per_unit
                .values()
                .flat_map(|v| v.values())
                .filter(|v| *v != secrets::PLACEHOLDER),
        ),
        Err(problems) => tracing::warn!(
            "{} secret(s) of builds being followed could not be read to mask them",
            problems.len()
        ),
    }
}

/// Platform versions the run resolved for its open units, and the image version each open
/// unit was given when the run started (a resumed run keeps both).
type KnownVersions = (HashMap<String, String>, HashMap<String, Option<String>>);

fn known_versions(work: &Plan, by_id: &HashMap<String, UnitRecord>) -> KnownVersions {
    let platform = work
        .units()
        .iter()
        .filter(|u| matches!(u.settings.source, ResolvedSource::Platform { .. }))
        .filter_map(|u| {
            let v = by_id.get(u.id.as_str())?.source_version.clone()?;
            Some((u.id.to_string(), v))
        })
        .collect();
    let versions = by_id
        .values()
        .filter(|u| open(u))
        .map(|u| (u.id.clone(), u.image_version.clone()))
        .collect();
    (platform, versions)
}

/// Parents outside the run: their last successful build (from the state's index).
fn external_versions(plan: &Plan, index: &aib_state::Index) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for u in plan.units() {
        if let ResolvedSource::Variant { unit: parent, .. } = &u.settings.source
            && plan.unit(parent).is_none()
            && let Some(e) = index.get(parent.as_str())
        {
            out.insert(parent.to_string(), e.image_version_id.clone());
        }
    }
    out
}

/// Adds the run's new successes to the index (a state error is kept in the result).
async fn update_index(store: &StateStore, index: &aib_state::Index, result: &mut RunResult) {
    let entries: Vec<aib_state::IndexEntry> = result
        .record
        .units
        .iter()
        .filter(|u| u.status == UnitStatus::Succeeded)
        .filter(|u| {
            index
                .get(&u.id)
                .is_none_or(|e| e.run_id != result.record.run_id)
        })
        .filter_map(|u| crate::session::index_entry(u, &result.record.run_id))
        .collect();
    if !entries.is_empty()
        && let Err(e) = store.update_index(&entries).await
    {
        result.state_errors.push(format!("updating the index: {e}"));
    }
}

/// A resumed build is taken up at its build stage (followed, or seen ended and verified
/// again): the stages an earlier process had gone on to (verify, collect-logs, cleanup, cut
/// short) are dropped and the build stage is left running, so the record keeps one build
/// stage per unit.
fn rewind_to_build(record: &mut RunRecord, resumed: &HashSet<String>) {
    for u in record
        .units
        .iter_mut()
        .filter(|u| u.status == UnitStatus::Running && resumed.contains(&u.id))
    {
        let Some(i) = u.stages.iter().rposition(|s| s.name == "build") else {
            continue;
        };
        if i + 1 == u.stages.len() {
            continue;
        }
        u.stages.truncate(i + 1);
        if let Some(b) = u.stages.last_mut() {
            b.status = aib_state::StageStatus::Running;
            b.finished = None;
        }
    }
}

/// Units whose build an earlier process started and whose template is gone (its cleanup ran
/// before the record caught up): the version it published, tagged with the unit and its
/// input hash, makes it succeeded; without one, the build stage reports it failed.
async fn adopt_published(
    arm: &ArmClient,
    plan: &Plan,
    preflight: &preflight::Preflight,
    record: &mut RunRecord,
    resumed: &HashSet<String>,
) {
    let mut lists = crate::session::VersionLists::new();
    for u in record.units.iter_mut() {
        if !resumed.contains(&u.id)
            || preflight
                .existing_template(&aib_azure::ResourceId::image_template(
                    &aib_azure::ResourceGroupId::new(&u.subscription, &u.resource_group),
                    &u.template_name,
                ))
                .is_some()
        {
            continue;
        }
        let Some(unit) = plan.unit(&UnitId::from(u.id.as_str())) else {
            continue;
        };
        if let Some(v) =
            crate::session::published_version(arm, unit, &u.input_hash, &mut lists).await
        {
            u.status = UnitStatus::Succeeded;
            u.reason = Some("its build finished and its template was cleaned up before the run's record caught up".into());
            u.image_version_id = Some(v);
            let now = chrono::Utc::now();
            for s in u
                .stages
                .iter_mut()
                .filter(|s| s.status == aib_state::StageStatus::Running)
            {
                s.status = aib_state::StageStatus::Succeeded;
                s.finished = Some(now);
            }
        }
    }
}
