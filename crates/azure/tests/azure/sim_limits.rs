//! The client-side limiter against the simulator's enforced subscription token buckets
//! (`[limits] enforce = true`, real time).

use crate::common::*;
use aib_azure::ArmClient;

async fn burst(arm: &ArmClient, n: usize) -> TestResult<usize> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let arm = arm.clone();
        tasks.spawn(async move {
            // Alternate two kinds of read.
            if i % 2 == 0 {
                arm.resource_group_exists(&group()).await
            } else {
                arm.gallery_exists(&aib_azure::ResourceId::gallery(&gallery_group(), "gal"))
                    .await
            }
        });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        if r?? {
            ok += 1;
        }
    }
    Ok(ok)
}

#[tokio::test]
async fn a_burst_beyond_the_bucket_gets_no_429() -> TestResult {
    // ARM's read bucket (250, 25/s); 300 concurrent reads need the refill for the last 50.
    let sim = start_sim("minute_ms = 1\n[limits]\nenforce = true").await?;
    let arm = client_for(&sim, fast_config()).await?;
    assert_eq!(burst(&arm, 300).await?, 300);
    let st = stats(&sim.base_url()).await?;
    assert_eq!(st["ratelimited"], 0, "{st}");
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn tiny_buckets_throttle_and_the_client_recovers() -> TestResult {
    // A subscription far below ARM's numbers: the client's own buckets do not know that, gets
    // 429s with Retry-After, waits, and every request still succeeds.
    let sim = start_sim(
        "minute_ms = 1\n[limits]\nenforce = true\nread_burst = 3\nread_per_sec = 20\nwrite_burst = 2\nwrite_per_sec = 10",
    )
    .await?;
    let arm = client_for(&sim, fast_config()).await?;
    assert_eq!(burst(&arm, 40).await?, 40);
    // Writes too (listKeys is a POST).
    deploy(&arm, "lim-1").await?;
    let t = arm.get_image_template(&template("lim-1")).await?;
    let staging = t
        .properties
        .exact_staging_resource_group
        .ok_or("no staging group")?;
    let staging_rg = staging.rsplit('/').next().unwrap_or_default().to_owned();
    let account = arm
        .list_storage_accounts(&group_named(&staging_rg))
        .await?
        .into_iter()
        .next()
        .ok_or("no account")?;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let arm = arm.clone();
        let rg = staging_rg.clone();
        let name = account.name.clone();
        tasks.spawn(async move {
            arm.list_storage_account_keys(&aib_azure::ResourceId::storage_account(
                &group_named(&rg),
                &name,
            ))
            .await
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    let st = stats(&sim.base_url()).await?;
    assert!(st["ratelimited"].as_u64().unwrap_or(0) > 0, "{st}");
    sim.shutdown().await;
    Ok(())
}
