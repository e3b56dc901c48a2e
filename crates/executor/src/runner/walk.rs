//! The async driver around the [`Scheduler`]: starts what it says, one task per unit in a
//! `JoinSet`, and tells it what each task reports: a slot given back (with a verified version:
//! the units built from it are released), a unit ended. It holds no scheduling state of its
//! own; the scheduler's is everything a run record can rebuild.

use std::collections::HashMap;
use std::sync::Arc;

use aib_planner::{Action, ResolvedSource, Unit};
use aib_state::{Failure, UnitStatus};
use tokio::sync::mpsc;
use tokio::task::{Id, JoinError, JoinSet};

use super::scheduler::Scheduler;
use crate::events::{BuildEvent, Stage};
use crate::stages::{Released, RunShared, Slot, UnitOutcome, run_unit};
use crate::sync::lock;

/// One run's walk over its units.
pub(crate) struct Walk {
    pub shared: Arc<RunShared>,
    /// Plan order (the scheduler's indices).
    pub units: Vec<Arc<Unit>>,
    pub scheduler: Scheduler,
    /// Unit id → image version id: parents outside the selection, unchanged and verified units.
    pub versions: HashMap<String, String>,
    /// Why each unchanged unit is unchanged.
    pub unchanged_reasons: HashMap<String, String>,
    /// Units the scheduler was restored as running (an earlier process of the run started
    /// them): started again at once.
    pub restart: Vec<usize>,
    /// Pending units the restored scheduler ended because a unit they wait for ended.
    pub skipped: Vec<usize>,
}

/// How a walk ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WalkEnd {
    /// A unit failed.
    pub any_failed: bool,
    /// `--detach`: units go on in Azure or wait for them (the run is `detached`).
    pub unfinished: bool,
}

/// A walk under way.
struct Running {
    walk: Walk,
    tasks: JoinSet<UnitOutcome>,
    task_unit: HashMap<Id, usize>,
    released_tx: mpsc::UnboundedSender<Released>,
    any_failed: bool,
}

impl Walk {
    /// Runs every unit to a final status, or with `--detach` as far as it goes now.
    pub async fn run(mut self) -> WalkEnd {
        let restart = std::mem::take(&mut self.restart);
        let skipped = std::mem::take(&mut self.skipped);
        let (released_tx, mut released) = mpsc::unbounded_channel();
        let interrupt = self.shared.interrupt.clone();
        let mut w = Running {
            walk: self,
            tasks: JoinSet::new(),
            task_unit: HashMap::new(),
            released_tx,
            any_failed: false,
        };
        let mut interrupt_seen = false;
        for i in skipped {
            let why = "a unit it waits for did not succeed".to_string();
            w.report(i, UnitStatus::Skipped, why);
        }
        for i in restart {
            w.start(i);
        }
        loop {
            w.start_ready();
            if w.tasks.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                Some(r) = released.recv() => w.released(r),
                joined = w.tasks.join_next_with_id() => match joined {
                    Some(Ok((id, out))) => w.ended(id, out),
                    Some(Err(e)) => w.aborted(e),
                    None => break,
                },
                _ = interrupt.cancelled(), if !interrupt_seen => {
                    interrupt_seen = true;
                    w.walk.shared.emit(BuildEvent::Interrupted);
                }
            }
        }
        let detach = w.walk.shared.config.detach;
        let unfinished = detach && !w.walk.scheduler.is_done();
        if !unfinished {
            w.end_unreached();
        }
        WalkEnd {
            any_failed: w.any_failed,
            unfinished,
        }
    }
}

impl Running {
    /// Starts what the scheduler allows; once the run stops starting units (fail-fast,
    /// Ctrl-C), only unchanged units still "start", and the ready ones end at once.
    fn start_ready(&mut self) {
        let stopped = self.walk.shared.stop_new.is_cancelled();
        if stopped {
            self.walk.scheduler.stop();
        }
        while let Some(i) = self.walk.scheduler.next() {
            self.start(i);
        }
        if stopped {
            let (status, reason) = stop_status(&self.walk.shared);
            for i in self.walk.scheduler.drain_ready() {
                self.report(i, status, reason.clone());
            }
        }
    }

    fn start(&mut self, i: usize) {
        let unit = self.walk.units[i].clone();
        if unit.action == Action::Unchanged {
            return self.unchanged(i);
        }
        let parent_version = match &unit.settings.source {
            ResolvedSource::Variant { unit: parent, .. } => {
                match self.walk.versions.get(parent.as_str()) {
                    Some(v) => Some(v.clone()),
                    None => return self.parent_never_built(i, parent.as_str()),
                }
            }
            _ => None,
        };
        let slot = Slot::new(i, self.released_tx.clone());
        let task = self.tasks.spawn(run_unit(
            self.walk.shared.clone(),
            unit,
            parent_version,
            slot,
        ));
        self.task_unit.insert(task.id(), i);
    }

    fn unchanged(&mut self, i: usize) {
        let id = self.walk.units[i].id.clone();
        let reason = self
            .walk
            .unchanged_reasons
            .get(&*id)
            .cloned()
            .unwrap_or_else(|| "inputs unchanged since the last successful build".into());
        self.walk.shared.emit(BuildEvent::UnitFinished {
            status: UnitStatus::Unchanged,
            reason: Some(reason),
            image_version_id: self.walk.versions.get(&*id).cloned(),
            unit: id,
            failure: None,
        });
        self.walk.scheduler.finish(i, true);
    }

    fn parent_never_built(&mut self, i: usize, parent: &str) {
        let message = format!(
            "unit is built from `{parent}`, which is not selected and has no successful build in the state; select it too (e.g. `--unit {parent}`)"
        );
        self.fail(i, Stage::Deploy, message);
    }

    /// A unit gave its slot back; with a version it is verified and its dependents may start.
    fn released(&mut self, r: Released) {
        match r.image_version_id {
            Some(v) => {
                if let Some(u) = self.walk.units.get(r.unit) {
                    self.walk.versions.insert(u.id.to_string(), v);
                }
                self.walk.scheduler.finish(r.unit, true);
            }
            None => self.walk.scheduler.release_slot(r.unit),
        }
    }

    fn ended(&mut self, task: Id, out: UnitOutcome) {
        let Some(i) = self.task_unit.remove(&task) else {
            return;
        };
        let id = self.walk.units[i].id.to_string();
        match out.status {
            // Detached: it stays running (holding its slot) until a later resume.
            UnitStatus::Running => {}
            UnitStatus::Succeeded | UnitStatus::Unchanged => {
                if let Some(v) = out.image_version_id {
                    self.walk.versions.insert(id, v);
                }
                self.walk.scheduler.finish(i, true);
            }
            status => {
                if status == UnitStatus::Failed {
                    self.any_failed = true;
                    let shared = &self.walk.shared;
                    if shared.config.fail_fast && !shared.stop_new.is_cancelled() {
                        *lock(&shared.stop_reason) = Some(format!("--fail-fast: `{id}` failed"));
                        shared.stop_new.cancel();
                    }
                }
                let why = match status {
                    UnitStatus::Failed => format!("dependency `{id}` failed"),
                    UnitStatus::Cancelled => format!("dependency `{id}` was cancelled"),
                    _ => format!("dependency `{id}` was skipped"),
                };
                self.skip_below(i, &why);
            }
        }
    }

    /// A unit's task panicked or was aborted: the unit failed.
    fn aborted(&mut self, e: JoinError) {
        tracing::error!(error = %e, "unit worker ended abnormally");
        self.any_failed = true;
        if let Some(i) = self.task_unit.remove(&e.id()) {
            let message = format!("internal error: the unit's worker ended abnormally: {e}");
            self.fail(i, Stage::Build, message);
        }
    }

    /// Ends a unit as failed (without running it further) and skips what waits for it.
    fn fail(&mut self, i: usize, stage: Stage, message: String) {
        self.any_failed = true;
        let id = self.walk.units[i].id.clone();
        self.walk.shared.emit(BuildEvent::UnitFinished {
            unit: id.clone(),
            status: UnitStatus::Failed,
            reason: None,
            image_version_id: None,
            failure: Some(Failure::new(stage, message)),
        });
        self.skip_below(i, &format!("dependency `{id}` failed"));
    }

    fn skip_below(&mut self, i: usize, why: &str) {
        let status = if self.walk.shared.interrupt.is_cancelled() {
            UnitStatus::Cancelled
        } else {
            UnitStatus::Skipped
        };
        for d in self.walk.scheduler.finish(i, false) {
            self.report(d, status, why.to_string());
        }
    }

    /// Units never reached (e.g. waiting on a dependency when the run stopped).
    fn end_unreached(&mut self) {
        let (status, reason) = if self.walk.shared.stop_new.is_cancelled() {
            stop_status(&self.walk.shared)
        } else {
            (UnitStatus::Skipped, "not reached".to_string())
        };
        for i in self.walk.scheduler.take_unstarted() {
            self.report(i, status, reason.clone());
        }
    }

    fn report(&self, i: usize, status: UnitStatus, reason: String) {
        self.walk.shared.emit(BuildEvent::UnitFinished {
            unit: self.walk.units[i].id.clone(),
            status,
            reason: Some(reason),
            image_version_id: None,
            failure: None,
        });
    }
}

/// What a unit that never started ends as once the run stopped starting units.
fn stop_status(shared: &RunShared) -> (UnitStatus, String) {
    if shared.interrupt.is_cancelled() {
        (
            UnitStatus::Cancelled,
            "interrupted before it started".into(),
        )
    } else {
        (
            UnitStatus::Skipped,
            lock(&shared.stop_reason)
                .clone()
                .unwrap_or_else(|| "the run stopped".into()),
        )
    }
}
