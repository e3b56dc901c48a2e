//! `[limits]`: ARM's subscription token buckets, reported always, enforced on request.

use crate::common::*;
use serde_json::json;

fn remaining(r: &Resp, kind: &str) -> u64 {
    r.header(&format!("x-ms-ratelimit-remaining-subscription-{kind}"))
        .unwrap_or_else(|| panic!("no {kind} header: {:?}", r.headers))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn empty_bucket_answers_429_with_retry_after_until_it_refills() {
    // 3 reads burst, 1 per second: the 4th read in a row is throttled.
    let t = start(
        "minute_ms = 1\n[limits]\nenforce = true\nread_burst = 3\nread_per_sec = 1\nwrite_burst = 2\nwrite_per_sec = 1",
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let r = t.get(&rg_path("x"), API_RES).await;
        assert_eq!(r.status, 200, "{}", r.text);
        seen.push(remaining(&r, "reads"));
    }
    assert_eq!(seen, [2, 1, 0]);
    let r = t.get(&rg_path("x"), API_RES).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.code(), "SubscriptionRequestsThrottled");
    assert_eq!(remaining(&r, "reads"), 0);
    let retry_ms: u64 = r.header("retry-after-ms").unwrap().parse().unwrap();
    assert!(retry_ms > 0 && retry_ms <= 1000, "{retry_ms}");
    assert_eq!(r.header("Retry-After").as_deref(), Some("1"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'read'")
    );
    // Writes have their own bucket; a throttled request had no effect.
    let w = t
        .put(
            &format!(
                "{}/providers/Microsoft.Resources/deployments/d",
                rg_path("x")
            ),
            API_RES,
            &json!({"properties": {"mode": "Incremental", "template": {"resources": []}}}),
        )
        .await;
    assert!(w.status.is_success(), "{}", w.text);
    assert_eq!(remaining(&w, "writes"), 1);
    // Deletes are counted separately too.
    let d = t
        .delete(
            &format!(
                "{}/providers/Microsoft.Resources/deployments/d",
                rg_path("x")
            ),
            API_RES,
        )
        .await;
    assert_eq!(remaining(&d, "deletes"), 199);
    // After the hinted wait the bucket has a token again.
    tokio::time::sleep(std::time::Duration::from_millis(retry_ms + 20)).await;
    let r = t.get(&rg_path("x"), API_RES).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let s = t.stats().await;
    assert_eq!(s["ratelimited"], 1, "{s}");
    assert_eq!(s["faults"]["throttle"], 0, "{s}");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn buckets_are_per_principal() {
    let t =
        start("minute_ms = 1\n[limits]\nenforce = true\nread_burst = 1\nread_per_sec = 0.5").await;
    assert_eq!(t.get(&rg_path("x"), API_RES).await.status, 200);
    assert_eq!(t.get(&rg_path("x"), API_RES).await.status, 429);
    // Another managed identity (client_id) has a bucket of its own.
    let r = t
        .http
        .get(format!(
            "{}/msi/token?api-version=2019-08-01&resource=https://management.azure.com&client_id=other",
            t.base
        ))
        .header("X-IDENTITY-HEADER", "secret")
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    let other = v["access_token"].as_str().unwrap();
    let r = t
        .http
        .get(format!("{}{}?api-version={API_RES}", t.base, rg_path("x")))
        .bearer_auth(other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn not_enforced_by_default() {
    let t = start("minute_ms = 1\n[limits]\nread_burst = 2").await;
    for _ in 0..5 {
        let r = t.get(&rg_path("x"), API_RES).await;
        assert_eq!(r.status, 200);
    }
    let r = t.get(&rg_path("x"), API_RES).await;
    assert_eq!(remaining(&r, "reads"), 0);
    assert_eq!(t.stats().await["ratelimited"], 0);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn token_endpoint_faults_are_opt_in() {
    // An outage for the whole test: without `token = true` only ARM is affected.
    let t = start("minute_ms = 1\n[faults]\noutage = [{start_ms = 0, duration_ms = 60000}]").await;
    let r = t.get(&rg_path("x"), API_RES).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.header("retry-after-ms").is_some());
    t.sim.shutdown().await;

    let sc = aib_sim::Scenario::from_toml_str(
        "minute_ms = 1\n[faults]\ntoken = true\noutage = [{start_ms = 0, duration_ms = 60000}]",
    )
    .unwrap();
    let sim = aib_sim::start("127.0.0.1:0".parse().unwrap(), sc)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    for path in [
        "/msi/token?api-version=2019-08-01&resource=https://management.azure.com",
        "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com",
    ] {
        let r = http
            .get(format!("{}{path}", sim.base_url()))
            .header("X-IDENTITY-HEADER", "secret")
            .header("Metadata", "true")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "{path}");
    }
    let s: serde_json::Value = http
        .get(format!("{}/_sim/stats", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["faults"]["server_error"], 2, "{s}");
    sim.shutdown().await;
}
