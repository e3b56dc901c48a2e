//! `collect-logs`: on a failure, before anything is deleted, fetch the build's
//! `customization.log` (and `validation.log`) into the run's state and read it for the failing
//! customizer, an excerpt and known signatures.

use aib_planner::Unit;
use aib_state::{Failure, StageStatus};

use super::{RunShared, UnitNames, short};
use crate::events::{BuildEvent, Level, Stage};
use crate::logs::{self, StepName};

fn steps(unit: &Unit, validation: bool) -> Vec<StepName> {
    let list = if validation {
        unit.settings
            .validate
            .as_ref()
            .map(|v| v.in_vm_validations.as_slice())
            .unwrap_or_default()
    } else {
        unit.settings.customize.as_slice()
    };
    list.iter()
        .map(|c| StepName {
            name: c.name.clone(),
            packer_type: c.kind.as_str().to_string(),
        })
        .collect()
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
    let mut failure = Failure {
        stage: stage.as_str().into(),
        message: message.to_string(),
        customizer: None,
        log_excerpt: None,
        log_path: None,
    };
    shared.stage_started(id, Stage::CollectLogs);
    let staging = match staging_rg {
        Some(s) => Some(s),
        None => shared
            .arm
            .get_image_template(
                &names.subscription,
                &names.resource_group,
                &names.template_name,
            )
            .await
            .ok()
            .and_then(|t| t.properties.exact_staging_resource_group),
    };
    let Some(staging) = staging else {
        shared.stage_finished(
            id,
            Stage::CollectLogs,
            StageStatus::Skipped,
            Some("the template has no staging resource group".into()),
        );
        add_message_signature(&mut failure);
        return failure;
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
            add_message_signature(&mut failure);
            return failure;
        }
    };
    if logs.is_empty() {
        shared.stage_finished(
            id,
            Stage::CollectLogs,
            StageStatus::Succeeded,
            Some("no log in packerlogs".into()),
        );
        add_message_signature(&mut failure);
        return failure;
    }
    // A secret a script printed (or Packer echoed from an inline script) never reaches the
    // state, the excerpt or the reports.
    let logs: Vec<logs::CollectedLog> = logs
        .into_iter()
        .map(|mut l| {
            if let std::borrow::Cow::Owned(b) = shared.redactor.redact_bytes(&l.bytes) {
                l.bytes = b;
            }
            l
        })
        .collect();
    for log in &logs {
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
            Err(e) => shared.message(id, Level::Warn, format!("could not save {}: {e}", log.file)),
        }
        let text = String::from_utf8_lossy(&log.bytes);
        let validation = log.file == "validation.log";
        let a = logs::analyse(&text, &steps(unit, validation));
        // The customization log decides unless only validation failed.
        if failure.log_path.is_none() || (validation && a.failing_index.is_some()) {
            failure.log_path = path.clone();
            failure.customizer = a.customizer.clone().map(|c| {
                if validation {
                    format!("{c} (validation)")
                } else {
                    c
                }
            });
            if !a.excerpt.is_empty() {
                failure.log_excerpt = Some(a.excerpt.clone());
            }
            if let Some(sig) = &a.signature {
                failure.message = format!("{}: {}", lead(&failure, message), sig.hint);
            } else {
                failure.message = lead(&failure, message);
            }
        }
    }
    shared.stage_finished(id, Stage::CollectLogs, StageStatus::Succeeded, None);
    failure
}

/// "customizer `x` failed" (or the original message's first line when no customizer is known).
fn lead(f: &Failure, message: &str) -> String {
    match &f.customizer {
        Some(c) => format!("customizer `{c}` failed"),
        None => short(message),
    }
}

fn add_message_signature(f: &mut Failure) {
    if let Some(sig) = logs::analyse::message_signature(&f.message) {
        f.message = format!("{}: {}", short(&f.message), sig.hint);
    }
}
