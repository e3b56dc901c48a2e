use crate::common::*;
use reqwest::Method;

#[tokio::test]
async fn api_version_rules() {
    let t = start("minute_ms = 1").await;
    let p = rg_path("rg1");
    let r = t.raw(Method::GET, &p, None, true).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "MissingApiVersionParameter");
    // Microsoft.Resources refuses what it does not serve with InvalidApiVersionParameter and
    // lists what it does.
    for bad in [
        "2019-12-31",
        "garbage",
        "2024-13-01",
        "2024-1-01",
        "2024-01-01-beta",
        "2099-01-01",
    ] {
        let r = t.get(&format!("{p}?api-version={bad}"), "").await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.code(), "InvalidApiVersionParameter", "{bad}");
    }
    let r = t.get(&format!("{p}?api-version=2099-01-01"), "").await;
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2025-04-01")
    );
    for good in ["2021-04-01", "2025-04-01", "2026-09-01"] {
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

#[tokio::test]
async fn resource_providers_refuse_versions_they_do_not_serve() {
    let t = start("minute_ms = 1").await;
    let tp = it_path("rg1", "tpl");
    for bad in [
        "2099-01-01",
        "2019-02-01-preview",
        "2018-02-01-preview",
        "2025-04-01",
    ] {
        let r = t.get(&tp, bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(r.code(), "NoRegisteredProviderFound", "{bad}");
        let m = r.body["error"]["message"].as_str().unwrap();
        assert!(m.contains(bad) && m.contains("2025-10-01"), "{m}");
    }
    // Served versions reach the resource (404: it does not exist).
    for good in [
        "2019-05-01-preview",
        "2020-02-14",
        "2022-07-01",
        "2025-10-01",
    ] {
        assert_eq!(t.get(&tp, good).await.status, 404, "{good}");
    }
    let gal = format!(
        "{}/providers/Microsoft.Compute/galleries/g/images/i/versions",
        rg_path("rg1")
    );
    assert_eq!(
        t.get(&gal, "2099-01-01").await.code(),
        "NoRegisteredProviderFound"
    );
    assert_eq!(t.get(&gal, API_GAL).await.status, 200);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_clock_is_served_without_auth() {
    let t = start("minute_ms = 37").await;
    let r = t.raw(Method::GET, "/_sim/clock", None, false).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, serde_json::json!({"minute_ms": 37}));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn names_that_hide_another_path_are_refused() {
    let t = start("minute_ms = 1").await;
    let base = format!(
        "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.VirtualMachineImages/imageTemplates"
    );
    for name in ["a%2Fb", "a%00b", "a%3Cb", "a%25b", "a%3Ab", "a%5Cb"] {
        let r = t.get(&format!("{base}/{name}"), API_AIB).await;
        assert_eq!(r.status, 400, "{name}: {}", r.text);
        assert_eq!(r.code(), "InvalidResourceName", "{name}");
    }
    // URL parsers turn `%2E%2E` into `..` and drop it, so send the bytes as they are.
    for rg in ["%2E%2E", "%2e.", "."] {
        let path = format!(
            "/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.VirtualMachineImages/imageTemplates?api-version={API_AIB}"
        );
        let (status, body) = raw_get(&t, &path).await;
        assert_eq!(status, 400, "{rg}: {body}");
        assert!(body.contains("InvalidResourceName"), "{body}");
    }
    t.sim.shutdown().await;
}

/// A GET sent byte for byte (no URL normalisation): status and body.
async fn raw_get(t: &T, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(t.sim.addr()).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        t.sim.addr(),
        t.token
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}
