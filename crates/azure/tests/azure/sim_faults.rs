//! Retries against the simulator's fault injection.

use crate::common::*;
use std::time::{Duration, Instant};

#[tokio::test]
async fn throttle_server_errors_and_resets_are_retried() -> TestResult {
    let sim = start_sim(
        r#"
minute_ms = 5
build_minutes = 5
[faults]
throttle = 0.3
server_error = 0.1
reset = 0.05
seed = 7
"#,
    )
    .await?;
    let arm = client_for(&sim, fast_config()).await?;
    let name = "it-faulty-1";
    deploy(&arm, name).await?;
    for _ in 0..30 {
        arm.get_image_template(&template(name)).await?;
    }
    arm.run_image_template(&template(name))
        .await?
        .wait()
        .await?;
    let t = arm.get_image_template(&template(name)).await?;
    assert_eq!(
        t.properties
            .last_run_status
            .and_then(|s| s.run_state)
            .as_deref(),
        Some("Succeeded")
    );
    let st = stats(&sim.base_url()).await?;
    assert!(st["faults"]["throttle"].as_u64().unwrap_or(0) > 0, "{st}");
    assert!(
        st["faults"]["server_error"].as_u64().unwrap_or(0) > 0,
        "{st}"
    );
    assert!(st["faults"]["reset"].as_u64().unwrap_or(0) > 0, "{st}");
    // `run` is never blindly repeated: exactly one build started.
    assert_eq!(st["runs"][name], 1, "{st}");
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn run_post_is_not_duplicated_under_heavy_server_errors() -> TestResult {
    // Many seeds: whatever the fault sequence, at most one build per template.
    let sim = start_sim(
        r#"
minute_ms = 5
build_minutes = 3
[faults]
server_error = 0.35
reset = 0.1
seed = 3
"#,
    )
    .await?;
    let arm = client_for(&sim, fast_config()).await?;
    let mut followed_last_run = 0;
    for i in 0..6 {
        let name = format!("it-dup-{i}");
        deploy(&arm, &name).await?;
        let op = arm.run_image_template(&template(&name)).await?;
        if op.handle().map(|h| h.kind) == Some(aib_azure::lro::PollKind::LastRunStatus) {
            // The POST took effect but its answer was lost: we follow lastRunStatus.
            followed_last_run += 1;
        }
        op.wait().await?;
    }
    eprintln!("runs followed through lastRunStatus: {followed_last_run}");
    let st = stats(&sim.base_url()).await?;
    for i in 0..6 {
        assert_eq!(st["runs"][format!("it-dup-{i}")], 1, "{st}");
    }
    // Some run POSTs failed ambiguously and were re-sent after checking lastRunStatus.
    assert!(
        st["requests"]["imageTemplates.run"].as_u64().unwrap_or(0) > 4,
        "{st}"
    );
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn outlasts_a_throttle_storm() -> TestResult {
    let sim = start_sim(
        r#"
minute_ms = 5
[faults]
throttle_storm = [{ start_ms = 0, duration_ms = 1500 }]
"#,
    )
    .await?;
    // Token first (the storm may cover the token endpoint too).
    let arm = client_for(&sim, fast_config()).await?;
    let t0 = Instant::now();
    assert!(arm.resource_group_exists(&group()).await?);
    let st = stats(&sim.base_url()).await?;
    assert!(
        st["faults"]["throttle"].as_u64().unwrap_or(0) > 0
            || t0.elapsed() < Duration::from_millis(10),
        "{st}"
    );
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn gives_up_when_the_budget_is_spent() -> TestResult {
    let sim = start_sim(
        r#"
[faults]
throttle_storm = [{ start_ms = 0, duration_ms = 600000 }]
"#,
    )
    .await?;
    let base = sim.base_url();
    let cred = sim_token(&base).await;
    // The storm may include the token endpoint; then there is nothing more to test here.
    let Ok(cred) = cred else {
        sim.shutdown().await;
        return Ok(());
    };
    let mut cfg = fast_config();
    cfg.retry.budget = Duration::from_millis(400);
    let arm = aib_azure::ArmClient::with_config(
        aib_azure::Endpoints::custom(&base, false)?,
        std::sync::Arc::new(cred),
        cfg,
    )?;
    let t0 = Instant::now();
    let err = arm.resource_group_exists(&group()).await;
    assert!(
        matches!(err, Err(ref e) if e.status() == Some(429)),
        "{err:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn failed_status_reads_are_not_failed_operations() -> TestResult {
    let sim = start_sim(
        r#"
minute_ms = 5
build_minutes = 3
[faults]
operation_status_errors = 3
"#,
    )
    .await?;
    let mut cfg = fast_config();
    // Make our own retries of 500s run out fast, so the LRO layer sees failed reads.
    cfg.retry.max_attempts = 2;
    let arm = client_for(&sim, cfg).await?;
    let name = "it-opstatus-1";
    deploy(&arm, name).await?;
    arm.run_image_template(&template(name))
        .await?
        .wait()
        .await?;
    sim.shutdown().await;
    Ok(())
}
