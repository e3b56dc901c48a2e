//! The exact request paths the typed operations send, recorded by a peer that answers every
//! request with an empty page: the spellings Azure's APIs use (`resourcegroups` for the
//! Resources API's groups and deployments, `resourceGroups` elsewhere) and names encoded as
//! path segments.

use crate::common::TestResult;
use aib_azure::arm::ArmConfig;
use aib_azure::{ArmClient, Credential, Endpoints, ResourceGroupId, ResourceId, RetryPolicy};
use aib_testkit::hostile::{Answer, HostilePeer};
use std::sync::Arc;

const SUB: &str = "00000000-0000-0000-0000-000000000001";

fn client(endpoint: &str) -> TestResult<ArmClient> {
    let cred = Credential::from_static_token("static-test-token", i64::MAX / 2);
    let config = ArmConfig {
        retry: RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        },
        ..ArmConfig::default()
    };
    let endpoints = Endpoints::custom(endpoint, false)?;
    Ok(ArmClient::with_config(endpoints, Arc::new(cred), config)?)
}

/// Sends one request of every operation that names a resource group or a resource in one;
/// what each answer decodes to does not matter here.
async fn send_each(arm: &ArmClient) {
    let group = ResourceGroupId::new(SUB, "rg-img");
    let template = ResourceId::image_template(&group, "tmpl 1");
    let deployment = ResourceId::deployment(&group, "dep-1");
    let gallery = ResourceId::gallery(&ResourceGroupId::new(SUB, "rg-gal"), "gal");
    let image = ResourceId::gallery_image(gallery.group(), "gal", "ubuntu");
    let version = ResourceId::gallery_image_version(gallery.group(), "gal", "ubuntu", "1.0.0");
    let artifact = format!(
        "/subscriptions/{SUB}/resourcegroups/rg-gal/providers/Microsoft.Compute/galleries/gal/images/ubuntu/imageversions/1.0.1"
    );
    let staging = ResourceGroupId::new(SUB, "IT_rg-img_tmpl_0000");
    let account = ResourceId::storage_account(&staging, "acct");
    let _ = arm.get_image_template(&template).await;
    let _ = arm.list_image_templates(&group).await;
    let _ = arm.delete_image_template(&template).await;
    let _ = arm.cancel_image_template(&template).await;
    let _ = arm.run_image_template_after(&template, None).await;
    let _ = arm.list_run_outputs(&template).await;
    let _ = arm.get_run_output(&template, "out1").await;
    let body = aib_azure::types::DeploymentRequest::incremental(
        serde_json::json!({}),
        serde_json::json!({}),
    );
    let _ = arm.put_deployment(&deployment, &body).await;
    let _ = arm.get_deployment(&deployment).await;
    let _ = arm.list_deployments(&group).await;
    let _ = arm.delete_deployment(&deployment).await;
    let _ = arm.list_deployment_operations(&deployment).await;
    let _ = arm.get_gallery_image_version(&version, false).await;
    let _ = arm.list_gallery_image_versions(&image).await;
    if let Ok(v) = ResourceId::parse(&artifact) {
        let _ = arm.delete_gallery_image_version(&v).await;
    }
    let _ = arm.resource_group_exists(&group).await;
    let _ = arm.gallery_exists(&gallery).await;
    let _ = arm.image_definition_exists(&image).await;
    let _ = arm.delete_resource_group(&staging).await;
    let _ = arm.list_storage_accounts(&staging).await;
    let _ = arm.list_storage_account_keys(&account).await;
}

#[tokio::test]
async fn operations_send_the_paths_azure_spells() -> TestResult {
    let peer = HostilePeer::start(|_| Answer::json(200, r#"{"value":[]}"#))?;
    send_each(&client(&peer.url())?).await;
    let sent: Vec<String> = peer
        .requests()
        .iter()
        .map(|r| {
            let path = r.target.split('?').next().unwrap_or_default();
            format!("{} {path}", r.method)
        })
        .collect();
    let s = format!("/subscriptions/{SUB}");
    let t = format!(
        "{s}/resourceGroups/rg-img/providers/Microsoft.VirtualMachineImages/imageTemplates"
    );
    let d = format!("{s}/resourcegroups/rg-img/providers/Microsoft.Resources/deployments");
    let g = format!("{s}/resourceGroups/rg-gal/providers/Microsoft.Compute/galleries/gal");
    let st = format!("{s}/resourceGroups/IT_rg-img_tmpl_0000/providers/Microsoft.Storage");
    let want = vec![
        format!("GET {t}/tmpl%201"),
        format!("GET {t}"),
        format!("DELETE {t}/tmpl%201"),
        format!("POST {t}/tmpl%201/cancel"),
        format!("POST {t}/tmpl%201/run"),
        format!("GET {t}/tmpl%201/runOutputs"),
        format!("GET {t}/tmpl%201/runOutputs/out1"),
        format!("PUT {d}/dep-1"),
        format!("GET {d}/dep-1"),
        format!("GET {d}/"),
        format!("DELETE {d}/dep-1"),
        format!("GET {s}/resourcegroups/rg-img/deployments/dep-1/operations"),
        format!("GET {g}/images/ubuntu/versions/1.0.0"),
        format!("GET {g}/images/ubuntu/versions"),
        format!("DELETE {g}/images/ubuntu/versions/1.0.1"),
        format!("GET {s}/resourcegroups/rg-img"),
        format!("GET {g}"),
        format!("GET {g}/images/ubuntu"),
        format!("DELETE {s}/resourcegroups/IT_rg-img_tmpl_0000"),
        format!("GET {st}/storageAccounts"),
        format!("POST {st}/storageAccounts/acct/listKeys"),
    ];
    assert_eq!(sent, want);
    Ok(())
}
