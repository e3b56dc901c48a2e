//! Logins that last: `aib build` on a CI job's federated credential, against `aib sim` whose
//! access tokens and OIDC assertions live a second or two while the builds take several
//! seconds. Entra is the simulator's `https` side, trusted through `AIB_CA_FILE` (the CA
//! `aib sim --ca-file` writes), and the CI job's OIDC environment comes from `/_sim/ci-job`.
//!
//! - The `github-actions` credential asks for a fresh ID token whenever it needs a new access
//!   token: the build succeeds.
//! - The path the workflows `aib ci github` wrote before took (`azure/login` exchanging one ID
//!   token, then the Azure CLI exchanging that same token again whenever its access token ran
//!   out) is a workload-identity token file holding the one ID token: once it expired, every
//!   unit fails with Entra's AADSTS700024.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use super::fleet;
use super::support::{Sim, aib_cmd, manifest_dir, sim_with};

const UNITS: usize = 4;

/// Four independent units in one environment.
fn manifest() -> String {
    let mut m = format!(
        r#"
version = 1

[pipeline]
name = "lgn"

[defaults]
location = "eastus2"
resource_group = "{rg}"
identity = "/subscriptions/{{{{ subscription }}}}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = {{ name = "gal_dev" }}
version = "date"
build_timeout_minutes = 90

[environments.dev]
subscription = "{sub}"
"#,
        rg = fleet::RG,
        sub = fleet::SUB
    );
    for i in 0..UNITS {
        m.push_str(&format!(
            "\n[variants.v{i}]\nimage_definition = \"def-v{i}\"\nsource = {{ platform = \"Canonical:ubuntu-24_04-lts:server:latest\" }}\ncustomize = [ {{ type = \"shell\", name = \"harden\", inline = [\"echo {i}\"] }} ]\n"
        ));
    }
    m
}

/// Access tokens live 1 s, ID tokens `assertion_s`; builds take 60 simulated minutes of 100 ms
/// (6 s), polled every few hundred ms (aib's clock runs at 600 ms a minute: slack for a loaded
/// machine).
fn scenario(assertion_s: u64) -> String {
    format!(
        "minute_ms = 100\nclock_minute_ms = 600\nbuild_minutes = 60\ntoken_lifetime_seconds = 1\nassertion_lifetime_seconds = {assertion_s}\n"
    )
}

/// The simulator with its CA in `dir/sim-ca.pem`, and a CI job's OIDC environment.
fn federated_sim(dir: &Path, assertion_s: u64) -> (Sim, BTreeMap<String, String>) {
    let ca = dir.join("sim-ca.pem");
    let sim = sim_with(
        dir,
        &scenario(assertion_s),
        &["--ca-file", ca.to_str().expect("utf-8 path")],
    );
    let (code, job) = fleet::http(&sim, "POST", "/_sim/ci-job", &[]);
    assert_eq!(code, 200, "{job}");
    let job = job
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    (sim, job)
}

/// `aib build` in `dir` on `credential`, with Entra on the simulator's TLS side; no managed
/// identity.
fn build(dir: &Path, sim: &Sim, credential: &str, env: &[(&str, String)]) -> Command {
    let mut cmd = aib_cmd(dir, sim, &["build", "--report-json", "report.json"]);
    cmd.env("AIB_CREDENTIAL", credential)
        .env_remove("IDENTITY_ENDPOINT")
        .env_remove("IDENTITY_HEADER")
        .env(
            "AZURE_AUTHORITY_HOST",
            sim.url.replacen("http://", "https://", 1),
        )
        .env("AIB_CA_FILE", dir.join("sim-ca.pem"))
        .env("AZURE_TENANT_ID", "00000000-0000-0000-0000-0000000000aa")
        .env("AZURE_CLIENT_ID", "00000000-0000-0000-0000-0000000000c1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn a_build_on_the_github_actions_credential_outlasts_its_tokens() {
    let dir = manifest_dir(&manifest(), &[]);
    let d = dir.path();
    let (sim, job) = federated_sim(d, 2);
    let env: Vec<(&str, String)> = [
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    ]
    .into_iter()
    .map(|k| (k, job[k].clone()))
    .collect();
    let out = build(d, &sim, "github-actions", &env)
        .output()
        .expect("aib build");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let statuses = fleet::statuses(&fleet::report(d, "report.json"));
    assert_eq!(statuses.len(), UNITS, "{statuses:?}");
    assert!(statuses.values().all(|s| s == "succeeded"), "{statuses:?}");
    let st = fleet::stats(&sim);
    // Many access tokens over the run, each from a fresh ID token; no managed identity.
    let ids = fleet::req(&st, "token.actions");
    assert!(ids >= 4, "{st}");
    assert_eq!(ids, fleet::req(&st, "token.aad"), "{st}");
    assert_eq!(fleet::req(&st, "token"), 0, "{st}");
    assert!(
        // `HTTP 401` is how a refused request is shown; a bare "401" also matches run ids and
        // times (`T140135Z`).
        !stderr.contains("AADSTS") && !stderr.contains("HTTP 401"),
        "{stderr}"
    );
    // Neither the job token nor an ID token shows, on stderr or in the state.
    assert_no_secret(d, &stderr, &job["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]);
}

/// The simulator's ID tokens are JWTs whose header starts `{"alg":"HS256"`.
const JWT_HEADER: &str = "eyJhbGciOiJIUzI1NiIs";

/// No `secret` and no ID token in `stderr` or any file of the state.
fn assert_no_secret(dir: &Path, stderr: &str, secret: &str) {
    assert!(
        !stderr.contains(secret) && !stderr.contains(JWT_HEADER),
        "{stderr}"
    );
    let mut stack = vec![dir.join(".aib")];
    let mut files = 0;
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).expect("read state dir").flatten() {
                stack.push(e.path());
            }
        } else {
            files += 1;
            let text = String::from_utf8_lossy(&std::fs::read(&p).expect("read")).into_owned();
            assert!(
                !text.contains(secret) && !text.contains(JWT_HEADER),
                "{} holds a token",
                p.display()
            );
        }
    }
    assert!(files > 0, "no state written");
}

#[test]
fn the_login_the_old_workflow_used_expires_with_aadsts700024() {
    let dir = manifest_dir(&manifest(), &[]);
    let d = dir.path();
    // The one ID token `azure/login` would have fetched; it lives 3 s.
    let (sim, job) = federated_sim(d, 3);
    let path = job["ACTIONS_ID_TOKEN_REQUEST_URL"]
        .split_once("/_apis/")
        .map(|(_, rest)| format!("/_apis/{rest}&audience=api://AzureADTokenExchange"))
        .expect("request path");
    let bearer = format!("Bearer {}", job["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]);
    let (code, v) = fleet::http(&sim, "GET", &path, &[("Authorization", &bearer)]);
    assert_eq!(code, 200, "{v}");
    std::fs::write(
        d.join("federated-token"),
        v["value"].as_str().unwrap_or_default(),
    )
    .expect("token file");
    let env = [(
        "AZURE_FEDERATED_TOKEN_FILE",
        d.join("federated-token").display().to_string(),
    )];
    let out = build(d, &sim, "workload-identity", &env)
        .output()
        .expect("aib build");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let report = fleet::report(d, "report.json");
    let units = report["units"].as_array().cloned().unwrap_or_default();
    assert_eq!(units.len(), UNITS, "{report}");
    // Logged in well enough to start every build, then no unit succeeded, each for the same
    // reason.
    assert_eq!(fleet::runs(&fleet::stats(&sim)).len(), UNITS);
    assert_no_secret(d, &stderr, &job["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]);
    for u in &units {
        assert_eq!(u["status"], "failed", "{u}");
        let msg = u["failure"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains("AADSTS700024: Client assertion is not within its valid time range"),
            "{msg}"
        );
    }
}
