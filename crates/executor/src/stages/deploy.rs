//! `deploy`: PUT the rendered ARM deployment (named from the template name) and wait for it.
//!
//! A template of the same name may already exist. AIB never updates a template, and one
//! whose creation failed (`provisioningState` `Failed`, e.g. its identity lacked a role) or
//! was canceled can never run: every later `run` is refused and every re-PUT is the "update"
//! conflict. So [`settle_existing`] deletes such a template and the unit deploys it again;
//! one still being created or deleted is waited for. A deployment that fails because the
//! template failed to provision is reported with the provisioning error and its usual cause.

use std::sync::Arc;
use std::time::Duration;

use aib_azure::types::DeploymentRequest;
use aib_state::{Failure, StageStatus};
use aib_vocab::UnitId;

use super::{RunShared, UnitNames, UnitOutcome, short};
use crate::events::{Level, Stage};
use aib_render::render::RenderedDeployment;

/// Longest a deployment may take (Azure time).
pub const DEPLOY_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Deploys; `Err` is the unit's final outcome. `identity` is the template's identity (named
/// in the explanation of a template that failed to provision).
pub async fn deploy(
    shared: &RunShared,
    names: &UnitNames,
    rendered: &RenderedDeployment,
    identity: &str,
) -> Result<(), UnitOutcome> {
    let id = &names.id;
    shared.stage_started(id, Stage::Deploy);
    let params = rendered
        .parameters
        .get("parameters")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    let body = DeploymentRequest::incremental(rendered.template.clone(), params);
    let fail = |message: String| failed(shared, id, message);
    let deployment = names.deployment_id();
    let put = shared.arm.put_deployment(&deployment, &body);
    let op = tokio::select! {
        r = put => r,
        _ = shared.interrupt.cancelled() => {
            shared.stage_finished(id, Stage::Deploy, StageStatus::Cancelled, None);
            return Err(UnitOutcome::cancelled("interrupted during deploy"));
        }
    };
    let op = match op {
        Ok(op) => op,
        Err(e) => {
            return Err(fail(format!(
                "deployment {} was rejected: {e}",
                names.deployment_name
            )));
        }
    };
    // Only success matters (a failure's error is in the status body), not the deployment.
    let wait = op
        .status_only()
        .wait_timeout(shared.azure_time(DEPLOY_TIMEOUT));
    let r = tokio::select! {
        r = wait => r,
        _ = shared.interrupt.cancelled() => {
            shared.stage_finished(id, Stage::Deploy, StageStatus::Cancelled, None);
            return Err(UnitOutcome::cancelled("interrupted during deploy"));
        }
    };
    match r {
        Ok(_) => {
            shared.stage_finished(id, Stage::Deploy, StageStatus::Succeeded, None);
            Ok(())
        }
        Err(e) => {
            let why = match provisioning_failure(shared, names).await {
                Some(p) => explain_provisioning_failure(names, identity, &p),
                None => format!("deployment {} failed: {e}", names.deployment_name),
            };
            Err(fail(why))
        }
    }
}

/// The `provisioningError` of the unit's template when its creation failed.
async fn provisioning_failure(shared: &RunShared, names: &UnitNames) -> Option<String> {
    let t = names.template(&shared.arm).await.ok()?;
    let p = t.properties;
    if !state_is(p.provisioning_state.as_deref(), &["Failed"]) {
        return None;
    }
    let e = p.provisioning_error.unwrap_or_default();
    Some(format!(
        "{}{}",
        e.provisioning_error_code
            .map(|c| format!("{c}: "))
            .unwrap_or_default(),
        e.message
            .unwrap_or_else(|| "no provisioningError given".into())
    ))
}

/// What a failed template creation says and what usually causes it.
pub fn explain_provisioning_failure(names: &UnitNames, identity: &str, error: &str) -> String {
    let error = error.trim().trim_end_matches('.');
    format!(
        "image template {} failed to provision (provisioningState Failed): {error}. This usually \
         means its identity {identity} lacks a role: it needs to read the source image (or \
         gallery version) and to write image versions in the target gallery's resource group \
         (Contributor, or the Image Builder image-creation role), and reader access to any \
         script or file it downloads. The next `aib build` (or `--retry-failed`) deletes the \
         failed template and deploys it again.",
        names.template_name
    )
}

fn state_is(s: Option<&str>, any: &[&str]) -> bool {
    s.is_some_and(|s| any.iter().any(|a| a.eq_ignore_ascii_case(s)))
}

/// Whether a template of the unit's name that already exists can be reused. `state` is its
/// `provisioningState` as preflight listed it. `Ok(true)`: reuse it (created); `Ok(false)`:
/// there is none now (a `Failed` or `Canceled` one was deleted, a `Deleting` one is gone),
/// deploy it; `Err`: the unit's outcome (the deletion failed or timed out, Ctrl-C).
pub async fn settle_existing(
    shared: &Arc<RunShared>,
    names: &UnitNames,
    state: Option<&str>,
) -> Result<bool, UnitOutcome> {
    let id = &names.id;
    let mut state = state.map(str::to_string);
    if state_is(state.as_deref(), &["Creating", "Updating"]) {
        shared.message(
            id,
            Level::Info,
            format!(
                "image template {} is still being created (an earlier run deployed it): waiting for it",
                names.template_name
            ),
        );
        state = match wait_created(shared, names).await {
            Ok(s) => s,
            Err(out) => return Err(out),
        };
        if state.is_none() {
            return Ok(false);
        }
    }
    let failed = state_is(state.as_deref(), &["Failed", "Canceled"]);
    let deleting = state_is(state.as_deref(), &["Deleting"]);
    if !failed && !deleting {
        return Ok(true);
    }
    if failed {
        shared.message(
            id,
            Level::Warn,
            format!(
                "image template {} exists in provisioningState {}: it can never run, so it is deleted and deployed again",
                names.template_name,
                state.as_deref().unwrap_or_default()
            ),
        );
        let r = shared.arm.delete_image_template(&names.template_id()).await;
        if let Err(e) = r
            && !e.is_not_found()
        {
            let m = format!(
                "could not delete the failed image template {}: {e}",
                names.template_name
            );
            return Err(deploy_failed(shared, id, m));
        }
    }
    let gone = tokio::select! {
        g = super::cleanup::wait_gone(shared, names) => g,
        _ = shared.interrupt.cancelled() => {
            shared.stage_finished(id, Stage::Deploy, StageStatus::Cancelled, None);
            return Err(UnitOutcome::cancelled("interrupted while a failed template was deleted"));
        }
    };
    if !gone {
        let m = format!(
            "image template {} was still being deleted after {} minutes; its name cannot be deployed again until it is gone",
            names.template_name,
            super::cleanup::DELETE_WAIT.as_secs() / 60
        );
        return Err(deploy_failed(shared, id, m));
    }
    Ok(false)
}

/// The deploy stage failed before a deployment was sent.
fn deploy_failed(shared: &RunShared, id: &UnitId, message: String) -> UnitOutcome {
    shared.stage_started(id, Stage::Deploy);
    failed(shared, id, message)
}

/// The (started) deploy stage failed with `message`.
fn failed(shared: &RunShared, id: &UnitId, message: String) -> UnitOutcome {
    shared.stage_finished(
        id,
        Stage::Deploy,
        StageStatus::Failed,
        Some(short(&message)),
    );
    UnitOutcome::failed(Failure::new(Stage::Deploy, message))
}

/// Waits (bounded like a deployment) for a template being created to leave `Creating`;
/// returns its state then (`None`: it is gone).
async fn wait_created(
    shared: &Arc<RunShared>,
    names: &UnitNames,
) -> Result<Option<String>, UnitOutcome> {
    let mut rx = shared.watchers.subscribe(&names.group(), None);
    let key = names.template_name.to_ascii_lowercase();
    let deadline = tokio::time::Instant::now() + shared.azure_time(DEPLOY_TIMEOUT);
    loop {
        tokio::select! {
            changed = rx.changed() => if changed.is_err() {
                return Err(deploy_failed(shared, &names.id, "internal: the progress poller stopped".into()));
            },
            _ = tokio::time::sleep_until(deadline) => {
                let m = format!(
                    "image template {} was still being created after {} minutes",
                    names.template_name,
                    DEPLOY_TIMEOUT.as_secs() / 60
                );
                return Err(deploy_failed(shared, &names.id, m));
            }
            _ = shared.interrupt.cancelled() => {
                return Err(UnitOutcome::cancelled("interrupted while an earlier template was created"));
            }
        }
        let snap = rx.borrow_and_update().clone();
        if snap.error.is_some() || snap.seq == 0 {
            continue;
        }
        match snap.templates.get(&key) {
            None => return Ok(None),
            Some(t) if !state_is(t.provisioning_state.as_deref(), &["Creating", "Updating"]) => {
                return Ok(t.provisioning_state.clone());
            }
            Some(_) => {}
        }
    }
}
