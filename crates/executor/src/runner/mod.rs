//! Running a plan: a synchronous [`Scheduler`] decides which units start (caps overall and per
//! environment, longest remaining chain first), and a short async [`Walk`] runs each started
//! unit's stages in a `JoinSet`, releasing the units built from one as soon as its version is
//! verified, skipping only the descendants of a failed unit (keep-going), starting nothing new
//! after `--fail-fast` (a child `CancellationToken`) or Ctrl-C (the parent token), while running
//! units cancel their builds. One recorder task owns the run record.

pub(crate) mod config;
pub mod history;
pub mod recorder;
pub mod scheduler;
mod walk;
pub mod watch;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aib_azure::ArmClient;
use aib_manifest::Manifest;
use aib_planner::{Action, Plan, Unit};
use aib_render::render::{Renderer, SecretValues};
use aib_state::{RunRecord, RunStatus, StateStore, UnitRecord, UnitStatus};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::events::{BuildEvent, Stamped};
use crate::preflight::Preflight;
use crate::stages::RunShared;
use crate::sync::lock;
pub use config::ExecutorConfig;
use scheduler::{Caps, Job, Progress, Scheduler};
use walk::Walk;
use watch::Watchers;

/// Everything one run needs.
pub struct RunInput {
    pub manifest: Arc<Manifest>,
    pub plan: Plan,
    pub arm: ArmClient,
    pub store: StateStore,
    /// The created run record (units are filled in here).
    pub record: RunRecord,
    /// Unit id → secret values.
    pub secrets: BTreeMap<String, SecretValues>,
    pub preflight: Preflight,
    pub config: ExecutorConfig,
    /// Ctrl-C / SIGTERM.
    pub interrupt: CancellationToken,
    /// Where the reporter listens.
    pub forward: Option<mpsc::UnboundedSender<Stamped>>,
    /// A line for the start of the run (e.g. what `--simulate` scripted).
    pub note: Option<String>,
    /// Image version ids of parents outside the selection (unit id → version id), from the
    /// state's index.
    pub external_versions: HashMap<String, String>,
    /// Knows the run's secret values; everything recorded or reported passes it.
    pub redactor: crate::redact::Redactor,
    /// Unit id → how long its last build held a slot (from the state's history; see
    /// [`history::expected_durations`]): the scheduler starts the longest chains first.
    pub expected_durations: HashMap<String, Duration>,
    /// Units whose build an earlier process of this run started (`aib resume`): their
    /// template is followed, verified or taken as failed, never run again.
    pub resumed_builds: HashSet<String>,
}

impl std::fmt::Debug for RunInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunInput")
            .field("run_id", &self.record.run_id)
            .finish_non_exhaustive()
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct RunResult {
    pub record: RunRecord,
    /// Problems writing the state (the run itself went on).
    pub state_errors: Vec<String>,
    /// imageTemplates lists made by the progress pollers.
    pub progress_lists: u64,
}

/// Units of the plan as pending records (plan order).
pub fn unit_records(plan: &Plan) -> Vec<UnitRecord> {
    plan.units()
        .iter()
        .map(|u| {
            let mut r = UnitRecord::pending(u.id.to_string());
            r.input_hash = u.input_hash.preview().to_string();
            r.template_name = u.template_name.clone();
            r.resource_group = u.settings.resource_group.clone();
            r.subscription = u.settings.subscription.clone();
            r.deployment_name = aib_render::render::deployment_name(&u.template_name);
            r
        })
        .collect()
}

/// Runs every unit of the plan; returns when all reached a final status.
pub async fn execute(input: RunInput) -> RunResult {
    let RunInput {
        manifest,
        plan,
        arm,
        store,
        mut record,
        secrets,
        preflight,
        config,
        interrupt,
        forward,
        note,
        external_versions,
        redactor,
        expected_durations,
        resumed_builds,
    } = input;
    if record.units.is_empty() {
        record.units = unit_records(&plan);
    }
    let before = Before::of(&plan, &record, external_versions);
    let run_id = record.run_id.clone();
    let (tx, rx) = mpsc::unbounded_channel::<Stamped>();
    let recorder = tokio::spawn(recorder::record(
        record,
        store.clone(),
        rx,
        forward,
        redactor.clone(),
    ));
    let watchers = Watchers::new(
        arm.clone(),
        config
            .default_poll_interval
            .mul_f64(config.time_scale.max(0.0)),
        config.min_poll_interval,
    );
    let shared = Arc::new(RunShared {
        arm,
        store,
        run_id,
        renderer: Renderer::new(&manifest),
        watchers: watchers.clone(),
        events: tx.clone(),
        preflight,
        secrets,
        config: config.clone(),
        interrupt: interrupt.clone(),
        // Cancelled on Ctrl-C (parent) or by --fail-fast.
        stop_new: interrupt.child_token(),
        stop_reason: Arc::new(Mutex::new(None)),
        redactor,
        state_errors: Arc::new(Mutex::new(Vec::new())),
        resumed_builds,
    });
    let stage_state_errors = shared.state_errors.clone();
    let status = walk_units(&shared, &plan, &expected_durations, before, note).await;
    shared.emit(BuildEvent::RunFinished { status });
    let progress_lists = watchers.lists();
    drop(shared);
    drop(tx);
    let (record, mut state_errors) = recorded(recorder).await;
    // What the stages could not save (collected logs) counts like what the recorder could not.
    state_errors.extend(lock(&stage_state_errors).drain(..));
    RunResult {
        record,
        state_errors,
        progress_lists,
    }
}

/// What the run record says before the walk starts (all pending for a new run; a resumed
/// run's record says where each unit stands).
struct Before {
    /// Where each unit stands, in plan order.
    progress: Vec<Progress>,
    /// A unit already failed: the run fails whatever happens now.
    failed: bool,
    /// Unit id → the image version it published (and those of parents outside the run).
    versions: HashMap<String, String>,
    /// Units an earlier process started and did not end (plan positions): started again
    /// (they find their template in Azure).
    restart: Vec<usize>,
    /// Why each unchanged unit is unchanged (filled in by the session's decision).
    unchanged_reasons: HashMap<String, String>,
}

impl Before {
    fn of(plan: &Plan, record: &RunRecord, external_versions: HashMap<String, String>) -> Self {
        let now = plan
            .units()
            .iter()
            .map(|u| {
                record
                    .unit(u.id.as_str())
                    .map_or(Progress::Pending, progress)
            })
            .collect();
        let mut versions = external_versions;
        for u in &record.units {
            if progress(u) == Progress::Succeeded
                && let Some(v) = &u.image_version_id
            {
                versions.insert(u.id.clone(), v.clone());
            }
        }
        let restart = plan
            .units()
            .iter()
            .enumerate()
            .filter(|(_, u)| {
                record
                    .unit(u.id.as_str())
                    .is_some_and(|r| r.status == UnitStatus::Running)
            })
            .map(|(i, _)| i)
            .collect();
        Self {
            progress: now,
            failed: record.units.iter().any(|u| u.status == UnitStatus::Failed),
            versions,
            restart,
            unchanged_reasons: record
                .units
                .iter()
                .filter_map(|u| Some((u.id.clone(), u.reason.clone()?)))
                .collect(),
        }
    }
}

/// Announces the run, walks its units to the end and says how the run ended.
async fn walk_units(
    shared: &Arc<RunShared>,
    plan: &Plan,
    expected_durations: &HashMap<String, Duration>,
    before: Before,
    note: Option<String>,
) -> RunStatus {
    let units: Vec<Arc<Unit>> = plan.units().iter().cloned().map(Arc::new).collect();
    shared.emit(BuildEvent::RunStarted {
        units: units.iter().map(|u| u.id.clone()).collect(),
        note,
    });
    let (scheduler, skipped) =
        scheduler_for(plan, &shared.config, expected_durations).restored(&before.progress);
    let end = Walk {
        shared: shared.clone(),
        scheduler,
        units,
        versions: before.versions,
        unchanged_reasons: before.unchanged_reasons,
        restart: before.restart,
        skipped,
    }
    .run()
    .await;
    if end.unfinished {
        RunStatus::Detached
    } else if shared.interrupt.is_cancelled() {
        RunStatus::Cancelled
    } else if end.any_failed || before.failed {
        RunStatus::Failed
    } else {
        RunStatus::Succeeded
    }
}

/// The recorder's final record and state write errors.
async fn recorded(
    recorder: tokio::task::JoinHandle<(RunRecord, Vec<String>)>,
) -> (RunRecord, Vec<String>) {
    match recorder.await {
        Ok(r) => r,
        Err(e) => (
            RunRecord::new(
                "unknown",
                aib_state::Trigger::Manual,
                "",
                "",
                "",
                chrono::Utc::now(),
            ),
            vec![format!("the recorder task failed: {e}")],
        ),
    }
}

/// The scheduler of a plan: its edges, the caps of the config (environments with a
/// `max_parallel` are the capped groups) and each unit's expected duration (`expected`, by
/// unit id; a unit without one counts as the mean of the others, all equal when none has one;
/// an unchanged unit takes no slot and no time).
pub fn scheduler_for(
    plan: &Plan,
    config: &ExecutorConfig,
    expected: &HashMap<String, Duration>,
) -> Scheduler {
    let units = plan.units();
    let index: HashMap<&str, usize> = units
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.as_str(), i))
        .collect();
    let mut group_names: Vec<&String> = config.env_max_parallel.keys().collect();
    group_names.sort();
    let groups: Vec<usize> = group_names
        .iter()
        .map(|g| config.env_max_parallel.get(*g).copied().unwrap_or(1).max(1))
        .collect();
    let millis = |u: &Unit| {
        expected
            .get(u.id.as_str())
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1))
    };
    let known: Vec<u64> = units.iter().filter_map(millis).collect();
    let default = match known.len() as u64 {
        0 => 1,
        n => (known.iter().map(|&k| u128::from(k)).sum::<u128>() / u128::from(n)) as u64,
    };
    let jobs = units
        .iter()
        .map(|u| {
            let builds = u.action != Action::Unchanged;
            Job {
                deps: u
                    .depends_on
                    .iter()
                    .filter_map(|d| index.get(d.as_str()).copied())
                    .collect(),
                group: group_names.iter().position(|g| **g == u.environment),
                cost: if builds {
                    millis(u).unwrap_or(default)
                } else {
                    0
                },
                needs_slot: builds,
            }
        })
        .collect();
    let caps = Caps {
        total: config.max_parallel.max(1),
        groups,
    };
    Scheduler::new(jobs, caps)
}

/// Where a unit of a run record stands for the scheduler: a unit still running whose version
/// was verified has released the units built from it.
pub fn progress(unit: &UnitRecord) -> Progress {
    match unit.status {
        UnitStatus::Pending => Progress::Pending,
        UnitStatus::Running => {
            let verified = unit
                .stages
                .iter()
                .any(|s| s.name == "verify" && s.status == aib_state::StageStatus::Succeeded);
            if verified && unit.image_version_id.is_some() {
                Progress::Succeeded
            } else {
                Progress::Running
            }
        }
        UnitStatus::Succeeded | UnitStatus::Unchanged => Progress::Succeeded,
        UnitStatus::Failed | UnitStatus::Skipped | UnitStatus::Cancelled => Progress::Ended,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aib_state::{StageRecord, StageStatus};

    #[test]
    fn a_record_says_where_each_unit_stands_for_the_scheduler() {
        let mut u = UnitRecord::pending("dev/a");
        assert_eq!(progress(&u), Progress::Pending);
        u.status = UnitStatus::Running;
        u.stages.push(StageRecord {
            name: "verify".into(),
            status: StageStatus::Succeeded,
            started: None,
            finished: None,
        });
        assert_eq!(progress(&u), Progress::Running, "verified but no version");
        u.image_version_id = Some("/versions/1.0.0".into());
        assert_eq!(
            progress(&u),
            Progress::Succeeded,
            "verified, cleaning up: the units built from it may start"
        );
        // The recorder keeps a verified version while the unit cleans up.
        let mut rec = RunRecord::new(
            "r",
            aib_state::Trigger::Manual,
            "p",
            "aib.toml",
            "h",
            chrono::Utc::now(),
        );
        rec.units.push(UnitRecord::pending("dev/b"));
        for event in [
            BuildEvent::StageStarted {
                unit: "dev/b".into(),
                stage: crate::events::Stage::Verify,
            },
            BuildEvent::StageFinished {
                unit: "dev/b".into(),
                stage: crate::events::Stage::Verify,
                status: StageStatus::Succeeded,
                message: Some("/versions/2.0.0".into()),
            },
            BuildEvent::StageStarted {
                unit: "dev/b".into(),
                stage: crate::events::Stage::Cleanup,
            },
        ] {
            recorder::apply(&mut rec, &Stamped::now(event));
        }
        let b = rec.unit("dev/b").expect("unit");
        assert_eq!(b.status, UnitStatus::Running);
        assert_eq!(b.image_version_id.as_deref(), Some("/versions/2.0.0"));
        assert_eq!(progress(b), Progress::Succeeded);
        for (status, want) in [
            (UnitStatus::Succeeded, Progress::Succeeded),
            (UnitStatus::Unchanged, Progress::Succeeded),
            (UnitStatus::Failed, Progress::Ended),
            (UnitStatus::Skipped, Progress::Ended),
            (UnitStatus::Cancelled, Progress::Ended),
        ] {
            u.status = status;
            assert_eq!(progress(&u), want, "{status:?}");
        }
    }
}
