//! Resource groups, user-assigned identities and other resources created by deployments.
//! By default every resource group and identity a request names exists; the scenario's
//! `missing` globs make some absent. Staging groups (`IT_*`) exist while their template does.

use super::stable_guid;
use crate::response::{json, not_found, rg_not_found};
use crate::server::Ctx;
use crate::state::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

/// Whether a resource group exists.
pub fn rg_exists(ctx: &Ctx, st: &State, sub: &str, rg: &str) -> bool {
    let id = format!("/subscriptions/{sub}/resourceGroups/{rg}");
    if ctx.is_missing(&id) {
        return false;
    }
    if rg.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("IT_")) {
        return st
            .templates
            .values()
            .any(|t| t.sub.eq_ignore_ascii_case(sub) && t.staging_rg.eq_ignore_ascii_case(rg));
    }
    true
}

/// `GET /subscriptions/{sub}/resourcegroups/{rg}`
pub fn get_rg(ctx: &Ctx, st: &State, sub: &str, rg: &str) -> Response {
    if !rg_exists(ctx, st, sub, rg) {
        return rg_not_found(rg);
    }
    let managed_by = st
        .templates
        .values()
        .find(|t| t.staging_rg.eq_ignore_ascii_case(rg))
        .map(|t| (t.id(), t.location.clone()));
    let mut body = json!({
        "id": format!("/subscriptions/{sub}/resourceGroups/{rg}"),
        "name": rg,
        "type": "Microsoft.Resources/resourceGroups",
        "location": managed_by.as_ref().map(|m| m.1.clone()).unwrap_or_else(|| ctx.scenario.default_location.clone()),
        "tags": {},
        "properties": {"provisioningState": "Succeeded"},
    });
    if let Some((id, _)) = managed_by {
        body["managedBy"] = json!(id);
    }
    json(StatusCode::OK, &body)
}

/// `GET .../Microsoft.ManagedIdentity/userAssignedIdentities/{name}`
pub fn get_identity(ctx: &Ctx, st: &State, sub: &str, rg: &str, name: &str) -> Response {
    if !rg_exists(ctx, st, sub, rg) {
        return rg_not_found(rg);
    }
    let id = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    );
    if ctx.is_missing(&id) {
        return not_found("Microsoft.ManagedIdentity/userAssignedIdentities", name, rg);
    }
    let lk = id.to_ascii_lowercase();
    json(
        StatusCode::OK,
        &json!({
            "id": id,
            "name": name,
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
            "location": ctx.scenario.default_location,
            "tags": {},
            "properties": {
                "tenantId": "00000000-0000-0000-0000-00000000a1b5",
                "principalId": stable_guid(&format!("principal:{lk}")),
                "clientId": stable_guid(&format!("client:{lk}")),
            }
        }),
    )
}

/// GET on any other resource id: served if a deployment created it.
pub fn get_generic(
    ctx: &Ctx,
    st: &State,
    sub: &str,
    rg: &str,
    id: &str,
    name: &str,
    rtype: &str,
) -> Response {
    if !rg_exists(ctx, st, sub, rg) {
        return rg_not_found(rg);
    }
    match st.generic.get(&id.to_ascii_lowercase()) {
        Some(v) if !ctx.is_missing(id) => json(StatusCode::OK, v),
        _ => not_found(rtype, name, rg),
    }
}
