//! Async operations, with the shapes recorded Azure gives them:
//!
//! - Image Builder (`.../providers/Microsoft.VirtualMachineImages/locations/{loc}/operations/{id}`):
//!   a create answers with `Azure-AsyncOperation` only, `run` and DELETE with `Location` equal
//!   to `Azure-AsyncOperation`; the URL answers 200 `{name, status, startTime[, endTime][,
//!   error]}` (no `id`) while running and after, and never carries `Retry-After` (clients poll
//!   at their own interval).
//! - Compute gallery version deletions: `.../providers/Microsoft.Compute/locations/{loc}/capsOperations/{id}`
//!   (the `Location` form adds `monitor=true` and answers 202 while running).
//! - ARM resource group and deployment deletions: `/subscriptions/{sub}/operationresults/{id}`,
//!   a `Location` only, with `Retry-After: 15` (scaled by `minute_ms`); 202 while running, a
//!   deployment's answers 204 when done.
//!
//! Every operation URL is signed the way ARM signs them since 2023:
//! `?api-version=…&t=<ticks>&c=<about 2 KB>&s=<signature>&h=<hash>`. A URL whose `s` does not
//! match its path and `t` (a client that mangled it) is refused with 400.

use crate::context::Ctx;
use crate::model::operation::{OpKind, Operation};
use crate::response::{arm_error, json, set_header, set_retry_after};
use crate::state::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// ARM's hint on its own deletions, in seconds of Azure time.
pub const ARM_RETRY_AFTER_SECONDS: f64 = 15.0;

impl Operation {
    /// The signed status URL.
    pub fn url(&self, ctx: &Ctx, api_version: &str) -> String {
        signed_url(ctx, &self.path(), api_version, self.start)
    }

    /// Polled as a `Location` URL, answering 202 while running (ARM's and Compute's own
    /// deletions; Image Builder's `Location` is its `Azure-AsyncOperation` and answers 200).
    fn location_style(&self, monitor: bool) -> bool {
        matches!(
            self.kind,
            OpKind::ResourceGroupDelete | OpKind::DeploymentDelete
        ) || (self.kind == OpKind::GalleryVersionDelete && monitor)
    }

    fn is_image_builder(&self) -> bool {
        matches!(self.kind, OpKind::Create | OpKind::Delete | OpKind::Run)
    }

    /// The `Location` URL of this operation.
    fn location_url(&self, ctx: &Ctx, api_version: &str) -> String {
        let mut url = self.url(ctx, api_version);
        if self.kind == OpKind::GalleryVersionDelete {
            url.push_str("&monitor=true");
        }
        url
    }

    fn status(&self, now: f64) -> (&'static str, Option<f64>, Option<Value>) {
        if let Some(f) = self.fin.as_ref().filter(|f| now >= f.end) {
            return (f.status, Some(f.end), f.error.clone());
        }
        match self.done_at {
            Some(t) if now >= t => ("Succeeded", Some(t), None),
            _ => ("InProgress", None, None),
        }
    }
}

/// Create an operation and return its id.
pub fn new_op(
    st: &mut State,
    sub: &str,
    location: &str,
    kind: OpKind,
    template_key: &str,
    start: f64,
    done_at: Option<f64>,
) -> String {
    let id = uuid::Uuid::new_v4().to_string().to_uppercase();
    st.operations.insert(
        id.to_ascii_lowercase(),
        Operation {
            id: id.clone(),
            sub: sub.to_string(),
            location: location.to_ascii_lowercase().replace(' ', ""),
            kind,
            template_key: template_key.to_string(),
            start,
            done_at,
            fin: None,
            polls: 0,
        },
    );
    id
}

/// `Azure-AsyncOperation` (and, when `location`, the same URL as `Location`) of an Image
/// Builder operation: no `Retry-After`, as recorded.
pub fn add_lro_headers(r: &mut Response, url: &str, location: bool) {
    set_header(r, "Azure-AsyncOperation", url);
    if location {
        set_header(r, "Location", url);
    }
}

/// The headers a deletion of `kind` answers 202 with, as its service sends them: Compute both
/// `Azure-AsyncOperation` and `Location` (`monitor=true`), ARM `Location` only with
/// `Retry-After: 15`.
pub fn add_delete_headers(ctx: &Ctx, st: &State, r: &mut Response, op_id: &str, api_version: &str) {
    let Some(op) = st.operations.get(&op_id.to_ascii_lowercase()) else {
        return;
    };
    if matches!(
        op.kind,
        OpKind::ResourceGroupDelete | OpKind::DeploymentDelete
    ) {
        set_arm_retry_after(ctx, r);
    } else {
        set_header(r, "Azure-AsyncOperation", &op.url(ctx, api_version));
        set_retry_after(r, ctx.clock.poll_hint_ms());
    }
    set_header(r, "Location", &op.location_url(ctx, api_version));
}

/// `Retry-After: 15` of ARM's own operations, on the simulated clock (and `retry-after-ms`).
pub fn set_arm_retry_after(ctx: &Ctx, r: &mut Response) {
    let ms = ctx
        .clock
        .real(ARM_RETRY_AFTER_SECONDS / 60.0)
        .as_millis()
        .max(1);
    set_retry_after(r, u64::try_from(ms).unwrap_or(u64::MAX));
}

/// The key the simulator signs operation URLs with.
const SIGNING_KEY: &[u8] = b"aib-sim operation url signing key";

fn signature(path: &str, t: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(SIGNING_KEY) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(path.to_ascii_lowercase().as_bytes());
    mac.update(b"\n");
    mac.update(t.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// An operation URL signed as ARM signs them: `api-version`, then `t` (.NET ticks of the
/// operation's start), `c` (a certificate, about 2 KB), `s` (the signature) and `h` (a hash).
pub fn signed_url(ctx: &Ctx, path: &str, api_version: &str, start: f64) -> String {
    let t = ticks(ctx, start).to_string();
    let mut cert = Vec::with_capacity(1536);
    let mut block = Sha256::digest(path.as_bytes()).to_vec();
    while cert.len() < 1536 {
        block = Sha256::digest(&block).to_vec();
        cert.extend_from_slice(&block);
    }
    let c = URL_SAFE_NO_PAD.encode(&cert);
    let h = URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{path}{t}").as_bytes()));
    format!(
        "{}{path}?api-version={api_version}&t={t}&c={c}&s={}&h={h}",
        ctx.base_url,
        signature(path, &t)
    )
}

/// 400 when a request to an operation URL carries a signature that does not match its path:
/// the URL was changed on its way back.
pub fn check_signature(path: &str, query: &HashMap<String, String>) -> Result<(), Response> {
    let (Some(t), Some(s)) = (query.get("t"), query.get("s")) else {
        return Ok(());
    };
    if signature(path, t) == *s {
        return Ok(());
    }
    Err(arm_error(
        StatusCode::BAD_REQUEST,
        "InvalidOperationUrl",
        "The signature of the operation URL does not match it; use the URL exactly as the Azure-AsyncOperation or Location header gave it.",
    ))
}

/// .NET ticks (100 ns since 0001-01-01) of a simulated instant.
fn ticks(ctx: &Ctx, minutes: f64) -> i64 {
    const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;
    let t = ctx.clock.utc(minutes);
    UNIX_EPOCH_TICKS + t.timestamp() * 10_000_000 + i64::from(t.timestamp_subsec_nanos() / 100)
}

/// `GET` of an operation URL: Image Builder's answer 200 with the status body while running
/// and after; ARM's and Compute's `Location` forms (`monitor` for Compute) 202 while running.
pub fn get(
    ctx: &Ctx,
    st: &mut State,
    sub: &str,
    id: &str,
    api_version: &str,
    monitor: bool,
) -> Response {
    let now = ctx.clock.now();
    let Some(op) = st.operations.get_mut(&id.to_ascii_lowercase()) else {
        return arm_error(
            StatusCode::NOT_FOUND,
            "OperationNotFound",
            format!("The operation '{id}' could not be found."),
        );
    };
    if !op.sub.eq_ignore_ascii_case(sub) {
        return arm_error(
            StatusCode::NOT_FOUND,
            "OperationNotFound",
            format!("The operation '{id}' could not be found."),
        );
    }
    op.polls += 1;
    if op.polls <= ctx.scenario.faults.operation_status_errors {
        return arm_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Encountered internal server error while reading the operation status.",
        );
    }
    let op = op.clone();
    let (status, end, error) = op.status(now);
    let mut body = if op.is_image_builder() {
        json!({"name": op.id, "status": status, "startTime": ctx.clock.stamp(op.start)})
    } else {
        json!({"id": op.path(), "name": op.id, "status": status, "startTime": ctx.clock.stamp(op.start)})
    };
    if let Some(e) = end {
        body["endTime"] = json!(ctx.clock.stamp(e));
    }
    if let Some(e) = error {
        body["error"] = e;
    }
    let in_progress = status == "InProgress";
    // ARM's deployment deletion `Location` answers 204 once the record is gone.
    if op.kind == OpKind::DeploymentDelete && !in_progress && error_free(&body) {
        return crate::response::empty(StatusCode::NO_CONTENT);
    }
    let as_location = op.location_style(monitor);
    let code = if in_progress && as_location {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let mut r = json(code, &body);
    if in_progress && as_location {
        if op.kind == OpKind::GalleryVersionDelete {
            set_retry_after(&mut r, ctx.clock.poll_hint_ms());
        } else {
            set_arm_retry_after(ctx, &mut r);
        }
        set_header(&mut r, "Location", &op.location_url(ctx, api_version));
    }
    r
}

fn error_free(body: &Value) -> bool {
    body.get("error").is_none()
}
