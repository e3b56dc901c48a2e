//! TLS on the simulator's port, the CI OIDC endpoints and Entra's exchange of their assertions.

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use std::collections::HashMap;

fn https_client(ca_pem: &str) -> reqwest::Client {
    let certs = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_merge(certs)
        .build()
        .unwrap()
}

async fn ci_job(t: &T) -> HashMap<String, String> {
    let r = t
        .http
        .post(format!("{}/_sim/ci-job", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

fn claims(jwt: &str) -> Value {
    let body = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap()
}

/// Entra's client-credentials exchange of `assertion`: status and body.
async fn exchange(c: &reqwest::Client, https: &str, assertion: &str) -> (u16, Value) {
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", "00000000-0000-0000-0000-0000000000c1")
        .append_pair("grant_type", "client_credentials")
        .append_pair("scope", "https://management.azure.com/.default")
        .append_pair(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )
        .append_pair("client_assertion", assertion)
        .finish();
    let r = c
        .post(format!(
            "{https}/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token"
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

fn assert_entra_error(body: &Value, error: &str, code: u64) {
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"][0], code, "{body}");
    let desc = body["error_description"].as_str().unwrap_or_default();
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    for part in ["Trace ID: ", "Correlation ID: ", "Timestamp: "] {
        assert!(desc.contains(part), "{desc}");
    }
    assert_eq!(
        body["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
}

#[tokio::test]
async fn one_port_speaks_plain_http_and_tls_trusted_only_with_its_ca() {
    let t = start("minute_ms = 1").await;
    let https = t.sim.https_base_url();
    assert_eq!(
        https,
        t.base.replacen("http://", "https://", 1),
        "same host and port"
    );
    // A client that connects and says nothing does not hold up the others.
    let silent = tokio::net::TcpStream::connect(t.sim.addr()).await.unwrap();
    let c = https_client(t.sim.ca_pem());
    let r = c.get(format!("{https}/_sim/stats")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = t
        .http
        .get(format!("{}/_sim/stats", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // ARM over TLS with a token from the TLS side.
    let token = get_token(&c, &https).await;
    let r = c
        .get(format!("{https}{}", with_api(&rg_path("rg1"), API_RES)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Without the CA the certificate is refused.
    let untrusting = reqwest::Client::new();
    let err = untrusting
        .get(format!("{https}/_sim/stats"))
        .send()
        .await
        .err()
        .map(|e| format!("{e:?}"))
        .unwrap_or_default();
    assert!(
        err.to_ascii_lowercase().contains("certificate"),
        "not refused for its certificate: {err}"
    );
    // Another simulator's CA does not vouch for this one.
    let other = start("minute_ms = 1").await;
    let wrong = https_client(other.sim.ca_pem());
    assert!(
        wrong
            .get(format!("{https}/_sim/stats"))
            .send()
            .await
            .is_err()
    );
    drop(silent);
}

#[tokio::test]
async fn github_actions_id_tokens_are_exchanged_until_they_expire() {
    let t = start("minute_ms = 1\nassertion_lifetime_seconds = 1").await;
    let https = t.sim.https_base_url();
    let c = https_client(t.sim.ca_pem());
    let job = ci_job(&t).await;
    let url = &job["ACTIONS_ID_TOKEN_REQUEST_URL"];
    assert!(url.starts_with(&https), "{url}");
    assert!(url.ends_with("/idtoken?api-version=2.0"), "{url}");
    let id_token = |bearer: Option<String>, audience: Option<&str>| {
        let mut u = url.clone();
        if let Some(a) = audience {
            u.push_str(&format!("&audience={}", urlencode(a)));
        }
        let mut req = c
            .get(u)
            .header("accept", "application/json; api-version=2.0");
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        async move {
            let r = req.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or_default(),
            )
        }
    };
    // The job token is required.
    assert_eq!(id_token(None, None).await.0, 401);
    assert_eq!(id_token(Some("simjob.forged".into()), None).await.0, 401);
    let bearer = job["ACTIONS_ID_TOKEN_REQUEST_TOKEN"].clone();
    let (code, v) = id_token(Some(bearer.clone()), Some("api://AzureADTokenExchange")).await;
    assert_eq!(code, 200, "{v}");
    let jwt = v["value"].as_str().unwrap().to_string();
    assert_eq!(v["count"].as_u64(), Some(jwt.len() as u64));
    let cl = claims(&jwt);
    assert_eq!(cl["iss"], "https://token.actions.githubusercontent.com");
    assert_eq!(cl["aud"], "api://AzureADTokenExchange");
    assert_eq!(cl["sub"], "repo:aib-sim/fleet:ref:refs/heads/main");
    assert_eq!(cl["exp"].as_i64().unwrap() - cl["iat"].as_i64().unwrap(), 1);

    // Entra exchanges it for an access token ARM accepts.
    let (code, v) = exchange(&c, &https, &jwt).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    let r = t
        .http
        .get(format!("{}{}", t.base, with_api(&rg_path("rg1"), API_RES)))
        .bearer_auth(v["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // GitHub's default audience (the owner's URL) matches no federated credential.
    let (_, v) = id_token(Some(bearer.clone()), None).await;
    let (code, body) = exchange(&c, &https, v["value"].as_str().unwrap()).await;
    assert_eq!(code, 400, "{body}");
    assert_entra_error(&body, "invalid_request", 70021);
    let desc = body["error_description"].as_str().unwrap_or_default();
    assert!(
        desc.contains("Assertion Issuer: 'https://token.actions.githubusercontent.com'. Assertion Subject: 'repo:aib-sim/fleet:ref:refs/heads/main'. Assertion Audience: 'https://github.com/aib-sim'."),
        "{desc}"
    );
    // One another simulator issued, and one that is not a JWT.
    let other = start("minute_ms = 1").await;
    let other_job = ci_job(&other).await;
    let oc = https_client(other.sim.ca_pem());
    let foreign: Value = oc
        .get(format!(
            "{}&audience=api://AzureADTokenExchange",
            other_job["ACTIONS_ID_TOKEN_REQUEST_URL"]
        ))
        .bearer_auth(&other_job["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (code, body) = exchange(&c, &https, foreign["value"].as_str().unwrap()).await;
    assert_eq!(code, 400, "{body}");
    assert_entra_error(&body, "invalid_request", 70021);
    let (code, body) = exchange(&c, &https, "not-a-jwt").await;
    assert_eq!(code, 400, "{body}");
    assert_entra_error(&body, "invalid_request", 50027);

    // Once it expired, the same assertion is refused: Entra's AADSTS700024.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (code, body) = exchange(&c, &https, &jwt).await;
    assert_eq!(code, 401, "{body}");
    assert_entra_error(&body, "invalid_client", 700024);
    let desc = body["error_description"].as_str().unwrap_or_default();
    assert!(
        desc.contains("Client assertion is not within its valid time range. Current time: "),
        "{desc}"
    );
    assert!(desc.contains(", assertion valid from "), "{desc}");
    assert!(desc.contains(", expiry time of assertion "), "{desc}");
    // A fresh one from the same job works again.
    let (_, v) = id_token(Some(bearer), Some("api://AzureADTokenExchange")).await;
    let (code, _) = exchange(&c, &https, v["value"].as_str().unwrap()).await;
    assert_eq!(code, 200);
    let st: Value = t
        .http
        .get(format!("{}/_sim/stats", t.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["requests"]["token.actions"], 5, "{st}");
    assert_eq!(st["requests"]["token.aad"], 6, "{st}");
}

#[tokio::test]
async fn azure_pipelines_oidc_tokens_for_a_service_connection() {
    let t = start("minute_ms = 1").await;
    let https = t.sim.https_base_url();
    let c = https_client(t.sim.ca_pem());
    let job = ci_job(&t).await;
    let uri = &job["SYSTEM_OIDCREQUESTURI"];
    assert!(
        uri.starts_with(&https) && uri.ends_with("/oidctoken"),
        "{uri}"
    );
    let post = |query: &str, bearer: &str| {
        let req = c
            .post(format!("{uri}?{query}"))
            .bearer_auth(bearer)
            .header("content-length", "0");
        async move {
            let r = req.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or_default(),
            )
        }
    };
    let bearer = job["SYSTEM_ACCESSTOKEN"].clone();
    assert_eq!(
        post("api-version=7.1&serviceConnectionId=sc1", "nope")
            .await
            .0,
        401
    );
    assert_eq!(post("api-version=7.1", &bearer).await.0, 400);
    let (code, v) = post("api-version=7.1&serviceConnectionId=sc1", &bearer).await;
    assert_eq!(code, 200, "{v}");
    let jwt = v["oidcToken"].as_str().unwrap();
    let cl = claims(jwt);
    assert_eq!(cl["aud"], "api://AzureADTokenExchange");
    assert_eq!(cl["sub"], "sc://aib-sim/fleet/sc1");
    let (code, v) = exchange(&c, &https, jwt).await;
    assert_eq!(code, 200, "{v}");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
