//! The App Service managed-identity token endpoint (`GET /msi/token`) and the bearer check
//! applied to every ARM call.
//!
//! Protocol (what azure_identity 1.0's `ManagedIdentityCredential` sends when
//! `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set): `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<resource>[&client_id=|object_id=|msi_res_id=]`
//! with header `X-IDENTITY-HEADER: <IDENTITY_HEADER>`; the answer is
//! `{"access_token","expires_on":"<unix seconds as a string>","resource","token_type":"Bearer","client_id"}`.
//! Tokens are random and live `token_lifetime_seconds` real seconds.

use crate::context::{Sim, lock};
use crate::response::{arm_error, json, set_header};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rand::Rng;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The client id reported for the simulated managed identity.
pub const CLIENT_ID: &str = "00000000-0000-0000-0000-00000000c11d";

/// Handle `GET /msi/token`.
pub fn token(sim: &Sim, headers: &HeaderMap, query: &HashMap<String, String>) -> Response {
    token_for(sim, headers, query, false)
}

/// Handle `GET /metadata/identity/oauth2/token` (VM IMDS flavour, header `Metadata: true`).
pub fn imds_token(sim: &Sim, headers: &HeaderMap, query: &HashMap<String, String>) -> Response {
    token_for(sim, headers, query, true)
}

/// Remember a new random token issued to `principal`; returns it with its expiry in unix
/// seconds.
fn issue(sim: &Sim, principal: &str) -> (String, u64) {
    let mut bytes = [0u8; 24];
    rand::rng().fill(&mut bytes);
    let token = format!("sim.{}", hex::encode(bytes));
    let expiry = SystemTime::now() + Duration::from_secs(sim.ctx.scenario.token_lifetime_seconds);
    lock(&sim.tokens).insert(token.clone(), (expiry, principal.to_string()));
    (
        token,
        expiry
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

/// Handle `POST /{tenant}/oauth2/v2.0/token` (Entra ID client credentials: client secret or
/// client assertion), so credentials with a custom authority host can use the sim too. Any
/// client secret is accepted; a client assertion only if this simulator issued it to a CI job
/// and it has not expired (see [`crate::handlers::federated`]).
pub fn aad_token(sim: &Sim, body: &[u8]) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let has = |k: &str| form.get(k).is_some_and(|v| !v.is_empty());
    if !has("client_id") || !(has("client_secret") || has("client_assertion")) || !has("scope") {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request", "error_description": "AADSTS900144: The request body must contain client_id, scope and client_secret or client_assertion.", "error_codes": [900144]}),
        );
    }
    if let Some(assertion) = form.get("client_assertion").filter(|a| !a.is_empty())
        && let Err(refused) = crate::handlers::federated::check_assertion(sim, assertion)
    {
        return refused;
    }
    let (token, _) = issue(sim, form.get("client_id").map_or("", String::as_str));
    let life = sim.ctx.scenario.token_lifetime_seconds;
    json(
        StatusCode::OK,
        &json!({"token_type": "Bearer", "expires_in": life, "ext_expires_in": life, "access_token": token}),
    )
}

fn token_for(
    sim: &Sim,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    imds: bool,
) -> Response {
    let (name, secret) = if imds {
        (
            "Metadata",
            headers
                .get("metadata")
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.eq_ignore_ascii_case("true"))
                .unwrap_or(""),
        )
    } else {
        (
            "X-IDENTITY-HEADER",
            headers
                .get("x-identity-header")
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        )
    };
    if secret.is_empty() {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({"statusCode": 400, "message": format!("Missing or empty {name} header."), "correlationId": uuid::Uuid::new_v4().to_string()}),
        );
    }
    let resource = query.get("resource").cloned().or_else(|| {
        query
            .get("scope")
            .map(|s| s.strip_suffix("/.default").unwrap_or(s).to_string())
    });
    let Some(resource) = resource.filter(|r| !r.is_empty()) else {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({"statusCode": 400, "message": "The 'resource' query parameter is required.", "correlationId": uuid::Uuid::new_v4().to_string()}),
        );
    };
    let client_id = query
        .get("client_id")
        .cloned()
        .unwrap_or_else(|| CLIENT_ID.to_string());
    let (token, expires_on) = issue(sim, &client_id);
    json(
        StatusCode::OK,
        &json!({
            "access_token": token,
            "expires_on": expires_on.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id,
        }),
    )
}

/// Check `Authorization: Bearer <token>`; `Ok` is the principal (client id) the token was
/// issued to, `Err` the 401 to send.
pub fn check_bearer(sim: &Sim, headers: &HeaderMap) -> Result<String, Response> {
    let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(unauthorized(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    };
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    else {
        return Err(unauthorized(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        ));
    };
    let entry = lock(&sim.tokens).get(token.trim()).cloned();
    match entry {
        None => Err(unauthorized(
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        )),
        Some((exp, _)) if exp <= SystemTime::now() => {
            let fmt = |t: SystemTime| {
                chrono::DateTime::<chrono::Utc>::from(t)
                    .format("%m/%d/%Y %H:%M:%S")
                    .to_string()
            };
            Err(unauthorized(
                "InvalidAuthenticationToken",
                format!(
                    "Lifetime validation failed. The token is expired. The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                    fmt(exp),
                    fmt(SystemTime::now())
                ),
            ))
        }
        Some((_, principal)) => Ok(principal),
    }
}

fn unauthorized(code: &str, message: impl Into<String>) -> Response {
    let message = message.into();
    let mut r = arm_error(StatusCode::UNAUTHORIZED, code, message.clone());
    let desc = message.replace('"', "'");
    set_header(
        &mut r,
        "WWW-Authenticate",
        &format!(
            "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\", error_description=\"{desc}\""
        ),
    );
    r
}
