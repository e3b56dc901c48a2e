//! An imageTemplate as GET and list show it: AIB's defaults filled in, the provisioning state,
//! and fields that differ by api-version.

use crate::context::Ctx;
use crate::handlers::arm::stable_guid;
use crate::model::image_template::{ImageTemplate, Run, TYPE};
use serde_json::{Map, Value, json};

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
    let identity = shown_identity(t, creating);
    let mut props = t.properties.clone();
    if let Some(o) = props.as_object_mut() {
        fill_defaults(o, api);
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
        show_staging_and_source_version(o, t, creating, api);
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

/// The template's identity: its user-assigned identities' ids are filled in once it is
/// created (recorded: `{}` before).
fn shown_identity(t: &ImageTemplate, creating: bool) -> Value {
    let mut identity = t.identity.clone();
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
    identity
}

/// The defaults AIB shows in a template's properties: its distributors' and customizers'
/// (those of in-VM validations too) and a `buildTimeoutInMinutes` of 0.
fn fill_defaults(o: &mut Map<String, Value>, api: &str) {
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
}

/// The staging group and the source version the build uses, as the api-version shows them.
fn show_staging_and_source_version(
    o: &mut Map<String, Value>,
    t: &ImageTemplate,
    creating: bool,
    api: &str,
) {
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
