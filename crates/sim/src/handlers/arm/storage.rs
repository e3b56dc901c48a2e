//! Storage accounts: list in a resource group, GET, `POST .../listKeys`.
//! Each template's staging group holds one account whose `primaryEndpoints.blob` is
//! `{base}/blob/{account}/`. Account keys are derived from the account name, so the Blob
//! endpoint can verify Shared Key and SAS signatures for any account.

use super::resources::rg_exists;
use crate::context::Ctx;
use crate::response::{arm_error, json, not_found, rg_not_found};
use crate::state::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The account's key (`key1` or `key2`), base64.
pub fn account_key(account: &str, which: u8) -> String {
    let mut bytes = Vec::with_capacity(64);
    for part in ["a", "b"] {
        bytes.extend_from_slice(&Sha256::digest(
            format!("aib-sim:{}:key{which}:{part}", account.to_ascii_lowercase()).as_bytes(),
        ));
    }
    STANDARD.encode(bytes)
}

fn account_json(ctx: &Ctx, sub: &str, rg: &str, name: &str, location: &str) -> Value {
    let blob = format!("{}/blob/{}/", ctx.base_url, name);
    json!({
        "id": format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}"),
        "name": name,
        "type": "Microsoft.Storage/storageAccounts",
        "location": location,
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "tags": {},
        "properties": {
            "provisioningState": "Succeeded",
            "primaryEndpoints": {"blob": blob},
            "primaryLocation": location,
            "statusOfPrimary": "available",
            "creationTime": ctx.clock.stamp(0.0),
            "supportsHttpsTrafficOnly": false,
            "allowSharedKeyAccess": ctx.scenario.storage.shared_key,
        }
    })
}

/// `GET .../resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts`
pub fn list(ctx: &Ctx, st: &State, sub: &str, rg: &str) -> Result<Vec<Value>, Response> {
    if !rg_exists(ctx, st, sub, rg) {
        return Err(rg_not_found(rg));
    }
    let value: Vec<Value> = st
        .templates
        .values()
        .filter(|t| {
            t.has_staging()
                && t.sub.eq_ignore_ascii_case(sub)
                && t.staging_rg.eq_ignore_ascii_case(rg)
        })
        .map(|t| account_json(ctx, sub, &t.staging_rg, &t.storage_account, &t.location))
        .collect();
    Ok(value)
}

fn exists(ctx: &Ctx, st: &State, sub: &str, rg: &str, name: &str) -> bool {
    let id = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}"
    );
    rg_exists(ctx, st, sub, rg) && !ctx.is_missing(&id)
}

/// `GET .../storageAccounts/{name}`
pub fn get(ctx: &Ctx, st: &State, sub: &str, rg: &str, name: &str) -> Response {
    if !rg_exists(ctx, st, sub, rg) {
        return rg_not_found(rg);
    }
    if !exists(ctx, st, sub, rg, name) {
        return not_found("Microsoft.Storage/storageAccounts", name, rg);
    }
    let location = st
        .templates
        .values()
        .find(|t| t.storage_account.eq_ignore_ascii_case(name))
        .map(|t| t.location.clone())
        .unwrap_or_else(|| ctx.scenario.default_location.clone());
    json(StatusCode::OK, &account_json(ctx, sub, rg, name, &location))
}

/// `POST .../storageAccounts/{name}/listKeys`
pub fn list_keys(ctx: &Ctx, st: &State, sub: &str, rg: &str, name: &str) -> Response {
    if !rg_exists(ctx, st, sub, rg) {
        return rg_not_found(rg);
    }
    if !exists(ctx, st, sub, rg, name) {
        return not_found("Microsoft.Storage/storageAccounts", name, rg);
    }
    if !ctx.scenario.storage.list_keys {
        return arm_error(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            format!(
                "The client does not have authorization to perform action 'Microsoft.Storage/storageAccounts/listKeys/action' over scope '/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}' or the scope is invalid. If access was recently granted, please refresh your credentials."
            ),
        );
    }
    let created = ctx.clock.stamp(0.0);
    json(
        StatusCode::OK,
        &json!({"keys": [
            {"keyName": "key1", "value": account_key(name, 1), "permissions": "FULL", "creationTime": created},
            {"keyName": "key2", "value": account_key(name, 2), "permissions": "FULL", "creationTime": created},
        ]}),
    )
}
