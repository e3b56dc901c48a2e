use crate::common::*;
use reqwest::Method;

#[tokio::test]
async fn api_version_rules() {
    let t = start("minute_ms = 1").await;
    let p = rg_path("rg1");
    let r = t.raw(Method::GET, &p, None, true).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "MissingApiVersionParameter");
    for bad in [
        "2019-12-31",
        "garbage",
        "2024-13-01",
        "2024-1-01",
        "2024-01-01-beta",
    ] {
        let r = t.get(&format!("{p}?api-version={bad}"), "").await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.code(), "InvalidApiVersionParameter", "{bad}");
    }
    for good in [
        "2020-01-01",
        "2021-04-01",
        "2024-05-01-preview",
        "2099-01-01",
    ] {
        let r = t.get(&p, good).await;
        assert_eq!(r.status, 200, "{good}: {}", r.text);
        assert!(r.header("x-ms-request-id").is_some());
        assert!(r.header("x-ms-correlation-request-id").is_some());
        assert!(
            r.header("x-ms-ratelimit-remaining-subscription-reads")
                .is_some()
        );
    }
    // client request id echoed
    let r = t
        .http
        .get(format!("{}{}?api-version=2021-04-01", t.base, p))
        .bearer_auth(&t.token)
        .header("x-ms-client-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-ms-client-request-id"], "abc-123");
    t.sim.shutdown().await;
}
