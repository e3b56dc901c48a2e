use crate::common::*;
use serde_json::{Value, json};

fn deployment_for(name: &str, body: &Value) -> Value {
    let mut res = body.clone();
    res["type"] = json!("Microsoft.VirtualMachineImages/imageTemplates");
    res["apiVersion"] = json!("2024-02-01");
    res["name"] = json!("[parameters('imageTemplateName')]");
    res["location"] = json!("[parameters('location')]");
    json!({"properties": {"mode": "Incremental", "template": {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"imageTemplateName": {"type": "string"}, "location": {"type": "string", "defaultValue": "[resourceGroup().location]"}},
        "resources": [res],
        "outputs": {"id": {"type": "string", "value": "[resourceId('Microsoft.VirtualMachineImages/imageTemplates', parameters('imageTemplateName'))]"}}
    }, "parameters": {"imageTemplateName": {"value": name}}}})
}

#[tokio::test]
async fn deploy_run_progress_outputs_gallery() {
    let t =
        start("minute_ms = 1\nbuild_minutes = 1000\ndeploy_minutes = 5\nreplicate_minutes = 1000")
            .await;
    let rg = "rg-flow";
    let name = "avd-ubuntu-dev-0123abcd";
    let dist = sig_distribute(rg, "gal_dev", "ubuntu-2404", None, &["eastus2", "westus3"]);
    let body = template_body(json!([shell("setup"), shell("harden")]), dist);
    // publish a newer platform image version: the run must pick it as exactVersion
    let r = t
        .raw(
            reqwest::Method::POST,
            "/_sim/publish",
            Some(&json!({"image": "Canonical:ubuntu-24_04-lts:server", "version": "2.0.0"})),
            false,
        )
        .await;
    assert_eq!(r.status, 200);
    let dpath = format!(
        "{}/providers/Microsoft.Resources/deployments/dep1",
        rg_path(rg)
    );
    let r = t.put(&dpath, API_RES, &deployment_for(name, &body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["properties"]["provisioningState"], "Accepted");
    let aso = r.header("azure-asyncoperation").unwrap();
    assert!(aso.starts_with("http://127.0.0.1:"));
    // As recorded: Azure-AsyncOperation only, no Retry-After.
    assert!(r.header("location").is_none() && r.header("retry-after").is_none());
    let st = t
        .wait_for(&aso, API_RES, 5.0, |b| b["status"] != "Running")
        .await;
    assert_eq!(st["status"], "Succeeded", "{st}");
    let d = t.get(&dpath, API_RES).await;
    assert_eq!(d.body["properties"]["provisioningState"], "Succeeded");
    assert!(
        d.body["properties"]["outputs"]["id"]["value"]
            .as_str()
            .unwrap()
            .ends_with(name)
    );
    let ops = t
        .get(
            &format!("{}/deployments/dep1/operations", rg_path(rg)),
            API_RES,
        )
        .await;
    assert_eq!(
        ops.body["value"][0]["properties"]["provisioningState"],
        "Succeeded"
    );
    let ops2 = t.get(&format!("{dpath}/operations"), API_RES).await;
    assert_eq!(ops2.status, 200);
    let list = t
        .get(
            &format!("{}/providers/Microsoft.Resources/deployments", rg_path(rg)),
            API_RES,
        )
        .await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);

    // template exists
    let tp = it_path(rg, name);
    let g = t
        .wait_for(&tp, API_AIB, 5.0, |b| {
            b["properties"]["provisioningState"] == "Succeeded"
        })
        .await;
    let staging = g["properties"]["exactStagingResourceGroup"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        staging.contains(&format!("/resourceGroups/IT_{rg}_{name}_")),
        "{staging}"
    );

    // run
    let r = t.post(&format!("{tp}/run"), API_AIB).await;
    assert_eq!(r.status, 202, "{}", r.text);
    let op_url = r.header("azure-asyncoperation").unwrap();
    assert!(
        op_url.contains("/providers/Microsoft.VirtualMachineImages/locations/eastus2/operations/")
    );
    // As recorded: Location is the same URL, no Retry-After; a GET answers 200 InProgress.
    let loc = r.header("location").unwrap();
    assert_eq!(loc, op_url);
    assert!(r.header("retry-after").is_none() && r.header("retry-after-ms").is_none());
    assert!(
        op_url.contains("&t=") && op_url.contains("&s=") && op_url.len() > 2000,
        "{op_url}"
    );
    let lp = t.get(&loc, API_AIB).await;
    assert_eq!(lp.status, 200);
    assert_eq!(lp.body["status"], "InProgress");
    assert!(
        lp.body.get("id").is_none() && lp.body["name"].is_string(),
        "{}",
        lp.text
    );
    assert!(lp.header("location").is_none() && lp.header("retry-after").is_none());
    // second run while running
    let r2 = t.post(&format!("{tp}/run"), API_AIB).await;
    assert_eq!(r2.status, 409);
    // observe sub-states
    let mut seen: Vec<String> = Vec::new();
    let done = loop {
        let b = t.get(&tp, API_AIB).await.body;
        let lrs = &b["properties"]["lastRunStatus"];
        let s = format!(
            "{}/{}",
            lrs["runState"].as_str().unwrap(),
            lrs["runSubState"].as_str().unwrap_or("-")
        );
        if seen.last() != Some(&s) {
            seen.push(s);
        }
        if lrs["runState"] != "Running" {
            break b;
        }
        let op = t.get(&op_url, API_AIB).await.body;
        assert!(
            op["status"] == "InProgress" || op["status"] == "Succeeded",
            "{op}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    };
    let expect = [
        "Running/Queued",
        "Running/Building",
        "Running/Customizing",
        "Running/Distributing",
        "Succeeded/-",
    ];
    for e in expect {
        assert!(seen.iter().any(|s| s == e), "missing {e} in {seen:?}");
    }
    assert_eq!(done["properties"]["source"]["exactVersion"], "2.0.0");
    let op = t.get(&op_url, API_AIB).await.body;
    assert_eq!(op["status"], "Succeeded");
    assert!(op["endTime"].is_string());
    assert_eq!(t.get(&loc, API_AIB).await.status, 200);
    // list shows lastRunStatus
    let l = t
        .get(
            &format!(
                "{}/providers/Microsoft.VirtualMachineImages/imageTemplates",
                rg_path(rg)
            ),
            API_AIB,
        )
        .await;
    assert_eq!(
        l.body["value"][0]["properties"]["lastRunStatus"]["runState"],
        "Succeeded"
    );
    let l = t
        .get(
            &format!(
                "/subscriptions/{SUB}/providers/Microsoft.VirtualMachineImages/imageTemplates"
            ),
            API_AIB,
        )
        .await;
    assert_eq!(l.body["value"].as_array().unwrap().len(), 1);

    // run outputs -> gallery version
    let ro = t.get(&format!("{tp}/runOutputs"), API_AIB).await;
    let artifact = ro.body["value"][0]["properties"]["artifactId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        artifact.ends_with("/images/ubuntu-2404/versions/1.0.0"),
        "{artifact}"
    );
    let one = t.get(&format!("{tp}/runOutputs/sig"), API_AIB).await;
    assert_eq!(one.body["properties"]["artifactId"], artifact.as_str());
    let v = t
        .get(&format!("{artifact}?$expand=ReplicationStatus"), API_GAL)
        .await;
    assert_eq!(v.status, 200, "{}", v.text);
    let rs = &v.body["properties"]["replicationStatus"];
    assert_eq!(rs["aggregatedState"], "InProgress");
    assert_eq!(rs["summary"][0]["region"], "East US 2");
    assert_eq!(rs["summary"][1]["region"], "West US 3");
    let v = t
        .wait_for(
            &format!("{artifact}?$expand=ReplicationStatus"),
            API_GAL,
            5.0,
            |b| b["properties"]["replicationStatus"]["aggregatedState"] == "Completed",
        )
        .await;
    assert_eq!(v["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        v["properties"]["replicationStatus"]["summary"][1]["progress"],
        100
    );

    // second run: next patch version
    let r = t.post(&format!("{tp}/run"), API_AIB).await;
    assert_eq!(r.status, 202);
    let b = t.wait_run_done(rg, name).await;
    assert_eq!(b["properties"]["lastRunStatus"]["runState"], "Succeeded");
    let vl = t
        .get(
            &format!(
                "{}/providers/Microsoft.Compute/galleries/gal_dev/images/ubuntu-2404/versions",
                rg_path(rg)
            ),
            API_GAL,
        )
        .await;
    let names: Vec<&str> = vl.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["1.0.0", "1.0.1"]);

    let stats = t.stats().await;
    assert_eq!(stats["runs"][name], 2);
    assert!(stats["requests"]["imageTemplates.get"].as_u64().unwrap() > 5);
    assert_eq!(stats["requests"]["deployments.put"], 1);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn explicit_version_conflict_fails_the_run() {
    let t = start("minute_ms = 1\nbuild_minutes = 10\ncreate_minutes = 0").await;
    let rg = "rg-v";
    let dist = sig_distribute(rg, "gal", "img", Some("3.2.1"), &["eastus2"]);
    for name in ["a1", "a2"] {
        let r = t
            .put(
                &it_path(rg, name),
                API_AIB,
                &template_body(json!([shell("s")]), dist.clone()),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    t.post(&format!("{}/run", it_path(rg, "a1")), API_AIB).await;
    let b = t.wait_run_done(rg, "a1").await;
    assert_eq!(b["properties"]["lastRunStatus"]["runState"], "Succeeded");
    let r = t.post(&format!("{}/run", it_path(rg, "a2")), API_AIB).await;
    let op_url = r.header("azure-asyncoperation").unwrap();
    let b = t.wait_run_done(rg, "a2").await;
    let lrs = &b["properties"]["lastRunStatus"];
    assert_eq!(lrs["runState"], "Failed");
    assert!(
        lrs["message"].as_str().unwrap().contains("already exists"),
        "{lrs}"
    );
    let op = t.get(&op_url, API_AIB).await.body;
    assert_eq!(op["status"], "Failed");
    assert!(op["error"]["message"].is_string());
    // a template built from ".../versions/latest" resolves to the newest version
    let mut child = template_body(
        json!([shell("s")]),
        sig_distribute(rg, "gal", "child", None, &["eastus2"]),
    );
    child["properties"]["source"] = json!({"type": "SharedImageVersion", "imageVersionId": format!("{}/providers/Microsoft.Compute/galleries/gal/images/img/versions/latest", rg_path(rg))});
    assert_eq!(
        t.put(&it_path(rg, "child"), API_AIB, &child).await.status,
        201
    );
    t.post(&format!("{}/run", it_path(rg, "child")), API_AIB)
        .await;
    let b = t.wait_run_done(rg, "child").await;
    assert!(
        b["properties"]["source"]["exactVersion"]
            .as_str()
            .unwrap()
            .ends_with("/galleries/gal/images/img/versions/3.2.1"),
        "{b}"
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn cancel_delete_and_conflicts() {
    let t = start(
        "minute_ms = 1\nbuild_minutes = 2000\ncreate_minutes = 0\ndelete_minutes = 300\ncancel_minutes = 300\n[[outcome]]\ntemplate = \"stuck*\"\nresult = \"stuck-canceling\"\n",
    )
    .await;
    let rg = "rg-c";
    let body = template_body(
        json!([shell("s")]),
        sig_distribute(rg, "gal", "img", None, &["eastus2"]),
    );
    let tp = it_path(rg, "tpl");
    assert_eq!(t.put(&tp, API_AIB, &body).await.status, 201);
    // same body -> 200; different -> 409
    let r = t.put(&tp, API_AIB, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut changed = body.clone();
    changed["properties"]["vmProfile"]["vmSize"] = json!("Standard_D8s_v5");
    let r = t.put(&tp, API_AIB, &changed).await;
    assert_eq!(r.status, 409);
    let m = r.body["error"]["message"].as_str().unwrap();
    assert!(m.starts_with("Update/Upgrade of image templates is currently not supported"));
    assert!(
        m.contains("failed to provision, you must delete it first"),
        "{m}"
    );
    // cancel with nothing running
    assert_eq!(t.post(&format!("{tp}/cancel"), API_AIB).await.status, 409);
    // run, delete -> 409
    assert_eq!(t.post(&format!("{tp}/run"), API_AIB).await.status, 202);
    let r = t.delete(&tp, API_AIB).await;
    assert_eq!(r.status, 409, "{}", r.text);
    // cancel
    // cancel: 204 without operation headers (recorded)
    let r = t.post(&format!("{tp}/cancel"), API_AIB).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.header("azure-asyncoperation").is_none() && r.header("location").is_none());
    let b = t.get(&tp, API_AIB).await.body;
    let lrs = &b["properties"]["lastRunStatus"];
    assert_eq!(lrs["runState"], "Canceling");
    assert_eq!(lrs["message"], "Canceling image build");
    assert!(lrs.get("runSubState").is_none(), "{lrs}");
    assert_eq!(t.post(&format!("{tp}/cancel"), API_AIB).await.status, 204);
    let b = t.wait_run_done(rg, "tpl").await;
    let lrs = &b["properties"]["lastRunStatus"];
    assert_eq!(lrs["runState"], "Canceled");
    assert_eq!(lrs["message"], "The build was canceled");
    assert!(lrs.get("runSubState").is_none(), "{lrs}");
    // delete -> 202 with Location = Azure-AsyncOperation; polls 200 InProgress then Succeeded;
    // template and staging RG gone
    let staging = b["properties"]["exactStagingResourceGroup"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(t.get(&staging, API_RES).await.status, 200);
    let r = t.delete(&tp, API_AIB).await;
    assert_eq!(r.status, 202);
    let loc = r.header("location").unwrap();
    assert_eq!(
        r.header("azure-asyncoperation").as_deref(),
        Some(loc.as_str())
    );
    assert!(r.header("retry-after").is_none());
    let first = t.get(&loc, API_AIB).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["status"], "InProgress");
    assert_eq!(
        t.get(&tp, API_AIB).await.body["properties"]["provisioningState"],
        "Deleting"
    );
    t.wait_for(&loc, API_AIB, 5.0, |b| b["status"] == "Succeeded")
        .await;
    let g = t.get(&tp, API_AIB).await;
    assert_eq!(g.status, 404);
    assert_eq!(g.code(), "ResourceNotFound");
    let s = t.get(&staging, API_RES).await;
    assert_eq!(s.status, 404);
    assert_eq!(s.code(), "ResourceGroupNotFound");
    assert_eq!(t.delete(&tp, API_AIB).await.status, 204);

    // stuck-canceling never leaves Canceling
    let sp = it_path(rg, "stuck-1");
    assert_eq!(t.put(&sp, API_AIB, &body).await.status, 201);
    assert_eq!(t.post(&format!("{sp}/run"), API_AIB).await.status, 202);
    assert_eq!(t.post(&format!("{sp}/cancel"), API_AIB).await.status, 204);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        t.get(&sp, API_AIB).await.body["properties"]["lastRunStatus"]["runState"],
        "Canceling"
    );
    t.sim.shutdown().await;
}
