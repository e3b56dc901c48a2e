//! `result = "timeout-distributing"`: the run fails by timeout while distributing, and the
//! gallery version it was publishing finishes replicating after the failure.

use crate::common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn timeout_while_distributing_publishes_the_version_after_the_failure() {
    let t = start(
        "minute_ms = 5\ncreate_minutes = 0\nreplicate_minutes = 600\n[[outcome]]\ntemplate = \"late-*\"\nresult = \"timeout-distributing\"\n",
    )
    .await;
    let rg = "rg-late";
    let mut body = template_body(
        json!([shell("a")]),
        sig_distribute(
            "rg-gal",
            "gal",
            "late",
            Some("2.0.0"),
            &["eastus2", "westus3"],
        ),
    );
    body["properties"]["buildTimeoutInMinutes"] = json!(30);
    let r = t.put(&it_path(rg, "late-1"), API_AIB, &body).await;
    assert!(r.status.is_success(), "{}", r.text);
    t.wait_for(&it_path(rg, "late-1"), API_AIB, 10.0, |b| {
        b["properties"]["provisioningState"] == "Succeeded"
    })
    .await;
    let r = t
        .post(&format!("{}/run", it_path(rg, "late-1")), API_AIB)
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let done = t.wait_run_done(rg, "late-1").await;
    let lrs = &done["properties"]["lastRunStatus"];
    assert_eq!(lrs["runState"], "Failed", "{done}");
    assert_eq!(lrs["runSubState"], "Distributing", "{done}");
    let message = lrs["message"].as_str().unwrap_or_default();
    assert!(message.contains("context deadline exceeded"), "{message}");
    // The version exists and is still replicating right after the failure...
    let vpath = format!(
        "{}/providers/Microsoft.Compute/galleries/gal/images/late/versions/2.0.0?$expand=ReplicationStatus",
        rg_path("rg-gal")
    );
    let v = t.get(&vpath, API_GAL).await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(
        v.body["properties"]["provisioningState"], "Creating",
        "{}",
        v.text
    );
    assert_eq!(
        v.body["properties"]["replicationStatus"]["aggregatedState"],
        "InProgress"
    );
    // ...and completes later in every target region.
    let v = t
        .wait_for(&vpath, API_GAL, 30.0, |b: &Value| {
            b["properties"]["provisioningState"] == "Succeeded"
        })
        .await;
    let summary = v["properties"]["replicationStatus"]["summary"]
        .as_array()
        .unwrap();
    assert_eq!(summary.len(), 2);
    assert!(summary.iter().all(|s| s["state"] == "Completed"), "{v}");
    // No run outputs: the run did not succeed.
    let outs = t
        .get(&format!("{}/runOutputs", it_path(rg, "late-1")), API_AIB)
        .await;
    assert_eq!(outs.body["value"], json!([]), "{}", outs.text);
    t.sim.shutdown().await;
}

/// `result = "provision-fail"`, `times = 1`: the first creation of a matching template fails
/// and the template stays Failed — a run is refused, a re-PUT of the same body is the update
/// conflict whose message says to delete it — until it is deleted; the next creation works.
#[tokio::test]
async fn a_template_whose_creation_failed_stays_failed_until_deleted() {
    let t = start(
        "minute_ms = 2\ncreate_minutes = 100\ndelete_minutes = 1\nbuild_minutes = 5\n[[outcome]]\ntemplate = \"pf-*\"\nresult = \"provision-fail\"\ntimes = 1\n",
    )
    .await;
    let rg = "rg-pf";
    let body = template_body(
        json!([shell("a")]),
        sig_distribute(rg, "gal", "img", None, &["eastus2"]),
    );
    let tp = it_path(rg, "pf-1");
    let r = t.put(&tp, API_AIB, &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["properties"]["provisioningState"], "Creating");
    let op = r.header("azure-asyncoperation").unwrap();
    // Creation takes 200 ms here, long enough to be seen in progress on a loaded machine.
    assert_eq!(t.get(&op, API_AIB).await.body["status"], "InProgress");
    let done = t
        .wait_for(&op, API_AIB, 10.0, |b| b["status"] != "InProgress")
        .await;
    assert_eq!(done["status"], "Failed", "{done}");
    assert!(
        done["error"]["message"]
            .as_str()
            .unwrap()
            .contains("AuthorizationFailed")
    );
    let g = t.get(&tp, API_AIB).await.body;
    let p = &g["properties"];
    assert_eq!(p["provisioningState"], "Failed");
    assert_eq!(p["provisioningError"]["provisioningErrorCode"], "Other");
    assert_eq!(
        p["exactStagingResourceGroup"], "",
        "no staging group was made"
    );
    assert!(p.get("lastRunStatus").is_none());
    // run: refused, no build starts
    let r = t.post(&format!("{tp}/run"), API_AIB).await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(r.code(), "OperationNotAllowed");
    assert!(r.text.contains("is not allowed in provisioning state"));
    assert!(t.stats().await["runs"].get("pf-1").is_none());
    // re-PUT of the same body: the update conflict
    let r = t.put(&tp, API_AIB, &body).await;
    assert_eq!(r.status, 409);
    assert!(
        r.text
            .contains("failed to provision, you must delete it first")
    );
    // delete, then the same PUT creates it (times = 1) and it builds
    let r = t.delete(&tp, API_AIB).await;
    assert_eq!(r.status, 202);
    t.wait_for(&tp, API_AIB, 10.0, |b| {
        b["error"]["code"] == "ResourceNotFound"
    })
    .await;
    assert_eq!(t.put(&tp, API_AIB, &body).await.status, 201);
    t.wait_for(&tp, API_AIB, 10.0, |b| {
        b["properties"]["provisioningState"] == "Succeeded"
    })
    .await;
    assert_eq!(t.post(&format!("{tp}/run"), API_AIB).await.status, 202);
    let b = t.wait_run_done(rg, "pf-1").await;
    assert_eq!(b["properties"]["lastRunStatus"]["runState"], "Succeeded");
    t.sim.shutdown().await;
}

/// A deployment whose imageTemplate fails to provision fails with ARM's
/// `ResourceDeploymentFailure` and the provisioning error as its detail.
#[tokio::test]
async fn a_deployment_of_a_failing_template_fails_with_the_provisioning_error() {
    let t = start(
        "minute_ms = 1\ndeploy_minutes = 2\n[[outcome]]\ntemplate = \"pf-*\"\nresult = \"provision-fail\"\n",
    )
    .await;
    let mut res = template_body(
        json!([shell("a")]),
        sig_distribute("rg-pd", "g", "i", None, &["eastus2"]),
    );
    res["type"] = json!("Microsoft.VirtualMachineImages/imageTemplates");
    res["apiVersion"] = json!("2024-02-01");
    res["name"] = json!("pf-dep");
    let dp = super::templates::dep_path("rg-pd", "pf-dep");
    let r = super::templates::deploy(
        &t,
        "rg-pd",
        "pf-dep",
        &json!({"resources": [res]}),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let aso = r.header("azure-asyncoperation").unwrap();
    let s = t
        .wait_for(&aso, API_RES, 5.0, |b| b["status"] != "Running")
        .await;
    assert_eq!(s["status"], "Failed", "{s}");
    let d = t.get(&dp, API_RES).await.body;
    let e: &Value = &d["properties"]["error"]["details"][0];
    assert_eq!(e["code"], "ResourceDeploymentFailure", "{d}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("terminal provisioning state 'Failed'")
    );
    assert_eq!(e["details"][0]["code"], "Other");
    assert!(
        e["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("AuthorizationFailed")
    );
    t.sim.shutdown().await;
}
