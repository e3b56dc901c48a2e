//! The shapes recorded Azure traffic shows (`azure-reference/recordings/README.md`), written as
//! plain tests of our own bodies; the conformance suite (`reference::recordings`) replays the
//! recordings themselves.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn create_answers_creating_with_the_async_operation_only() {
    // Creation lasts 2 s of real time, so the first status read finds it in progress even on
    // a loaded machine.
    let t = start("minute_ms = 100\ncreate_minutes = 20").await;
    let mut body = template_body(
        json!([shell("a")]),
        sig_distribute("rg-s", "g", "i", None, &["eastus2"]),
    );
    body["properties"]
        .as_object_mut()
        .unwrap()
        .remove("vmProfile");
    let tp = it_path("rg-s", "tpl-shape");
    let r = t.put(&tp, API_AIB, &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.header("azure-asyncoperation").is_some());
    assert!(r.header("location").is_none() && r.header("retry-after").is_none());
    let p = &r.body["properties"];
    assert_eq!(p["provisioningState"], "Creating");
    assert_eq!(p["exactStagingResourceGroup"], "");
    assert_eq!(p["stagingResourceGroup"], "");
    assert_eq!(p["source"]["exactVersion"], "latest");
    assert_eq!(p["buildTimeoutInMinutes"], 120);
    assert!(
        p.get("lastRunStatus").is_none(),
        "never run: no lastRunStatus"
    );
    assert!(p.get("vmProfile").is_none(), "not sent, not invented");
    let id = r.body["id"].as_str().unwrap();
    assert!(id.contains("/resourcegroups/rg-s/providers/"), "{id}");
    // The operation answers {name, status, startTime} and, once done, endTime.
    let op = r.header("azure-asyncoperation").unwrap();
    let s = t.get(&op, API_AIB).await;
    assert_eq!(s.status, 200);
    let keys: Vec<&str> = s
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["name", "status", "startTime"], "{}", s.text);
    assert_eq!(s.body["status"], "InProgress");
    let done = t
        .wait_for(&op, API_AIB, 5.0, |b| b["status"] == "Succeeded")
        .await;
    assert!(done["endTime"].is_string());
    let g = t.get(&tp, API_AIB).await.body;
    let p = &g["properties"];
    assert_eq!(p["provisioningState"], "Succeeded");
    assert_eq!(p["source"]["exactVersion"], "1.0.0");
    let staging = p["exactStagingResourceGroup"].as_str().unwrap();
    assert!(
        staging.starts_with(&format!(
            "/subscriptions/{SUB}/resourceGroups/IT_rg-s_tpl-shape_"
        )),
        "{staging}"
    );
    assert!(p.get("lastRunStatus").is_none());
    t.sim.shutdown().await;
}

#[tokio::test]
async fn staging_groups_are_cut_to_80_characters_and_tagged() {
    let t = start("minute_ms = 1\ncreate_minutes = 0").await;
    let rg = "rg-with-a-rather-long-name-for-images";
    let name = "pipeline-variant-with-long-name-dev-0123abcd";
    let tp = it_path(rg, name);
    let body = template_body(
        json!([shell("a")]),
        sig_distribute(rg, "g", "i", None, &["eastus2"]),
    );
    assert_eq!(t.put(&tp, API_AIB, &body).await.status, 201);
    let g = t.get(&tp, API_AIB).await.body;
    let staging = g["properties"]["exactStagingResourceGroup"]
        .as_str()
        .unwrap();
    let group = staging.rsplit('/').next().unwrap();
    assert_eq!(group.chars().count(), 80, "{group}");
    let full = format!("IT_{rg}_{name}_");
    assert_eq!(group, &full[..80], "the template name itself is cut");
    assert!(!group.contains(name));
    // The group's name cannot say whose it is; its tags do.
    let rgb = t.get(staging, API_RES).await.body;
    assert_eq!(rgb["tags"]["createdBy"], "AzureVMImageBuilder");
    assert_eq!(rgb["tags"]["imageTemplateName"], name);
    assert_eq!(rgb["tags"]["imageTemplateResourceGroupName"], rg);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn operation_urls_are_signed_and_checked() {
    let t = start("minute_ms = 1\ncreate_minutes = 0").await;
    let tp = it_path("rg-s", "tpl-sig");
    let body = template_body(
        json!([shell("a")]),
        sig_distribute("rg-s", "g", "i", None, &["eastus2"]),
    );
    let r = t.put(&tp, API_AIB, &body).await;
    let op = r.header("azure-asyncoperation").unwrap();
    let url = reqwest::Url::parse(&op).unwrap();
    let q: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["api-version"], API_AIB);
    for k in ["t", "c", "s", "h"] {
        assert!(q.contains_key(k), "{k} in {op}");
    }
    assert!(q["c"].len() > 1500, "c is about 2 KB");
    assert_eq!(t.get(&op, API_AIB).await.status, 200);
    // The same URL with another signature is refused.
    let tampered = op.replace(&format!("s={}", q["s"]), "s=AAAA");
    let r = t.get(&tampered, API_AIB).await;
    assert_eq!(r.status, 400, "{}", r.text);
    t.sim.shutdown().await;
}
