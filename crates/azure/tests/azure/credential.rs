//! The real azure_identity credentials, configured through the process environment.
//!
//! Edition 2024 makes `std::env::set_var` unsafe (and the workspace forbids unsafe code), so
//! each scenario re-runs this test binary as a child process with the environment set, and
//! the `#[ignore]`d child test does the work.

use crate::common::*;
use aib_azure::cloud::Cloud;
use aib_azure::{ArmClient, Credential, CredentialKind, Endpoints};
use std::sync::Arc;

const CHILD_ENV: &str = "AIB_TEST_CHILD";
const ARM_SCOPE: &str = "https://management.azure.com/.default";

async fn run_child(test: &str, envs: &[(&str, String)]) -> TestResult<String> {
    let exe = std::env::current_exe()?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args([
        "--exact",
        test,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for v in [
        "AIB_CREDENTIAL",
        "AIB_ARM_ENDPOINT",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "IDENTITY_SERVER_THUMBPRINT",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
    ] {
        cmd.env_remove(v);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().await?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() || !text.contains("1 passed") {
        return Err(format!("child test {test} failed:\n{text}").into());
    }
    Ok(text)
}

fn is_child(kind: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(kind)
}

#[tokio::test]
async fn managed_identity_credential_against_sim() -> TestResult {
    let sim = start_sim("").await?;
    let base = sim.base_url();
    let env = |child: &str| {
        vec![
            (CHILD_ENV, child.to_owned()),
            ("IDENTITY_ENDPOINT", format!("{base}/msi/token")),
            ("IDENTITY_HEADER", "any-value".to_owned()),
            ("AIB_ARM_ENDPOINT", base.clone()),
        ]
    };
    // Named explicitly...
    let mut named = env("mi");
    named.push(("AIB_CREDENTIAL", "managed-identity".to_owned()));
    run_child("credential::child_managed_identity", &named).await?;
    // ...and found by the chain (env and workload identity are not configured).
    run_child(
        "credential::child_chain_finds_managed_identity",
        &env("chain"),
    )
    .await?;
    let st = stats(&base).await?;
    assert!(st["requests"]["token"].as_u64().unwrap_or(0) >= 2, "{st}");
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
#[ignore = "run by managed_identity_credential_against_sim with its environment"]
async fn child_managed_identity() -> TestResult {
    if !is_child("mi") {
        return Ok(());
    }
    let endpoints = Endpoints::resolve(Cloud::Custom, None, false)?;
    let cred = Arc::new(Credential::from_env(Cloud::Custom)?);
    let arm = ArmClient::with_config(endpoints.clone(), cred.clone(), fast_config())?;
    assert!(arm.resource_group_exists(SUB, RG).await?);
    assert_eq!(cred.in_use(), Some(CredentialKind::ManagedIdentity));

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
    assert_eq!(secrets.len(), 1, "one refresh for all concurrent callers");
    let after = stats(&base).await?["requests"]["token"]
        .as_u64()
        .unwrap_or(0);
    // azure_identity keeps its own cache too, so at most one request reaches the endpoint.
    assert!(after - before <= 1, "{before} -> {after}");
    Ok(())
}

#[tokio::test]
#[ignore = "run by managed_identity_credential_against_sim with its environment"]
async fn child_chain_finds_managed_identity() -> TestResult {
    if !is_child("chain") {
        return Ok(());
    }
    let cred = Arc::new(Credential::from_env(Cloud::Custom)?);
    let arm = ArmClient::with_config(
        Endpoints::resolve(Cloud::Custom, None, false)?,
        cred.clone(),
        fast_config(),
    )?;
    assert!(arm.gallery_exists(SUB, "rg-gal", "gal").await?);
    assert_eq!(cred.in_use(), Some(CredentialKind::ManagedIdentity));
    Ok(())
}

#[tokio::test]
async fn failed_credential_lists_why() -> TestResult {
    run_child(
        "credential::child_env_not_configured",
        &[
            (CHILD_ENV, "noenv".to_owned()),
            ("AIB_CREDENTIAL", "env".to_owned()),
        ],
    )
    .await?;
    Ok(())
}

#[tokio::test]
#[ignore = "run by failed_credential_lists_why with its environment"]
async fn child_env_not_configured() -> TestResult {
    if !is_child("noenv") {
        return Ok(());
    }
    let cred = Credential::from_env(Cloud::Public)?;
    let err = cred.token(ARM_SCOPE).await;
    match err {
        Err(e) => {
            assert!(e.is_auth(), "{e}");
            let s = e.to_string();
            assert!(
                s.contains("env: not configured (AZURE_TENANT_ID is not set)"),
                "{s}"
            );
        }
        Ok(_) => return Err("expected an auth error".into()),
    }
    assert!("bogus".parse::<CredentialKind>().is_err());
    Ok(())
}

#[tokio::test]
async fn failed_chain_lists_every_credential() -> TestResult {
    // Nothing configured: IMDS is not reachable here and `az` is not on PATH.
    let text = run_child(
        "credential::child_chain_fails",
        &[
            (CHILD_ENV, "chainfail".to_owned()),
            ("PATH", "/nonexistent".to_owned()),
        ],
    )
    .await?;
    assert!(text.contains("1 passed"));
    Ok(())
}

#[tokio::test]
#[ignore = "run by failed_chain_lists_every_credential with its environment"]
async fn child_chain_fails() -> TestResult {
    if !is_child("chainfail") {
        return Ok(());
    }
    let t0 = std::time::Instant::now();
    let cred = Credential::from_env(Cloud::Public)?;
    let err = cred.token(ARM_SCOPE).await;
    let Err(e) = err else {
        return Err("expected the chain to fail".into());
    };
    assert!(e.is_auth());
    let s = e.to_string();
    eprintln!("{s}\n(took {:?})", t0.elapsed());
    for kind in [
        "env:",
        "workload-identity:",
        "managed-identity:",
        "azure-cli:",
        "azure-pipelines:",
    ] {
        assert!(s.contains(kind), "{kind} missing from: {s}");
    }
    assert!(
        s.contains("no credential in the chain produced a token"),
        "{s}"
    );
    // The IMDS probe is short off Azure.
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        t0.elapsed()
    );
    Ok(())
}
