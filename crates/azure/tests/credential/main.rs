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
    ensure!(arm.resource_group_exists(SUB, RG).await?);
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
    ensure!(arm.gallery_exists(SUB, "rg-gal", "gal").await?);
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
    ensure!(arm.resource_group_exists(SUB, RG).await?);
    // Fresh tokens keep coming through the random faults.
    for _ in 0..5 {
        cred.invalidate(ARM_SCOPE).await;
        ensure!(arm.gallery_exists(SUB, "rg-gal", "gal").await?);
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
    let Err(e) = arm.resource_group_exists(SUB, RG).await else {
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
        ensure!(arm.resource_group_exists(SUB, RG).await?);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}
