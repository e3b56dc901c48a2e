//! ARM list paging: `{value, nextLink}` with an absolute `nextLink` carrying `$skiptoken` and
//! the request's api-version, for every pageable list the simulator serves.

use crate::common::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Follow `nextLink` from `first` (a path) to the end; returns each page's item names.
async fn pages(t: &T, first: &str, api: &str) -> Vec<Vec<String>> {
    let mut url = format!("{}{}", t.base, with_api(first, api));
    let mut out = Vec::new();
    for _ in 0..100 {
        let r = t.raw(Method::GET, &url, None, true).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text);
        let names: Vec<String> = r.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap_or_default().to_string())
            .collect();
        out.push(names);
        match r.body.get("nextLink").and_then(Value::as_str) {
            None => return out,
            Some(next) => {
                assert!(next.starts_with(&t.base), "absolute nextLink: {next}");
                assert!(next.contains("$skiptoken="), "{next}");
                assert!(next.contains(&format!("api-version={api}")), "{next}");
                url = next.to_string();
            }
        }
    }
    panic!("more than 100 pages from {first}");
}

fn dep_path(rg: &str, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Resources/deployments/{name}",
        rg_path(rg)
    )
}

#[tokio::test]
async fn lists_page_with_next_links() {
    let t = start("minute_ms = 1\npage_size = 2").await;
    let dist = sig_distribute("rg-gal", "gal", "img", None, &["eastus2"]);
    for i in 0..5 {
        let r = t
            .put(
                &it_path("rg-p", &format!("it-{i}")),
                API_AIB,
                &template_body(json!([shell("a")]), dist.clone()),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    // One template elsewhere: in the subscription listing, not in the RG's.
    let r = t
        .put(
            &it_path("rg-q", "other"),
            API_AIB,
            &template_body(json!([shell("a")]), dist.clone()),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);

    // By resource group, with an older api-version that the nextLinks must keep.
    let by_rg = pages(
        &t,
        &format!(
            "{}/providers/Microsoft.VirtualMachineImages/imageTemplates",
            rg_path("rg-p")
        ),
        "2024-02-01",
    )
    .await;
    assert_eq!(
        by_rg.iter().map(Vec::len).collect::<Vec<_>>(),
        [2, 2, 1],
        "{by_rg:?}"
    );
    let names: BTreeSet<String> = by_rg.into_iter().flatten().collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(!names.contains("other"));

    // By subscription.
    let by_sub = pages(
        &t,
        &format!("/subscriptions/{SUB}/providers/Microsoft.VirtualMachineImages/imageTemplates"),
        API_AIB,
    )
    .await;
    assert_eq!(by_sub.len(), 3);
    let names: BTreeSet<String> = by_sub.into_iter().flatten().collect();
    assert_eq!(names.len(), 6);

    // Deployments.
    for i in 0..3 {
        let r = t
            .put(
                &dep_path("rg-d", &format!("d{i}")),
                API_RES,
                &json!({"properties": {"mode": "Incremental", "template": {"resources": []}}}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    let deps = pages(
        &t,
        &format!(
            "{}/providers/Microsoft.Resources/deployments",
            rg_path("rg-d")
        ),
        API_RES,
    )
    .await;
    assert_eq!(
        deps.iter().map(Vec::len).collect::<Vec<_>>(),
        [2, 1],
        "{deps:?}"
    );

    // A list that fits one page has no nextLink at all.
    let one = t
        .get(
            &format!(
                "{}/providers/Microsoft.VirtualMachineImages/imageTemplates",
                rg_path("rg-q")
            ),
            API_AIB,
        )
        .await;
    assert_eq!(one.body["value"].as_array().unwrap().len(), 1);
    assert!(one.body.get("nextLink").is_none(), "{}", one.text);

    // The AIB examples' `skip-token=2` form is understood; a garbage token is a 400.
    let skipped = t
        .get(
            &format!(
                "{}/providers/Microsoft.VirtualMachineImages/imageTemplates?skip-token=4",
                rg_path("rg-p")
            ),
            API_AIB,
        )
        .await;
    assert_eq!(skipped.body["value"].as_array().unwrap().len(), 1);
    let bad = t
        .get(
            &format!(
                "{}/providers/Microsoft.VirtualMachineImages/imageTemplates?$skiptoken=zz",
                rg_path("rg-p")
            ),
            API_AIB,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.code(), "InvalidSkipToken");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn gallery_versions_and_run_outputs_page() {
    let t = start("minute_ms = 1\nbuild_minutes = 5\npage_size = 1").await;
    for (i, v) in ["1.0.1", "1.0.2", "1.0.3"].iter().enumerate() {
        let name = format!("v{i}");
        let r = t
            .put(
                &it_path("rg-v", &name),
                API_AIB,
                &template_body(
                    json!([shell("a")]),
                    sig_distribute("rg-gal", "gal", "paged", Some(v), &["eastus2"]),
                ),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
        t.wait_for(&it_path("rg-v", &name), API_AIB, 10.0, |b| {
            b["properties"]["provisioningState"] == "Succeeded"
        })
        .await;
        let r = t
            .post(&format!("{}/run", it_path("rg-v", &name)), API_AIB)
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
        let done = t.wait_run_done("rg-v", &name).await;
        assert_eq!(done["properties"]["lastRunStatus"]["runState"], "Succeeded");
    }
    let versions = pages(
        &t,
        &format!(
            "{}/providers/Microsoft.Compute/galleries/gal/images/paged/versions",
            rg_path("rg-gal")
        ),
        API_GAL,
    )
    .await;
    assert_eq!(versions.len(), 3, "{versions:?}");
    let names: BTreeSet<String> = versions.into_iter().flatten().collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["1.0.1", "1.0.2", "1.0.3"]
    );
    // One run output per template: a single page.
    let outs = pages(
        &t,
        &format!("{}/runOutputs", it_path("rg-v", "v0")),
        API_AIB,
    )
    .await;
    assert_eq!(outs, [vec!["sig".to_string()]]);
    t.sim.shutdown().await;
}
