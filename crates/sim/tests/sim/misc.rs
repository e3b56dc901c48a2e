use crate::common::*;
use aib_sim::Scenario;
use reqwest::Method;
use serde_json::json;

#[test]
fn scenario_defaults_and_errors() {
    let d = Scenario::default();
    assert_eq!(d.minute_ms, 20);
    assert_eq!(d.build_minutes, 45.0);
    assert_eq!(d.deploy_minutes, 1.0);
    assert_eq!(d.delete_minutes, 1.0);
    assert_eq!(Scenario::from_toml_str("").unwrap(), d);
    let full = r#"
minute_ms = 20
build_minutes = 45
deploy_minutes = 1
delete_minutes = 1
missing = ["*/resourceGroups/x"]
[[outcome]]
template = "*ubuntu*"
result = "fail"
failed_customizer = "harden"
[faults]
throttle = 0.05
server_error = 0.02
reset = 0.01
latency_ms = 5
seed = 1
"#;
    let s = Scenario::from_toml_str(full).unwrap();
    assert_eq!(s.outcome[0].failed_customizer.as_deref(), Some("harden"));
    assert!(Scenario::from_toml_str("minute_ms = 5\nbogus = 1").is_err());
    assert!(
        Scenario::from_toml_str("[[outcome]]\ntemplate = \"*\"\nresult = \"explode\"").is_err()
    );
    assert!(Scenario::from_toml_str("[faults]\nthrottle = 2.0").is_err());
    assert!(Scenario::from_toml_str("minute_ms = 0").is_err());
    assert!(Scenario::load(std::path::Path::new("/nonexistent/scenario.toml")).is_err());
}

#[tokio::test]
async fn platform_image_versions_and_publish() {
    let t = start("minute_ms = 1").await;
    let p = format!(
        "/subscriptions/{SUB}/providers/Microsoft.Compute/locations/eastus2/publishers/Canonical/artifacttypes/vmimage/offers/ubuntu-24_04-lts/skus/server/versions"
    );
    let r = t.get(&p, "2024-07-01").await;
    assert_eq!(r.status, 200);
    let a = r.body.as_array().unwrap();
    assert_eq!(a.len(), 1);
    for k in ["location", "name", "id"] {
        assert!(a[0][k].is_string());
    }
    let r = t
        .raw(
            Method::POST,
            "/_sim/publish",
            Some(&json!({"image": "Canonical:ubuntu-24_04-lts:server", "version": "1.10.0"})),
            false,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = t
        .raw(
            Method::POST,
            "/_sim/publish",
            Some(&json!({"image": "bad", "version": "1"})),
            false,
        )
        .await;
    assert_eq!(r.status, 400);
    let r = t.get(&p, "2024-07-01").await;
    let names: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["1.0.0", "1.10.0"]);
    // other skus unaffected
    let r = t
        .get(&p.replace("/skus/server/", "/skus/other/"), "2024-07-01")
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(t.stats().await["requests"]["platformImageVersions.list"], 3);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn ratelimit_headers_decrease() {
    let t = start("minute_ms = 1").await;
    let a = t
        .get(&rg_path("x"), API_RES)
        .await
        .header("x-ms-ratelimit-remaining-subscription-reads")
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let b = t
        .get(&rg_path("x"), API_RES)
        .await
        .header("x-ms-ratelimit-remaining-subscription-reads")
        .unwrap()
        .parse::<u64>()
        .unwrap();
    assert!(b <= a && a <= 249, "{a} {b}");
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
    assert!(
        w.header("x-ms-ratelimit-remaining-subscription-writes")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            <= 199
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn account_sas_and_patch() {
    let t = start("minute_ms = 1\nbuild_minutes = 5\ncreate_minutes = 0\n[[outcome]]\ntemplate = \"*\"\nresult = \"fail\"\n").await;
    let body = template_body(
        json!([shell("a")]),
        sig_distribute("rg", "g", "i", None, &["eastus2"]),
    );
    let tp = it_path("rg", "p1");
    assert_eq!(t.put(&tp, API_AIB, &body).await.status, 201);
    // PATCH tags while idle
    let r = t
        .raw(
            Method::PATCH,
            &with_api(&tp, API_AIB),
            Some(&json!({"tags": {"k": "v"}})),
            true,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["tags"], json!({"k": "v"}));
    let r = t
        .raw(
            Method::PATCH,
            &with_api(&tp, API_AIB),
            Some(&json!({"properties": {"source": {}}})),
            true,
        )
        .await;
    assert_eq!(r.status, 400);
    t.post(&format!("{tp}/run"), API_AIB).await;
    let b = t.wait_run_done("rg", "p1").await;
    let staging = b["properties"]["exactStagingResourceGroup"]
        .as_str()
        .unwrap();
    let acct = t
        .get(
            &format!("{staging}/providers/Microsoft.Storage/storageAccounts"),
            "2023-05-01",
        )
        .await
        .body["value"][0]
        .clone();
    let account = acct["name"].as_str().unwrap().to_string();
    let endpoint = acct["properties"]["primaryEndpoints"]["blob"]
        .as_str()
        .unwrap()
        .to_string();
    let key = aib_sim::arm::storage::account_key(&account, 1);
    // account SAS (sv 2020-12-06 string-to-sign includes ses)
    let se = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let sts = format!("{account}\nrl\nb\nsco\n\n{se}\n\nhttps,http\n2020-12-06\n\n");
    use base64::Engine;
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(&key)
            .unwrap(),
    )
    .unwrap();
    mac.update(sts.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let q = format!(
        "sv=2020-12-06&ss=b&srt=sco&sp=rl&se={}&spr=https,http&sig={}",
        enc(&se),
        enc(&sig)
    );
    let r = t
        .http
        .get(format!(
            "{endpoint}packerlogs?restype=container&comp=list&{q}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = t
        .http
        .get(format!(
            "{endpoint}nocontainer?restype=container&comp=list&{q}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-ms-error-code"], "ContainerNotFound");
    let r = t
        .http
        .get(format!("{endpoint}packerlogs/none.log?{q}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-ms-error-code"], "BlobNotFound");
    let s = t.stats().await;
    assert_eq!(s["requests"]["blob.list"], 2);
    assert_eq!(s["requests"]["blob.get"], 1);
    assert_eq!(s["requests"]["imageTemplates.update"], 2);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn validate_phase_is_reported() {
    let t = start("minute_ms = 1\nbuild_minutes = 1000\ncreate_minutes = 0").await;
    let mut body = template_body(
        json!([shell("a")]),
        sig_distribute("rg", "g", "i", None, &["eastus2"]),
    );
    body["properties"]["validate"] =
        json!({"inVMValidations": [{"type": "Shell", "name": "check", "inline": ["true"]}]});
    let tp = it_path("rg", "val");
    assert_eq!(t.put(&tp, API_AIB, &body).await.status, 201);
    assert_eq!(t.post(&format!("{tp}/run"), API_AIB).await.status, 202);
    let b = t
        .wait_for(&tp, API_AIB, 5.0, |b| {
            b["properties"]["lastRunStatus"]["runSubState"] == "Validating"
        })
        .await;
    assert_eq!(b["properties"]["lastRunStatus"]["runState"], "Running");
    assert_eq!(
        b["properties"]["lastRunStatus"]["endTime"],
        "0001-01-01T00:00:00Z"
    );
    let b = t.wait_run_done("rg", "val").await;
    assert_eq!(b["properties"]["lastRunStatus"]["runState"], "Succeeded");
    t.sim.shutdown().await;
}
