//! The Key Vault secrets data plane: `GET /keyvault/{vault}/secrets/{name}[/{version}]`
//! stands for `GET https://{vault}.vault.azure.net/secrets/{name}[/{version}]`.
//!
//! Secrets come from the scenario's `[key_vault]` table (`"VAULT/NAME" = "value"`). Each has
//! one version, a 32-hex id derived from the vault and secret names; asking for it by that
//! version answers the same, any other version is not found. Shapes as Key Vault answers
//! (api-version 7.x):
//! - 200 `{"value","id":"https://{vault}.vault.azure.net/secrets/{name}/{version}","attributes":{...}}`
//! - 404 `{"error":{"code":"SecretNotFound","message":"A secret with (name/id) {name} was not found in this key vault. ..."}}`
//! - 401 `{"error":{"code":"Unauthorized","message":"AKV10000: ..."}}` with a
//!   `WWW-Authenticate: Bearer authorization="...", resource="https://vault.azure.net"` challenge
//!   when the bearer token is missing, unknown or expired (any token the sim's token endpoints
//!   issued is accepted, whatever resource it was asked for)
//! - 400 `BadParameter` without a valid `api-version`.

use crate::context::Sim;
use crate::response::{json, set_header};
use crate::scenario::split_key_vault_key;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// The version id of a secret: 32 hex digits derived from the lower-cased vault and name.
pub fn version_of(vault: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("{vault}/{name}").as_bytes());
    hex::encode(&digest[..16])
}

fn kv_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    json(
        status,
        &json!({"error": {"code": code, "message": message.into()}}),
    )
}

fn unauthorized(message: &str) -> Response {
    let mut r = kv_error(StatusCode::UNAUTHORIZED, "Unauthorized", message);
    set_header(
        &mut r,
        "WWW-Authenticate",
        "Bearer authorization=\"https://login.microsoftonline.com/common\", resource=\"https://vault.azure.net\"",
    );
    r
}

/// Key Vault's api-versions: `7.x` or a date `YYYY-MM-DD[-preview]`.
fn api_version_ok(v: &str) -> bool {
    if let Some(minor) = v.strip_prefix("7.") {
        return !minor.is_empty() && minor.chars().all(|c| c.is_ascii_digit());
    }
    let date = v.strip_suffix("-preview").unwrap_or(v);
    date.len() == 10 && chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok()
}

/// Handle `GET /keyvault/{vault}/secrets/{name}[/{version}]`.
pub fn get_secret(
    sim: &Sim,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    vault: &str,
    name: &str,
    version: Option<&str>,
) -> Response {
    if !headers.contains_key("authorization") {
        return unauthorized("AKV10000: Request is missing a Bearer or PoP token.");
    }
    if crate::handlers::auth::check_bearer(sim, headers).is_err() {
        return unauthorized("AKV10000: The access token is invalid or has expired.");
    }
    match query.get("api-version") {
        None => {
            return kv_error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                "The 'api-version' query parameter is required.",
            );
        }
        Some(v) if !api_version_ok(v) => {
            return kv_error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                format!(
                    "The specified version ({v}) is not recognized. Consider using the latest supported version (7.5)."
                ),
            );
        }
        Some(_) => {}
    }
    let vault = vault.to_ascii_lowercase();
    let name_l = name.to_ascii_lowercase();
    let current = version_of(&vault, &name_l);
    let found = sim
        .ctx
        .scenario
        .key_vault
        .iter()
        .find(|(k, _)| split_key_vault_key(k).is_some_and(|(v, n)| v == vault && n == name_l))
        .map(|(_, value)| value);
    let wanted_version_ok = version.is_none_or(|v| v.eq_ignore_ascii_case(&current));
    let Some(value) = found.filter(|_| wanted_version_ok) else {
        let shown = match version {
            Some(v) => format!("{name}/{v}"),
            None => name.to_string(),
        };
        return kv_error(
            StatusCode::NOT_FOUND,
            "SecretNotFound",
            format!(
                "A secret with (name/id) {shown} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
            ),
        );
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    json(
        StatusCode::OK,
        &json!({
            "value": value,
            "id": format!("https://{vault}.vault.azure.net/secrets/{name_l}/{current}"),
            "attributes": {
                "enabled": true,
                "created": now,
                "updated": now,
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
            "tags": {},
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_api_versions() {
        let v = version_of("kv-aib", "admin");
        assert_eq!(v.len(), 32);
        assert!(v.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(v, version_of("kv-aib", "other"));
        for ok in ["7.4", "7.5", "2025-07-01", "2025-07-01-preview"] {
            assert!(api_version_ok(ok), "{ok}");
        }
        for bad in ["", "7.", "7.x", "2025-7-1", "8"] {
            assert!(!api_version_ok(bad), "{bad}");
        }
    }
}
