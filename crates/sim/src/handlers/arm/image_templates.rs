//! Microsoft.VirtualMachineImages/imageTemplates: CRUD, run, cancel, runOutputs, and the lazy
//! build timeline.
//!
//! A run's `runSubState` moves Queued (first 10% of the build time) → Building (to 30%) →
//! Customizing (to 70%) → Validating (to 80%, only with `validate`) → Distributing (to 100%).
//! `fail` ends at the end of Customizing, `timeout` after `buildTimeoutInMinutes` (0 = 240).
//! `timeout-distributing` also ends at the timeout, in Distributing, with the gallery versions
//! created and still replicating.

use super::gallery::{self, NewVersion};
use super::operations;
use super::{stable_guid, valid_aib_name};
use crate::context::Ctx;
use crate::handlers::customization_log::{self, LogEnd};
use crate::model::ArmErr;
use crate::model::blob::Blob;
use crate::model::image_template::{
    ImageTemplate, Run, RunEnd, TYPE, UPDATE_MSG, staging_group_name, template_id,
};
use crate::model::operation::{OpFinal, OpKind};
use crate::model::staging::StagingGroup;
use crate::response::{empty, json, not_found};
use crate::scenario::OutcomeResult;
use crate::state::State;
use axum::http::StatusCode;
use axum::response::Response;
use rand::Rng;
use serde_json::{Map, Value, json};

const READ_ONLY: &[&str] = &[
    "provisioningState",
    "provisioningError",
    "lastRunStatus",
    "exactStagingResourceGroup",
];

/// AIB's refusal of a `run` on a template that is not ready.
pub const RUN_NOT_ALLOWED: &str = "Operation Microsoft.VirtualMachineImages/imageTemplates/run is not allowed in provisioning state: failed or run state";

/// The `provisioningError` of a `provision-fail` template: what a missing role of the
/// template's identity looks like.
fn provision_error(t_identity: &Value, props: &Value) -> (String, String) {
    let identity = t_identity
        .get("userAssignedIdentities")
        .and_then(Value::as_object)
        .and_then(|m| m.keys().next().cloned())
        .unwrap_or_default();
    let scope = props
        .pointer("/distribute/0/galleryImageId")
        .and_then(Value::as_str)
        .unwrap_or("the distribution target")
        .to_string();
    (
        "Other".to_string(),
        format!(
            "Failed while creating/updating resources: Validation failed: the assigned identity '{identity}' does not have authorization to perform action 'Microsoft.Compute/galleries/images/read' over scope '{scope}' or the scope is invalid (AuthorizationFailed). For more troubleshooting steps go to https://aka.ms/azvmimagebuilderts."
        ),
    )
}

impl ImageTemplate {
    pub fn blob_endpoint(&self, ctx: &Ctx) -> String {
        format!("{}/blob/{}/", ctx.base_url, self.storage_account)
    }
    fn running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.end.is_none())
    }
}

impl Run {
    fn planned_end(&self) -> f64 {
        match self.result {
            // A template whose creation succeeded (after `times` failed ones) builds normally.
            OutcomeResult::Succeed
            | OutcomeResult::StuckCanceling
            | OutcomeResult::ProvisionFail => self.start + self.build_minutes,
            OutcomeResult::Fail => self.start + self.build_minutes * 0.7,
            OutcomeResult::Timeout | OutcomeResult::TimeoutDistributing => {
                self.start + self.timeout_minutes
            }
        }
    }

    fn sub_state_at(&self, t: f64) -> &'static str {
        // A run that times out while distributing goes through every phase before its timeout.
        let duration = if self.result == OutcomeResult::TimeoutDistributing {
            self.timeout_minutes
        } else {
            self.build_minutes
        };
        let x = if duration > 0.0 {
            (t - self.start) / duration
        } else {
            1.0
        };
        let s = if x < 0.1 {
            "Queued"
        } else if x < 0.3 {
            "Building"
        } else if x < 0.7 {
            "Customizing"
        } else if self.has_validate && x < 0.8 {
            "Validating"
        } else {
            "Distributing"
        };
        if self.result == OutcomeResult::Timeout && matches!(s, "Validating" | "Distributing") {
            return "Customizing";
        }
        s
    }
}

fn strip_read_only(props: &Value) -> Value {
    let mut p = props.clone();
    if let Some(o) = p.as_object_mut() {
        for k in READ_ONLY {
            o.remove(*k);
        }
        if let Some(src) = o.get_mut("source").and_then(Value::as_object_mut) {
            src.remove("exactVersion");
        }
    }
    p
}

fn strip_identity(id: &Value) -> Value {
    let mut id = id.clone();
    if let Some(uais) = id
        .get_mut("userAssignedIdentities")
        .and_then(Value::as_object_mut)
    {
        for v in uais.values_mut() {
            *v = json!({});
        }
    }
    id
}

fn get_ci<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// The template's identity: user-assigned (each one existing) or none.
fn check_identity(ctx: &Ctx, identity: &Value) -> Result<(), ArmErr> {
    let id_type = identity.get("type").and_then(Value::as_str).unwrap_or("");
    if !["UserAssigned", "None"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(id_type))
    {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            format!("Identity type '{id_type}' is not supported. Supported: UserAssigned, None."),
        ));
    }
    if let Some(uais) = identity
        .get("userAssignedIdentities")
        .and_then(Value::as_object)
    {
        for k in uais.keys() {
            if ctx.is_missing(k) {
                return Err(ArmErr::bad_request(
                    "InvalidParameter",
                    format!(
                        "The user-assigned identity '{k}' was not found. Check that it exists and that the caller has access to it."
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The template's properties: a supported source, distribute targets with valid run output
/// names, supported customizers, a build timeout within AIB's range.
fn check_properties(props: &Value) -> Result<(), ArmErr> {
    let Some(source) = props.get("source").and_then(Value::as_object) else {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            "Missing required property 'properties.source'.",
        ));
    };
    let stype = source.get("type").and_then(Value::as_str).unwrap_or("");
    if !["PlatformImage", "ManagedImage", "SharedImageVersion"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(stype))
    {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            format!("BadSourceType: source type '{stype}' is not supported."),
        ));
    }
    let Some(dist) = props
        .get("distribute")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    else {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            "Missing required property 'properties.distribute'.",
        ));
    };
    for d in dist {
        let dt = d.get("type").and_then(Value::as_str).unwrap_or("");
        if !["ManagedImage", "SharedImage", "VHD"]
            .iter()
            .any(|t| t.eq_ignore_ascii_case(dt))
        {
            return Err(ArmErr::bad_request(
                "InvalidParameter",
                format!("BadDistributeType: distribute type '{dt}' is not supported."),
            ));
        }
        let ron = d.get("runOutputName").and_then(Value::as_str).unwrap_or("");
        if !valid_aib_name(ron) {
            return Err(ArmErr::bad_request(
                "InvalidParameter",
                format!(
                    "The runOutputName '{ron}' is invalid. It must match '^[A-Za-z0-9-_.]{{1,64}}$'."
                ),
            ));
        }
    }
    if let Some(cs) = props.get("customize") {
        let Some(cs) = cs.as_array() else {
            return Err(ArmErr::bad_request(
                "InvalidParameter",
                "properties.customize must be an array.",
            ));
        };
        for c in cs {
            let ct = c.get("type").and_then(Value::as_str).unwrap_or("");
            if ![
                "Shell",
                "PowerShell",
                "File",
                "WindowsRestart",
                "WindowsUpdate",
            ]
            .iter()
            .any(|t| t.eq_ignore_ascii_case(ct))
            {
                return Err(ArmErr::bad_request(
                    "InvalidParameter",
                    format!("BadCustomizerType: customizer type '{ct}' is not supported."),
                ));
            }
        }
    }
    if let Some(bt) = props.get("buildTimeoutInMinutes") {
        match bt.as_i64() {
            Some(n) if (0..=960).contains(&n) => {}
            _ => {
                return Err(ArmErr::bad_request(
                    "InvalidParameter",
                    "The value of buildTimeoutInMinutes must be an integer between 0 and 960.",
                ));
            }
        }
    }
    Ok(())
}

/// Validate a PUT body; returns (location, tags, identity, properties).
fn validate(ctx: &Ctx, name: &str, body: &Value) -> Result<(String, Value, Value, Value), ArmErr> {
    if !valid_aib_name(name) {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            format!(
                "The imageTemplateName '{name}' is invalid. It must match the pattern '^[A-Za-z0-9-_.]{{1,64}}$'."
            ),
        ));
    }
    let Some(obj) = body.as_object() else {
        return Err(ArmErr::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        ));
    };
    let location = get_ci(obj, "location")
        .and_then(Value::as_str)
        .map(|s| s.to_ascii_lowercase().replace(' ', ""));
    let Some(location) = location.filter(|l| !l.is_empty()) else {
        return Err(ArmErr::bad_request(
            "LocationRequired",
            "The location property is required for this definition.",
        ));
    };
    let Some(identity) = get_ci(obj, "identity").filter(|v| v.is_object()) else {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            "Missing required property 'identity'. An image template requires an identity.",
        ));
    };
    check_identity(ctx, identity)?;
    let Some(props) = get_ci(obj, "properties").filter(|v| v.is_object()) else {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            "Missing required property 'properties'.",
        ));
    };
    check_properties(props)?;
    let tags = get_ci(obj, "tags").cloned().unwrap_or_else(|| json!({}));
    Ok((
        location,
        tags,
        strip_identity(identity),
        strip_read_only(props),
    ))
}

fn random_account_name() -> String {
    const CH: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..24)
        .map(|_| CH[rng.random_range(0..CH.len())] as char)
        .collect()
}

/// Create or (no-op) update a template. Returns `true` when it was created.
pub fn create_or_update(
    ctx: &Ctx,
    st: &mut State,
    sub: &str,
    rg: &str,
    name: &str,
    body: &Value,
    created_at: f64,
) -> Result<bool, ArmErr> {
    if ctx.is_missing(&format!("/subscriptions/{sub}/resourceGroups/{rg}")) {
        return Err(ArmErr::new(
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
            format!("Resource group '{rg}' could not be found."),
        ));
    }
    let (location, tags, identity, props) = validate(ctx, name, body)?;
    let key = template_id(sub, rg, name).to_ascii_lowercase();
    let now = created_at;
    if let Some(t) = st.templates.get_mut(&key) {
        if t.deleting_at.is_some() {
            return Err(ArmErr::conflict(
                "Conflict",
                format!("The image template '{name}' is being deleted."),
            ));
        }
        if t.properties != props
            || t.identity != identity
            || t.location != location
            || t.provision_error.is_some()
        {
            return Err(ArmErr::conflict("Conflict", UPDATE_MSG));
        }
        t.tags = tags;
        return Ok(false);
    }
    let exact_version = resolve_exact_version(ctx, st, &props, &location);
    let rule = ctx.outcome_for(name, &tags);
    let provision_error = (rule.result == OutcomeResult::ProvisionFail && applies(st, &rule))
        .then(|| provision_error(&identity, &props));
    let staging_rg = match props
        .get("stagingResourceGroup")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        Some(id) => id.rsplit('/').next().unwrap_or(id).to_string(),
        None => staging_group_name(rg, name),
    };
    st.templates.insert(
        key,
        ImageTemplate {
            sub: sub.to_string(),
            rg: rg.to_string(),
            name: name.to_string(),
            location,
            tags,
            identity,
            properties: props,
            created: now,
            staging_rg,
            storage_account: random_account_name(),
            deleting_at: None,
            run: None,
            run_outputs: Vec::new(),
            exact_version,
            provision_error,
        },
    );
    Ok(true)
}

/// Whether `rule` still applies (its `times` not used up), counting this use.
fn applies(st: &mut State, rule: &crate::scenario::OutcomeRule) -> bool {
    let Some(times) = rule.times else {
        return true;
    };
    let n = st.outcome_runs.entry(rule.key()).or_insert(0);
    let fail = *n < times;
    if fail {
        *n += 1;
    }
    fail
}

/// The source version a build of these properties uses (`source.exactVersion`): the newest
/// platform image or gallery version for `latest`, else the one named; `None` for managed
/// images.
fn resolve_exact_version(ctx: &Ctx, st: &State, props: &Value, location: &str) -> Option<String> {
    let src = props.get("source").cloned().unwrap_or_default();
    let kind = src.get("type").and_then(Value::as_str).unwrap_or("");
    if kind.eq_ignore_ascii_case("PlatformImage") {
        let s = |k: &str| src.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let v = s("version");
        if v.eq_ignore_ascii_case("latest") || v.is_empty() {
            Some(super::platform_images::latest(
                ctx,
                st,
                &s("publisher"),
                &s("offer"),
                &s("sku"),
                location,
            ))
        } else {
            Some(v)
        }
    } else if kind.eq_ignore_ascii_case("SharedImageVersion") {
        src.get("imageVersionId")
            .and_then(Value::as_str)
            .map(|id| gallery::resolve_latest(st, id))
    } else {
        None
    }
}

fn provisioning_state(ctx: &Ctx, t: &ImageTemplate, now: f64) -> &'static str {
    if t.deleting_at.is_some() {
        "Deleting"
    } else if now < t.created + ctx.scenario.create_minutes {
        "Creating"
    } else if t.provision_error.is_some() {
        "Failed"
    } else {
        "Succeeded"
    }
}

/// Full JSON of a template, as GET and list return it.
pub fn to_json(ctx: &Ctx, t: &ImageTemplate, now: f64, api: &str) -> Value {
    let state = provisioning_state(ctx, t, now);
    let creating = state == "Creating";
    let mut identity = t.identity.clone();
    // The identity's ids are filled in once the template is created (recorded: `{}` before).
    if let (false, Some(uais)) = (
        creating,
        identity
            .get_mut("userAssignedIdentities")
            .and_then(Value::as_object_mut),
    ) {
        for (k, v) in uais.iter_mut() {
            let lk = k.to_ascii_lowercase();
            *v = json!({"principalId": stable_guid(&format!("principal:{lk}")), "clientId": stable_guid(&format!("client:{lk}"))});
        }
    }
    let mut props = t.properties.clone();
    if let Some(o) = props.as_object_mut() {
        if let Some(ds) = o.get_mut("distribute").and_then(Value::as_array_mut) {
            fill_distributor_defaults(ds, api);
        }
        o.entry("buildTimeoutInMinutes").or_insert(json!(0));
        if let Some(cs) = o.get_mut("customize").and_then(Value::as_array_mut) {
            fill_customizer_defaults(cs);
        }
        if let Some(cs) = o
            .get_mut("validate")
            .and_then(|v| v.get_mut("inVMValidations"))
            .and_then(Value::as_array_mut)
        {
            fill_customizer_defaults(cs);
        }
        o.insert("provisioningState".into(), json!(state));
        if let (false, Some((code, message))) = (creating, &t.provision_error) {
            o.insert(
                "provisioningError".into(),
                json!({"provisioningErrorCode": code, "message": message}),
            );
        }
        if !creating && let Some(cs) = o.get_mut("customize").and_then(Value::as_array_mut) {
            fill_checksums(cs);
        }
        if staging_and_exact_version(api) {
            // Until AIB created it, the staging group is unknown ("") and the source version
            // unresolved ("latest"), as the create answer in the recordings shows.
            o.entry("stagingResourceGroup").or_insert(json!(""));
            let staging = if creating || !t.has_staging() {
                String::new()
            } else {
                t.staging_rg_id()
            };
            o.insert("exactStagingResourceGroup".into(), json!(staging));
            if let (Some(ev), Some(src)) = (
                &t.exact_version,
                o.get_mut("source").and_then(Value::as_object_mut),
            ) {
                let shown = if creating { "latest" } else { ev.as_str() };
                src.insert("exactVersion".into(), json!(shown));
            }
        } else if let (false, Some(ev), Some(src)) = (
            creating,
            &t.exact_version,
            o.get_mut("source").and_then(Value::as_object_mut),
        ) && src
            .get("version")
            .and_then(Value::as_str)
            .is_some_and(|v| v.eq_ignore_ascii_case("latest"))
        {
            // Before 2022-02-14 the resolved version was shown inside `version`.
            src.insert("version".into(), json!(format!("latest ({ev})")));
        }
        if let Some(run) = &t.run {
            o.insert("lastRunStatus".into(), last_run_status(ctx, run, now));
        }
    }
    json!({
        "id": t.id(),
        "name": t.name,
        "type": TYPE,
        "location": t.location,
        "tags": t.tags,
        "identity": identity,
        "properties": props,
    })
}

/// Defaults AIB shows for a gallery distributor (recorded): `excludeFromLatest` false and,
/// from 2022-07-01 (which added it), `versioning` null.
fn fill_distributor_defaults(ds: &mut [Value], api: &str) {
    for d in ds.iter_mut() {
        let shared = d
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("SharedImage"));
        if let (true, Some(o)) = (shared, d.as_object_mut()) {
            o.entry("excludeFromLatest").or_insert(json!(false));
            if api >= "2022-07-01" {
                o.entry("versioning").or_insert(Value::Null);
            }
        }
    }
}

/// Api-versions from 2022-02-14 on show `stagingResourceGroup`, `exactStagingResourceGroup`
/// and `source.exactVersion` (the 2020-02-14 recording has none of them).
fn staging_and_exact_version(api: &str) -> bool {
    api >= "2022-02-14"
}

/// A `scriptUri` / `sourceUri` customizer without `sha256Checksum` shows the one AIB computed
/// once the template is created (recorded). The simulator cannot download the script: it
/// hashes the URI.
fn fill_checksums(cs: &mut [Value]) {
    use sha2::{Digest, Sha256};
    for c in cs.iter_mut() {
        let Some(o) = c.as_object_mut() else { continue };
        let uri = ["scriptUri", "sourceUri"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
            .map(str::to_string);
        if let Some(uri) = uri {
            o.entry("sha256Checksum")
                .or_insert_with(|| json!(hex::encode(Sha256::digest(uri.as_bytes()))));
        }
    }
}

/// Defaults AIB fills in on read (PowerShell: runElevated / runAsSystem false).
fn fill_customizer_defaults(cs: &mut [Value]) {
    for c in cs.iter_mut() {
        let is_ps = c
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("PowerShell"));
        if let (true, Some(o)) = (is_ps, c.as_object_mut()) {
            o.entry("runElevated").or_insert(json!(false));
            o.entry("runAsSystem").or_insert(json!(false));
        }
    }
}

/// `lastRunStatus` as the recordings show it: `endTime` `0001-01-01T00:00:00Z` while the run
/// is active; `runSubState` only while Running (and on a failure, where it names the phase);
/// `Canceling` says "Canceling image build", `Canceled` "The build was canceled".
fn last_run_status(ctx: &Ctx, run: &Run, now: f64) -> Value {
    let start = ctx.clock.stamp(run.start);
    match &run.end {
        Some(e) => {
            let mut v = json!({"startTime": start, "endTime": ctx.clock.stamp(e.at), "runState": e.state, "message": e.message});
            if e.state == "Failed" {
                v["runSubState"] = json!(e.sub_state);
            }
            v
        }
        None if run.cancel_at.is_some() => {
            json!({"startTime": start, "endTime": "0001-01-01T00:00:00Z", "runState": "Canceling", "message": "Canceling image build"})
        }
        None => {
            let sub = run.sub_state_at(now);
            json!({"startTime": start, "endTime": "0001-01-01T00:00:00Z", "runState": "Running", "runSubState": sub, "message": ""})
        }
    }
}

/// Advance runs and deletions to `now`.
pub fn tick(ctx: &Ctx, st: &mut State, now: f64) {
    let gone: Vec<String> = st
        .templates
        .iter()
        .filter(|(_, t)| {
            t.deleting_at
                .is_some_and(|d| now >= d + ctx.scenario.delete_minutes)
        })
        .map(|(k, _)| k.clone())
        .collect();
    for k in gone {
        if let Some(t) = st.templates.remove(&k) {
            let acct = t.storage_account.clone();
            st.blobs.retain(|(a, _), _| *a != acct);
            if t.has_staging() && super::resources::keeps_staging(ctx, &t.name) {
                let g = StagingGroup::of(&t);
                st.staging_leftovers.insert(g.id().to_ascii_lowercase(), g);
            }
        }
    }
    let active: Vec<String> = st
        .templates
        .iter()
        .filter(|(_, t)| t.running())
        .map(|(k, _)| k.clone())
        .collect();
    for k in active {
        let Some(mut t) = st.templates.remove(&k) else {
            continue;
        };
        advance(ctx, st, &mut t, now);
        st.templates.insert(k, t);
    }
}

fn advance(ctx: &Ctx, st: &mut State, t: &mut ImageTemplate, now: f64) {
    let Some(run) = t.run.clone() else { return };
    if run.end.is_some() {
        return;
    }
    if let Some(c) = run.cancel_at {
        if run.result == OutcomeResult::StuckCanceling {
            return;
        }
        let at = c + ctx.scenario.cancel_minutes;
        if now >= at {
            let sub_state = run.sub_state_at(c);
            finish(
                st,
                t,
                RunEnd {
                    state: "Canceled",
                    sub_state,
                    at,
                    message: "The build was canceled".into(),
                },
                None,
            );
        }
        return;
    }
    let end = run.planned_end();
    if now < end {
        return;
    }
    match run.result {
        OutcomeResult::Succeed | OutcomeResult::StuckCanceling | OutcomeResult::ProvisionFail => {
            distribute_and_finish(ctx, st, t, &run, end)
        }
        OutcomeResult::Fail | OutcomeResult::Timeout | OutcomeResult::TimeoutDistributing => {
            fail_build(ctx, st, t, &run, end)
        }
    }
}

/// A build that reached its end: publish to the distribute targets, then succeed, or fail
/// while distributing.
fn distribute_and_finish(ctx: &Ctx, st: &mut State, t: &mut ImageTemplate, run: &Run, end: f64) {
    let (outputs, error) = distribute(ctx, st, t, end, None);
    match error {
        None => {
            t.run_outputs = outputs;
            finish(
                st,
                t,
                RunEnd {
                    state: "Succeeded",
                    sub_state: "Distributing",
                    at: end,
                    message: String::new(),
                },
                None,
            );
        }
        Some(e) => {
            t.run_outputs = outputs;
            let message = format!(
                "Failed while distributing: Distribution to the Azure Compute Gallery failed. Error: {}: {}. OperationId: {}",
                e.code, e.message, run.op_id
            );
            let err = json!({"code": "DistributionFailed", "message": message});
            finish(
                st,
                t,
                RunEnd {
                    state: "Failed",
                    sub_state: "Distributing",
                    at: end,
                    message,
                },
                Some(err),
            );
        }
    }
}

/// A failed or timed-out build: its `customization.log` in the staging account, and AIB's
/// failure message pointing at it.
fn fail_build(ctx: &Ctx, st: &mut State, t: &mut ImageTemplate, run: &Run, end: f64) {
    if run.result == OutcomeResult::TimeoutDistributing {
        // The versions were being published when the timeout hit.
        let rm = ctx.scenario.replicate_minutes.max(2.0);
        let _ = distribute(ctx, st, t, end, Some(rm));
    }
    let guid = uuid::Uuid::new_v4().to_string();
    let kind = if run.result == OutcomeResult::Fail {
        LogEnd::Failed
    } else {
        LogEnd::Timeout
    };
    let log = customization_log::render(ctx, t, run, kind, end);
    let blob_name = format!("{guid}/customization.log");
    let url = format!("{}packerlogs/{}", t.blob_endpoint(ctx), blob_name);
    st.blobs
        .entry((t.storage_account.clone(), "packerlogs".into()))
        .or_default()
        .insert(blob_name, Blob::new(log.into_bytes(), ctx.clock.utc(end)));
    let message = if run.result == OutcomeResult::Fail {
        let what = match customization_log::failing_commands(t, run).last() {
            Some(c) if customization_log::echoes(ctx, t) => {
                format!("The failing command was: {c}")
            }
            _ => "Packer build command has failed".to_string(),
        };
        format!(
            "Failed while waiting for packerizer: Microservice has failed: Failed while processing request: Error when executing packerizer: {what}: exit status 1. During the image build, a failure has occurred. Please review the build log to identify which build/customization step failed. For more troubleshooting steps go to https://aka.ms/azvmimagebuilderts. Image Build log location: {url}. OperationId: {}. Use this operationId to search packer logs.",
            run.op_id
        )
    } else {
        format!(
            "Failed while waiting for packerizer: Timeout waiting for microservice to complete: 'context deadline exceeded'. The build exceeded buildTimeoutInMinutes ({} minutes). Image Build log location: {url}. OperationId: {}.",
            run.timeout_minutes, run.op_id
        )
    };
    let code = if run.result == OutcomeResult::Fail {
        "PackerBuildFailed"
    } else {
        "BuildTimeout"
    };
    let err = json!({"code": code, "message": message});
    let sub_state = if run.result == OutcomeResult::TimeoutDistributing {
        "Distributing"
    } else {
        "Customizing"
    };
    finish(
        st,
        t,
        RunEnd {
            state: "Failed",
            sub_state,
            at: end,
            message,
        },
        Some(err),
    );
}

/// Create the run's distribution targets (gallery versions for `SharedImage`) as of `end`;
/// returns the run outputs and the first distribution error. `replicate` overrides the
/// scenario's replication time of the new versions.
fn distribute(
    ctx: &Ctx,
    st: &mut State,
    t: &ImageTemplate,
    end: f64,
    replicate: Option<f64>,
) -> (Vec<Value>, Option<ArmErr>) {
    let mut outputs = Vec::new();
    let mut error: Option<ArmErr> = None;
    let dists = t
        .properties
        .get("distribute")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for d in &dists {
        let ron = d
            .get("runOutputName")
            .and_then(Value::as_str)
            .unwrap_or("output")
            .to_string();
        let dt = d
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let (artifact_id, artifact_uri) = match dt.as_str() {
            "sharedimage" => {
                let nv = NewVersion {
                    gallery_image_id: d
                        .get("galleryImageId")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    regions: gallery::target_regions(d, &t.location),
                    exclude_from_latest: d
                        .get("excludeFromLatest")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    source_id: format!(
                        "{}/providers/Microsoft.Compute/images/IntermediateImage-{}",
                        t.staging_rg_id(),
                        ron
                    ),
                    os_disk_gb: t
                        .properties
                        .pointer("/vmProfile/osDiskSizeGB")
                        .and_then(Value::as_u64)
                        .filter(|n| *n > 0)
                        .unwrap_or(127),
                    tags: d.get("artifactTags").cloned().unwrap_or_else(|| json!({})),
                    location: t.location.clone(),
                    replicate_minutes: replicate,
                };
                match gallery::create_version(ctx, st, end, nv) {
                    Ok(id) => (Some(id), None),
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            "managedimage" => (
                d.get("imageId").and_then(Value::as_str).map(str::to_string),
                None,
            ),
            _ => {
                let uri = d
                    .get("uri")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        format!("{}vhds/{}-{}.vhd", t.blob_endpoint(ctx), t.name, ron)
                    });
                (None, Some(uri))
            }
        };
        let mut props = json!({"provisioningState": "Succeeded"});
        if let Some(a) = artifact_id {
            props["artifactId"] = json!(a);
        }
        if let Some(u) = artifact_uri {
            props["artifactUri"] = json!(u);
        }
        outputs.push(json!({
            "id": format!("{}/runOutputs/{}", t.id(), ron),
            "name": ron,
            "type": format!("{TYPE}/runOutputs"),
            "properties": props,
        }));
    }
    (outputs, error)
}

fn finish(st: &mut State, t: &mut ImageTemplate, end: RunEnd, error: Option<Value>) {
    let Some(run) = t.run.as_mut() else { return };
    let status: &'static str = match end.state {
        "Succeeded" => "Succeeded",
        "Canceled" => "Canceled",
        _ => "Failed",
    };
    if let Some(op) = st.operations.get_mut(&run.op_id.to_ascii_lowercase()) {
        op.fin = Some(OpFinal {
            status,
            end: end.at,
            error: error.clone(),
        });
    }
    run.end = Some(end);
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
    let exact = resolve_exact_version(ctx, st, &t.properties, &t.location);
    let rule = ctx.outcome_for(name, &t.tags);
    let timeout = t
        .properties
        .get("buildTimeoutInMinutes")
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
        .unwrap_or(240) as f64;
    let has_validate = t.properties.get("validate").is_some_and(|v| !v.is_null());
    let location = t.location.clone();
    // A rule with `times` gives its result to the first N runs; later ones succeed.
    let result = match rule.result {
        OutcomeResult::Succeed | OutcomeResult::ProvisionFail => rule.result,
        r if applies(st, &rule) => r,
        _ => OutcomeResult::Succeed,
    };
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
