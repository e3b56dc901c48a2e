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
