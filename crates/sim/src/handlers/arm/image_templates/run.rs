//! `POST .../run`: starting a build of a ready template.

use super::create::{applies, resolve_exact_version};
use crate::context::Ctx;
use crate::handlers::arm::operations;
use crate::model::ArmErr;
use crate::model::image_template::{ImageTemplate, Run, TYPE, template_id};
use crate::model::operation::OpKind;
use crate::response::empty;
use crate::scenario::{OutcomeResult, OutcomeRule};
use crate::state::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

/// AIB's refusal of a `run` on a template that is not ready.
pub const RUN_NOT_ALLOWED: &str = "Operation Microsoft.VirtualMachineImages/imageTemplates/run is not allowed in provisioning state: failed or run state";

/// POST /run
pub fn run(
    ctx: &Ctx,
    st: &mut State,
    sub: &str,
    rg: &str,
    name: &str,
    api_version: &str,
) -> Result<Response, ArmErr> {
    let key = template_id(sub, rg, name).to_ascii_lowercase();
    let now = ctx.clock.now();
    let Some(t) = st.templates.get(&key) else {
        return Err(ArmErr::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("The Resource '{TYPE}/{name}' under resource group '{rg}' was not found."),
        ));
    };
    check_ready(ctx, t, name, now)?;
    let exact = resolve_exact_version(ctx, st, &t.properties, &t.location);
    let rule = ctx.outcome_for(name, &t.tags);
    let timeout = build_timeout(t);
    let has_validate = t.properties.get("validate").is_some_and(|v| !v.is_null());
    let location = t.location.clone();
    let result = run_result(st, &rule);
    let op_id = operations::new_op(st, sub, &location, OpKind::Run, &key, now, None);
    let Some(t) = st.templates.get_mut(&key) else {
        return Err(ArmErr::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            "template vanished",
        ));
    };
    t.exact_version = exact;
    t.run_outputs.clear();
    t.run = Some(Run {
        op_id: op_id.clone(),
        start: now,
        result,
        failed_customizer: rule.failed_customizer.clone(),
        build_minutes: rule.build_minutes.unwrap_or(ctx.scenario.build_minutes),
        timeout_minutes: timeout,
        has_validate,
        cancel_at: None,
        end: None,
    });
    let mut r = empty(StatusCode::ACCEPTED);
    if let Some(o) = st.operations.get(&op_id.to_ascii_lowercase()) {
        let url = o.url(ctx, api_version);
        operations::add_lro_headers(&mut r, &url, true);
    }
    Ok(r)
}

/// Whether the template `name` can start a build at `now`: not being deleted or still
/// created, not failed to provision, not building already; else AIB's 409.
fn check_ready(ctx: &Ctx, t: &ImageTemplate, name: &str, now: f64) -> Result<(), ArmErr> {
    if t.deleting_at.is_some() {
        return Err(ArmErr::conflict(
            "Conflict",
            format!("The image template '{name}' is being deleted."),
        ));
    }
    if now < t.created + ctx.scenario.create_minutes {
        return Err(ArmErr::conflict(
            "Conflict",
            format!(
                "The image template '{name}' is still being created (provisioningState Creating)."
            ),
        ));
    }
    if t.provision_error.is_some() {
        return Err(ArmErr::conflict("OperationNotAllowed", RUN_NOT_ALLOWED));
    }
    if t.running() {
        return Err(ArmErr::conflict(
            "Conflict",
            format!(
                "The image template '{name}' already has a build in progress. Concurrent runs of the same image template are not supported; wait for the current run to finish or cancel it."
            ),
        ));
    }
    Ok(())
}

/// The build's timeout in minutes: `buildTimeoutInMinutes`, 240 when absent or 0.
fn build_timeout(t: &ImageTemplate) -> f64 {
    t.properties
        .get("buildTimeoutInMinutes")
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
        .unwrap_or(240) as f64
}

/// How this run ends by the scenario's `rule`: a rule with `times` gives its result to the
/// first N runs (counting this one); later ones succeed.
fn run_result(st: &mut State, rule: &OutcomeRule) -> OutcomeResult {
    match rule.result {
        OutcomeResult::Succeed | OutcomeResult::ProvisionFail => rule.result,
        r if applies(st, rule) => r,
        _ => OutcomeResult::Succeed,
    }
}
