//! aib-azure against hostile peers (a real TCP server that redirects, never answers, or sends
//! endless bodies): every case is bounded, says what happened, and sends nothing it should not.

use crate::common::TestResult;
use aib_azure::arm::ArmConfig;
use aib_azure::transport::TransportOptions;
use aib_azure::{ArmClient, Credential, Endpoints, RetryPolicy};
use aib_testkit::hostile::{Answer, HostilePeer};
use std::sync::Arc;
use std::time::Duration;

fn client(endpoint: &str, config: ArmConfig) -> TestResult<ArmClient> {
    let cred = Credential::from_static_token("static-test-token", i64::MAX / 2);
    let endpoints = Endpoints::custom(endpoint, false)?;
    Ok(ArmClient::with_config(endpoints, Arc::new(cred), config)?)
}

fn quick() -> ArmConfig {
    ArmConfig {
        retry: RetryPolicy {
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            budget: Duration::from_secs(20),
            silent_budget: Duration::from_millis(300),
            ..RetryPolicy::default()
        },
        lro_default_interval: Duration::from_millis(20),
        transport: TransportOptions {
            connect_timeout: Duration::from_millis(500),
            first_byte_timeout: Duration::from_millis(200),
            max_body: 1 << 20,
            ..TransportOptions::default()
        },
        ..ArmConfig::default()
    }
}

const DEPLOYMENT: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/Microsoft.Resources/deployments/d1";

/// Attack: ARM (or a proxy in front of it) answers the deployment PUT with a 307 to another
/// origin. reqwest followed it and re-sent the body (resolved secrets included) there; now no
/// redirect is followed, the other origin gets nothing, and the error names where it pointed.
#[tokio::test]
async fn an_arm_redirect_is_an_error_naming_its_target_and_nothing_follows_it() -> TestResult {
    let thief = HostilePeer::start(|_| Answer::json(200, "{}"))?;
    let target = format!("{}/steal?x=1", thief.url());
    for status in [301, 302, 303, 307, 308] {
        let t = target.clone();
        let arm = HostilePeer::start(move |_| Answer::redirect(status, &t))?;
        let c = client(&arm.url(), quick())?;
        let body =
            serde_json::json!({"properties": {"parameters": {"p": {"value": "Planted-Secret"}}}});
        let url = c.url(DEPLOYMENT, "2025-04-01")?;
        let err = c
            .send(reqwest::Method::PUT, url, Some(&body))
            .await
            .err()
            .ok_or("a redirect is an error")?;
        let shown = err.to_string();
        assert!(shown.contains(&format!("HTTP {status}")), "{shown}");
        assert!(shown.contains(&target), "names the target: {shown}");
        assert_eq!(arm.requests().len(), 1, "not retried ({status})");
    }
    assert!(thief.requests().is_empty(), "{:?}", thief.requests());
    Ok(())
}

/// Attack: a status URL that answers 400 for ever. The poll used to retry it for the whole
/// ten-minute budget in silence; a deterministic 4xx now ends the wait at once.
#[tokio::test]
async fn a_400_from_an_operation_status_url_is_not_retried() -> TestResult {
    let peer = HostilePeer::start(|req| {
        if req.method == "PUT" {
            Answer::Respond {
                status: 201,
                headers: vec![(
                    "azure-asyncoperation".into(),
                    "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Resources/operations/op1?api-version=2025-04-01".into(),
                )],
                body: b"{}".to_vec(),
            }
        } else {
            Answer::json(
                400,
                r#"{"error":{"code":"InvalidOperationId","message":"bad id"}}"#,
            )
        }
    })?;
    let c = client(&peer.url(), quick())?;
    let body = aib_azure::types::DeploymentRequest::incremental(
        serde_json::json!({"resources": []}),
        serde_json::json!({}),
    );
    let op = c
        .put_deployment(
            &aib_azure::ResourceId::deployment(
                &aib_azure::ResourceGroupId::new("00000000-0000-0000-0000-000000000001", "rg"),
                "d1",
            ),
            &body,
        )
        .await?;
    let err = op.wait().await.err().ok_or("the 400 ends the wait")?;
    assert_eq!(err.status(), Some(400), "{err}");
    let gets = peer.requests().iter().filter(|r| r.method == "GET").count();
    assert_eq!(gets, 1, "one read of the status URL, no retries");
    Ok(())
}

/// Attack: an ARM endpoint that accepts connections and never answers. It used to cost the
/// whole retry budget (ten minutes) in silence; now no attempt starts after the silent budget
/// and the error names the endpoint.
#[tokio::test]
async fn a_silent_endpoint_fails_soon_naming_itself() -> TestResult {
    let peer = HostilePeer::start(|_| Answer::Silent)?;
    let c = client(&peer.url(), quick())?;
    let url = c.url(
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg",
        "2025-04-01",
    )?;
    let err = tokio::time::timeout(
        Duration::from_secs(60),
        c.send(reqwest::Method::GET, url, None),
    )
    .await?
    .err()
    .ok_or("a silent endpoint is an error")?;
    let shown = err.to_string();
    assert!(shown.contains(&peer.url()), "names the endpoint: {shown}");
    assert!(shown.contains("does not answer"), "{shown}");
    assert!(shown.contains("first-byte timeout"), "{shown}");
    assert!(!peer.requests().is_empty());
    Ok(())
}

/// Attack: a 2 GB answer. The body was read whole (and copied), taking 4 GB; now a body over
/// the cap is refused, announced or not, after reading at most the cap, and not retried.
#[tokio::test]
async fn a_body_over_the_cap_is_refused() -> TestResult {
    for announce in [true, false] {
        let peer = HostilePeer::start(move |_| Answer::Huge {
            len: 2 << 30,
            announce,
        })?;
        let c = client(&peer.url(), quick())?;
        let url = c.url(
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg",
            "2025-04-01",
        )?;
        let err = tokio::time::timeout(
            Duration::from_secs(60),
            c.send(reqwest::Method::GET, url, None),
        )
        .await?
        .err()
        .ok_or("refused")?;
        let shown = err.to_string();
        assert!(shown.contains("over the 1 MiB aib reads"), "{shown}");
        assert_eq!(peer.requests().len(), 1, "not retried");
    }
    Ok(())
}

/// A Retry-After beyond the retry budget ends the request at once, saying so.
#[tokio::test]
async fn a_retry_after_beyond_the_budget_fails_at_once() -> TestResult {
    let peer = HostilePeer::start(|_| Answer::Respond {
        status: 429,
        headers: vec![("retry-after".into(), "3600".into())],
        body: br#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#.to_vec(),
    })?;
    let c = client(&peer.url(), quick())?;
    let url = c.url(
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg",
        "2025-04-01",
    )?;
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        c.send(reqwest::Method::GET, url, None),
    )
    .await?
    .err()
    .ok_or("refused")?;
    let shown = err.to_string();
    assert!(shown.contains("asked to wait 1 h"), "{shown}");
    assert!(shown.contains("TooManyRequests"), "{shown}");
    assert_eq!(err.status(), Some(429), "the answer's status is kept");
    assert_eq!(peer.requests().len(), 1);
    Ok(())
}
