//! The real azure_identity ManagedIdentityCredential (App Service flavour) against the sim.
//! The credential reads IDENTITY_ENDPOINT / IDENTITY_HEADER from the process environment, so
//! the check runs in a child process of this test binary.

use crate::common::*;
use azure_core::credentials::TokenCredential;

const CHILD: &str = "AIB_SIM_CREDENTIAL_CHILD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_managed_identity_credential() {
    let t = start("minute_ms = 1").await;
    let exe = std::env::current_exe().unwrap();
    let out = tokio::process::Command::new(exe)
        .args([
            "--exact",
            "credential::child_uses_managed_identity",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &t.base)
        .env("IDENTITY_ENDPOINT", format!("{}/msi/token", t.base))
        .env("IDENTITY_HEADER", "sim-secret")
        .env_remove("IDENTITY_SERVER_THUMBPRINT")
        .env_remove("MSI_ENDPOINT")
        .env_remove("MSI_SECRET")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{stderr}"
    );
    let s = t.stats().await;
    assert!(s["requests"]["token"].as_u64().unwrap() >= 2, "{s}");
    assert!(
        s["requests"]["resourceGroups.get"].as_u64().unwrap() >= 1,
        "{s}"
    );
    t.sim.shutdown().await;
}

#[tokio::test]
#[ignore = "run as a child process by real_managed_identity_credential"]
async fn child_uses_managed_identity() {
    let Ok(base) = std::env::var(CHILD) else {
        return;
    };
    let cred = azure_identity::ManagedIdentityCredential::new(None).unwrap();
    let tok = cred
        .get_token(&["https://management.azure.com/.default"], None)
        .await
        .unwrap();
    assert!(tok.expires_on > azure_core::time::OffsetDateTime::now_utc());
    let r = reqwest::Client::new()
        .get(format!(
            "{base}/subscriptions/{SUB}/resourcegroups/rg-x?api-version=2021-04-01"
        ))
        .bearer_auth(tok.token.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
