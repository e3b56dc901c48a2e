//! Microsoft.Resources/deployments at resource-group scope: PUT (evaluates the template and
//! creates its resources at once), GET, list, operations, operation status.
//! The deployment reports Accepted/Running until `deploy_minutes` have passed, then Succeeded,
//! or Failed with `DeploymentFailed` and `details` when a resource failed.

use super::operations;
use super::template_eval::{self, Scope};
use super::{image_templates, resources::rg_exists};
use crate::context::Ctx;
use crate::model::ArmErr;
use crate::model::deployment::{DeployedResource, Deployment};
use crate::model::image_template;
use crate::model::operation::OpKind;
use crate::response::{arm_error, json, not_found, rg_not_found, set_header};
use crate::state::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

impl Deployment {
    fn state(&self, ctx: &Ctx, now: f64) -> &'static str {
        if now < self.start + ctx.scenario.deploy_minutes {
            if now - self.start < 0.01 {
                "Accepted"
            } else {
                "Running"
            }
        } else if self.resources.iter().any(|r| r.error.is_some()) {
            "Failed"
        } else {
            "Succeeded"
        }
    }

    fn error(&self) -> Value {
        let details: Vec<Value> = self
            .resources
            .iter()
            .filter_map(|r| {
                r.error.as_ref().map(|e| {
                    if !r.details.is_empty() {
                        // A resource that reached a terminal Failed state: ARM's own words,
                        // the provider's error as details.
                        return json!({"code": e.code, "target": r.id, "message": e.message, "details": r.details});
                    }
                    // ARM passes the resource provider's error body on as a JSON string.
                    let inner = serde_json::to_string_pretty(
                        &json!({"code": e.code, "message": e.message}),
                    )
                    .unwrap_or_default()
                    .replace('\n', "\r\n");
                    json!({"code": e.code, "target": r.id, "message": inner})
                })
            })
            .collect();
        json!({
            "code": "DeploymentFailed",
            "target": self.id(),
            "message": "At least one resource deployment operation failed. Please list deployment operations for details. Please see https://aka.ms/arm-deployment-operations for usage details.",
            "details": details,
        })
    }

    fn to_json(&self, ctx: &Ctx, now: f64) -> Value {
        let state = self.state(ctx, now);
        let end = (self.start + ctx.scenario.deploy_minutes).min(now.max(self.start));
        let mut providers: Vec<Value> = Vec::new();
        for r in &self.resources {
            let (ns, rt) = r.rtype.split_once('/').unwrap_or((&r.rtype, ""));
            if !providers.iter().any(|p| {
                p["namespace"] == json!(ns) && p["resourceTypes"][0]["resourceType"] == json!(rt)
            }) {
                providers.push(json!({"namespace": ns, "resourceTypes": [{"resourceType": rt, "locations": [ctx.scenario.default_location]}]}));
            }
        }
        let mut props = json!({
            "provisioningState": state,
            "correlationId": self.correlation_id,
            "timestamp": ctx.clock.stamp(end),
            "duration": crate::clock::Clock::iso_duration(end - self.start),
            "mode": self.mode,
            "parameters": self.parameters,
            "providers": providers,
            "dependencies": [],
            "templateHash": self.template_hash,
        });
        if state == "Succeeded" {
            props["outputs"] = self.outputs.clone();
            props["outputResources"] =
                Value::Array(self.resources.iter().map(|r| json!({"id": r.id})).collect());
        }
        if state == "Failed" {
            props["error"] = self.error();
        }
        json!({"id": self.id(), "name": self.name, "type": "Microsoft.Resources/deployments", "properties": props})
    }
}

fn key(sub: &str, rg: &str, name: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourcegroups/{rg}/providers/microsoft.resources/deployments/{name}"
    )
    .to_ascii_lowercase()
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_alphanumeric() || "-_.()".contains(c))
}

/// PUT
pub fn put(
    ctx: &Ctx,
    st: &mut State,
    sub: &str,
    rg: &str,
    name: &str,
    body: &[u8],
    api_version: &str,
) -> Response {
    let req = match parse_request(ctx, st, sub, rg, name, body) {
        Ok(req) => req,
        Err(r) => return r,
    };
    let (props, mode, template) = match request_parts(&req) {
        Ok(parts) => parts,
        Err(r) => return r,
    };
    let k = key(sub, rg, name);
    let now = ctx.clock.now();
    if let Some(d) = st.deployments.get(&k)
        && now < d.start + ctx.scenario.deploy_minutes
    {
        return still_active(ctx, name, d.start);
    }
    let scope = Scope {
        sub: sub.into(),
        rg: rg.into(),
        location: ctx.scenario.default_location.clone(),
        deployment: name.into(),
    };
    let (evaluated, outputs) = match evaluate(scope, props, template) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let created = create_resources(ctx, st, sub, rg, &evaluated.resources, now);
    let existed = st.deployments.contains_key(&k);
    let d = Deployment {
        sub: sub.into(),
        rg: rg.into(),
        name: name.into(),
        mode: mode_name(mode).into(),
        parameters: evaluated.parameters,
        outputs,
        start: now,
        correlation_id: uuid::Uuid::new_v4().to_string(),
        op_id: format!("{:016X}", rand::random::<u64>()),
        template_hash: template_hash(template),
        resources: created,
    };
    let r = accepted(ctx, &d, existed, api_version, now);
    st.deployments.insert(k, d);
    r
}

/// A PUT's body as JSON, once the deployment's name and resource group are good; else
/// ARM's 400 or 404.
fn parse_request(
    ctx: &Ctx,
    st: &State,
    sub: &str,
    rg: &str,
    name: &str,
    body: &[u8],
) -> Result<Value, Response> {
    if !valid_name(name) {
        return Err(arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidDeploymentName",
            format!(
                "The deployment name '{name}' is invalid. It must be 1-64 characters matching '^[-\\w\\._\\(\\)]+$'."
            ),
        ));
    }
    if !rg_exists(ctx, st, sub, rg) {
        return Err(rg_not_found(rg));
    }
    serde_json::from_slice::<Value>(body).map_err(|_| {
        arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        )
    })
}

/// ARM's 409 to a PUT while the deployment `name` that started at `start` still runs.
fn still_active(ctx: &Ctx, name: &str, start: f64) -> Response {
    arm_error(
        StatusCode::CONFLICT,
        "DeploymentActive",
        format!(
            "Unable to edit or replace deployment '{name}': previous deployment from '{}' is still active (state: Running). Please see https://aka.ms/arm-deploy-resources for usage details.",
            ctx.clock.stamp(start)
        ),
    )
}

/// A request's mode as ARM shows it (already checked to be one of the two).
fn mode_name(mode: &str) -> &'static str {
    if mode.eq_ignore_ascii_case("complete") {
        "Complete"
    } else {
        "Incremental"
    }
}

/// `templateHash`: the first eight bytes of the template's SHA-256, as a decimal number.
fn template_hash(template: &Value) -> String {
    let h = Sha256::digest(template.to_string().as_bytes());
    u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]).to_string()
}

/// The answer to an accepted PUT of `d`: 201 (200 when it replaces one) with the deployment
/// `Accepted` and, as recorded, only `Azure-AsyncOperation`.
fn accepted(ctx: &Ctx, d: &Deployment, existed: bool, api_version: &str, now: f64) -> Response {
    let mut body = d.to_json(ctx, now);
    body["properties"]["provisioningState"] = json!("Accepted");
    let url = operations::signed_url(
        ctx,
        &format!(
            "/subscriptions/{}/resourcegroups/{}/providers/Microsoft.Resources/deployments/{}/operationStatuses/{}",
            d.sub, d.rg, d.name, d.op_id
        ),
        api_version,
        now,
    );
    let mut r = json(
        if existed {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        &body,
    );
    set_header(&mut r, "Azure-AsyncOperation", &url);
    r
}

/// The deployment's `properties`, its mode and its inline template, or ARM's 400.
fn request_parts(req: &Value) -> Result<(&Map<String, Value>, &str, &Value), Response> {
    let Some(props) = req.get("properties").and_then(Value::as_object) else {
        return Err(arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'Required property 'properties' not found in JSON.'.",
        ));
    };
    let mode = props.get("mode").and_then(Value::as_str).unwrap_or("");
    if !["Incremental", "Complete"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(mode))
    {
        return Err(arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidDeploymentMode",
            format!(
                "The deployment mode '{mode}' is not valid. Supported modes: Incremental, Complete."
            ),
        ));
    }
    let Some(template) = props.get("template") else {
        if props.get("templateLink").is_some() {
            return Err(arm_error(
                StatusCode::BAD_REQUEST,
                "InvalidTemplateLink",
                "The simulator cannot download linked templates; pass the template inline in 'properties.template'.",
            ));
        }
        return Err(arm_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            "The deployment must have 'properties.template' or 'properties.templateLink'.",
        ));
    };
    Ok((props, mode, template))
}

/// The template evaluated with the request's parameters, and its outputs, or ARM's 400.
fn evaluate(
    scope: Scope,
    props: &Map<String, Value>,
    template: &Value,
) -> Result<(template_eval::Evaluated, Value), Response> {
    let params = props
        .get("parameters")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let (evaluated, ev) = match template_eval::evaluate(scope, template, &params) {
        Ok(x) => x,
        Err(e) => return Err(arm_error(StatusCode::BAD_REQUEST, "InvalidTemplate", e.0)),
    };
    let outputs = match &evaluated.outputs_def {
        Some(o) => match ev.outputs(o) {
            Ok(v) => v,
            Err(e) => {
                return Err(arm_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidTemplate",
                    format!("Deployment template validation failed: '{}'.", e.0),
                ));
            }
        },
        None => json!({}),
    };
    Ok((evaluated, outputs))
}

/// The resources of an evaluated template, created in the order it lists them.
fn create_resources(
    ctx: &Ctx,
    st: &mut State,
    sub: &str,
    rg: &str,
    resources: &[Value],
    now: f64,
) -> Vec<DeployedResource> {
    let mut created = Vec::new();
    // Templates a deployment creates are done by the time the deployment is.
    let created_at = now.min(now + ctx.scenario.deploy_minutes - ctx.scenario.create_minutes);
    for r in resources {
        let rtype = r
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let rname = r
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let op_id = format!("{:016X}", rand::random::<u64>());
        let resource = if rtype.eq_ignore_ascii_case(image_template::TYPE) {
            deploy_image_template(ctx, st, sub, rg, r, rname, op_id, created_at)
        } else {
            deploy_generic(st, sub, rg, r, rname, rtype, op_id)
        };
        created.push(resource);
    }
    created
}

/// An imageTemplate a deployment creates (through the imageTemplates handler, so a deployment
/// and a direct PUT answer alike).
fn deploy_image_template(
    ctx: &Ctx,
    st: &mut State,
    sub: &str,
    rg: &str,
    r: &Value,
    rname: String,
    op_id: String,
    created_at: f64,
) -> DeployedResource {
    // ARM names the resources a deployment made with `resourceGroups`.
    let id = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/{}/{rname}",
        image_template::TYPE
    );
    let mut details = Vec::new();
    let mut error =
        image_templates::create_or_update(ctx, st, sub, rg, &rname, r, created_at).err();
    let failed = st
        .templates
        .get(&image_template::template_id(sub, rg, &rname).to_ascii_lowercase())
        .and_then(|t| t.provision_error.clone());
    if let (None, Some((code, message))) = (&error, failed) {
        details.push(json!({"code": code, "message": message}));
        error = Some(ArmErr::new(
            StatusCode::OK,
            "ResourceDeploymentFailure",
            "The resource write operation failed to complete successfully, because it reached terminal provisioning state 'Failed'.",
        ));
    }
    if error
        .as_ref()
        .is_some_and(|e| e.message.starts_with("Update/Upgrade of image templates"))
    {
        ctx.update_conflicts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    DeployedResource {
        id,
        name: rname,
        rtype: image_template::TYPE.into(),
        op_id,
        error,
        details,
    }
}

/// Any other resource a deployment creates: kept as its body, `Succeeded` at once.
fn deploy_generic(
    st: &mut State,
    sub: &str,
    rg: &str,
    r: &Value,
    rname: String,
    rtype: String,
    op_id: String,
) -> DeployedResource {
    let types: Vec<&str> = rtype.split('/').collect();
    let names: Vec<&str> = rname.split('/').collect();
    let mut id = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/{}",
        types.first().copied().unwrap_or("")
    );
    for (i, t) in types.iter().skip(1).enumerate() {
        id.push_str(&format!("/{t}/{}", names.get(i).copied().unwrap_or("")));
    }
    let mut body = r.clone();
    if let Some(o) = body.as_object_mut() {
        o.remove("apiVersion");
        o.remove("dependsOn");
        o.insert("id".into(), json!(id));
        o.entry("properties").or_insert(json!({}));
        if let Some(p) = o.get_mut("properties").and_then(Value::as_object_mut) {
            p.insert("provisioningState".into(), json!("Succeeded"));
        }
    }
    st.generic.insert(id.to_ascii_lowercase(), body);
    DeployedResource {
        id,
        name: rname,
        rtype,
        op_id,
        error: None,
        details: Vec::new(),
    }
}

/// GET
pub fn get(ctx: &Ctx, st: &State, sub: &str, rg: &str, name: &str) -> Response {
    if !rg_exists(ctx, st, sub, rg) {
        return rg_not_found(rg);
    }
    match st.deployments.get(&key(sub, rg, name)) {
        Some(d) => json(StatusCode::OK, &d.to_json(ctx, ctx.clock.now())),
        None => arm_error(
            StatusCode::NOT_FOUND,
            "DeploymentNotFound",
            format!("Deployment '{name}' could not be found."),
        ),
    }
}

/// List in a resource group.
pub fn list(ctx: &Ctx, st: &State, sub: &str, rg: &str) -> Result<Vec<Value>, Response> {
    if !rg_exists(ctx, st, sub, rg) {
        return Err(rg_not_found(rg));
    }
    let now = ctx.clock.now();
    let value: Vec<Value> = st
        .deployments
        .values()
        .filter(|d| d.sub.eq_ignore_ascii_case(sub) && d.rg.eq_ignore_ascii_case(rg))
        .map(|d| d.to_json(ctx, now))
        .collect();
    Ok(value)
}

/// `.../deployments/{name}/operations`
pub fn operations(
    ctx: &Ctx,
    st: &State,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Vec<Value>, Response> {
    let Some(d) = st.deployments.get(&key(sub, rg, name)) else {
        return Err(arm_error(
            StatusCode::NOT_FOUND,
            "DeploymentNotFound",
            format!("Deployment '{name}' could not be found."),
        ));
    };
    let now = ctx.clock.now();
    let done = now >= d.start + ctx.scenario.deploy_minutes;
    let end = (d.start + ctx.scenario.deploy_minutes).min(now);
    let value: Vec<Value> = d
        .resources
        .iter()
        .map(|r| {
            let (state, code, msg) = match (&r.error, done) {
                (_, false) => ("Running", "Accepted".to_string(), json!(null)),
                (None, true) => ("Succeeded", "Created".to_string(), json!(null)),
                (Some(e), true) => (
                    "Failed",
                    e.status.canonical_reason().unwrap_or("BadRequest").replace(' ', ""),
                    json!({"status": "Failed", "error": {"code": e.code, "message": e.message}}),
                ),
            };
            let mut p = json!({
                "provisioningOperation": "Create",
                "provisioningState": state,
                "timestamp": ctx.clock.stamp(end),
                "duration": crate::clock::Clock::iso_duration(end - d.start),
                "trackingId": crate::handlers::arm::stable_guid(&format!("track:{}", r.op_id)),
                "serviceRequestId": crate::handlers::arm::stable_guid(&format!("svc:{}", r.op_id)),
                "statusCode": code,
                "targetResource": {"id": r.id, "resourceName": r.name, "resourceType": r.rtype},
            });
            if !msg.is_null() {
                p["statusMessage"] = msg;
            }
            json!({"id": format!("{}/operations/{}", d.id(), r.op_id), "operationId": r.op_id, "properties": p})
        })
        .collect();
    Ok(value)
}

/// `.../deployments/{name}/operationStatuses/{id}`
pub fn operation_status(
    ctx: &Ctx,
    st: &State,
    sub: &str,
    rg: &str,
    name: &str,
    op: &str,
) -> Response {
    let Some(d) = st
        .deployments
        .get(&key(sub, rg, name))
        .filter(|d| d.op_id.eq_ignore_ascii_case(op))
    else {
        return not_found("Microsoft.Resources/deployments/operationStatuses", op, rg);
    };
    let now = ctx.clock.now();
    let state = d.state(ctx, now);
    let status = match state {
        "Accepted" | "Running" => "Running",
        s => s,
    };
    // As recorded: `{"status": ...}` (and the error of a failed one), no `Retry-After`.
    let mut body = json!({ "status": status });
    if status == "Failed" {
        body["error"] = d.error();
    }
    json(StatusCode::OK, &body)
}

/// DELETE (removes the deployment record only, like ARM): a running deployment cannot be deleted
/// (409 `DeploymentActive`); otherwise the record is gone at once and the answer is 202 with a
/// `Location` at `/subscriptions/{sub}/operationresults/{id}`, which answers 204 when polled.
/// A record that does not exist answers 204.
pub fn delete(
    ctx: &Ctx,
    st: &mut State,
    sub: &str,
    rg: &str,
    name: &str,
    api_version: &str,
) -> Response {
    let k = key(sub, rg, name);
    let now = ctx.clock.now();
    let Some(d) = st.deployments.get(&k) else {
        return crate::response::empty(StatusCode::NO_CONTENT);
    };
    if matches!(d.state(ctx, now), "Accepted" | "Running") {
        return arm_error(
            StatusCode::CONFLICT,
            "DeploymentActive",
            format!(
                "The deployment '{name}' is still active and cannot be deleted; wait for it to finish."
            ),
        );
    }
    st.deployments.remove(&k);
    let op = operations::new_op(
        st,
        sub,
        &ctx.scenario.default_location,
        OpKind::DeploymentDelete,
        &k,
        now,
        Some(now),
    );
    let mut r = crate::response::empty(StatusCode::ACCEPTED);
    operations::add_delete_headers(ctx, st, &mut r, &op, api_version);
    r
}
