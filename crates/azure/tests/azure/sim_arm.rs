//! ARM operations against the simulator, no faults.

use crate::common::*;
use aib_azure::lro::{OperationHandle, PollKind};
use aib_azure::{Error, Operation, OperationState};

const SCENARIO: &str = r#"
minute_ms = 5
build_minutes = 10
deploy_minutes = 1
delete_minutes = 1
create_minutes = 1
cancel_minutes = 2
[[outcome]]
template = "*-fail-*"
result = "fail"
failed_customizer = "harden"
[[outcome]]
template = "*-slow-*"
build_minutes = 100000
"#;

#[tokio::test]
async fn deploy_run_to_success_and_verify() -> TestResult {
    let sim = start_sim(SCENARIO).await?;
    let arm = client_for(&sim, fast_config()).await?;
    let name = "it-ok-1";
    deploy(&arm, name).await?;

    let t = arm.get_image_template(&template(name)).await?;
    assert_eq!(t.name.as_deref(), Some(name));
    assert_eq!(
        t.tags.get("aib.input-hash").map(String::as_str),
        Some("sha256:abc")
    );

    let run = arm.run_image_template(&template(name)).await?;
    let handle = run
        .handle()
        .cloned()
        .ok_or("run returned no operation handle")?;
    assert_eq!(handle.kind, PollKind::AsyncOperation);
    // The handle survives a restart: serialise, resume, wait.
    let stored = serde_json::to_string(&handle)?;
    let resumed: OperationHandle = serde_json::from_str(&stored)?;
    let first = Operation::resume(&arm, resumed.clone()).poll().await?;
    assert_eq!(first.state, OperationState::Running);
    Operation::resume(&arm, resumed).wait().await?;

    let t = arm.get_image_template(&template(name)).await?;
    let lrs = t
        .properties
        .last_run_status
        .clone()
        .ok_or("no lastRunStatus")?;
    assert_eq!(lrs.run_state.as_deref(), Some("Succeeded"));
    assert!(lrs.started().is_some());
    assert!(t.properties.exact_staging_resource_group.is_some());

    // List by RG carries lastRunStatus, as ARM does.
    let all = arm.list_image_templates(&group()).await?;
    let listed = all
        .iter()
        .find(|x| x.name.as_deref() == Some(name))
        .ok_or("template not listed")?;
    assert_eq!(
        listed
            .properties
            .last_run_status
            .as_ref()
            .and_then(|s| s.run_state.as_deref()),
        Some("Succeeded")
    );

    // Run output -> gallery image version with replication status.
    let outs = arm.list_run_outputs(&template(name)).await?;
    assert_eq!(outs.len(), 1);
    let out = arm.get_run_output(&template(name), "out1").await?;
    let artifact = out.properties.artifact_id.ok_or("no artifactId")?;
    assert!(
        artifact.to_ascii_lowercase().contains("/versions/"),
        "{artifact}"
    );
    let v = arm.get_gallery_image_version_by_id(&artifact, true).await?;
    assert_eq!(
        v.properties.provisioning_state.as_deref(),
        Some("Succeeded")
    );
    assert!(v.properties.replication_status.is_some());
    let versions = arm
        .list_gallery_image_versions(&aib_azure::ResourceId::gallery_image(
            &gallery_group(),
            "gal",
            "ubuntu",
        ))
        .await?;
    assert!(!versions.is_empty());

    // Deployment operations.
    let ops = arm
        .list_deployment_operations(&deployment(&format!("dep-{name}")))
        .await?;
    assert!(!ops.is_empty());

    // Delete, then it is gone.
    arm.delete_image_template(&template(name))
        .await?
        .wait()
        .await?;
    let gone = arm.get_image_template(&template(name)).await;
    assert!(matches!(gone, Err(ref e) if e.is_not_found()), "{gone:?}");

    let st = stats(&sim.base_url()).await?;
    assert_eq!(st["runs"][name], 1, "{st}");
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn failed_build_is_operation_failed_with_message() -> TestResult {
    let sim = start_sim(SCENARIO).await?;
    let arm = client_for(&sim, fast_config()).await?;
    let name = "it-fail-1";
    deploy(&arm, name).await?;
    let err = arm.run_image_template(&template(name)).await?.wait().await;
    match err {
        Err(Error::OperationFailed {
            status, message, ..
        }) => {
            assert_eq!(status, "Failed");
            assert!(!message.is_empty());
        }
        other => return Err(format!("expected OperationFailed, got {other:?}").into()),
    }
    let t = arm.get_image_template(&template(name)).await?;
    let lrs = t.properties.last_run_status.ok_or("no lastRunStatus")?;
    assert_eq!(lrs.run_state.as_deref(), Some("Failed"));
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn run_then_cancel() -> TestResult {
    let sim = start_sim(SCENARIO).await?;
    let arm = client_for(&sim, fast_config()).await?;
    let name = "it-slow-1";
    deploy(&arm, name).await?;
    let run = arm.run_image_template(&template(name)).await?;
    arm.cancel_image_template(&template(name))
        .await?
        .wait()
        .await?;
    let res = run.wait().await;
    assert!(
        matches!(res, Err(Error::OperationFailed { ref status, .. }) if status == "Canceled"),
        "{res:?}"
    );
    let t = arm.get_image_template(&template(name)).await?;
    let state = t.properties.last_run_status.and_then(|s| s.run_state);
    assert_eq!(state.as_deref(), Some("Canceled"));
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn preflight_existence_and_platform_latest() -> TestResult {
    let sim = start_sim(
        r#"
missing = ["*/resourcegroups/rg-missing", "*/galleries/nogal*", "*/userAssignedIdentities/id-gone"]
"#,
    )
    .await?;
    let arm = client_for(&sim, fast_config()).await?;
    assert!(arm.resource_group_exists(&group()).await?);
    assert!(
        !arm.resource_group_exists(&group_named("rg-missing"))
            .await?
    );
    assert!(
        arm.gallery_exists(&aib_azure::ResourceId::gallery(&gallery_group(), "gal"))
            .await?
    );
    assert!(
        !arm.gallery_exists(&aib_azure::ResourceId::gallery(&gallery_group(), "nogal"))
            .await?
    );
    assert!(
        arm.image_definition_exists(&aib_azure::ResourceId::gallery_image(
            &gallery_group(),
            "gal",
            "ubuntu"
        ))
        .await?
    );
    assert!(arm.identity_exists(IDENTITY).await?);
    let gone = IDENTITY.replace("id-aib", "id-gone");
    assert!(!arm.identity_exists(&gone).await?);

    let (p, o, s) = ("Canonical", "ubuntu-24_04-lts", "server");
    let before = arm
        .resolve_platform_image_version(SUB, "eastus2", p, o, s, "latest")
        .await?;
    reqwest::Client::new()
        .post(format!("{}/_sim/publish", sim.base_url()))
        .json(&serde_json::json!({"image": format!("{p}:{o}:{s}"), "version": "1.10.0"}))
        .send()
        .await?
        .error_for_status()?;
    let versions = arm
        .list_platform_image_versions(SUB, "eastus2", p, o, s)
        .await?;
    assert!(versions.len() >= 2, "{versions:?}");
    let after = arm
        .resolve_platform_image_version(SUB, "eastus2", p, o, s, "latest")
        .await?;
    assert_eq!(after, "1.10.0", "before: {before}");
    assert_eq!(
        arm.resolve_platform_image_version(SUB, "eastus2", p, o, s, "1.0.0")
            .await?,
        "1.0.0"
    );
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn bad_token_is_an_auth_error() -> TestResult {
    let sim = start_sim("").await?;
    let endpoints = aib_azure::Endpoints::custom(&sim.base_url(), false)?;
    let cred = aib_azure::Credential::from_static_token("not-a-token", i64::MAX / 2);
    let arm =
        aib_azure::ArmClient::with_config(endpoints, std::sync::Arc::new(cred), fast_config())?;
    let err = arm.get_image_template(&template("x")).await;
    match err {
        Err(e @ Error::Auth { .. }) => {
            assert!(e.is_auth_or_config());
            assert_eq!(e.status(), Some(401));
            assert!(!e.to_string().contains("not-a-token"), "{e}");
        }
        other => return Err(format!("expected Auth error, got {other:?}").into()),
    }
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn failed_deployment_surfaces_nested_errors() -> TestResult {
    let sim = start_sim("minute_ms = 5").await?;
    let arm = client_for(&sim, fast_config()).await?;
    let mut template = deployment_template("it-baddeploy-1");
    if let Some(obj) = template
        .pointer_mut("/resources/0")
        .and_then(|r| r.as_object_mut())
    {
        obj.remove("identity");
    }
    let req = aib_azure::types::DeploymentRequest::incremental(template, serde_json::json!({}));
    let res = arm.deploy_and_wait(&deployment("dep-bad"), &req).await;
    match res {
        Err(Error::OperationFailed {
            status,
            code,
            message,
            ..
        }) => {
            assert_eq!(status, "Failed");
            assert_eq!(code.as_deref(), Some("DeploymentFailed"));
            assert!(message.contains("identity"), "{message}");
        }
        other => return Err(format!("expected a failed deployment, got {other:?}").into()),
    }
    let d = arm.get_deployment(&deployment("dep-bad")).await?;
    assert_eq!(d.properties.provisioning_state.as_deref(), Some("Failed"));
    let ops = arm
        .list_deployment_operations(&deployment("dep-bad"))
        .await?;
    assert!(
        ops.iter()
            .any(|o| o.properties.provisioning_state.as_deref() == Some("Failed")),
        "{ops:?}"
    );
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn client_side_rate_limit_keeps_arm_reads_from_running_out() -> TestResult {
    let sim = start_sim("").await?;
    let arm = client_for(&sim, fast_config()).await?;
    let url = arm.url(
        &format!("/subscriptions/{SUB}/resourcegroups/{RG}"),
        "2025-04-01",
    )?;
    let t0 = std::time::Instant::now();
    let mut min_remaining = u64::MAX;
    for _ in 0..300 {
        let r = arm.send(reqwest::Method::GET, url.clone(), None).await?;
        if let Some(n) = r
            .header("x-ms-ratelimit-remaining-subscription-reads")
            .and_then(|v| v.parse::<u64>().ok())
        {
            min_remaining = min_remaining.min(n);
        }
    }
    // 300 reads against a 250-token bucket refilling at 25/s: at least ~1.5 s of pacing, and
    // ARM's counter never reaches zero.
    assert!(
        t0.elapsed() >= std::time::Duration::from_millis(1500),
        "{:?}",
        t0.elapsed()
    );
    assert!(
        min_remaining >= 5 && min_remaining != u64::MAX,
        "{min_remaining}"
    );
    sim.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn deployment_records_are_listed_and_deleted_but_not_while_running() -> TestResult {
    let sim = start_sim("minute_ms = 20\ndeploy_minutes = 2").await?;
    let arm = client_for(&sim, fast_config()).await?;
    let req = aib_azure::types::DeploymentRequest::incremental(
        deployment_template("it-rec-1"),
        serde_json::json!({}),
    );
    let op = arm.put_deployment(&deployment("dep-rec"), &req).await?;
    // Running: ARM refuses to delete it.
    match arm.delete_deployment(&deployment("dep-rec")).await {
        Err(e) => assert_eq!(e.code(), Some("DeploymentActive"), "{e}"),
        Ok(_) => return Err("a running deployment was deleted".into()),
    }
    op.wait().await?;
    let listed: Vec<String> = arm
        .list_deployments(&group())
        .await?
        .into_iter()
        .filter_map(|d| d.name)
        .collect();
    assert_eq!(listed, vec!["dep-rec".to_string()]);

    // Finished: 202 and a Location that answers 204 once the record is gone.
    let del = arm.delete_deployment(&deployment("dep-rec")).await?;
    assert!(del.handle().is_some(), "no operation to follow");
    del.wait().await?;
    assert!(arm.list_deployments(&group()).await?.is_empty());
    // The template it deployed stays.
    assert!(arm.get_image_template(&template("it-rec-1")).await.is_ok());
    // Deleting a record that is not there is not an error (204).
    let again = arm.delete_deployment(&deployment("dep-rec")).await?;
    assert!(again.handle().is_none());
    Ok(())
}
