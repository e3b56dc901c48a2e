//! Build logs from the simulator's staging storage account: storage list/listKeys, Shared Key
//! blob listing and download, resumed after connections that drop mid-body.

use crate::common::*;

async fn fetch_log(
    scenario: &str,
    name: &str,
    repeats: usize,
) -> TestResult<(String, serde_json::Value)> {
    let sim = start_sim(scenario).await?;
    let arm = client_for(&sim, fast_config()).await?;
    deploy(&arm, name).await?;
    let res = arm.run_image_template(&template(name)).await?.wait().await;
    assert!(res.is_err(), "the build should fail");
    let t = arm.get_image_template(&template(name)).await?;
    let staging_id = t
        .properties
        .exact_staging_resource_group
        .ok_or("no exactStagingResourceGroup")?;
    let staging_rg = staging_id
        .rsplit('/')
        .next()
        .ok_or("bad staging id")?
        .to_owned();
    let accounts = arm.list_storage_accounts(&group_named(&staging_rg)).await?;
    let account = accounts.first().ok_or("no storage account in staging RG")?;
    let keys = arm
        .list_storage_account_keys(&aib_azure::ResourceId::storage_account(
            &group_named(&staging_rg),
            &account.name,
        ))
        .await?;
    assert!(!format!("{keys:?}").contains(&keys.keys[0].value));
    let blob = arm
        .blob_client_for_account(&group_named(&staging_rg), account)
        .await?;
    let items = blob.list_blobs("packerlogs", None).await?;
    let log = items
        .iter()
        .find(|b| b.name.ends_with("customization.log"))
        .ok_or("no customization.log")?;
    let mut text = String::new();
    for _ in 0..repeats {
        let bytes = blob.download("packerlogs", &log.name).await?;
        assert_eq!(Some(bytes.len() as u64), log.content_length);
        let t = String::from_utf8(bytes.to_vec())?;
        if !text.is_empty() {
            assert_eq!(t, text, "downloads differ");
        }
        text = t;
    }
    let st = stats(&sim.base_url()).await?;
    sim.shutdown().await;
    Ok((text, st))
}

#[tokio::test]
async fn build_log_download() -> TestResult {
    let (text, _) = fetch_log(
        r#"
minute_ms = 5
build_minutes = 5
[[outcome]]
template = "*"
result = "fail"
failed_customizer = "harden"
"#,
        "it-log-1",
        1,
    )
    .await?;
    assert!(text.contains("(telemetry) Starting provisioner"), "{text}");
    Ok(())
}

#[tokio::test]
async fn build_log_download_resumes_after_mid_body_resets() -> TestResult {
    let (text, st) = fetch_log(
        r#"
minute_ms = 5
build_minutes = 5
[[outcome]]
template = "*"
result = "fail"
failed_customizer = "harden"
[faults]
reset = 0.25
reset_mid_body = 1.0
seed = 11
"#,
        "it-log-2",
        15,
    )
    .await?;
    assert!(text.contains("(telemetry) Starting provisioner"));
    assert!(st["faults"]["reset"].as_u64().unwrap_or(0) > 0, "{st}");
    Ok(())
}
