//! Request routing: classification into operations (`classify`, on a parsed
//! [`ResourcePath`](crate::model::resource_path::ResourcePath)), faults, auth, api-version, dispatch to the handlers.
//!
//! ARM paths are matched case-insensitively:
//! - `/subscriptions/{s}/resourcegroups[/{rg}]` (GET list, GET, DELETE)
//! - `/subscriptions/{s}/operationresults/{id}` (resource group and deployment deletion `Location`)
//! - `.../resourcegroups/{rg}/providers/Microsoft.Resources/deployments[/{name}[/operations|/operationStatuses/{id}]]`
//!   and `.../resourcegroups/{rg}/deployments/{name}/operations`
//! - `.../resourcegroups/{rg}/providers/Microsoft.VirtualMachineImages/imageTemplates[/{name}[/run|/cancel|/runOutputs[/{out}]]]`
//! - `/subscriptions/{s}/providers/Microsoft.VirtualMachineImages/imageTemplates`
//! - `/subscriptions/{s}/providers/Microsoft.VirtualMachineImages/locations/{loc}/operations/{id}`
//! - `/subscriptions/{s}/providers/Microsoft.Compute/locations/{loc}/publishers/{p}/artifacttypes/vmimage/offers/{o}/skus/{k}/versions`
//! - `.../providers/Microsoft.Compute/galleries/{g}[/images/{i}[/versions[/{v}]]]` (version: GET, DELETE)
//! - `/subscriptions/{s}/providers/Microsoft.Compute/locations/{loc}/capsOperations/{id}`
//! - `.../providers/Microsoft.ManagedIdentity/userAssignedIdentities/{n}`
//! - `.../providers/Microsoft.Storage/storageAccounts[/{n}[/listKeys]]`
//! - any other `.../resourcegroups/{rg}/providers/...` GET: resources created by deployments.
//!
//! Besides ARM: `/keyvault/{vault}/secrets/{name}[/{version}]` (GET) is the Key Vault data
//! plane of `https://{vault}.vault.azure.net` (see [`crate::handlers::key_vault`]).

mod classify;
mod paging;

pub use paging::ListReq;

use crate::context::{Sim, lock};
use crate::faults::{self, Fault};
use crate::handlers::arm::{
    deployments, gallery, image_templates, operations, platform_images, resources, storage,
};
use crate::handlers::blob::{self, Access, BlobReq};
use crate::ratelimit::{Kind, Verdict};
use crate::response::{arm_error, json, set_header};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::response::Response;
use classify::{Arm, Route, classify};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The api-version of an ARM request: present, well formed, and one the resource type is
/// served at (ARM's 400s: `MissingApiVersionParameter`, `InvalidApiVersionParameter` for
/// Microsoft.Resources itself, `NoRegisteredProviderFound` for a resource provider's type).
fn check_api_version(q: &HashMap<String, String>, rtype: &str) -> Result<String, Response> {
    let Some(v) = q.get("api-version") else {
        return Err(arm_error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    let date = v.strip_suffix("-preview").unwrap_or(v);
    let well_formed =
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok() && date.len() == 10;
    let Some(served) = crate::api_versions::served(rtype) else {
        // A type the table does not know (resources created by deployments): any date.
        if well_formed {
            return Ok(v.clone());
        }
        return Err(arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{v}' is invalid. The supported versions are 'YYYY-MM-DD[-preview]'."
            ),
        ));
    };
    if crate::api_versions::is_served(rtype, v) {
        return Ok(v.clone());
    }
    let list: Vec<&str> = served.iter().rev().copied().collect();
    let (provider, short) = rtype.split_once('/').unwrap_or((rtype, rtype));
    if provider.eq_ignore_ascii_case("Microsoft.Resources") {
        return Err(arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{v}' is invalid. The supported versions are '{}'.",
                list.join(",")
            ),
        ));
    }
    Err(arm_error(
        StatusCode::BAD_REQUEST,
        "NoRegisteredProviderFound",
        format!(
            "No registered resource provider found for location 'global' and API version '{v}' for type '{short}'. The supported api-versions are '{}'. The supported locations are ''.",
            list.join(", ")
        ),
    ))
}

/// A resource name ARM refuses in a path: it must not hide another path (`/`, `\\`, `.`,
/// `..`), hold control characters (NUL) or the characters ARM forbids in names
/// (`<>%&:?*#`). Checked on each decoded segment, so `%2F` or `%00` cannot smuggle a path.
fn bad_segment(seg: &str) -> Option<String> {
    if seg == "." || seg == ".." {
        return Some(format!("'{seg}' is not a resource name"));
    }
    let bad = seg
        .chars()
        .find(|c| c.is_control() || "/\\<>%&:?*#".contains(*c))?;
    Some(format!(
        "the character {:?} is not allowed in resource names",
        bad
    ))
}

/// Handle one request.
pub async fn handle(sim: Arc<Sim>, req: Request<Body>) -> Response {
    let (parts, body) = req.into_parts();
    let client_req_id = parts
        .headers
        .get("x-ms-client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let correlation = parts
        .headers
        .get("x-ms-correlation-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut resp = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(_) if !SERVED_METHODS.contains(&parts.method) => method_not_allowed(&parts.method),
        Ok(bytes) => route(&sim, &parts.method, &parts.uri, &parts.headers, &bytes).await,
        Err(_) => arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "The request body could not be read.",
        ),
    };
    let rid = uuid::Uuid::new_v4().to_string();
    set_header(&mut resp, "x-ms-request-id", &rid);
    set_header(&mut resp, "x-ms-correlation-request-id", &correlation);
    if let Some(c) = client_req_id {
        set_header(&mut resp, "x-ms-client-request-id", &c);
    }
    resp
}

/// The HTTP methods ARM, Blob and the token endpoints answer; any other is a 405.
const SERVED_METHODS: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::PUT,
    Method::POST,
    Method::DELETE,
    Method::PATCH,
];

/// 405 with `Allow`, for a method the simulator serves nowhere (`TRACE`, `BREW`, ...).
fn method_not_allowed(method: &Method) -> Response {
    let mut r = arm_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("The requested HTTP method '{method}' is not supported."),
    );
    set_header(&mut r, "allow", "GET, HEAD, PUT, POST, DELETE, PATCH");
    r
}

/// A request's query (as pairs and as a map) and its decoded path segments.
struct Target {
    pairs: Vec<(String, String)>,
    query: HashMap<String, String>,
    segs: Vec<String>,
}

fn parse_uri(uri: &axum::http::Uri) -> Target {
    let pairs: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let query: HashMap<String, String> = pairs.iter().cloned().collect();
    let segs: Vec<String> = uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .to_string()
        })
        .collect();
    Target { pairs, query, segs }
}

/// The simulator's own endpoints (`/_sim/...`): answered at once, never counted or faulted.
fn own_endpoint(sim: &Arc<Sim>, route: &Route, body: &[u8]) -> Option<Response> {
    let ctx = &sim.ctx;
    Some(match route {
        Route::SimStats => {
            let mut v = lock(&sim.stats).to_json();
            v["update_conflicts"] = ctx
                .update_conflicts
                .load(std::sync::atomic::Ordering::Relaxed)
                .into();
            json(StatusCode::OK, &v)
        }
        Route::SimClock => json(
            StatusCode::OK,
            &serde_json::json!({
                "minute_ms": ctx.scenario.clock_minute_ms.unwrap_or(ctx.scenario.minute_ms)
            }),
        ),
        Route::SimPublish => platform_images::publish(&mut lock(&sim.state), body),
        Route::SimControl => match serde_json::from_slice::<crate::control::ControlRequest>(body) {
            Ok(req) => json(StatusCode::OK, &sim.control.apply(req)),
            Err(e) => arm_error(
                StatusCode::BAD_REQUEST,
                "InvalidControl",
                format!("invalid /_sim/control body: {e}"),
            ),
        },
        Route::SimCiJob => crate::handlers::federated::ci_job(sim),
        _ => return None,
    })
}

/// The operation name a request is counted under in `/_sim/stats`, and whether it writes.
fn operation(route: &Route, method: &Method) -> (&'static str, bool) {
    match route {
        Route::Token => ("token", false),
        Route::ImdsToken => ("token.imds", false),
        Route::AadToken => ("token.aad", true),
        Route::ActionsIdToken => ("token.actions", false),
        Route::PipelinesOidcToken => ("token.pipelines", true),
        Route::Blob { blob: None, .. } => ("blob.list", false),
        Route::Blob { .. } if method == Method::HEAD => ("blob.head", false),
        Route::Blob { .. } => ("blob.get", false),
        Route::Arm { op, .. } => (*op, method != Method::GET),
        Route::KeyVaultSecret { .. } => ("keyVault.secrets.get", false),
        Route::Unknown => ("unknown", method != Method::GET),
        Route::SimStats
        | Route::SimClock
        | Route::SimPublish
        | Route::SimControl
        | Route::SimCiJob => ("sim", false),
    }
}

/// The answer a fault rolled before the request is handled gives instead (`None`: handle it).
fn fault_answer(sim: &Sim, fault: Fault, is_blob: bool, write: bool) -> Option<Response> {
    let f = &sim.ctx.scenario.faults;
    let hint = sim.ctx.clock.poll_hint_ms();
    Some(match fault {
        Fault::None | Fault::ResetMidBody | Fault::Reset(true) => return None,
        Fault::Throttle => {
            lock(&sim.stats).throttle += 1;
            if is_blob {
                let mut r = blob::blob_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServerBusy",
                    "The server is busy.",
                );
                crate::response::set_retry_after(&mut r, f.throttle_retry_after_ms.unwrap_or(hint));
                return Some(r);
            }
            faults::throttle_response(f.throttle_retry_after_ms.unwrap_or(hint), write)
        }
        Fault::ServerError(code) => {
            lock(&sim.stats).server_error += 1;
            if is_blob {
                return Some(blob::blob_error(
                    if code == 503 {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::INTERNAL_SERVER_ERROR
                    },
                    if code == 503 {
                        "ServerBusy"
                    } else {
                        "InternalError"
                    },
                    "The server encountered an internal error. Please retry the request.",
                ));
            }
            faults::server_error_response(code, hint)
        }
        Fault::Reset(false) => {
            lock(&sim.stats).reset += 1;
            faults::reset_response()
        }
    })
}

async fn route(
    sim: &Arc<Sim>,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let ctx = &sim.ctx;
    let raw_path = uri.path();
    let Target { pairs, query, segs } = parse_uri(uri);
    let route = classify(method, &segs);
    if let Some(r) = own_endpoint(sim, &route, body) {
        return r;
    }
    let (op, write) = operation(&route, method);
    lock(&sim.stats).count_request(op);
    if op == "blob.get" && (headers.contains_key("range") || headers.contains_key("x-ms-range")) {
        lock(&sim.stats).blob_range_gets += 1;
    }
    let f = &ctx.scenario.faults;
    let is_token = matches!(
        route,
        Route::Token
            | Route::ImdsToken
            | Route::AadToken
            | Route::ActionsIdToken
            | Route::PipelinesOidcToken
    );
    if is_token && !f.token {
        return token_answer(sim, &route, headers, &query, body);
    }
    if f.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
    }
    let fault = lock(&sim.faults).roll(f, ctx.clock.real_ms());
    let is_blob = matches!(route, Route::Blob { .. });
    if let Some(r) = fault_answer(sim, fault, is_blob, write) {
        return r;
    }
    let resp = if is_token {
        token_answer(sim, &route, headers, &query, body)
    } else {
        let req = Req {
            method,
            raw_path,
            segs: &segs,
            headers,
            query: &query,
            pairs: &pairs,
            body,
        };
        dispatch(sim, route, &req)
    };
    deliver(sim, op, fault, resp).await
}

/// Sends a handled request's answer, unless a fault loses it after the request took effect,
/// breaks it mid-body, or `/_sim/control` holds or cuts it.
async fn deliver(sim: &Sim, op: &'static str, fault: Fault, resp: Response) -> Response {
    if fault == Fault::Reset(true) {
        // The request took effect; the answer is lost (the ambiguous case clients must handle).
        lock(&sim.stats).reset += 1;
        return faults::reset_response();
    }
    if fault == Fault::ResetMidBody {
        lock(&sim.stats).reset += 1;
        return faults::break_mid_body(resp).await;
    }
    if op == "blob.get" && resp.status().is_success() && sim.control.take_cut() {
        lock(&sim.stats).reset += 1;
        return faults::break_mid_body(resp).await;
    }
    if sim.control.holds(op) {
        /// Counts the answer as held while it waits (also if the client goes away).
        struct Held<'a>(&'a Sim);
        impl Drop for Held<'_> {
            fn drop(&mut self) {
                lock(&self.0.stats).held -= 1;
            }
        }
        lock(&sim.stats).held += 1;
        let _held = Held(sim);
        sim.control.released(op).await;
    }
    resp
}

/// A Blob request's authorization: an Entra token of the simulator (allowed when the caller
/// holds a data role, `[storage] data_reader`), or Shared Key / SAS signed with the account key
/// (allowed unless `[storage] shared_key = false`).
fn authorize_blob(sim: &Sim, req: &BlobReq<'_>, list: bool) -> Result<(), Response> {
    let storage = &sim.ctx.scenario.storage;
    let bearer = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer ") || v.starts_with("bearer "));
    if bearer {
        crate::handlers::auth::check_bearer(sim, req.headers).map_err(|_| {
            blob::blob_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationInfo",
                "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.",
            )
        })?;
        if !storage.data_reader {
            return Err(blob::blob_error(
                StatusCode::FORBIDDEN,
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.",
            ));
        }
        return Ok(());
    }
    blob::authorize(req, if list { Access::List } else { Access::Read })?;
    if !storage.shared_key {
        return Err(blob::blob_error(
            StatusCode::FORBIDDEN,
            "KeyBasedAuthenticationNotPermitted",
            "Key based authentication is not permitted on this storage account.",
        ));
    }
    Ok(())
}

fn token_answer(
    sim: &Arc<Sim>,
    route: &Route,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Response {
    match route {
        Route::ImdsToken => crate::handlers::auth::imds_token(sim, headers, query),
        Route::AadToken => crate::handlers::auth::aad_token(sim, body),
        Route::ActionsIdToken => crate::handlers::federated::actions_id_token(sim, headers, query),
        Route::PipelinesOidcToken => {
            crate::handlers::federated::pipelines_oidc_token(sim, headers, query)
        }
        _ => crate::handlers::auth::token(sim, headers, query),
    }
}

/// A request past faults, to the service it is for.
fn dispatch(sim: &Arc<Sim>, route: Route, req: &Req<'_>) -> Response {
    match route {
        Route::Blob {
            account,
            container,
            blob,
        } => blob_request(sim, req, &account, &container, blob.as_deref()),
        Route::Arm { sub, arm, .. } => arm_request(sim, req, &sub, arm),
        Route::KeyVaultSecret {
            vault,
            name,
            version,
        } => crate::handlers::key_vault::get_secret(
            sim,
            req.headers,
            req.query,
            &vault,
            &name,
            version.as_deref(),
        ),
        _ => arm_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "No HTTP resource was found that matches the request URI '{}'.",
                req.raw_path
            ),
        ),
    }
}

/// A request as the handlers see it.
struct Req<'a> {
    method: &'a Method,
    raw_path: &'a str,
    segs: &'a [String],
    headers: &'a HeaderMap,
    query: &'a HashMap<String, String>,
    pairs: &'a [(String, String)],
    body: &'a [u8],
}

/// List Blobs or Get Blob (Properties), once the request is authorized.
fn blob_request(
    sim: &Arc<Sim>,
    req: &Req<'_>,
    account: &str,
    container: &str,
    blob: Option<&str>,
) -> Response {
    let ctx = &sim.ctx;
    let Req {
        method,
        headers,
        raw_path,
        query,
        pairs,
        ..
    } = *req;
    let list = blob.is_none();
    if list
        && !(query.get("restype").is_some_and(|v| v == "container")
            && query.get("comp").is_some_and(|v| v == "list"))
    {
        return blob::blob_error(
            StatusCode::BAD_REQUEST,
            "UnsupportedQueryParameter",
            "Only List Blobs (restype=container&comp=list) is supported on a container.",
        );
    }
    let breq = BlobReq {
        method,
        headers,
        raw_path,
        query: pairs,
        account,
        container,
        blob,
    };
    if let Err(r) = authorize_blob(sim, &breq, list) {
        return r;
    }
    let mut st = lock(&sim.state);
    crate::handlers::tick(ctx, &mut st, ctx.clock.now());
    match blob {
        None => blob::list(ctx, &st, account, container, pairs),
        Some(b) => blob::get(&st, account, container, b, headers, method == Method::HEAD),
    }
}

/// An ARM call: bearer token, resource names, api-version, subscription id and the rate
/// limits checked in ARM's order, then the resource provider's handler.
fn arm_request(sim: &Arc<Sim>, req: &Req<'_>, sub: &str, arm: Arm) -> Response {
    let ctx = &sim.ctx;
    let Req {
        method,
        headers,
        raw_path,
        segs,
        query,
        pairs,
        body,
    } = *req;
    let principal = match crate::handlers::auth::check_bearer(sim, headers) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Some(why) = segs.iter().find_map(|s| bad_segment(s)) {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
            format!("The request path '{raw_path}' is invalid: {why}."),
        );
    }
    let api = match check_api_version(query, &arm.resource_type()) {
        Ok(v) => v,
        Err(r) => return r,
    };
    if uuid::Uuid::try_parse(sub).is_err() {
        return arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidSubscriptionId",
            format!("The provided subscription identifier '{sub}' is malformed or invalid."),
        );
    }
    let kind = match *method {
        Method::GET | Method::HEAD => Kind::Read,
        Method::DELETE => Kind::Delete,
        _ => Kind::Write,
    };
    let remaining = match rate_limit(sim, sub, &principal, kind) {
        Ok(remaining) => remaining,
        Err(r) => return r,
    };
    let now = ctx.clock.now();
    let mut st = lock(&sim.state);
    crate::handlers::tick(ctx, &mut st, now);
    let call = ArmCall {
        sim,
        sub,
        method,
        query,
        body,
        api: &api,
        list: ListReq {
            base_url: &ctx.base_url,
            raw_path,
            pairs,
            page_size: ctx.scenario.page_size,
        },
    };
    let mut r = call.handle(&mut st, arm);
    drop(st);
    set_header(&mut r, kind.header(), &remaining.to_string());
    r
}

/// A token from the principal's bucket (what remains), or ARM's 429 when enforced and empty.
fn rate_limit(sim: &Sim, sub: &str, principal: &str, kind: Kind) -> Result<u64, Response> {
    match lock(&sim.limits).take(&sim.ctx.scenario.limits, sub, principal, kind) {
        Verdict::Pass { remaining } => Ok(remaining),
        Verdict::Throttled { retry_after_ms } => {
            lock(&sim.stats).ratelimited += 1;
            let mut r = arm_error(
                StatusCode::TOO_MANY_REQUESTS,
                "SubscriptionRequestsThrottled",
                format!(
                    "Number of '{}' requests for subscription '{sub}' actor '{principal}' exceeded. Please try again after '{}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling",
                    kind.word(),
                    retry_after_ms.div_ceil(1000).max(1)
                ),
            );
            crate::response::set_retry_after(&mut r, retry_after_ms);
            set_header(&mut r, kind.header(), "0");
            Err(r)
        }
    }
}

/// An ARM call that passed the checks: what its resource provider's handler is given
/// besides the state.
struct ArmCall<'a> {
    sim: &'a Sim,
    sub: &'a str,
    method: &'a Method,
    query: &'a HashMap<String, String>,
    body: &'a [u8],
    /// The api-version, checked.
    api: &'a str,
    list: ListReq<'a>,
}

impl ArmCall<'_> {
    /// The handler's answer (operation URLs must carry a valid signature first).
    fn handle(&self, st: &mut crate::state::State, arm: Arm) -> Response {
        let (ctx, sub, api, list) = (&self.sim.ctx, self.sub, self.api, &self.list);
        if matches!(
            arm,
            Arm::OpGet(_) | Arm::OpResult(_) | Arm::CapsOp(_) | Arm::DeplOpStatus(..)
        ) && let Err(r) = operations::check_signature(list.raw_path, self.query)
        {
            return r;
        }
        match arm {
            Arm::RgGet(rg) => resources::get_rg(ctx, st, sub, &rg),
            Arm::RgList => list.page(resources::list_rgs(
                ctx,
                st,
                sub,
                self.query.get("$filter").map(String::as_str),
            )),
            Arm::RgDelete(rg) => resources::delete_rg(ctx, st, sub, &rg, api),
            Arm::OpResult(id) => operations::get(ctx, st, sub, &id, api, true),
            Arm::CapsOp(id) => {
                let monitor = self.query.get("monitor").is_some_and(|m| m == "true");
                operations::get(ctx, st, sub, &id, api, monitor)
            }
            Arm::VersionDelete(rg, g, i, v) => {
                gallery::delete_version(ctx, st, sub, &rg, &g, &i, &v, api)
            }
            Arm::DeplList(rg) => list.page(deployments::list(ctx, st, sub, &rg)),
            Arm::Depl(rg, name) => self.deployment(st, &rg, &name),
            Arm::DeplOps(rg, name) => list.page(deployments::operations(ctx, st, sub, &rg, &name)),
            Arm::DeplOpStatus(rg, name, id) => {
                deployments::operation_status(ctx, st, sub, &rg, &name, &id)
            }
            Arm::ItList(rg) => list.page(image_templates::list(ctx, st, sub, rg.as_deref(), api)),
            Arm::It(rg, name) => self.image_template(st, &rg, &name),
            Arm::ItRun(rg, name) => self.run(st, &rg, &name),
            Arm::ItCancel(rg, name) => image_templates::cancel(ctx, st, sub, &rg, &name),
            Arm::ItOutputs(rg, name, None) => {
                list.page(image_templates::run_outputs(st, sub, &rg, &name))
            }
            Arm::ItOutputs(rg, name, Some(out)) => {
                image_templates::run_output(st, sub, &rg, &name, &out)
            }
            Arm::OpGet(id) => operations::get(ctx, st, sub, &id, api, false),
            Arm::Platform(loc, p, o, s) => platform_images::list(ctx, st, sub, &loc, &p, &o, &s),
            Arm::Gallery(rg, g) => gallery::get_gallery(ctx, sub, &rg, &g),
            Arm::GalleryImage(rg, g, i) => gallery::get_image(ctx, sub, &rg, &g, &i),
            Arm::Versions(rg, g, i) => list.page(gallery::list_versions(ctx, st, sub, &rg, &g, &i)),
            Arm::Version(rg, g, i, v) => {
                let expand = self
                    .query
                    .get("$expand")
                    .is_some_and(|e| e.eq_ignore_ascii_case("ReplicationStatus"));
                gallery::get_version(ctx, st, sub, &rg, &g, &i, &v, expand)
            }
            Arm::Identity(rg, n) => resources::get_identity(ctx, st, sub, &rg, &n),
            Arm::SaList(rg) => list.page(storage::list(ctx, st, sub, &rg)),
            Arm::SaGet(rg, n) => storage::get(ctx, st, sub, &rg, &n),
            Arm::SaKeys(rg, n) => storage::list_keys(ctx, st, sub, &rg, &n),
            Arm::Generic(rg, id, name, rtype) => {
                resources::get_generic(ctx, st, sub, &rg, &id, &name, &rtype)
            }
        }
    }

    /// A deployment: PUT, DELETE or GET.
    fn deployment(&self, st: &mut crate::state::State, rg: &str, name: &str) -> Response {
        let (ctx, sub) = (&self.sim.ctx, self.sub);
        match *self.method {
            Method::PUT => deployments::put(ctx, st, sub, rg, name, self.body, self.api),
            Method::DELETE => deployments::delete(ctx, st, sub, rg, name, self.api),
            _ => deployments::get(ctx, st, sub, rg, name),
        }
    }

    /// An imageTemplate: PUT, DELETE, PATCH or GET.
    fn image_template(&self, st: &mut crate::state::State, rg: &str, name: &str) -> Response {
        let (ctx, sub, api) = (&self.sim.ctx, self.sub, self.api);
        let body = || serde_json::from_slice(self.body).map_err(invalid_content);
        match *self.method {
            Method::PUT => match body() {
                Ok(v) => image_templates::put(ctx, st, sub, rg, name, &v, api),
                Err(r) => r,
            },
            Method::DELETE => image_templates::delete(ctx, st, sub, rg, name, api),
            Method::PATCH => match body() {
                Ok(v) => image_templates::patch(ctx, st, sub, rg, name, &v, api),
                Err(r) => r,
            },
            _ => image_templates::get(ctx, st, sub, rg, name, api),
        }
    }

    /// An imageTemplate's `run`, counted in the stats when it starts.
    fn run(&self, st: &mut crate::state::State, rg: &str, name: &str) -> Response {
        match image_templates::run(&self.sim.ctx, st, self.sub, rg, name, self.api) {
            Ok(r) => {
                lock(&self.sim.stats).count_run(name);
                r
            }
            Err(e) => e.into_response(),
        }
    }
}

/// ARM's 400 for a body that is not the JSON the resource takes.
fn invalid_content(e: serde_json::Error) -> Response {
    arm_error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestContent",
        format!("The request content was invalid and could not be deserialized: '{e}'."),
    )
}
