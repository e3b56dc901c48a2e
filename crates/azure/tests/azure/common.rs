//! Shared helpers: start the simulator, build clients with a fast policy.

use aib_azure::arm::ArmConfig;
use aib_azure::{ArmClient, Credential, Endpoints, ResourceGroupId, ResourceId, RetryPolicy};
use aib_sim::SimHandle;
use std::sync::Arc;
use std::time::Duration;

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

pub const SUB: &str = "00000000-0000-0000-0000-000000000001";
pub const RG: &str = "rg-images";
pub const IDENTITY: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib";
pub const GALLERY_IMAGE: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-gal/providers/Microsoft.Compute/galleries/gal/images/ubuntu";

/// The resource group the tests' templates and deployments are in.
pub fn group() -> ResourceGroupId {
    ResourceGroupId::new(SUB, RG)
}

/// The gallery's resource group.
pub fn gallery_group() -> ResourceGroupId {
    ResourceGroupId::new(SUB, "rg-gal")
}

/// The image template `name` in [`RG`].
pub fn template(name: &str) -> ResourceId {
    ResourceId::image_template(&group(), name)
}

/// The deployment `name` in [`RG`].
pub fn deployment(name: &str) -> ResourceId {
    ResourceId::deployment(&group(), name)
}

/// A group of [`SUB`] by name (a staging group, say).
pub fn group_named(name: &str) -> ResourceGroupId {
    ResourceGroupId::new(SUB, name)
}

/// A retry policy for tests: the simulator's hints are already scaled by `minute_ms`, so
/// only our own backoff is shortened.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(300),
        budget: Duration::from_secs(30),
        ..RetryPolicy::default()
    }
}

pub fn fast_config() -> ArmConfig {
    ArmConfig {
        retry: fast_retry(),
        lro_default_interval: Duration::from_millis(50),
        ..ArmConfig::default()
    }
}

pub async fn start_sim(toml: &str) -> TestResult<SimHandle> {
    let scenario = aib_sim::Scenario::from_toml_str(toml)?;
    Ok(aib_sim::start("127.0.0.1:0".parse()?, scenario).await?)
}

/// Fetch a token from the simulator's App Service token endpoint over plain HTTP (the real
/// ManagedIdentityCredential is exercised by the `credential` test target, in a child
/// process, because it reads its configuration from the process environment).
pub async fn sim_token(base: &str) -> TestResult<Credential> {
    let http = reqwest::Client::new();
    for _ in 0..250 {
        let r = http
            .get(format!(
                "{base}/msi/token?api-version=2019-08-01&resource=https://management.azure.com"
            ))
            .header("x-identity-header", "test")
            .send()
            .await;
        if let Ok(r) = r
            && r.status().is_success()
        {
            let v: serde_json::Value = r.json().await?;
            let token = v["access_token"]
                .as_str()
                .ok_or("no access_token")?
                .to_owned();
            let exp: i64 = v["expires_on"].as_str().ok_or("no expires_on")?.parse()?;
            return Ok(Credential::from_static_token(token, exp));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err("token endpoint kept failing".into())
}

pub async fn client_for(sim: &SimHandle, config: ArmConfig) -> TestResult<ArmClient> {
    let base = sim.base_url();
    let cred = sim_token(&base).await?;
    let endpoints = Endpoints::custom(&base, false)?;
    Ok(ArmClient::with_config(endpoints, Arc::new(cred), config)?)
}

/// An ARM deployment template holding one imageTemplate (literal values).
pub fn deployment_template(template_name: &str) -> serde_json::Value {
    // Gallery versions cannot be overwritten: one per template name.
    let version = format!("1.0.{}", template_name.bytes().map(u32::from).sum::<u32>());
    serde_json::json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {},
        "resources": [{
            "type": "Microsoft.VirtualMachineImages/imageTemplates",
            "apiVersion": "2025-10-01",
            "name": template_name,
            "location": "eastus2",
            "tags": {"aib.input-hash": "sha256:abc"},
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}},
            "properties": {
                "buildTimeoutInMinutes": 120,
                "source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"},
                "customize": [
                    {"type": "Shell", "name": "base", "inline": ["echo hi"]},
                    {"type": "Shell", "name": "harden", "inline": ["echo harden"]}
                ],
                "distribute": [{
                    "type": "SharedImage",
                    "galleryImageId": format!("{GALLERY_IMAGE}/versions/{version}"),
                    "runOutputName": "out1",
                    "targetRegions": [{"name": "eastus2", "replicaCount": 1}]
                }]
            }
        }]
    })
}

/// Deploy `template_name` into RG and wait.
pub async fn deploy(arm: &ArmClient, template_name: &str) -> TestResult {
    let req = aib_azure::types::DeploymentRequest::incremental(
        deployment_template(template_name),
        serde_json::json!({}),
    );
    let d = arm
        .deploy_and_wait(&deployment(&format!("dep-{template_name}")), &req)
        .await?;
    assert_eq!(
        d.properties.provisioning_state.as_deref(),
        Some("Succeeded")
    );
    Ok(())
}

pub async fn stats(base: &str) -> TestResult<serde_json::Value> {
    Ok(reqwest::get(format!("{base}/_sim/stats"))
        .await?
        .json()
        .await?)
}
