//! Every list operation follows `nextLink` to the last page (simulator with tiny pages), and a
//! `nextLink` that loops is an error instead of an endless listing.

use crate::common::*;
use aib_azure::{ArmClient, Credential, Endpoints};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn every_list_follows_next_link_to_the_end() -> TestResult {
    let sim = start_sim("minute_ms = 2\nbuild_minutes = 5\npage_size = 1").await?;
    let arm = client_for(&sim, fast_config()).await?;
    let names = ["pg-0", "pg-1", "pg-2"];
    for name in names {
        deploy(&arm, name).await?;
        arm.run_image_template(&template(name))
            .await?
            .wait()
            .await?;
    }
    let base = sim.base_url();
    let before = stats(&base).await?;
    let count = |st: &serde_json::Value, op: &str| st["requests"][op].as_u64().unwrap_or(0);

    let templates = arm.list_image_templates(&group()).await?;
    let mut listed: Vec<String> = templates.into_iter().filter_map(|t| t.name).collect();
    listed.sort();
    assert_eq!(listed, names);

    let versions = arm
        .list_gallery_image_versions(&aib_azure::ResourceId::gallery_image(
            &gallery_group(),
            "gal",
            "ubuntu",
        ))
        .await?;
    assert_eq!(versions.len(), 3, "{versions:?}");

    // Each template has its own staging resource group with one storage account.
    let t = arm.get_image_template(&template("pg-0")).await?;
    let staging = t
        .properties
        .exact_staging_resource_group
        .ok_or("no staging group")?;
    let staging_rg = staging.rsplit('/').next().unwrap_or_default().to_owned();
    assert_eq!(
        arm.list_storage_accounts(&group_named(&staging_rg))
            .await?
            .len(),
        1
    );

    let ops = arm
        .list_deployment_operations(&deployment("dep-pg-0"))
        .await?;
    assert_eq!(ops.len(), 1);
    assert_eq!(arm.list_run_outputs(&template("pg-0")).await?.len(), 1);

    let after = stats(&base).await?;
    // Three items at one per page: three requests per listing.
    assert_eq!(
        count(&after, "imageTemplates.list") - count(&before, "imageTemplates.list"),
        3
    );
    assert_eq!(
        count(&after, "galleryImageVersions.list") - count(&before, "galleryImageVersions.list"),
        3
    );
    sim.shutdown().await;
    Ok(())
}

/// A stand-in for a broken resource provider: every page points to the same next page.
async fn looping_server() -> TestResult<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let next = format!(
        "{base}/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.VirtualMachineImages/imageTemplates?api-version=2025-10-01&$skiptoken=same"
    );
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let next = next.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                loop {
                    // One request per connection; read until the end of the headers.
                    let n = match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    got.extend_from_slice(&buf[..n]);
                    if got.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let body = serde_json::json!({"value": [], "nextLink": next}).to_string();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    Ok((base, task))
}

#[tokio::test]
async fn a_looping_next_link_is_an_error() -> TestResult {
    let (base, task) = looping_server().await?;
    let far_future = chrono::Utc::now().timestamp() + 3600;
    let arm = ArmClient::with_config(
        Endpoints::custom(&base, false)?,
        Arc::new(Credential::from_static_token("t", far_future)),
        fast_config(),
    )?;
    let err = match arm.list_image_templates(&group()).await {
        Ok(v) => return Err(format!("expected a loop error, got {} items", v.len()).into()),
        Err(e) => e,
    };
    let shown = err.to_string();
    assert!(
        shown.contains("nextLink repeats an earlier page"),
        "{shown}"
    );
    task.abort();
    Ok(())
}
