//! The scheduler: walks the sealed plan graph with a ready queue, runs each ready unit's
//! stages in a `JoinSet` bounded by a global and a per-environment `Semaphore`, skips only the
//! descendants of a failed unit (keep-going), stops starting new units on `--fail-fast`
//! (a child `CancellationToken`), and on Ctrl-C (the parent token) lets running units cancel
//! their builds while nothing new starts. One recorder task owns the run record.

pub mod recorder;
pub mod watch;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aib_azure::ArmClient;
use aib_manifest::Manifest;
use aib_planner::{Action, Plan, ResolvedSource, Unit};
use aib_state::{Failure, RunRecord, RunStatus, StateStore, UnitRecord, UnitStatus};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::events::{BuildEvent, Stamped};
use crate::preflight::Preflight;
use crate::render::{Renderer, SecretValues};
use crate::stages::{RunShared, UnitOutcome, run_unit};
use watch::Watchers;

/// Tunables of a run.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Most units building at once (`--max-parallel`).
    pub max_parallel: usize,
    /// Environment → most of its units building at once (`max_parallel`).
    pub env_max_parallel: HashMap<String, usize>,
    /// Stop starting new units after the first failure.
    pub fail_fast: bool,
    /// Progress polling interval until the server gives one (Azure time, not scaled).
    pub default_poll_interval: Duration,
    /// Never poll faster than this (real time).
    pub min_poll_interval: Duration,
    /// Real seconds per Azure second (1.0 against Azure; the simulator's `minute_ms / 60000`).
    pub time_scale: f64,
    /// `--force`: an existing template whose last run succeeded is run again instead of
    /// having its result verified.
    pub force: bool,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            max_parallel: 20,
            env_max_parallel: HashMap::new(),
            fail_fast: false,
            default_poll_interval: aib_azure::arm::DEFAULT_POLL_INTERVAL,
            min_poll_interval: Duration::from_millis(5),
            time_scale: 1.0,
            force: false,
        }
    }
}

impl ExecutorConfig {
    /// Azure minutes per real minute when the run follows a simulator's clock (recorded as
    /// the run's `time_scale`); `None` on Azure's own clock.
    pub fn simulated_scale(&self) -> Option<f64> {
        (self.time_scale.is_finite() && self.time_scale > 0.0 && self.time_scale != 1.0)
            .then(|| 1.0 / self.time_scale)
    }

    /// The per-environment limits of a manifest.
    pub fn with_manifest_limits(mut self, manifest: &Manifest) -> Self {
        for (name, env) in &manifest.file.environments {
            if let Some(mp) = &env.max_parallel {
                self.env_max_parallel
                    .insert(name.get_ref().clone(), (*mp.get_ref()).max(1) as usize);
            }
        }
        self
    }
}

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
            r.deployment_name = crate::render::deployment_name(&u.template_name);
            r
        })
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
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
    } = input;
    if record.units.is_empty() {
        record.units = unit_records(&plan);
    }
    let run_id = record.run_id.clone();
    // Why each unchanged unit is unchanged (filled in by the session's decision).
    let unchanged_reasons: HashMap<String, String> = record
        .units
        .iter()
        .filter_map(|u| Some((u.id.clone(), u.reason.clone()?)))
        .collect();
    let (tx, rx) = mpsc::unbounded_channel::<Stamped>();
    let recorder = tokio::spawn(recorder::record(record, store.clone(), rx, forward));
    // Cancelled on Ctrl-C (parent) or by --fail-fast.
    let stop_new = interrupt.child_token();
    let stop_reason: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
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
        stop_new: stop_new.clone(),
        stop_reason: stop_reason.clone(),
    });
    let units: Vec<Arc<Unit>> = plan.units().iter().cloned().map(Arc::new).collect();
    let index: HashMap<String, usize> = units
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.to_string(), i))
        .collect();
    let emit = |e: BuildEvent| {
        let _ = tx.send(Stamped::now(e));
    };
    emit(BuildEvent::RunStarted {
        units: units.iter().map(|u| u.id.to_string()).collect(),
        note,
    });

    let n = units.len();
    let mut remaining: Vec<usize> = units
        .iter()
        .map(|u| {
            u.depends_on
                .iter()
                .filter(|d| index.contains_key(d.as_str()))
                .count()
        })
        .collect();
    let dependents: Vec<Vec<usize>> = units
        .iter()
        .map(|u| {
            plan.dependents(&u.id)
                .iter()
                .filter_map(|d| index.get(d.id.as_str()).copied())
                .collect()
        })
        .collect();
    let mut done: Vec<bool> = vec![false; n];
    let mut started: Vec<bool> = vec![false; n];
    let mut versions: HashMap<String, String> = external_versions;
    let global = Arc::new(Semaphore::new(config.max_parallel.max(1)));
    let per_env: HashMap<String, Arc<Semaphore>> = config
        .env_max_parallel
        .iter()
        .map(|(k, v)| (k.clone(), Arc::new(Semaphore::new((*v).max(1)))))
        .collect();
    let mut ready: VecDeque<usize> = (0..n).filter(|i| remaining[*i] == 0).collect();
    let mut set: JoinSet<(usize, UnitOutcome)> = JoinSet::new();
    let mut any_failed = false;
    let mut interrupt_seen = false;

    let finish_unit = |i: usize, status: UnitStatus, reason: String, done: &mut Vec<bool>| {
        done[i] = true;
        emit(BuildEvent::UnitFinished {
            unit: units[i].id.to_string(),
            status,
            reason: Some(reason),
            image_version_id: None,
            failure: None,
        });
    };

    loop {
        // Start everything ready (they queue on the semaphores in plan order).
        while let Some(i) = ready.pop_front() {
            if done[i] || started[i] {
                continue;
            }
            let unit = units[i].clone();
            if unit.action == Action::Unchanged {
                done[i] = true;
                emit(BuildEvent::UnitFinished {
                    unit: unit.id.to_string(),
                    status: UnitStatus::Unchanged,
                    reason: Some(
                        unchanged_reasons
                            .get(unit.id.as_str())
                            .cloned()
                            .unwrap_or_else(|| {
                                "inputs unchanged since the last successful build".into()
                            }),
                    ),
                    image_version_id: versions.get(unit.id.as_str()).cloned(),
                    failure: None,
                });
                for &d in &dependents[i] {
                    remaining[d] = remaining[d].saturating_sub(1);
                    if remaining[d] == 0 {
                        ready.push_back(d);
                    }
                }
                continue;
            }
            if stop_new.is_cancelled() {
                let (status, reason) = stop_status(&interrupt, &stop_reason);
                finish_unit(i, status, reason, &mut done);
                continue;
            }
            let parent_version = match &unit.settings.source {
                ResolvedSource::Variant { unit: parent, .. } => {
                    match versions.get(parent.as_str()) {
                        Some(v) => Some(v.clone()),
                        None => {
                            done[i] = true;
                            any_failed = true;
                            emit(BuildEvent::UnitFinished {
                                unit: unit.id.to_string(),
                                status: UnitStatus::Failed,
                                reason: None,
                                image_version_id: None,
                                failure: Some(Failure {
                                    stage: "deploy".into(),
                                    message: format!(
                                        "unit is built from `{parent}`, which is not selected and has no successful build in the state; select it too (e.g. `--unit {parent}`)"
                                    ),
                                    customizer: None,
                                    log_excerpt: None,
                                    log_path: None,
                                    ..Failure::default()
                                }),
                            });
                            continue;
                        }
                    }
                }
                _ => None,
            };
            started[i] = true;
            let shared = shared.clone();
            let global = global.clone();
            let env = per_env.get(&unit.environment).cloned();
            let stop = stop_new.clone();
            let interrupt = interrupt.clone();
            let stop_reason = stop_reason.clone();
            set.spawn(async move {
                let permits = async {
                    let g = global.acquire_owned().await.ok()?;
                    let mut v = vec![g];
                    if let Some(e) = env {
                        v.push(e.acquire_owned().await.ok()?);
                    }
                    Some(v)
                };
                let permits = tokio::select! {
                    p = permits => p,
                    _ = stop.cancelled() => None,
                };
                match permits {
                    Some(p) if !stop.is_cancelled() => {
                        let out = run_unit(shared, unit, parent_version, p).await;
                        (i, out)
                    }
                    _ => {
                        let (status, reason) = stop_status(&interrupt, &stop_reason);
                        shared.emit(BuildEvent::UnitFinished {
                            unit: unit.id.to_string(),
                            status,
                            reason: Some(reason.clone()),
                            image_version_id: None,
                            failure: None,
                        });
                        (
                            i,
                            UnitOutcome {
                                status,
                                image_version_id: None,
                                reason: Some(reason),
                                failure: None,
                            },
                        )
                    }
                }
            });
        }
        if set.is_empty() {
            break;
        }
        let joined = tokio::select! {
            j = set.join_next() => j,
            _ = interrupt.cancelled(), if !interrupt_seen => {
                interrupt_seen = true;
                emit(BuildEvent::Interrupted);
                continue;
            }
        };
        let Some(joined) = joined else { break };
        let (i, out) = match joined {
            Ok(x) => x,
            Err(e) => {
                // A worker panicked or was aborted: count it as failed (its unit is unknown).
                tracing::error!(error = %e, "unit worker ended abnormally");
                any_failed = true;
                continue;
            }
        };
        done[i] = true;
        let id = units[i].id.to_string();
        match out.status {
            UnitStatus::Succeeded | UnitStatus::Unchanged => {
                if let Some(v) = out.image_version_id {
                    versions.insert(id, v);
                }
                for &d in &dependents[i] {
                    remaining[d] = remaining[d].saturating_sub(1);
                    if remaining[d] == 0 {
                        ready.push_back(d);
                    }
                }
            }
            status => {
                if status == UnitStatus::Failed {
                    any_failed = true;
                    if config.fail_fast && !stop_new.is_cancelled() {
                        *lock(&stop_reason) = Some(format!("--fail-fast: `{id}` failed"));
                        stop_new.cancel();
                    }
                }
                let why = match status {
                    UnitStatus::Failed => format!("dependency `{id}` failed"),
                    UnitStatus::Cancelled => format!("dependency `{id}` was cancelled"),
                    _ => format!("dependency `{id}` was skipped"),
                };
                // Skip every descendant not yet started.
                let mut stack: Vec<usize> = dependents[i].clone();
                while let Some(d) = stack.pop() {
                    if done[d] || started[d] {
                        continue;
                    }
                    let st = if interrupt.is_cancelled() {
                        UnitStatus::Cancelled
                    } else {
                        UnitStatus::Skipped
                    };
                    finish_unit(d, st, why.clone(), &mut done);
                    stack.extend(dependents[d].iter().copied());
                }
            }
        }
    }
    // Units never reached (e.g. waiting on a dependency when the run stopped).
    for i in 0..n {
        if !done[i] && !started[i] {
            let (status, reason) = if stop_new.is_cancelled() {
                stop_status(&interrupt, &stop_reason)
            } else {
                (UnitStatus::Skipped, "not reached".to_string())
            };
            finish_unit(i, status, reason, &mut done);
        }
    }
    let status = if interrupt.is_cancelled() {
        RunStatus::Cancelled
    } else if any_failed {
        RunStatus::Failed
    } else {
        RunStatus::Succeeded
    };
    emit(BuildEvent::RunFinished { status });
    let progress_lists = watchers.lists();
    drop(shared);
    drop(tx);
    let (record, state_errors) = match recorder.await {
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
    };
    RunResult {
        record,
        state_errors,
        progress_lists,
    }
}

fn stop_status(
    interrupt: &CancellationToken,
    reason: &Mutex<Option<String>>,
) -> (UnitStatus, String) {
    if interrupt.is_cancelled() {
        (
            UnitStatus::Cancelled,
            "interrupted before it started".into(),
        )
    } else {
        (
            UnitStatus::Skipped,
            lock(reason)
                .clone()
                .unwrap_or_else(|| "the run stopped".into()),
        )
    }
}
