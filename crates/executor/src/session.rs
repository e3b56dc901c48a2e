//! One `aib build` from a plan to a finished run: resolve secrets (before anything is
//! deployed), preflight, create the run record, execute. The caller holds the state lock.

use std::collections::HashMap;
use std::sync::Arc;

use aib_azure::ArmClient;
use aib_manifest::Manifest;
use aib_planner::{Plan, ResolvedSource};
use aib_state::{RunRecord, StateStore, Trigger};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::events::Stamped;
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
        plan,
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
    } = req;
    let resolved = secrets::resolve(&plan, Some(&arm), secret_options)
        .await
        .map_err(BuildError::Secrets)?;
    let mut note = note;
    if !resolved.placeholders.is_empty() {
        let line = format!(
            "simulated: placeholder values for unset secrets {}",
            resolved
                .placeholders
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        note = Some(match note {
            Some(n) => format!("{n}\n{line}"),
            None => line,
        });
    }
    let preflight = tokio::select! {
        r = preflight::run(&arm, &plan) => r?,
        _ = interrupt.cancelled() => return Err(BuildError::State("interrupted during preflight".into())),
    };

    // Parents outside the selection: their last successful build from the state's index.
    let mut external_versions = HashMap::new();
    let needs_index = plan.units().iter().any(|u| {
        matches!(&u.settings.source, ResolvedSource::Variant { unit, .. } if plan.unit(unit).is_none())
    });
    if needs_index && let Ok(index) = store.read_index().await {
        for u in plan.units() {
            if let ResolvedSource::Variant { unit: parent, .. } = &u.settings.source
                && plan.unit(parent).is_none()
                && let Some(e) = index.get(parent.as_str())
            {
                external_versions.insert(parent.to_string(), e.image_version_id.clone());
            }
        }
    }

    let mut record = RunRecord::new(
        &run_id,
        trigger,
        plan.pipeline(),
        manifest_display,
        aib_state::current_host(),
        chrono::Utc::now(),
    );
    record.selection = selection;
    record.units = runner::unit_records(&plan);
    store
        .create_run(&record)
        .await
        .map_err(|e| BuildError::State(e.to_string()))?;
    let store_for_index = store.clone();
    let result = runner::execute(RunInput {
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
    })
    .await;
    let mut result = result;
    let entries: Vec<aib_state::IndexEntry> = result
        .record
        .units
        .iter()
        .filter(|u| u.status == aib_state::UnitStatus::Succeeded)
        .filter_map(|u| {
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
                run_id: result.record.run_id.clone(),
            })
        })
        .collect();
    if !entries.is_empty()
        && let Err(e) = store_for_index.update_index(&entries).await
    {
        result.state_errors.push(format!("updating the index: {e}"));
    }
    Ok(result)
}
