use crate::common::*;
use reqwest::Method;

#[tokio::test]
async fn token_endpoint_shape_and_401s() {
    let t = start("minute_ms = 1\ntoken_lifetime_seconds = 1").await;
    // token shape
    let r = t
        .http
        .get(format!("{}/msi/token?api-version=2019-08-01&resource=https://management.azure.com&client_id=abc", t.base))
        .header("X-IDENTITY-HEADER", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    for k in [
        "access_token",
        "expires_on",
        "resource",
        "token_type",
        "client_id",
    ] {
        assert!(v[k].is_string(), "{k} missing in {v}");
    }
    assert!(v["expires_on"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["client_id"], "abc");
    // no identity header
    let r = t
        .http
        .get(format!(
            "{}/msi/token?resource=x&api-version=2019-08-01",
            t.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // scope form accepted
    let r = t
        .http
        .get(format!(
            "{}/msi/token?scope=https://management.azure.com/.default",
            t.base
        ))
        .header("X-IDENTITY-HEADER", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let path = with_api(&rg_path("rg1"), API_RES);
    let r = t.raw(Method::GET, &path, None, false).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "AuthenticationFailed");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    let r = t
        .http
        .get(format!("{}{}", t.base, path))
        .bearer_auth("bogus")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "InvalidAuthenticationToken");
    // valid token works, then expires
    let mut t = t;
    t.token = get_token(&t.http, &t.base).await;
    let r = t.get(&rg_path("rg1"), API_RES).await;
    assert_eq!(r.status, 200, "{}", r.text);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = t.get(&rg_path("rg1"), API_RES).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.code(), "InvalidAuthenticationToken");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    // /_sim needs no auth
    let r = t.raw(Method::GET, "/_sim/stats", None, false).await;
    assert_eq!(r.status, 200);
    assert!(r.body["requests"]["token"].as_u64().unwrap() >= 3);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn imds_and_aad_token_endpoints() {
    let t = start("minute_ms = 1").await;
    let r = t
        .http
        .get(format!("{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com", t.base))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let imds_token = v["access_token"].as_str().unwrap().to_string();
    let r = t
        .http
        .get(format!(
            "{}/metadata/identity/oauth2/token?resource=x",
            t.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = t
        .http
        .post(format!("{}/tenant-1/oauth2/v2.0/token", t.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=app&client_secret=s3cret&scope=https%3A%2F%2Fmanagement.azure.com%2F.default")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert!(v["expires_in"].is_u64());
    let aad_token = v["access_token"].as_str().unwrap().to_string();
    let r = t
        .http
        .post(format!("{}/tenant-1/oauth2/v2.0/token", t.base))
        .body("client_id=app")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    for tok in [imds_token, aad_token] {
        let r = t
            .http
            .get(format!("{}{}", t.base, with_api(&rg_path("rg"), API_RES)))
            .bearer_auth(tok)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let s = t.stats().await;
    assert_eq!(s["requests"]["token.imds"], 2);
    assert_eq!(s["requests"]["token.aad"], 2);
    t.sim.shutdown().await;
}
