//! The real azure_identity credentials, configured through the process environment.
//!
//! Edition 2024 makes `std::env::set_var` unsafe (and the workspace forbids unsafe code), so
//! this target has its own harness (`harness = false`): each parent scenario starts the
//! simulator, re-runs this binary with `AIB_TEST_CHILD=<child>` and the environment set, and
//! checks the child's exit status and output, then the simulator's stats.

mod common;
use aib_testkit::child_harness as harness;

use aib_azure::cloud::Cloud;
use aib_azure::{ArmClient, Credential, CredentialKind, Endpoints};
use common::*;
use harness::{BoxFuture, run_child};
use std::process::ExitCode;
use std::sync::Arc;

const ARM_SCOPE: &str = "https://management.azure.com/.default";

const PARENTS: &[&str] = &[
    "managed_identity_credential_against_sim",
    "failed_credential_lists_why",
    "failed_chain_lists_every_credential",
    "token_endpoint_transient_faults_are_survived",
    "token_endpoint_down_is_a_clear_error",
    "expiring_token_is_refreshed_mid_run",
    "github_actions_credential_outlasts_its_assertions",
    "azure_pipelines_credential_outlasts_its_assertions",
    "a_fixed_federated_assertion_expires_with_aadsts700024",
    "github_actions_credential_failures_say_why",
];

fn main() -> ExitCode {
    harness::main("credential", PARENTS, parent, child)
}

fn parent(name: &str) -> BoxFuture {
    match name {
        "managed_identity_credential_against_sim" => {
            Box::pin(managed_identity_credential_against_sim())
        }
        "failed_credential_lists_why" => Box::pin(failed_credential_lists_why()),
        "failed_chain_lists_every_credential" => Box::pin(failed_chain_lists_every_credential()),
        "token_endpoint_transient_faults_are_survived" => {
            Box::pin(token_endpoint_transient_faults_are_survived())
        }
        "token_endpoint_down_is_a_clear_error" => Box::pin(token_endpoint_down_is_a_clear_error()),
        "expiring_token_is_refreshed_mid_run" => Box::pin(expiring_token_is_refreshed_mid_run()),
        "github_actions_credential_outlasts_its_assertions" => {
            Box::pin(github_actions_credential_outlasts_its_assertions())
        }
        "azure_pipelines_credential_outlasts_its_assertions" => {
            Box::pin(azure_pipelines_credential_outlasts_its_assertions())
        }
        "a_fixed_federated_assertion_expires_with_aadsts700024" => {
            Box::pin(a_fixed_federated_assertion_expires_with_aadsts700024())
        }
        "github_actions_credential_failures_say_why" => {
            Box::pin(github_actions_credential_failures_say_why())
        }
        other => {
            let other = other.to_owned();
            Box::pin(async move { Err(format!("no parent scenario {other}").into()) })
        }
    }
}

fn child(name: &str) -> BoxFuture {
    match name {
        "managed_identity" => Box::pin(child_managed_identity()),
        "chain_finds_managed_identity" => Box::pin(child_chain_finds_managed_identity()),
        "env_not_configured" => Box::pin(child_env_not_configured()),
        "chain_fails" => Box::pin(child_chain_fails()),
        "token_after_faults" => Box::pin(child_token_after_faults()),
        "token_endpoint_down" => Box::pin(child_token_endpoint_down()),
        "refresh_mid_run" => Box::pin(child_refresh_mid_run()),
        "federated_long_run" => Box::pin(child_federated_long_run()),
        "fixed_assertion_expires" => Box::pin(child_fixed_assertion_expires()),
        "federated_fails" => Box::pin(child_federated_fails()),
        other => {
            let other = other.to_owned();
            Box::pin(async move { Err(format!("no child scenario {other}").into()) })
        }
    }
}

async fn managed_identity_credential_against_sim() -> TestResult {
    let sim = start_sim("").await?;
    let base = sim.base_url();
    let env = || {
        vec![
            ("IDENTITY_ENDPOINT", format!("{base}/msi/token")),
            ("IDENTITY_HEADER", "any-value".to_owned()),
            ("AIB_ARM_ENDPOINT", base.clone()),
        ]
    };
    // Named explicitly...
    let mut named = env();
    named.push(("AIB_CREDENTIAL", "managed-identity".to_owned()));
    run_child("managed_identity", &named).await?;
    // ...and found by the chain (env and workload identity are not configured).
    run_child("chain_finds_managed_identity", &env()).await?;
    let st = stats(&base).await?;
    ensure!(st["requests"]["token"].as_u64().unwrap_or(0) >= 2, "{st}");
    sim.shutdown().await;
    Ok(())
}

async fn child_managed_identity() -> TestResult {
    let endpoints = Endpoints::resolve(Cloud::Custom, None, false)?;
    let cred = Arc::new(Credential::from_env(Cloud::Custom)?);
    let arm = ArmClient::with_config(endpoints.clone(), cred.clone(), fast_config())?;
    ensure!(arm.resource_group_exists(&group()).await?);
    ensure!(
        cred.in_use() == Some(CredentialKind::ManagedIdentity),
        "{:?}",
        cred.in_use()
    );

    // Cached per scope, single flight under concurrency.
    let base = endpoints.arm.as_str().trim_end_matches('/').to_owned();
    let before = stats(&base).await?["requests"]["token"]
        .as_u64()
        .unwrap_or(0);
    cred.invalidate(ARM_SCOPE).await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = cred.clone();
        tasks.push(tokio::spawn(async move { c.token(ARM_SCOPE).await }));
    }
    let mut secrets = Vec::new();
    for t in tasks {
        secrets.push(t.await??.secret().to_owned());
    }
    secrets.dedup();
    ensure!(
        secrets.len() == 1,
        "one refresh for all concurrent callers, got {} distinct tokens",
        secrets.len()
    );
    let after = stats(&base).await?["requests"]["token"]
        .as_u64()
        .unwrap_or(0);
    // azure_identity keeps its own cache too, so at most one request reaches the endpoint.
    ensure!(after - before <= 1, "{before} -> {after}");
    Ok(())
}

async fn child_chain_finds_managed_identity() -> TestResult {
    let cred = Arc::new(Credential::from_env(Cloud::Custom)?);
    let arm = ArmClient::with_config(
        Endpoints::resolve(Cloud::Custom, None, false)?,
        cred.clone(),
        fast_config(),
    )?;
    ensure!(arm.gallery_exists(&gallery()).await?);
    ensure!(
        cred.in_use() == Some(CredentialKind::ManagedIdentity),
        "{:?}",
        cred.in_use()
    );
    Ok(())
}

async fn failed_credential_lists_why() -> TestResult {
    run_child(
        "env_not_configured",
        &[("AIB_CREDENTIAL", "env".to_owned())],
    )
    .await?;
    Ok(())
}

async fn child_env_not_configured() -> TestResult {
    let cred = Credential::from_env(Cloud::Public)?;
    match cred.token(ARM_SCOPE).await {
        Err(e) => {
            ensure!(e.is_auth(), "{e}");
            let s = e.to_string();
            ensure!(
                s.contains("env: not configured (AZURE_TENANT_ID is not set)"),
                "{s}"
            );
        }
        Ok(_) => return Err("expected an auth error".into()),
    }
    ensure!("bogus".parse::<CredentialKind>().is_err());
    Ok(())
}

async fn failed_chain_lists_every_credential() -> TestResult {
    // Nothing configured: IMDS is not reachable here and `az` is not on PATH.
    let out = run_child("chain_fails", &[("PATH", "/nonexistent".to_owned())]).await?;
    // The child reports the chain's error on stderr.
    ensure!(
        out.stderr
            .contains("no credential in the chain produced a token"),
        "{}",
        out.stderr
    );
    Ok(())
}

async fn child_chain_fails() -> TestResult {
    let t0 = std::time::Instant::now();
    let cred = Credential::from_env(Cloud::Public)?;
    let Err(e) = cred.token(ARM_SCOPE).await else {
        return Err("expected the chain to fail".into());
    };
    ensure!(e.is_auth(), "{e}");
    let s = e.to_string();
    eprintln!("{s}\n(took {:?})", t0.elapsed());
    for kind in [
        "env:",
        "workload-identity:",
        "github-actions:",
        "managed-identity:",
        "azure-cli:",
        "azure-pipelines:",
    ] {
        ensure!(s.contains(kind), "{kind} missing from: {s}");
    }
    ensure!(
        s.contains("no credential in the chain produced a token"),
        "{s}"
    );
    // The IMDS probe is short off Azure.
    ensure!(
        t0.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        t0.elapsed()
    );
    Ok(())
}

/// The environment naming the simulator's App Service token endpoint explicitly.
fn msi_env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("IDENTITY_ENDPOINT", format!("{base}/msi/token")),
        ("IDENTITY_HEADER", "any-value".to_owned()),
        ("AIB_ARM_ENDPOINT", base.to_owned()),
        ("AIB_CREDENTIAL", "managed-identity".to_owned()),
    ]
}

async fn token_endpoint_transient_faults_are_survived() -> TestResult {
    // The token endpoint (and ARM) answer 429 for the first 0.8 s, then 503 until 1.6 s, and
    // a fifth of the token requests after that fail at random.
    let sim = start_sim(
        r#"
minute_ms = 20
[faults]
token = true
throttle_storm = [{ start_ms = 0, duration_ms = 800 }]
outage = [{ start_ms = 800, duration_ms = 800 }]
server_error = 0.2
seed = 7
"#,
    )
    .await?;
    let base = sim.base_url();
    run_child("token_after_faults", &msi_env(&base)).await?;
    let st = stats(&base).await?;
    ensure!(st["requests"]["token"].as_u64().unwrap_or(0) >= 3, "{st}");
    ensure!(st["faults"]["throttle"].as_u64().unwrap_or(0) > 0, "{st}");
    ensure!(
        st["faults"]["server_error"].as_u64().unwrap_or(0) > 0,
        "{st}"
    );
    sim.shutdown().await;
    Ok(())
}

async fn child_token_after_faults() -> TestResult {
    let cred = Arc::new(Credential::from_env(Cloud::Custom)?);
    let arm = ArmClient::with_config(
        Endpoints::resolve(Cloud::Custom, None, false)?,
        cred.clone(),
        fast_config(),
    )?;
    ensure!(arm.resource_group_exists(&group()).await?);
    // Fresh tokens keep coming through the random faults.
    for _ in 0..5 {
        cred.invalidate(ARM_SCOPE).await;
        ensure!(arm.gallery_exists(&gallery()).await?);
    }
    Ok(())
}

async fn token_endpoint_down_is_a_clear_error() -> TestResult {
    let sim = start_sim(
        "minute_ms = 20\n[faults]\ntoken = true\noutage = [{ start_ms = 0, duration_ms = 600000 }]",
    )
    .await?;
    let base = sim.base_url();
    let out = run_child("token_endpoint_down", &msi_env(&base)).await?;
    ensure!(out.stderr.contains("gave up after"), "{}", out.stderr);
    let st = stats(&base).await?;
    // The client never reached ARM without a token.
    ensure!(
        st["requests"]["resourceGroups.get"].as_u64().unwrap_or(0) == 0,
        "{st}"
    );
    sim.shutdown().await;
    Ok(())
}

async fn child_token_endpoint_down() -> TestResult {
    let cred = Credential::from_env(Cloud::Custom)?
        .with_token_retry_budget(std::time::Duration::from_secs(2));
    let arm = ArmClient::with_config(
        Endpoints::resolve(Cloud::Custom, None, false)?,
        Arc::new(cred),
        fast_config(),
    )?;
    let Err(e) = arm.resource_group_exists(&group()).await else {
        return Err("expected the token request to fail".into());
    };
    ensure!(e.is_auth(), "{e:?}");
    let s = e.to_string();
    eprintln!("{s}");
    ensure!(s.contains("managed-identity:"), "{s}");
    ensure!(s.contains("ManagedIdentityCredential"), "{s}");
    ensure!(s.contains("gave up after"), "{s}");
    Ok(())
}

async fn expiring_token_is_refreshed_mid_run() -> TestResult {
    // Tokens live one second; the run lasts about three.
    let sim = start_sim("minute_ms = 20\ntoken_lifetime_seconds = 1").await?;
    let base = sim.base_url();
    run_child("refresh_mid_run", &msi_env(&base)).await?;
    let st = stats(&base).await?;
    ensure!(st["requests"]["token"].as_u64().unwrap_or(0) >= 3, "{st}");
    sim.shutdown().await;
    Ok(())
}

async fn child_refresh_mid_run() -> TestResult {
    // No refresh margin: our cache hands out a token until its very end, so some requests
    // reach ARM with a token that has just expired (401), and the client must fetch a new one.
    let cred = Credential::from_env(Cloud::Custom)?.with_refresh_margin(std::time::Duration::ZERO);
    let arm = ArmClient::with_config(
        Endpoints::resolve(Cloud::Custom, None, false)?,
        Arc::new(cred),
        fast_config(),
    )?;
    for _ in 0..30 {
        ensure!(arm.resource_group_exists(&group()).await?);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}

/// A simulator whose access tokens live `token_s` and CI assertions `assertion_s` seconds, the
/// file its CA certificate is in, and a CI job's OIDC environment.
struct Federated {
    sim: aib_sim::SimHandle,
    _dir: tempfile::TempDir,
    ca_file: String,
    job: std::collections::HashMap<String, String>,
}

async fn federated_sim(token_s: u64, assertion_s: u64) -> TestResult<Federated> {
    let sim = start_sim(&format!(
        "minute_ms = 20\ntoken_lifetime_seconds = {token_s}\nassertion_lifetime_seconds = {assertion_s}"
    ))
    .await?;
    let dir = tempfile::tempdir()?;
    let ca = dir.path().join("sim-ca.pem");
    std::fs::write(&ca, sim.ca_pem())?;
    let job = reqwest::Client::new()
        .post(format!("{}/_sim/ci-job", sim.base_url()))
        .send()
        .await?
        .json()
        .await?;
    Ok(Federated {
        ca_file: ca.display().to_string(),
        sim,
        _dir: dir,
        job,
    })
}

impl Federated {
    /// ARM and Entra on the simulator (Entra over TLS, trusted through `AIB_CA_FILE`), the
    /// identity's tenant and client id, `PATH` without `az`.
    fn env(&self, credential: Option<&str>) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("AIB_ARM_ENDPOINT", self.sim.base_url()),
            ("AZURE_AUTHORITY_HOST", self.sim.https_base_url()),
            ("AIB_CA_FILE", self.ca_file.clone()),
            (
                "AZURE_TENANT_ID",
                "00000000-0000-0000-0000-0000000000aa".to_owned(),
            ),
            (
                "AZURE_CLIENT_ID",
                "00000000-0000-0000-0000-0000000000c1".to_owned(),
            ),
            ("PATH", "/nonexistent".to_owned()),
        ];
        if let Some(c) = credential {
            env.push(("AIB_CREDENTIAL", c.to_owned()));
        }
        env
    }

    fn job(&self, key: &'static str) -> (&'static str, String) {
        (key, self.job.get(key).cloned().unwrap_or_default())
    }
}

async fn github_actions_credential_outlasts_its_assertions() -> TestResult {
    // Access tokens and ID tokens live 2 s; each run below lasts about 5 s, so it needs fresh
    // ID tokens (2 s, not 1: on a loaded machine a second can pass between fetching an ID
    // token and exchanging it).
    let f = federated_sim(2, 2).await?;
    let mut env = f.env(Some("github-actions"));
    env.push(f.job("ACTIONS_ID_TOKEN_REQUEST_URL"));
    env.push(f.job("ACTIONS_ID_TOKEN_REQUEST_TOKEN"));
    env.push(("EXPECT_CREDENTIAL", "github-actions".to_owned()));
    run_child("federated_long_run", &env).await?;
    // The chain finds it too (no client secret, no token file, no managed identity, no az).
    env.retain(|(k, _)| *k != "AIB_CREDENTIAL");
    run_child("federated_long_run", &env).await?;
    let st = stats(&f.sim.base_url()).await?;
    // A fresh ID token for every new access token, several per run.
    let (ids, aad) = (
        st["requests"]["token.actions"].as_u64().unwrap_or(0),
        st["requests"]["token.aad"].as_u64().unwrap_or(0),
    );
    ensure!(ids >= 6 && ids == aad, "{st}");
    f.sim.shutdown().await;
    Ok(())
}

async fn azure_pipelines_credential_outlasts_its_assertions() -> TestResult {
    let f = federated_sim(2, 2).await?;
    let mut env = f.env(Some("azure-pipelines"));
    env.retain(|(k, _)| !k.starts_with("AZURE_TENANT") && !k.starts_with("AZURE_CLIENT"));
    env.push(f.job("SYSTEM_OIDCREQUESTURI"));
    env.push(f.job("SYSTEM_ACCESSTOKEN"));
    env.push((
        "AZURESUBSCRIPTION_TENANT_ID",
        "00000000-0000-0000-0000-0000000000aa".to_owned(),
    ));
    env.push((
        "AZURESUBSCRIPTION_CLIENT_ID",
        "00000000-0000-0000-0000-0000000000c1".to_owned(),
    ));
    env.push((
        "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
        "sc-aib".to_owned(),
    ));
    env.push(("EXPECT_CREDENTIAL", "azure-pipelines".to_owned()));
    run_child("federated_long_run", &env).await?;
    let st = stats(&f.sim.base_url()).await?;
    let (ids, aad) = (
        st["requests"]["token.pipelines"].as_u64().unwrap_or(0),
        st["requests"]["token.aad"].as_u64().unwrap_or(0),
    );
    ensure!(ids >= 3 && ids == aad, "{st}");
    f.sim.shutdown().await;
    Ok(())
}

async fn child_federated_long_run() -> TestResult {
    let want: CredentialKind = std::env::var("EXPECT_CREDENTIAL")?.parse()?;
    let cred = Arc::new(Credential::from_env(Cloud::Custom)?);
    let arm = ArmClient::with_config(
        Endpoints::resolve(Cloud::Custom, None, false)?,
        cred.clone(),
        fast_config(),
    )?;
    for _ in 0..25 {
        ensure!(arm.resource_group_exists(&group()).await?);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    ensure!(cred.in_use() == Some(want), "{:?}", cred.in_use());
    Ok(())
}

async fn a_fixed_federated_assertion_expires_with_aadsts700024() -> TestResult {
    // What `azure/login` + the Azure CLI amount to: one ID token fetched at login, exchanged
    // again whenever the access token runs out. Here a workload-identity token file holds it.
    // The assertion lives 3 s, long enough for the child to start on a loaded machine.
    let f = federated_sim(1, 3).await?;
    let c = reqwest::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(
            f.sim.ca_pem().as_bytes(),
        )?)
        .build()?;
    let id: serde_json::Value = c
        .get(format!(
            "{}&audience=api://AzureADTokenExchange",
            f.job["ACTIONS_ID_TOKEN_REQUEST_URL"]
        ))
        .bearer_auth(&f.job["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
        .send()
        .await?
        .json()
        .await?;
    let file = f._dir.path().join("federated-token");
    std::fs::write(&file, id["value"].as_str().unwrap_or_default())?;
    let mut env = f.env(Some("workload-identity"));
    env.push(("AZURE_FEDERATED_TOKEN_FILE", file.display().to_string()));
    let out = run_child("fixed_assertion_expires", &env).await?;
    ensure!(out.stderr.contains("AADSTS700024"), "{}", out.stderr);
    f.sim.shutdown().await;
    Ok(())
}

async fn child_fixed_assertion_expires() -> TestResult {
    let cred = Arc::new(Credential::from_env(Cloud::Custom)?);
    let arm = ArmClient::with_config(
        Endpoints::resolve(Cloud::Custom, None, false)?,
        cred.clone(),
        fast_config(),
    )?;
    // Fine while the assertion is fresh...
    ensure!(arm.resource_group_exists(&group()).await?);
    // ...refused once the access token and the assertion behind it expired (the assertion
    // was made before this process started, so 3.2 s from here is past its 3 s).
    tokio::time::sleep(std::time::Duration::from_millis(3200)).await;
    let Err(e) = arm.resource_group_exists(&group()).await else {
        return Err("a login with an expired assertion worked".into());
    };
    ensure!(e.is_auth(), "{e:?}");
    let s = e.to_string();
    eprintln!("{s}");
    ensure!(s.contains("workload-identity:"), "{s}");
    ensure!(
        s.contains("AADSTS700024: Client assertion is not within its valid time range"),
        "{s}"
    );
    Ok(())
}

async fn github_actions_credential_failures_say_why() -> TestResult {
    let f = federated_sim(3600, 300).await?;
    let base = f.env(Some("github-actions"));
    let with = |extra: &[(&'static str, String)], remove: &[&str]| {
        let mut env: Vec<(&'static str, String)> = base
            .iter()
            .filter(|(k, _)| !remove.contains(k))
            .cloned()
            .collect();
        env.extend_from_slice(extra);
        env
    };
    let url = f.job("ACTIONS_ID_TOKEN_REQUEST_URL");
    let token = f.job("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    let cases: Vec<(Vec<(&'static str, String)>, &str)> = vec![
        // No `id-token: write` on GitHub.
        (
            with(&[("GITHUB_ACTIONS", "true".to_owned())], &[]),
            "give the job `permissions: id-token: write`",
        ),
        // A job token that is not (or no longer) valid.
        (
            with(
                &[
                    url.clone(),
                    ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "simjob.stale".to_owned()),
                ],
                &[],
            ),
            "OIDC token endpoint answered 401 Unauthorized",
        ),
        // The simulator's certificate without AIB_CA_FILE.
        (
            with(&[url.clone(), token.clone()], &["AIB_CA_FILE"]),
            "invalid peer certificate",
        ),
        (
            with(&[url, token], &["AZURE_CLIENT_ID"]),
            "AZURE_CLIENT_ID is not set",
        ),
    ];
    for (env, want) in cases {
        let mut env = env;
        env.push(("EXPECT_ERROR", want.to_owned()));
        run_child("federated_fails", &env).await?;
    }
    f.sim.shutdown().await;
    Ok(())
}

async fn child_federated_fails() -> TestResult {
    let want = std::env::var("EXPECT_ERROR")?;
    let secret = std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN").unwrap_or_default();
    let cred = Credential::from_env(Cloud::Custom)?
        .with_token_retry_budget(std::time::Duration::from_secs(1));
    let Err(e) = cred.token(ARM_SCOPE).await else {
        return Err("the credential worked".into());
    };
    ensure!(e.is_auth(), "{e:?}");
    let s = e.to_string();
    ensure!(s.contains("github-actions:"), "{s}");
    ensure!(s.contains(&want), "{want:?} missing from: {s}");
    ensure!(
        secret.is_empty() || !s.contains(&secret),
        "the job token leaked: {s}"
    );
    Ok(())
}
