//! Creating an imageTemplate (or accepting an identical PUT): the source version it resolves,
//! its outcome, staging group and storage account.

use super::check::validate;
use crate::context::Ctx;
use crate::handlers::arm::{gallery, platform_images};
use crate::model::ArmErr;
use crate::model::image_template::{ImageTemplate, UPDATE_MSG, staging_group_name, template_id};
use crate::scenario::OutcomeResult;
use crate::state::State;
use axum::http::StatusCode;
use rand::Rng;
use serde_json::Value;

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
pub(super) fn applies(st: &mut State, rule: &crate::scenario::OutcomeRule) -> bool {
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
pub(super) fn resolve_exact_version(
    ctx: &Ctx,
    st: &State,
    props: &Value,
    location: &str,
) -> Option<String> {
    let src = props.get("source").cloned().unwrap_or_default();
    let kind = src.get("type").and_then(Value::as_str).unwrap_or("");
    if kind.eq_ignore_ascii_case("PlatformImage") {
        let s = |k: &str| src.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let v = s("version");
        if v.eq_ignore_ascii_case("latest") || v.is_empty() {
            Some(platform_images::latest(
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
