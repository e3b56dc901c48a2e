//! `collect-logs`: on a failure, before anything is deleted, fetch the build's
//! `customization.log` (and `validation.log`) into the run's state and read it for the failing
//! customizer, an excerpt and known signatures.

use aib_planner::Unit;
use aib_state::{Failure, StageStatus};
use aib_vocab::UnitId;

use super::{RunShared, UnitNames, short};
use crate::events::{BuildEvent, Level, Stage};
use crate::logs::{self, Phase, StepName, StepNames};
use crate::sync::lock;

fn names(list: &[aib_planner::ResolvedCustomizer]) -> Vec<StepName> {
    list.iter()
        .map(|c| StepName {
            name: c.name.clone(),
            packer_type: c.kind().as_str().to_string(),
        })
        .collect()
}

/// The unit's customizers and validations, for reading its logs.
pub fn step_names(unit: &Unit, validation_log: bool) -> StepNames {
    StepNames {
        customize: names(&unit.settings.customize),
        validate: names(
            unit.settings
                .validate
                .as_ref()
                .map(|v| v.in_vm_validations.as_slice())
                .unwrap_or_default(),
        ),
        validation_log,
    }
}

/// Collects and analyses the logs; returns the unit's failure for `stage` with `message`.
pub async fn collect(
    shared: &RunShared,
    unit: &Unit,
    names: &UnitNames,
    staging_rg: Option<String>,
    stage: Stage,
    message: &str,
) -> Failure {
    let id = &names.id;
    let mut failure = Failure::new(stage, message.to_string());
    shared.stage_started(id, Stage::CollectLogs);
    let Some(logs) = fetch(shared, names, staging_rg).await else {
        add_message_signature(&mut failure);
        return failure;
    };
    for log in &logs {
        let path = save(shared, id, log).await;
        explain(&mut failure, unit, log, path, message);
    }
    shared.stage_finished(id, Stage::CollectLogs, StageStatus::Succeeded, None);
    failure
}

/// The build's logs from its staging group, with the run's secret values redacted; `None`
/// (the stage finished, saying why) when there is none to read.
async fn fetch(
    shared: &RunShared,
    names: &UnitNames,
    staging_rg: Option<String>,
) -> Option<Vec<logs::CollectedLog>> {
    let id = &names.id;
    let staging = match staging_rg {
        Some(s) => Some(s),
        None => staging_group(shared, names).await,
    };
    let Some(staging) = staging else {
        shared.stage_finished(
            id,
            Stage::CollectLogs,
            StageStatus::Skipped,
            Some("the template has no staging resource group".into()),
        );
        return None;
    };
    let logs = match logs::collect_logs(&shared.arm, &staging).await {
        Ok(l) => l,
        Err(e) => {
            shared.stage_finished(id, Stage::CollectLogs, StageStatus::Failed, Some(short(&e)));
            shared.message(
                id,
                Level::Warn,
                format!("could not collect the build log: {e}"),
            );
            return None;
        }
    };
    if logs.is_empty() {
        shared.stage_finished(
            id,
            Stage::CollectLogs,
            StageStatus::Succeeded,
            Some("no log in packerlogs".into()),
        );
        return None;
    }
    // A secret a script printed (or Packer echoed from an inline script) never reaches the
    // state, the excerpt or the reports.
    Some(
        logs.into_iter()
            .map(|mut l| {
                if let std::borrow::Cow::Owned(b) = shared.redactor.redact_bytes(&l.bytes) {
                    l.bytes = b;
                }
                l
            })
            .collect(),
    )
}

/// Saves one log in the run's state; its path as shown to people (a failed write is a state
/// error of the run).
async fn save(shared: &RunShared, id: &UnitId, log: &logs::CollectedLog) -> Option<String> {
    let path = shared
        .store
        .log_path_display(&shared.run_id, id, &log.file)
        .ok();
    match shared
        .store
        .write_log(&shared.run_id, id, &log.file, &log.bytes)
        .await
    {
        Ok(()) => {
            if let Some(p) = &path {
                shared.emit(BuildEvent::LogCollected {
                    unit: id.clone(),
                    file: log.file.clone(),
                    path: p.clone(),
                });
            }
        }
        Err(e) => {
            let m = format!("could not save {} of {id}: {e}", log.file);
            shared.message(id, Level::Warn, m.clone());
            lock(&shared.state_errors).push(m);
        }
    }
    path
}

/// Reads one log into the failure: the failing customizer, phase, cause, excerpt and hint
/// (the customization log decides unless only validation failed).
fn explain(
    failure: &mut Failure,
    unit: &Unit,
    log: &logs::CollectedLog,
    path: Option<String>,
    message: &str,
) {
    let text = String::from_utf8_lossy(&log.bytes);
    let validation = log.file == "validation.log";
    let mut a = logs::analyse(&text, &step_names(unit, validation));
    if a.phase == Phase::Unknown && message.to_ascii_lowercase().contains("distribut") {
        // AIB's own message places it after Packer.
        a.phase = Phase::Distribute;
    }
    if !(failure.log_path.is_none() || (validation && a.step.is_some())) {
        return;
    }
    failure.log_path = path;
    failure.customizer = a.customizer.clone().map(|c| {
        if validation {
            format!("{c} (validation)")
        } else {
            c
        }
    });
    failure.phase = Some(a.phase.as_str().to_string());
    failure.cause = Some(a.cause.as_str().to_string());
    if !a.excerpt.is_empty() {
        failure.log_excerpt = Some(a.excerpt.clone());
    }
    let lead = lead(&a, message);
    failure.message = match &a.signature {
        Some(sig) => format!("{lead}: {}", sig.hint),
        None => lead,
    };
}

/// The template's staging group: its `exactStagingResourceGroup`, else the group AIB tagged
/// as the template's (never guessed from a name).
async fn staging_group(shared: &RunShared, names: &UnitNames) -> Option<String> {
    let t = names.template(&shared.arm).await.ok();
    if let Some(s) = t.and_then(|t| t.properties.exact_staging_resource_group) {
        return Some(s);
    }
    shared
        .arm
        .find_staging_group(&names.template_id())
        .await
        .ok()
        .flatten()
}

/// What failed, in words: the customizer, AIB's own step, the validation or the original
/// message's first line.
fn lead(a: &logs::LogAnalysis, message: &str) -> String {
    let step = match (a.step, &a.provisioner) {
        (Some(n), Some(p)) => format!(" (step {n}, {p})"),
        _ => String::new(),
    };
    let timeout = if a.cause == logs::Cause::Timeout {
        " timed out"
    } else {
        " failed"
    };
    match (a.phase, &a.customizer) {
        (Phase::Customizer, Some(c)) => format!("customizer `{c}`{timeout}{step}"),
        (Phase::Validate, Some(c)) => format!("validation `{c}`{timeout}{step}"),
        (Phase::Deprovision, _) => format!("AIB's deprovisioning step{timeout}{step}"),
        _ => short(message),
    }
}

fn add_message_signature(f: &mut Failure) {
    if let Some(sig) = logs::analyse::message_signature(&f.message) {
        f.message = format!("{}: {}", short(&f.message), sig.hint);
    }
}
