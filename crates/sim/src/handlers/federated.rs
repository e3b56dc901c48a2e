//! Workload identity federation: the OIDC token endpoints CI systems give their jobs, and
//! Entra's exchange of the assertions they issue for access tokens.
//!
//! - `POST /_sim/ci-job` starts a CI job: it answers the environment a job gets,
//!   `ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (GitHub Actions with
//!   `permissions: id-token: write`) and `SYSTEM_OIDCREQUESTURI` + `SYSTEM_ACCESSTOKEN` (Azure
//!   Pipelines), all `https` on the simulator's port.
//! - GitHub Actions: `GET {ACTIONS_ID_TOKEN_REQUEST_URL}&audience=<aud>` with
//!   `Authorization: Bearer {ACTIONS_ID_TOKEN_REQUEST_TOKEN}` answers `{"count", "value": <JWT>}`
//!   (issuer `https://token.actions.githubusercontent.com`, subject
//!   `repo:aib-sim/fleet:ref:refs/heads/main`, the requested audience, default the owner's URL).
//! - Azure Pipelines: `POST {SYSTEM_OIDCREQUESTURI}?api-version=7.1&serviceConnectionId=<id>`
//!   with `Authorization: Bearer {SYSTEM_ACCESSTOKEN}` answers `{"oidcToken": <JWT>}` (audience
//!   `api://AzureADTokenExchange`).
//! - A job token the simulator did not hand out is 401.
//!
//! Assertions live `assertion_lifetime_seconds` (real seconds, default 300). Entra's token
//! endpoint (`POST /{tenant}/oauth2/v2.0/token` with `client_assertion`) accepts only
//! assertions this simulator issued, for an `api://AzureADTokenExchange*` audience, before they
//! expire, and refuses the rest as Entra does: an expired one with 401 `invalid_client`
//! AADSTS700024, one it did not issue or for another audience with 400 `invalid_request`
//! AADSTS70021 (no matching federated identity record), and something that is not a JWT with
//! 400 AADSTS50027.

use crate::context::Sim;
use crate::model::federated::{
    EXCHANGE_AUDIENCES, GITHUB_ISSUER, GITHUB_REPOSITORY, PIPELINES_ISSUER, Refusal,
};
use crate::response::json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

/// `POST /_sim/ci-job`: a new CI job's OIDC environment.
pub fn ci_job(sim: &Sim) -> Response {
    let token = sim.federated.new_job();
    let base = &sim.ctx.https_base_url;
    let (plan, job) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    json(
        StatusCode::OK,
        &json!({
            "ACTIONS_ID_TOKEN_REQUEST_URL": format!("{base}/_apis/distributedtask/hubs/Actions/plans/{plan}/jobs/{job}/idtoken?api-version=2.0"),
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": token,
            "SYSTEM_OIDCREQUESTURI": format!("{base}/aib-sim/fleet/_apis/distributedtask/hubs/build/plans/{plan}/jobs/{job}/oidctoken"),
            "SYSTEM_ACCESSTOKEN": token,
        }),
    )
}

fn lifetime(sim: &Sim) -> Duration {
    Duration::from_secs(sim.ctx.scenario.assertion_lifetime_seconds)
}

fn unauthorized() -> Response {
    json(
        StatusCode::UNAUTHORIZED,
        &json!({"message": "The job token is missing, invalid or expired.", "typeKey": "UnauthorizedRequestException"}),
    )
}

/// `GET .../idtoken?api-version=2.0&audience=...` (GitHub Actions).
pub fn actions_id_token(
    sim: &Sim,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Response {
    if !sim.federated.is_job(headers) {
        return unauthorized();
    }
    let aud = query
        .get("audience")
        .filter(|a| !a.is_empty())
        .cloned()
        .unwrap_or_else(|| "https://github.com/aib-sim".to_string());
    let token = sim.federated.issue(
        json!({
            "sub": format!("repo:{GITHUB_REPOSITORY}:ref:refs/heads/main"),
            "aud": aud,
            "ref": "refs/heads/main",
            "repository": GITHUB_REPOSITORY,
            "repository_owner": "aib-sim",
            "iss": GITHUB_ISSUER,
        }),
        lifetime(sim),
    );
    json(
        StatusCode::OK,
        &json!({"count": token.len(), "value": token}),
    )
}

/// `POST .../oidctoken?api-version=7.1&serviceConnectionId=...` (Azure Pipelines).
pub fn pipelines_oidc_token(
    sim: &Sim,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Response {
    if !sim.federated.is_job(headers) {
        return unauthorized();
    }
    let Some(conn) = query.get("serviceConnectionId").filter(|c| !c.is_empty()) else {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({"message": "serviceConnectionId is required.", "typeKey": "ArgumentNullException"}),
        );
    };
    let token = sim.federated.issue(
        json!({
            "sub": format!("sc://aib-sim/fleet/{conn}"),
            "aud": EXCHANGE_AUDIENCES[0],
            "iss": PIPELINES_ISSUER,
        }),
        lifetime(sim),
    );
    json(StatusCode::OK, &json!({"oidcToken": token}))
}

/// Entra's time format in error descriptions: `2024-10-02T22:05:03.6755165Z`.
fn entra_time(t: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100
    )
}

/// An Entra token endpoint error: `{"error", "error_description": "AADSTS<code>: ... Trace
/// ID: ... Correlation ID: ... Timestamp: ...", "error_codes", "timestamp", "trace_id",
/// "correlation_id", "error_uri"}`.
pub fn entra_error(status: StatusCode, error: &str, code: u32, message: &str) -> Response {
    let now = Utc::now();
    let stamp = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
    let (trace, corr) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    json(
        status,
        &json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {message} Trace ID: {trace} Correlation ID: {corr} Timestamp: {stamp}"),
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace.to_string(),
            "correlation_id": corr.to_string(),
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

/// Check a `client_assertion` for Entra's client-credentials exchange; `Err` is Entra's answer.
pub fn check_assertion(sim: &Sim, assertion: &str) -> Result<(), Response> {
    let claims = match sim.federated.verify(assertion) {
        Ok(c) => c,
        Err(Refusal::Malformed) => {
            return Err(entra_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                "JWT token is invalid or malformed.",
            ));
        }
        Err(Refusal::NoMatch(c)) => {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            return Err(entra_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                70021,
                &format!(
                    "No matching federated identity record found for presented assertion. Assertion Issuer: '{}'. Assertion Subject: '{}'. Assertion Audience: '{}'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
                    s("iss"),
                    s("sub"),
                    s("aud")
                ),
            ));
        }
    };
    let at = |k: &str| {
        claims[k]
            .as_i64()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
            .unwrap_or_default()
    };
    let (nbf, exp, now) = (at("nbf"), at("exp"), Utc::now());
    if now >= exp || now < nbf {
        return Err(entra_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700024,
            &format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                entra_time(now),
                entra_time(nbf),
                entra_time(exp)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_times_have_seven_fraction_digits() {
        let t = DateTime::<Utc>::from_timestamp(1_727_906_703, 675_516_500).unwrap_or_default();
        assert_eq!(entra_time(t), "2024-10-02T22:05:03.6755165Z");
    }
}
