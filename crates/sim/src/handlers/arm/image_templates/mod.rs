//! Microsoft.VirtualMachineImages/imageTemplates: CRUD, run, cancel, runOutputs, and the lazy
//! build timeline.
//!
//! A run's `runSubState` moves Queued (first 10% of the build time) → Building (to 30%) →
//! Customizing (to 70%) → Validating (to 80%, only with `validate`) → Distributing (to 100%).
//! `fail` ends at the end of Customizing, `timeout` after `buildTimeoutInMinutes` (0 = 240).
//! `timeout-distributing` also ends at the timeout, in Distributing, with the gallery versions
//! created and still replicating.
//!
//! The request handlers are here; `check` validates a PUT body, `create` stores a new
//! template, `json_form` is how GET shows one, `run` starts a build, `timeline` moves builds on
//! and `distribute` publishes a finished build.

mod check;
mod create;
mod distribute;
mod json_form;
mod run;
mod timeline;

pub use create::create_or_update;
pub use json_form::to_json;
pub use run::{RUN_NOT_ALLOWED, run};
pub use timeline::tick;

use super::operations;
use crate::context::Ctx;
use crate::model::ArmErr;
use crate::model::image_template::{ImageTemplate, TYPE, template_id};
use crate::model::operation::{OpFinal, OpKind};
use crate::response::{empty, json, not_found};
use crate::state::State;
use axum::http::StatusCode;
use axum::response::Response;
use check::strip_identity;
use serde_json::{Value, json};

impl ImageTemplate {
    pub fn blob_endpoint(&self, ctx: &Ctx) -> String {
        format!("{}/blob/{}/", ctx.base_url, self.storage_account)
    }
    fn running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.end.is_none())
    }
}

fn lookup<'a>(st: &'a State, sub: &str, rg: &str, name: &str) -> Option<&'a ImageTemplate> {
    st.templates
        .get(&template_id(sub, rg, name).to_ascii_lowercase())
}

/// PUT
pub fn put(
    ctx: &Ctx,
    st: &mut State,
    sub: &str,
    rg: &str,
    name: &str,
    body: &Value,
    api_version: &str,
) -> Response {
    match create_or_update(ctx, st, sub, rg, name, body, ctx.clock.now()) {
        Err(e) => e.into_response(),
        Ok(created) => {
            let now = ctx.clock.now();
            let key = template_id(sub, rg, name).to_ascii_lowercase();
            let Some(t) = st.templates.get(&key) else {
                return not_found(TYPE, name, rg);
            };
            let body = to_json(ctx, t, now, api_version);
            let location = t.location.clone();
            let created_at = t.created + ctx.scenario.create_minutes;
            let mut r = json(
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                &body,
            );
            let done = if created { Some(created_at) } else { Some(now) };
            let failed = t.provision_error.clone();
            let op = operations::new_op(st, sub, &location, OpKind::Create, &key, now, done);
            if let (true, Some((code, message))) = (created, failed)
                && let Some(o) = st.operations.get_mut(&op.to_ascii_lowercase())
            {
                o.fin = Some(OpFinal {
                    status: "Failed",
                    end: created_at,
                    error: Some(json!({"code": code, "message": message})),
                });
            }
            if let Some(o) = st.operations.get(&op.to_ascii_lowercase()) {
                let url = o.url(ctx, api_version);
                operations::add_lro_headers(&mut r, &url, false);
            }
            r
        }
    }
}

/// GET
pub fn get(ctx: &Ctx, st: &State, sub: &str, rg: &str, name: &str, api: &str) -> Response {
    if ctx.is_missing(&format!("/subscriptions/{sub}/resourceGroups/{rg}")) {
        return crate::response::rg_not_found(rg);
    }
    match lookup(st, sub, rg, name) {
        Some(t) => json(StatusCode::OK, &to_json(ctx, t, ctx.clock.now(), api)),
        None => not_found(TYPE, name, rg),
    }
}

/// List by RG (`rg = Some`) or subscription: every item, paged by the router.
pub fn list(
    ctx: &Ctx,
    st: &State,
    sub: &str,
    rg: Option<&str>,
    api: &str,
) -> Result<Vec<Value>, Response> {
    if let Some(rg) = rg
        && ctx.is_missing(&format!("/subscriptions/{sub}/resourceGroups/{rg}"))
    {
        return Err(crate::response::rg_not_found(rg));
    }
    let now = ctx.clock.now();
    let value: Vec<Value> = st
        .templates
        .values()
        .filter(|t| {
            t.sub.eq_ignore_ascii_case(sub) && rg.is_none_or(|rg| t.rg.eq_ignore_ascii_case(rg))
        })
        .map(|t| to_json(ctx, t, now, api))
        .collect();
    Ok(value)
}

/// DELETE
pub fn delete(
    ctx: &Ctx,
    st: &mut State,
    sub: &str,
    rg: &str,
    name: &str,
    api_version: &str,
) -> Response {
    let key = template_id(sub, rg, name).to_ascii_lowercase();
    let now = ctx.clock.now();
    let Some(t) = st.templates.get_mut(&key) else {
        return empty(StatusCode::NO_CONTENT);
    };
    if t.running() {
        return ArmErr::conflict(
            "Conflict",
            format!("Cannot delete image template '{name}' while a build is running (runState Running or Canceling). Cancel the build and wait for it to finish first."),
        )
        .into_response();
    }
    let start = *t.deleting_at.get_or_insert(now);
    let location = t.location.clone();
    let op = operations::new_op(
        st,
        sub,
        &location,
        OpKind::Delete,
        &key,
        start,
        Some(start + ctx.scenario.delete_minutes),
    );
    let mut r = empty(StatusCode::ACCEPTED);
    if let Some(o) = st.operations.get(&op.to_ascii_lowercase()) {
        let url = o.url(ctx, api_version);
        operations::add_lro_headers(&mut r, &url, true);
    }
    r
}

/// POST /cancel: 204 with no operation headers (as recorded); the run shows `Canceling`
/// until it is `Canceled`. Cancelling again while it cancels answers 204 again.
pub fn cancel(ctx: &Ctx, st: &mut State, sub: &str, rg: &str, name: &str) -> Response {
    let key = template_id(sub, rg, name).to_ascii_lowercase();
    let now = ctx.clock.now();
    let Some(run) = st
        .templates
        .get_mut(&key)
        .map(|t| t.run.as_mut().filter(|r| r.end.is_none()))
    else {
        return not_found(TYPE, name, rg);
    };
    let Some(run) = run else {
        return ArmErr::conflict(
            "Conflict",
            format!("There is no running build to cancel for image template '{name}'."),
        )
        .into_response();
    };
    run.cancel_at.get_or_insert(now);
    empty(StatusCode::NO_CONTENT)
}

/// GET /runOutputs and /runOutputs/{name}
pub fn run_outputs(st: &State, sub: &str, rg: &str, name: &str) -> Result<Vec<Value>, Response> {
    match lookup(st, sub, rg, name) {
        Some(t) => Ok(t.run_outputs.clone()),
        None => Err(not_found(TYPE, name, rg)),
    }
}

/// `GET .../runOutputs/{name}`
pub fn run_output(st: &State, sub: &str, rg: &str, name: &str, output: &str) -> Response {
    let Some(t) = lookup(st, sub, rg, name) else {
        return not_found(TYPE, name, rg);
    };
    match t.run_outputs.iter().find(|v| {
        v.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(output))
    }) {
        Some(v) => json(StatusCode::OK, v),
        None => not_found(
            &format!("{TYPE}/runOutputs"),
            &format!("{name}/{output}"),
            rg,
        ),
    }
}

/// PATCH (tags, identity, properties.distribute, properties.vmProfile); answers 200 at once.
pub fn patch(
    ctx: &Ctx,
    st: &mut State,
    sub: &str,
    rg: &str,
    name: &str,
    body: &Value,
    api: &str,
) -> Response {
    let key = template_id(sub, rg, name).to_ascii_lowercase();
    let now = ctx.clock.now();
    let Some(t) = st.templates.get_mut(&key) else {
        return not_found(TYPE, name, rg);
    };
    if t.running() || t.deleting_at.is_some() {
        return ArmErr::conflict(
            "Conflict",
            format!("The image template '{name}' cannot be updated while a build is running or it is being deleted."),
        )
        .into_response();
    }
    let Some(obj) = body.as_object() else {
        return ArmErr::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        )
        .into_response();
    };
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for k in props.keys() {
            if k != "distribute" && k != "vmProfile" {
                return ArmErr::bad_request(
                    "InvalidParameter",
                    format!("Property 'properties.{k}' cannot be updated; only distribute and vmProfile can."),
                )
                .into_response();
            }
        }
        if let Some(p) = t.properties.as_object_mut() {
            for (k, v) in props {
                p.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(tags) = obj.get("tags") {
        t.tags = tags.clone();
    }
    if let Some(id) = obj.get("identity") {
        t.identity = strip_identity(id);
    }
    json(StatusCode::OK, &to_json(ctx, t, now, api))
}
