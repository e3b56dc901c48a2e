//! The real azure_identity ManagedIdentityCredential (App Service flavour) against the sim.
//!
//! The credential reads IDENTITY_ENDPOINT / IDENTITY_HEADER from the process environment and
//! edition 2024 makes `std::env::set_var` unsafe (the workspace forbids unsafe code), so this
//! target has its own harness (`harness = false`): the parent scenario starts the simulator
//! and re-runs this binary with `AIB_TEST_CHILD=<child>` and the environment set.

use aib_testkit::child_harness as harness;

use azure_core::credentials::TokenCredential;
use harness::{BoxFuture, Error, run_child};
use std::process::ExitCode;

type TestResult<T = ()> = Result<T, Error>;

const SUB: &str = "00000000-0000-0000-0000-000000000001";
/// Where the child finds the simulator.
const SIM_BASE: &str = "AIB_SIM_BASE";

/// Fail the current scenario with the condition and a message unless it holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!("assertion failed: {}: {}", stringify!($cond), format!($($msg)+)).into());
        }
    };
}

const PARENTS: &[&str] = &["real_managed_identity_credential"];

fn main() -> ExitCode {
    harness::main("credential", PARENTS, parent, child)
}

fn parent(name: &str) -> BoxFuture {
    match name {
        "real_managed_identity_credential" => Box::pin(real_managed_identity_credential()),
        other => {
            let other = other.to_owned();
            Box::pin(async move { Err(format!("no parent scenario {other}").into()) })
        }
    }
}

fn child(name: &str) -> BoxFuture {
    match name {
        "uses_managed_identity" => Box::pin(child_uses_managed_identity()),
        other => {
            let other = other.to_owned();
            Box::pin(async move { Err(format!("no child scenario {other}").into()) })
        }
    }
}

async fn stats(base: &str) -> TestResult<serde_json::Value> {
    Ok(reqwest::get(format!("{base}/_sim/stats"))
        .await?
        .json()
        .await?)
}

fn count(stats: &serde_json::Value, key: &str) -> u64 {
    stats["requests"][key].as_u64().unwrap_or(0)
}

async fn real_managed_identity_credential() -> TestResult {
    let scenario = aib_sim::Scenario::from_toml_str("minute_ms = 1")?;
    let sim = aib_sim::start("127.0.0.1:0".parse()?, scenario).await?;
    let base = sim.base_url();
    let before = stats(&base).await?;
    run_child(
        "uses_managed_identity",
        &[
            (SIM_BASE, base.clone()),
            ("IDENTITY_ENDPOINT", format!("{base}/msi/token")),
            ("IDENTITY_HEADER", "sim-secret".to_owned()),
        ],
    )
    .await?;
    let after = stats(&base).await?;
    // The child's token request and its authenticated ARM call both reached the simulator.
    ensure!(
        count(&after, "token") > count(&before, "token"),
        "{before} -> {after}"
    );
    ensure!(
        count(&after, "resourceGroups.get") > count(&before, "resourceGroups.get"),
        "{before} -> {after}"
    );
    sim.shutdown().await;
    Ok(())
}

async fn child_uses_managed_identity() -> TestResult {
    let base = std::env::var(SIM_BASE).map_err(|e| format!("{SIM_BASE}: {e}"))?;
    let cred = azure_identity::ManagedIdentityCredential::new(None)?;
    let tok = cred
        .get_token(&["https://management.azure.com/.default"], None)
        .await?;
    ensure!(
        tok.expires_on > azure_core::time::OffsetDateTime::now_utc(),
        "{:?}",
        tok.expires_on
    );
    let r = reqwest::Client::new()
        .get(format!(
            "{base}/subscriptions/{SUB}/resourcegroups/rg-x?api-version=2021-04-01"
        ))
        .bearer_auth(tok.token.secret())
        .send()
        .await?;
    ensure!(r.status() == 200, "{}", r.status());
    Ok(())
}
