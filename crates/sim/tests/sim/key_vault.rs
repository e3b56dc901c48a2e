//! The Key Vault secrets endpoint: 200 with Key Vault's shape, 404 SecretNotFound, 401 without
//! a valid bearer token, 400 without an api-version; counted as `keyVault.secrets.get`.

use crate::common::*;
use reqwest::Method;

const SCENARIO: &str = "[key_vault]\n\"kv-aib/admin\" = \"Sim-KV-Value-1\"\n";

#[tokio::test]
async fn secret_found_by_name_and_version() {
    let t = start(SCENARIO).await;
    // A token asked for the vault resource, as the executor asks for it.
    let r = t
        .http
        .get(format!(
            "{}/msi/token?api-version=2019-08-01&resource=https://vault.azure.net",
            t.base
        ))
        .header("X-IDENTITY-HEADER", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let vault_token = v["access_token"].as_str().unwrap().to_string();
    let r = t
        .http
        .get(format!(
            "{}/keyvault/KV-aib/secrets/Admin?api-version=7.4",
            t.base
        ))
        .bearer_auth(&vault_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["value"], "Sim-KV-Value-1");
    assert_eq!(body["attributes"]["enabled"], true);
    let id = body["id"].as_str().unwrap();
    let version = id
        .strip_prefix("https://kv-aib.vault.azure.net/secrets/admin/")
        .unwrap_or_else(|| panic!("id {id}"));
    assert_eq!(version.len(), 32, "{id}");

    // The same secret by its version; another version is not found.
    let r = t
        .get(&format!("/keyvault/kv-aib/secrets/admin/{version}"), "7.4")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], id);
    let r = t
        .get(
            "/keyvault/kv-aib/secrets/admin/00000000000000000000000000000000",
            "7.4",
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.code(), "SecretNotFound");

    let stats = t.stats().await;
    assert_eq!(stats["requests"]["keyVault.secrets.get"], 3, "{stats}");
}

#[tokio::test]
async fn missing_secret_is_404_secret_not_found() {
    let t = start(SCENARIO).await;
    for path in [
        "/keyvault/kv-aib/secrets/nope",
        "/keyvault/kv-other/secrets/admin",
    ] {
        let r = t.get(path, "7.4").await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
        assert_eq!(r.code(), "SecretNotFound");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("A secret with (name/id) ")
                && message.contains("was not found in this key vault"),
            "{message}"
        );
        assert!(!r.text.contains("Sim-KV-Value-1"));
    }
}

#[tokio::test]
async fn no_or_bad_token_is_401_and_api_version_is_required() {
    let t = start(SCENARIO).await;
    let path = "/keyvault/kv-aib/secrets/admin?api-version=7.4";
    let r = t.raw(Method::GET, path, None, false).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.code(), "Unauthorized");
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("resource=\"https://vault.azure.net\"")
    );
    assert!(!r.text.contains("Sim-KV-Value-1"));
    let r = t
        .http
        .get(format!("{}{path}", t.base))
        .bearer_auth("sim.0000forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(!r.text().await.unwrap().contains("Sim-KV-Value-1"));

    let r = t
        .raw(Method::GET, "/keyvault/kv-aib/secrets/admin", None, true)
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code(), "BadParameter");
    let r = t.get("/keyvault/kv-aib/secrets/admin", "bogus").await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[tokio::test]
async fn invalid_key_vault_keys_are_refused() {
    for bad in ["\"no-slash\" = \"v\"", "\"kv/a_b\" = \"v\""] {
        let r = aib_sim::Scenario::from_toml_str(&format!("[key_vault]\n{bad}\n"));
        assert!(r.is_err(), "{bad}");
    }
}
