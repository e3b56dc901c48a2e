//! AIB async operations: `GET /subscriptions/{sub}/providers/Microsoft.VirtualMachineImages/locations/{loc}/operations/{id}`
//! returning `{id, name, status, startTime, endTime, error}` with status
//! `InProgress | Succeeded | Failed | Canceled`. Gallery image version deletions are followed
//! at Compute's `.../providers/Microsoft.Compute/locations/{loc}/capsOperations/{id}` (the
//! `Location` form adds `monitor=true`), resource group deletions at ARM's
//! `/subscriptions/{sub}/operationresults/{id}` (a `Location` URL only).

use crate::response::{arm_error, json, set_header, set_retry_after};
use crate::server::Ctx;
use crate::state::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

/// What an operation tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Create,
    Delete,
    Run,
    Cancel,
    /// A gallery image version deletion (Compute `capsOperations`).
    GalleryVersionDelete,
    /// A resource group deletion (ARM `operationresults`).
    ResourceGroupDelete,
    /// A deployment record deletion (ARM `operationresults`).
    DeploymentDelete,
}

/// A final status set when the tracked thing finishes.
#[derive(Debug, Clone)]
pub struct OpFinal {
    pub status: &'static str,
    pub end: f64,
    pub error: Option<Value>,
}

/// One operation.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub sub: String,
    pub location: String,
    pub kind: OpKind,
    pub template_key: String,
    pub start: f64,
    /// For Create/Delete: the time it completes.
    pub done_at: Option<f64>,
    pub fin: Option<OpFinal>,
    pub polls: u32,
}

impl Operation {
    pub fn url(&self, ctx: &Ctx, api_version: &str) -> String {
        format!("{}{}?api-version={api_version}", ctx.base_url, self.path())
    }

    /// The operation's path (its `id` in the status body).
    pub fn path(&self) -> String {
        match self.kind {
            OpKind::GalleryVersionDelete => format!(
                "/subscriptions/{}/providers/Microsoft.Compute/locations/{}/capsOperations/{}",
                self.sub, self.location, self.id
            ),
            OpKind::ResourceGroupDelete | OpKind::DeploymentDelete => {
                format!("/subscriptions/{}/operationresults/{}", self.sub, self.id)
            }
            _ => format!(
                "/subscriptions/{}/providers/Microsoft.VirtualMachineImages/locations/{}/operations/{}",
                self.sub, self.location, self.id
            ),
        }
    }

    /// Polled as a `Location` URL: 202 while running.
    fn location_style(&self, location_poll: bool) -> bool {
        matches!(
            self.kind,
            OpKind::Delete | OpKind::ResourceGroupDelete | OpKind::DeploymentDelete
        ) || location_poll
    }

    /// The `Location` URL of this operation.
    fn location_url(&self, ctx: &Ctx, api_version: &str) -> String {
        let mut url = self.url(ctx, api_version);
        match self.kind {
            OpKind::Delete | OpKind::ResourceGroupDelete | OpKind::DeploymentDelete => {}
            OpKind::GalleryVersionDelete => url.push_str("&monitor=true"),
            _ => url.push_str("&poll=location"),
        }
        url
    }

    fn status(&self, now: f64) -> (&'static str, Option<f64>, Option<Value>) {
        if let Some(f) = &self.fin {
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

/// Add `Azure-AsyncOperation` (and optionally `Location`) plus the retry hint.
pub fn add_lro_headers(ctx: &Ctx, r: &mut Response, url: &str, async_op: bool, location: bool) {
    if async_op {
        set_header(r, "Azure-AsyncOperation", url);
    }
    if location {
        if async_op {
            // Same operation; polled as a Location it answers 202 while running.
            set_header(r, "Location", &format!("{url}&poll=location"));
        } else {
            set_header(r, "Location", url);
        }
    }
    set_retry_after(r, ctx.clock.poll_hint_ms());
}

/// The headers a deletion of `kind` answers 202 with, as its service sends them: Compute both
/// `Azure-AsyncOperation` and `Location` (`monitor=true`), ARM resource groups `Location` only.
pub fn add_delete_headers(ctx: &Ctx, st: &State, r: &mut Response, op_id: &str, api_version: &str) {
    let Some(op) = st.operations.get(&op_id.to_ascii_lowercase()) else {
        return;
    };
    if !matches!(
        op.kind,
        OpKind::ResourceGroupDelete | OpKind::DeploymentDelete
    ) {
        set_header(r, "Azure-AsyncOperation", &op.url(ctx, api_version));
    }
    set_header(r, "Location", &op.location_url(ctx, api_version));
    set_retry_after(r, ctx.clock.poll_hint_ms());
}

/// `GET .../locations/{loc}/operations/{id}`
///
/// Polled through an `Azure-AsyncOperation` header it always answers 200 with the status body;
/// polled as a `Location` (DELETE, or `&poll=location` for run/cancel) it answers 202 while the
/// operation runs.
pub fn get(
    ctx: &Ctx,
    st: &mut State,
    sub: &str,
    id: &str,
    api_version: &str,
    location_poll: bool,
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
    let mut body = json!({
        "id": op.path(),
        "name": op.id,
        "status": status,
        "startTime": ctx.clock.stamp(op.start),
    });
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
    // A Location-style poll (delete) answers 202 while running, as the ARM async contract says.
    let as_location = op.location_style(location_poll);
    let code = if in_progress && as_location {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let mut r = json(code, &body);
    if in_progress {
        set_retry_after(&mut r, ctx.clock.poll_hint_ms());
        if as_location {
            set_header(&mut r, "Location", &op.location_url(ctx, api_version));
        }
    }
    r
}

fn error_free(body: &Value) -> bool {
    body.get("error").is_none()
}
