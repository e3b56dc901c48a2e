//! A world saved to a folder and a simulator started from it: what a client built is still
//! there, a failure scripted `times = 1` does not happen again, one simulator at a time.

use crate::common::*;
use aib_sim::{Scenario, WorldDir, WorldError};
use reqwest::Method;
use serde_json::{Value, json};

const SCENARIO: &str = r#"
minute_ms = 5
create_minutes = 0
build_minutes = 20
[[outcome]]
tags = { "aib.unit" = "test/app" }
result = "fail"
failed_customizer = "install"
times = 1
"#;

async fn start_in(dir: &WorldDir, toml: &str) -> T {
    let scenario = Scenario::from_toml_str(toml).unwrap();
    let world = dir.load().await.unwrap();
    let sim = aib_sim::start_from("127.0.0.1:0".parse().unwrap(), scenario, world)
        .await
        .unwrap();
    let base = sim.base_url();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let token = get_token(&http, &base).await;
    T {
        sim,
        base,
        http,
        token,
    }
}

fn body(unit: &str, image: &str) -> Value {
    let mut b = template_body(
        json!([shell("setup"), shell("install")]),
        sig_distribute("rg-gal", "gal", image, None, &["eastus2"]),
    );
    b["tags"] = json!({"aib.unit": unit});
    b
}

async fn build(t: &T, name: &str, b: &Value) -> Value {
    let r = t.put(&it_path("rg-w", name), API_AIB, b).await;
    assert!(r.status.is_success(), "{}", r.text);
    run(t, name).await
}

async fn run(t: &T, name: &str) -> Value {
    let r = t
        .post(&format!("{}/run", it_path("rg-w", name)), API_AIB)
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    t.wait_run_done("rg-w", name).await
}

fn run_state(b: &Value) -> &str {
    b["properties"]["lastRunStatus"]["runState"]
        .as_str()
        .unwrap_or("")
}

#[tokio::test]
async fn a_saved_world_comes_back_and_a_failure_scripted_once_stays_spent() {
    let folder = tempfile::tempdir().unwrap();
    let dir = WorldDir::open(folder.path().join("azure")).await.unwrap();
    assert!(
        dir.load().await.unwrap().is_none(),
        "a new folder has no world"
    );
    let t = start_in(&dir, SCENARIO).await;
    // The rule picks its unit by tag: `test/app` fails, `dev/app` (same glob) builds.
    let ok = build(&t, "app-dev-1", &body("dev/app", "app")).await;
    assert_eq!(run_state(&ok), "Succeeded", "{ok}");
    let failed = build(&t, "app-test-1", &body("test/app", "app-test")).await;
    assert_eq!(run_state(&failed), "Failed", "{failed}");
    let first_end = failed["properties"]["lastRunStatus"]["endTime"]
        .as_str()
        .unwrap()
        .to_string();
    let published = t
        .raw(
            Method::POST,
            "/_sim/publish",
            Some(&json!({"image": "Canonical:ubuntu-24_04-lts:server", "version": "1.2.0"})),
            false,
        )
        .await;
    assert_eq!(published.status, 200, "{}", published.text);
    let rule = &Scenario::from_toml_str(SCENARIO).unwrap().outcome[0];
    assert_eq!(t.sim.outcome_runs(rule), 1);
    t.sim.save(&dir).await.unwrap();

    // One simulator at a time holds a folder.
    let busy = WorldDir::open(folder.path().join("azure")).await;
    assert!(matches!(busy, Err(WorldError::InUse { .. })), "{busy:?}");
    let old_token = t.token.clone();
    t.sim.shutdown().await;
    drop(dir);

    let dir = WorldDir::open(folder.path().join("azure")).await.unwrap();
    let world = dir.load().await.unwrap().unwrap();
    assert_eq!(world.outcome_runs(rule), 1);
    drop(world);
    let t = start_in(&dir, SCENARIO).await;
    // Tokens belong to a session: the old one is refused (the new one works below).
    let refused = t
        .http
        .get(format!(
            "{}{}",
            t.base,
            with_api(&it_path("rg-w", "app-dev-1"), API_AIB)
        ))
        .bearer_auth(&old_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // What was built is there: the templates with their last runs, the gallery version, the
    // published platform version and the failed build's log.
    let dev = t.get(&it_path("rg-w", "app-dev-1"), API_AIB).await;
    assert_eq!(run_state(&dev.body), "Succeeded", "{}", dev.text);
    let version = t
        .get(
            &format!(
                "{}/providers/Microsoft.Compute/galleries/gal/images/app/versions",
                rg_path("rg-gal")
            ),
            API_GAL,
        )
        .await;
    assert_eq!(
        version.body["value"].as_array().map(Vec::len),
        Some(1),
        "{}",
        version.text
    );
    let platform = t
        .get(
            &format!(
                "/subscriptions/{SUB}/providers/Microsoft.Compute/locations/eastus2/publishers/Canonical/artifacttypes/vmimage/offers/ubuntu-24_04-lts/skus/server/versions"
            ),
            "2024-07-01",
        )
        .await;
    assert!(platform.text.contains("1.2.0"), "{}", platform.text);
    let test = t.get(&it_path("rg-w", "app-test-1"), API_AIB).await;
    assert_eq!(run_state(&test.body), "Failed", "{}", test.text);
    let log = failed_log(&t, &test.body).await;
    assert!(log.contains("install"), "{log}");

    // The scripted failure is spent: running the failed template again succeeds, later in
    // Azure time than the first run ended.
    let again = run(&t, "app-test-1").await;
    assert_eq!(run_state(&again), "Succeeded", "{again}");
    let start = again["properties"]["lastRunStatus"]["startTime"]
        .as_str()
        .unwrap();
    assert!(start > first_end.as_str(), "{start} after {first_end}");
    assert_eq!(t.sim.outcome_runs(rule), 1);
    t.sim.shutdown().await;
}

/// The failed build's `customization.log`, read as a client does (staging group → storage
/// account → listKeys → Shared Key).
async fn failed_log(t: &T, template: &Value) -> String {
    let staging = template["properties"]["exactStagingResourceGroup"]
        .as_str()
        .unwrap();
    let accounts = t
        .get(
            &format!("{staging}/providers/Microsoft.Storage/storageAccounts"),
            "2023-05-01",
        )
        .await;
    let acct = &accounts.body["value"][0];
    let account = acct["name"].as_str().unwrap().to_string();
    let endpoint = acct["properties"]["primaryEndpoints"]["blob"]
        .as_str()
        .unwrap()
        .to_string();
    let keys = t
        .post(
            &format!("{}/listKeys", acct["id"].as_str().unwrap()),
            "2023-05-01",
        )
        .await;
    let key = keys.body["keys"][0]["value"].as_str().unwrap().to_string();
    let message = template["properties"]["lastRunStatus"]["message"]
        .as_str()
        .unwrap();
    let at = message.find("/packerlogs/").unwrap() + "/packerlogs/".len();
    let blob = message[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches(['.', ',', ')']);
    let url = reqwest::Url::parse(&format!("{endpoint}packerlogs/{blob}")).unwrap();
    let mut rb = t.http.get(url.clone());
    for (k, v) in shared_key_headers(&account, &key, "GET", &url, &[]) {
        rb = rb.header(k, v);
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.text().await.unwrap()
}
