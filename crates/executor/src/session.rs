//! One `aib build` from a plan to a finished run: decide what builds, resolve the secrets of
//! those units (before anything is deployed), preflight, create the run record, execute. The
//! caller holds the state lock.

use std::collections::HashMap;
use std::sync::Arc;

use aib_azure::ArmClient;
use aib_manifest::Manifest;
use aib_planner::{Action, Plan, ResolvedSource};
use aib_state::{RunRecord, StateStore, Trigger};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::events::Stamped;
use crate::incremental;
use crate::preflight::{self, PreflightError};
use crate::runner::{self, ExecutorConfig, RunInput, RunResult};
use crate::secrets::{self, SecretOptions, SecretProblem};

/// A build to run.
pub struct BuildRequest {
    pub manifest: Arc<Manifest>,
    pub plan: Plan,
    pub arm: ArmClient,
    pub store: StateStore,
    pub run_id: String,
    pub trigger: Trigger,
    /// The manifest path as given.
    pub manifest_display: String,
    pub selection: aib_state::Selection,
    pub config: ExecutorConfig,
    pub interrupt: CancellationToken,
    pub forward: Option<mpsc::UnboundedSender<Stamped>>,
    pub note: Option<String>,
    pub secret_options: SecretOptions,
    /// Learns the secret values this build resolves; everything recorded or reported passes
    /// it (share it with whatever else prints: the caller's log output).
    pub redactor: crate::redact::Redactor,
}

impl std::fmt::Debug for BuildRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildRequest")
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

/// Why a build did not start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Secrets could not be resolved (exit 2).
    #[error("{} secret(s) could not be resolved:\n{}", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Secrets(Vec<SecretProblem>),
    /// Preflight failed (exit 3, or 2 for existing versions).
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    /// The state could not be written (exit 1).
    #[error("state: {0}")]
    State(String),
}

/// Runs a build to the end.
pub async fn build(req: BuildRequest) -> Result<RunResult, BuildError> {
    let BuildRequest {
        manifest,
        mut plan,
        arm,
        store,
        run_id,
        trigger,
        manifest_display,
        selection,
        config,
        interrupt,
        forward,
        note,
        secret_options,
        redactor,
    } = req;
    let plan_hashes = plan_hashes(&plan);
    let inputs = crate::inputs::collect(manifest.clone(), &plan)
        .await
        .map_err(|e| BuildError::State(e.to_string()))?;
    let Decided {
        retried,
        index,
        decisions,
        built_before_crash,
    } = what_builds(&store, &arm, &mut plan, &selection, &interrupt).await?;
    // Secrets of the units that build (a missing one stops the run before anything is
    // deployed).
    let resolved = secrets::resolve(&plan, Some(&arm), secret_options)
        .await
        .map_err(BuildError::Secrets)?;
    redactor.add(resolved.per_unit.values().flat_map(|v| v.values()));
    let note = with_placeholder_note(note, &resolved, &secret_options);
    let preflight = preflight_unless(&interrupt, &arm, &plan, &decisions).await?;
    let external_versions = external_versions(&plan, &decisions, retried.as_ref(), &index);
    // How long each unit took last time (read before this run's record exists).
    let expected_durations = runner::history::expected_durations(&store, &plan).await;
    let mut record = new_record(
        NewRecord {
            run_id: &run_id,
            trigger,
            manifest_display,
            selection,
            config: &config,
            simulate: secret_options.placeholders_only,
            plan_hashes,
        },
        &plan,
        &decisions,
        &preflight,
    );
    create_run(&store, &mut record, inputs).await?;
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
        note,
        external_versions,
        redactor,
        expected_durations,
        resumed_builds: Default::default(),
    })
    .await;
    update_index(
        &store_for_index,
        &mut result,
        retried.as_ref(),
        built_before_crash,
    )
    .await;
    Ok(result)
}

/// Preflight, unless the run is interrupted first.
async fn preflight_unless(
    interrupt: &CancellationToken,
    arm: &ArmClient,
    plan: &Plan,
    decisions: &incremental::Decisions,
) -> Result<preflight::Preflight, BuildError> {
    tokio::select! {
        r = preflight::run_with(arm, plan, &decisions.platform_versions) => Ok(r?),
        _ = interrupt.cancelled() => Err(BuildError::State("interrupted during preflight".into())),
    }
}

/// The run's record written to the state, with its inputs kept beside it.
async fn create_run(
    store: &StateStore,
    record: &mut RunRecord,
    inputs: crate::inputs::Snapshot,
) -> Result<(), BuildError> {
    let state = |e: &dyn std::fmt::Display| BuildError::State(e.to_string());
    store.create_run(record).await.map_err(|e| state(&e))?;
    inputs.save(store, record).await.map_err(|e| state(&e))
}

/// What a run builds, and what that was decided from.
struct Decided {
    /// The run a `--retry-failed` build retries.
    retried: Option<RunRecord>,
    /// The last builds of the whole family of states.
    index: aib_state::Index,
    decisions: incremental::Decisions,
    /// Units the retried run finished before it stopped, as index entries (see [`decide`]).
    built_before_crash: Vec<aib_state::IndexEntry>,
}

/// What to build: a retry re-runs the units of the earlier run with the platform versions it
/// resolved; otherwise every `latest` is resolved now and unchanged units are left out.
async fn what_builds(
    store: &StateStore,
    arm: &ArmClient,
    plan: &mut Plan,
    selection: &aib_state::Selection,
    interrupt: &CancellationToken,
) -> Result<Decided, BuildError> {
    let retried = retried_run(store, selection).await?;
    // The last builds of the whole family of states (this one, its root when it is a shard,
    // and every shard beside it), so a unit moved to another shard is not rebuilt.
    let index = match store.read_family_index().await {
        Ok(i) => i,
        Err(e) => return Err(BuildError::State(format!("reading the index: {e}"))),
    };
    let (decisions, built_before_crash) = tokio::select! {
        d = decide(arm, plan, &index, retried.as_ref(), selection.force) => d?,
        _ = interrupt.cancelled() => return Err(BuildError::State("interrupted while resolving sources".into())),
    };
    Ok(Decided {
        retried,
        index,
        decisions,
        built_before_crash,
    })
}

/// The run a `--retry-failed` build retries, read from the state.
async fn retried_run(
    store: &StateStore,
    selection: &aib_state::Selection,
) -> Result<Option<RunRecord>, BuildError> {
    let Some(id) = &selection.retry_failed else {
        return Ok(None);
    };
    store
        .read_run(id)
        .await
        .map(Some)
        .map_err(|e| BuildError::State(format!("reading run {id}: {e}")))
}

/// The run's note, with a line naming the secrets that got placeholder values (`--simulate`).
fn with_placeholder_note(
    note: Option<String>,
    resolved: &secrets::ResolvedSecrets,
    options: &SecretOptions,
) -> Option<String> {
    if resolved.placeholders.is_empty() {
        return note;
    }
    let line = format!(
        "simulated: placeholder values for {}secrets {}",
        if options.placeholders_only {
            ""
        } else {
            "unset "
        },
        resolved
            .placeholders
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Some(match note {
        Some(n) => format!("{n}\n{line}"),
        None => line,
    })
}

/// The image versions of units the run does not build that its units are built from: parents
/// outside the selection (the version the retried run used, else their last successful build
/// from the state's index) and unchanged units (their recorded version).
fn external_versions(
    plan: &Plan,
    decisions: &incremental::Decisions,
    retried: Option<&RunRecord>,
    index: &aib_state::Index,
) -> HashMap<String, String> {
    let mut external_versions = decisions.unchanged_versions();
    for u in plan.units() {
        if let ResolvedSource::Variant { unit: parent, .. } = &u.settings.source
            && plan.unit(parent).is_none()
        {
            let from_run = retried
                .and_then(|r| r.unit(parent.as_str()))
                .filter(|p| {
                    matches!(
                        p.status,
                        aib_state::UnitStatus::Succeeded | aib_state::UnitStatus::Unchanged
                    )
                })
                .and_then(|p| p.image_version_id.clone());
            let v = from_run.or_else(|| {
                index
                    .get(parent.as_str())
                    .map(|e| e.image_version_id.clone())
            });
            if let Some(v) = v {
                external_versions.insert(parent.to_string(), v);
            }
        }
    }
    external_versions
}

/// What the run record of a new build says about the request.
struct NewRecord<'a> {
    run_id: &'a str,
    trigger: Trigger,
    manifest_display: String,
    selection: aib_state::Selection,
    config: &'a ExecutorConfig,
    /// `--simulate` with every secret a placeholder.
    simulate: bool,
    plan_hashes: std::collections::BTreeMap<String, String>,
}

/// The run record a build creates before it starts: what `aib resume` needs, and each unit
/// pending with the version it publishes (unchanged units with their decision).
fn new_record(
    new: NewRecord<'_>,
    plan: &Plan,
    decisions: &incremental::Decisions,
    preflight: &preflight::Preflight,
) -> RunRecord {
    let mut record = RunRecord::new(
        new.run_id,
        new.trigger,
        plan.pipeline(),
        new.manifest_display,
        aib_state::current_host(),
        chrono::Utc::now(),
    );
    record.selection = new.selection;
    record.time_scale = new.config.simulated_scale();
    record.resume = Some(aib_state::ResumeSpec {
        max_parallel: new.config.max_parallel,
        fail_fast: new.config.fail_fast,
        simulate: new.simulate,
        detached: new.config.detach,
        plan_hashes: new.plan_hashes,
        inputs: None,
    });
    record.units = runner::unit_records(plan);
    for u in &mut record.units {
        // The version each unit publishes, chosen now for all: a resumed run keeps it.
        u.image_version = preflight.versions.get(&u.id).cloned().flatten();
        if let Some(d) = decisions.units.get(&u.id) {
            u.input_hash = d.input_hash.clone();
            u.source_version = d.source_version.clone();
            if d.action == Action::Unchanged {
                u.image_version_id = d.image_version_id.clone();
                u.reason = Some(d.reason.clone());
            }
        }
    }
    record
}

/// Adds the run's successful builds to the state's index (a failed write is one more state
/// error of the run). After a crash the retried run never reached its index update: its
/// successes count too, including the builds it finished that its record had not caught up
/// with.
async fn update_index(
    store: &StateStore,
    result: &mut RunResult,
    retried: Option<&RunRecord>,
    built_before_crash: Vec<aib_state::IndexEntry>,
) {
    let mut entries = index_entries(&result.record);
    if let Some(old) = retried {
        entries.extend(index_entries(old));
        entries.extend(built_before_crash);
    }
    if !entries.is_empty()
        && let Err(e) = store.update_index(&entries).await
    {
        result.state_errors.push(format!("updating the index: {e}"));
    }
}

/// Unit id → the offline input hash of the plan (what `aib resume` compares its plan with).
pub fn plan_hashes(plan: &Plan) -> std::collections::BTreeMap<String, String> {
    plan.units()
        .iter()
        .map(|u| (u.id.to_string(), u.input_hash.preview().to_string()))
        .collect()
}

pub(crate) fn index_entry(
    u: &aib_state::UnitRecord,
    run_id: &str,
) -> Option<aib_state::IndexEntry> {
    Some(aib_state::IndexEntry {
        unit: u.id.clone(),
        input_hash: u.input_hash.clone(),
        template_name: u.template_name.clone(),
        image_version_id: u.image_version_id.clone()?,
        built_at: u
            .stages
            .iter()
            .filter_map(|s| s.finished)
            .max()
            .unwrap_or_else(chrono::Utc::now),
        run_id: run_id.to_string(),
    })
}

/// Index entries for the units a (possibly crashed) run built.
fn index_entries(rec: &RunRecord) -> Vec<aib_state::IndexEntry> {
    rec.units
        .iter()
        .filter(|u| u.status == aib_state::UnitStatus::Succeeded)
        .filter_map(|u| index_entry(u, &rec.run_id))
        .collect()
}

/// The units a retry re-runs: everything of `rec` that did not succeed and was not unchanged
/// (failed, cancelled, skipped, and after a crash pending or running).
pub fn retry_units(rec: &RunRecord) -> Vec<String> {
    rec.units
        .iter()
        .filter(|u| {
            !matches!(
                u.status,
                aib_state::UnitStatus::Succeeded | aib_state::UnitStatus::Unchanged
            )
        })
        .map(|u| u.id.clone())
        .collect()
}

/// Resolves the platform sources and decides each unit's action, setting it in the plan.
/// A retry builds every unit of the plan with the platform versions the retried run recorded,
/// except the units that run finished before it stopped (see [`finished_builds`]), which are
/// unchanged; those are also returned as index entries.
async fn decide(
    arm: &ArmClient,
    plan: &mut Plan,
    index: &aib_state::Index,
    retried: Option<&RunRecord>,
    force: bool,
) -> Result<(incremental::Decisions, Vec<aib_state::IndexEntry>), BuildError> {
    let as_preflight = |e: incremental::DecideError| match e {
        incremental::DecideError::Auth(m) => BuildError::Preflight(PreflightError::Auth(m)),
        incremental::DecideError::Azure(m) => BuildError::Preflight(PreflightError::Azure(m)),
    };
    let mut known = HashMap::new();
    if let Some(old) = retried {
        for u in plan.units() {
            if matches!(u.settings.source, ResolvedSource::Platform { .. })
                && let Some(v) = old
                    .unit(u.id.as_str())
                    .and_then(|r| r.source_version.clone())
            {
                known.insert(u.id.to_string(), v);
            }
        }
    }
    let (platform, lookups) = incremental::resolve_platform_versions(arm, plan, &known)
        .await
        .map_err(as_preflight)?;
    let mut finished = Vec::new();
    let mut decisions = if let Some(old) = retried {
        // Everything selected builds (the hashes are finalized as a build would) but what the
        // retried run finished; a parent found finished finalizes its children's hashes, so
        // look again until nothing more is found.
        let mut done = aib_state::Index::default();
        let mut d = incremental::decide(arm, plan, &done, &platform, true)
            .await
            .map_err(as_preflight)?;
        loop {
            let found = finished_builds(arm, plan, old, &d, &done).await;
            if found.is_empty() {
                break;
            }
            done.merge(&found);
            finished.extend(found);
            d = incremental::decide(arm, plan, &done, &platform, false)
                .await
                .map_err(as_preflight)?;
        }
        for v in d.units.values_mut() {
            v.reason = if v.action == Action::Unchanged {
                format!(
                    "built by run {} before it stopped ({})",
                    old.run_id,
                    v.image_version_id.as_deref().unwrap_or_default()
                )
            } else {
                "retried".into()
            };
        }
        d
    } else {
        incremental::decide(arm, plan, index, &platform, force)
            .await
            .map_err(as_preflight)?
    };
    decisions.platform_lookups = lookups;
    decisions.apply(plan);
    Ok((decisions, finished))
}

/// Gallery image versions listed so far, by image definition.
pub(crate) type VersionLists = HashMap<String, Vec<aib_azure::types::GalleryImageVersion>>;

/// The id of a Succeeded image version of the unit's image definition tagged with its unit id
/// and `input_hash` (one list per image definition, kept in `versions`).
pub(crate) async fn published_version(
    arm: &ArmClient,
    unit: &aib_planner::Unit,
    input_hash: &str,
    versions: &mut VersionLists,
) -> Option<String> {
    let s = &unit.settings;
    let g = &s.gallery;
    let key = format!(
        "{}/{}/{}/{}",
        g.subscription, g.resource_group, g.name, s.image_definition
    )
    .to_ascii_lowercase();
    if !versions.contains_key(&key) {
        let group = aib_azure::ResourceGroupId::new(&g.subscription, &g.resource_group);
        let list = arm
            .list_gallery_image_versions(&aib_azure::ResourceId::gallery_image(
                &group,
                &g.name,
                &s.image_definition,
            ))
            .await
            .unwrap_or_default();
        versions.insert(key.clone(), list);
    }
    let id = unit.id.as_str();
    versions
        .get(&key)?
        .iter()
        .find(|v| {
            v.tags.get("aib.unit").map(String::as_str) == Some(id)
                && v.tags.get("aib.inputHash").map(String::as_str) == Some(input_hash)
                && v.properties
                    .provisioning_state
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case("succeeded"))
        })?
        .id
        .clone()
}

/// Units of a crashed run whose build finished anyway: its record is written in batches and
/// can lag the builds, and a build that was verified and whose template cleanup had already
/// deleted would otherwise run a second time (another `run` of the same template name,
/// another image version). Such a unit is recognised by its template being gone while an image
/// version of its image definition is Succeeded and tagged with its unit id and its input hash
/// (`aib.unit`, `aib.inputHash`), the same hash the retry decided. A template still there is
/// left to the build stage, which reuses it (following or verifying its run) and cleans up.
async fn finished_builds(
    arm: &ArmClient,
    plan: &Plan,
    old: &RunRecord,
    decided: &incremental::Decisions,
    known: &aib_state::Index,
) -> Vec<aib_state::IndexEntry> {
    let mut versions = VersionLists::new();
    let mut out = Vec::new();
    for unit in plan.units() {
        let id = unit.id.as_str();
        let (Some(d), Some(rec)) = (decided.units.get(id), old.unit(id)) else {
            continue;
        };
        if known.get(id).is_some()
            || d.action != Action::Build
            || rec.template_name.is_empty()
            || rec.input_hash != d.input_hash
        {
            continue;
        }
        let s = &unit.settings;
        let group = aib_azure::ResourceGroupId::new(&s.subscription, &s.resource_group);
        match arm
            .get_image_template(&aib_azure::ResourceId::image_template(
                &group,
                &rec.template_name,
            ))
            .await
        {
            Err(e) if e.is_not_found() => {}
            _ => continue,
        }
        if let Some(version_id) = published_version(arm, unit, &d.input_hash, &mut versions).await {
            out.push(aib_state::IndexEntry {
                unit: id.to_string(),
                input_hash: d.input_hash.clone(),
                template_name: rec.template_name.clone(),
                image_version_id: version_id,
                built_at: chrono::Utc::now(),
                run_id: old.run_id.clone(),
            });
        }
    }
    out
}
