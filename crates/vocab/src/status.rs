//! The statuses of runs, units and stages, and why a unit failed: stored in run records and
//! carried by run events.

use serde::{Deserialize, Serialize};

use crate::Stage;

/// Status of a whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// In progress (or the process died: see `Interrupted`).
    Running,
    /// Every selected unit succeeded or was unchanged.
    Succeeded,
    /// At least one unit failed.
    Failed,
    /// Stopped by the user (Ctrl-C).
    Cancelled,
    /// Found `running` by a later process whose lock was free: the holder died.
    Interrupted,
    /// Started with `--detach` (or advanced by `aib resume --detach`) and waiting, its builds
    /// going on in Azure, for the next `aib resume`.
    Detached,
}

impl RunStatus {
    /// A run that has not ended: `aib resume` may advance it (running only when its holder
    /// died: a live one holds the state lock).
    pub fn is_unfinished(self) -> bool {
        matches!(
            self,
            RunStatus::Running | RunStatus::Interrupted | RunStatus::Detached
        )
    }
}

/// Status of one unit in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitStatus {
    /// Not started.
    Pending,
    /// In progress.
    Running,
    /// Built and verified.
    Succeeded,
    /// A stage failed.
    Failed,
    /// Not built (see `reason`, e.g. a dependency failed).
    Skipped,
    /// Input hash unchanged since the last successful build.
    Unchanged,
    /// Stopped by the user.
    Cancelled,
}

/// Status of one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    /// Not started.
    Pending,
    /// In progress.
    Running,
    /// Done.
    Succeeded,
    /// Failed.
    Failed,
    /// Not run.
    Skipped,
    /// Stopped by the user.
    Cancelled,
}

/// Why a unit failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Stage that failed (by name: `deploy`, `build`, ...).
    pub stage: Stage,
    /// Error message.
    pub message: String,
    /// The failing customizer, when the build log names it.
    #[serde(default)]
    pub customizer: Option<String>,
    /// The last lines of the customization log around the failure.
    #[serde(default)]
    pub log_excerpt: Option<String>,
    /// Where the whole log was stored (as the state shows it: `aib_state::StateStore::log_path_display`).
    #[serde(default)]
    pub log_path: Option<String>,
    /// Where the build failed, from its log: `customizer`, `validate`, `deprovision`,
    /// `distribute` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Why, from its log: `error`, `timeout`, `connect` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl Failure {
    /// A failure of `stage` with `message` and nothing more known.
    pub fn new(stage: Stage, message: impl Into<String>) -> Self {
        Failure {
            stage,
            message: message.into(),
            customizer: None,
            log_excerpt: None,
            log_path: None,
            phase: None,
            cause: None,
        }
    }
}
