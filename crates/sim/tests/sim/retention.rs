//! What `aib gc` needs: resource groups listed by tag and deleted (a staging group left behind
//! by a deleted template), gallery image versions deleted, as long-running operations in
//! Azure's shapes.

use crate::common::*;
use serde_json::{Value, json};

async fn built_template(t: &T, rg: &str, name: &str) -> Value {
    let dist = sig_distribute(rg, "gal", "img", None, &["eastus2"]);
    let body = template_body(json!([shell("setup")]), dist);
    let r = t.put(&it_path(rg, name), API_AIB, &body).await;
    assert!(r.status.is_success(), "{}", r.text);
    t.wait_for(&it_path(rg, name), API_AIB, 10.0, |b| {
        b["properties"]["provisioningState"] == "Succeeded"
    })
    .await;
    let r = t.post(&format!("{}/run", it_path(rg, name)), API_AIB).await;
    assert_eq!(r.status, 202, "{}", r.text);
    t.wait_run_done(rg, name).await
}

fn staging_name(template: &Value) -> String {
    let id = template["properties"]["exactStagingResourceGroup"]
        .as_str()
        .unwrap();
    id.rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn staging_groups_are_tagged_listed_and_leftovers_deleted() {
    let t = start("minute_ms = 1\nbuild_minutes = 5\nkeep_staging = [\"keep-*\"]").await;
    let rg = "rg-img";
    let kept = built_template(&t, rg, "keep-a").await;
    let gone = built_template(&t, rg, "drop-b").await;
    let (kept_rg, gone_rg) = (staging_name(&kept), staging_name(&gone));
    assert!(kept_rg.starts_with("IT_rg-img_keep-a_"), "{kept_rg}");

    // A staging group carries AIB's tags and names its template.
    let g = t.get(&rg_path(&kept_rg), API_RES).await;
    assert_eq!(g.status, 200);
    assert_eq!(g.body["tags"]["createdBy"], "AzureVMImageBuilder");
    assert_eq!(g.body["tags"]["imageTemplateName"], "keep-a");
    assert_eq!(g.body["tags"]["imageTemplateResourceGroupName"], rg);
    assert!(g.body["managedBy"].as_str().unwrap().ends_with("/keep-a"));

    // Listing with ARM's tag filter returns the staging groups only.
    let list_path = format!(
        "/subscriptions/{SUB}/resourcegroups?$filter={}",
        "tagName%20eq%20%27createdBy%27%20and%20tagValue%20eq%20%27AzureVMImageBuilder%27"
    );
    let l = t.get(&list_path, API_RES).await;
    assert_eq!(l.status, 200, "{}", l.text);
    let mut names: Vec<&str> = l.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    names.sort();
    let mut want = vec![kept_rg.as_str(), gone_rg.as_str()];
    want.sort();
    assert_eq!(names, want);
    // Unfiltered, the template's own group is there too.
    let all = t
        .get(&format!("/subscriptions/{SUB}/resourcegroups"), API_RES)
        .await;
    assert!(
        all.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == rg)
    );
    let bad = t
        .get(
            &format!("/subscriptions/{SUB}/resourcegroups?$filter=name%20eq%20%27x%27"),
            API_RES,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.code(), "InvalidFilterInQueryString");

    // The staging group of a live template cannot be deleted on its own.
    let r = t.delete(&rg_path(&kept_rg), API_RES).await;
    assert_eq!(r.status, 409, "{}", r.text);

    // Deleting the templates: keep-a leaves its staging group behind, drop-b does not.
    for name in ["keep-a", "drop-b"] {
        let r = t.delete(&it_path(rg, name), API_AIB).await;
        assert_eq!(r.status, 202);
        t.wait_for(&it_path(rg, name), API_AIB, 10.0, |b| {
            b["error"]["code"] == "ResourceNotFound"
        })
        .await;
    }
    assert_eq!(t.get(&rg_path(&gone_rg), API_RES).await.status, 404);
    let left = t.get(&rg_path(&kept_rg), API_RES).await;
    assert_eq!(left.status, 200);
    assert_eq!(left.body["tags"]["imageTemplateName"], "keep-a");

    // A leftover is deleted as ARM deletes groups: 202 + Location only, 202 while running.
    let r = t.delete(&rg_path(&kept_rg), API_RES).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert!(r.header("azure-asyncoperation").is_none());
    let loc = r.header("location").unwrap();
    assert!(
        loc.contains(&format!("/subscriptions/{SUB}/operationresults/")),
        "{loc}"
    );
    assert!(r.header("retry-after").is_some());
    let first = t.raw(reqwest::Method::GET, &loc, None, true).await;
    assert!(
        first.status == 202 || first.status == 200,
        "{}",
        first.status
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let p = t.raw(reqwest::Method::GET, &loc, None, true).await;
        if p.status == 200 {
            break;
        }
        assert_eq!(p.status, 202);
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(t.get(&rg_path(&kept_rg), API_RES).await.status, 404);
    let s = t.stats().await;
    assert_eq!(s["requests"]["resourceGroups.list"], 3);
    assert_eq!(s["requests"]["resourceGroups.delete"], 2);
    assert!(s["requests"]["operationResults.get"].as_u64().unwrap() >= 2);
}

#[tokio::test]
async fn gallery_versions_are_deleted_as_compute_does() {
    let t = start("minute_ms = 1\nbuild_minutes = 5\ndelete_minutes = 20").await;
    let rg = "rg-img";
    built_template(&t, rg, "ver-a").await;
    let outs = t
        .get(&format!("{}/runOutputs", it_path(rg, "ver-a")), API_AIB)
        .await;
    let artifact = outs.body["value"][0]["properties"]["artifactId"]
        .as_str()
        .unwrap()
        .replace("/imageversions/", "/versions/");
    assert_eq!(t.get(&artifact, API_GAL).await.status, 200);

    let r = t.delete(&artifact, API_GAL).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let aso = r.header("azure-asyncoperation").unwrap();
    let loc = r.header("location").unwrap();
    assert!(
        aso.contains("/providers/Microsoft.Compute/locations/eastus2/capsOperations/"),
        "{aso}"
    );
    assert!(loc.contains("monitor=true"), "{loc}");
    // Deleting: still readable, and a repeated DELETE follows the same operation.
    let v = t.get(&artifact, API_GAL).await;
    assert_eq!(v.body["properties"]["provisioningState"], "Deleting");
    let again = t.delete(&artifact, API_GAL).await;
    assert_eq!(again.status, 202);
    assert_eq!(again.header("azure-asyncoperation").unwrap(), aso);
    let m = t.raw(reqwest::Method::GET, &loc, None, true).await;
    assert_eq!(m.status, 202, "{}", m.text);
    let st = t
        .wait_for(&aso, API_GAL, 10.0, |b| b["status"] != "InProgress")
        .await;
    assert_eq!(st["status"], "Succeeded", "{st}");
    assert_eq!(t.get(&artifact, API_GAL).await.status, 404);
    let list = t
        .get(&artifact[..artifact.rfind('/').unwrap()], API_GAL)
        .await;
    assert_eq!(
        list.body["value"].as_array().unwrap().len(),
        0,
        "{}",
        list.text
    );
    assert_eq!(t.delete(&artifact, API_GAL).await.status, 204);
    let s = t.stats().await;
    assert_eq!(s["requests"]["galleryImageVersions.delete"], 3);
    assert!(s["requests"]["capsOperations.get"].as_u64().unwrap() >= 2);
}
