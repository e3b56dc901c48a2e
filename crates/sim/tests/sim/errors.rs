use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn missing_resources_are_404() {
    let t = start(
        "minute_ms = 1\nbuild_minutes = 5\ncreate_minutes = 0\nmissing = [\"*/resourceGroups/rg-gone\", \"*/galleries/gal-missing\", \"*/userAssignedIdentities/id-missing\", \"*/images/img-missing\"]\n",
    )
    .await;
    let r = t.get(&rg_path("rg-gone"), API_RES).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (404, "ResourceGroupNotFound")
    );
    let r = t.get(&rg_path("RG-GONE"), API_RES).await;
    assert_eq!(r.status, 404, "missing globs are case-insensitive");
    assert_eq!(t.get(&rg_path("rg-here"), API_RES).await.status, 200);
    let g = format!(
        "{}/providers/Microsoft.Compute/galleries",
        rg_path("rg-here")
    );
    let r = t.get(&format!("{g}/gal-missing"), API_GAL).await;
    assert_eq!(
        (r.status.as_u16(), r.code().as_str()),
        (404, "ResourceNotFound")
    );
    let r = t.get(&format!("{g}/gal-ok"), API_GAL).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["properties"]["provisioningState"], "Succeeded");
    let r = t
        .get(&format!("{g}/gal-ok/images/img-missing"), API_GAL)
        .await;
    assert_eq!(r.status, 404);
    let r = t.get(&format!("{g}/gal-ok/images/img-ok"), API_GAL).await;
    assert_eq!(r.status, 200);
    let r = t
        .get(&format!("{g}/gal-ok/images/img-ok/versions/9.9.9"), API_GAL)
        .await;
    assert_eq!(r.status, 404);
    let id = |n: &str| {
        format!(
            "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{n}",
            rg_path("rg-id")
        )
    };
    let r = t.get(&id("id-missing"), "2023-01-31").await;
    assert_eq!(r.status, 404);
    let r = t.get(&id("id-ok"), "2023-01-31").await;
    assert_eq!(r.status, 200);
    assert!(r.body["properties"]["clientId"].is_string());
    let r = t
        .get(
            &format!(
                "{}/providers/Microsoft.Storage/storageAccounts/st1",
                rg_path("rg-gone")
            ),
            "2023-05-01",
        )
        .await;
    assert_eq!(r.status, 404);
    // deploying into a missing RG
    let r = t
        .put(
            &format!(
                "{}/providers/Microsoft.Resources/deployments/d",
                rg_path("rg-gone")
            ),
            API_RES,
            &json!({"properties": {"mode": "Incremental", "template": {"resources": []}}}),
        )
        .await;
    assert_eq!(r.code(), "ResourceGroupNotFound");
    // template with a missing identity
    let mut body = template_body(
        json!([shell("a")]),
        sig_distribute("rg-here", "gal-ok", "img-ok", None, &["eastus2"]),
    );
    body["identity"]["userAssignedIdentities"] = json!({id("id-missing"): {}});
    let r = t.put(&it_path("rg-here", "t1"), API_AIB, &body).await;
    assert_eq!(r.status, 400, "{}", r.text);
    // distribution to a missing gallery fails the run
    let body = template_body(
        json!([shell("a")]),
        sig_distribute("rg-here", "gal-missing", "img", None, &["eastus2"]),
    );
    assert_eq!(
        t.put(&it_path("rg-here", "t2"), API_AIB, &body)
            .await
            .status,
        201
    );
    t.post(&format!("{}/run", it_path("rg-here", "t2")), API_AIB)
        .await;
    let b = t.wait_run_done("rg-here", "t2").await;
    assert_eq!(b["properties"]["lastRunStatus"]["runState"], "Failed");
    assert!(
        b["properties"]["lastRunStatus"]["message"]
            .as_str()
            .unwrap()
            .contains("ResourceNotFound")
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn template_put_validation() {
    let t = start("minute_ms = 1").await;
    let ok = template_body(
        json!([shell("a")]),
        sig_distribute("rg", "g", "i", None, &["eastus2"]),
    );
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("bad name!", ok.clone()),
        ("no-identity", {
            let mut b = ok.clone();
            b.as_object_mut().unwrap().remove("identity");
            b
        }),
        ("no-source", {
            let mut b = ok.clone();
            b["properties"].as_object_mut().unwrap().remove("source");
            b
        }),
        ("no-distribute", {
            let mut b = ok.clone();
            b["properties"]
                .as_object_mut()
                .unwrap()
                .remove("distribute");
            b
        }),
        ("timeout", {
            let mut b = ok.clone();
            b["properties"]["buildTimeoutInMinutes"] = json!(961);
            b
        }),
        ("badcust", {
            let mut b = ok.clone();
            b["properties"]["customize"] = json!([{"type": "Ansible"}]);
            b
        }),
    ];
    for (name, body) in cases {
        let path = format!(
            "{}/providers/Microsoft.VirtualMachineImages/imageTemplates/{}",
            rg_path("rg"),
            name.replace(' ', "%20")
        );
        let r = t.put(&path, API_AIB, &body).await;
        assert_eq!(r.status, 400, "{name}: {}", r.text);
        assert!(r.body["error"]["message"].is_string());
    }
    let r = t
        .raw(
            reqwest::Method::PUT,
            &with_api(&it_path("rg", "x"), API_AIB),
            None,
            true,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(t.get(&it_path("rg", "nope"), API_AIB).await.status, 404);
    assert_eq!(
        t.post(&format!("{}/run", it_path("rg", "nope")), API_AIB)
            .await
            .status,
        404
    );
    assert_eq!(
        t.get("/subscriptions/x/providers/Nope/things", API_AIB)
            .await
            .status,
        404
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_errors_not_panics() {
    let t = start("minute_ms = 1").await;
    let dep = format!(
        "{}/providers/Microsoft.Resources/deployments/d",
        rg_path("rg")
    );
    let client = &t.http;
    let put_raw = |path: String, body: &'static str| {
        client
            .put(format!("{}{}", t.base, with_api(&path, API_RES)))
            .bearer_auth(&t.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for body in [
        "",
        "not json",
        "[]",
        "{\"properties\": 5}",
        "{\"properties\": {\"mode\": \"Incremental\", \"template\": 7}}",
        "{\"properties\": {\"mode\": \"Sideways\", \"template\": {}}}",
    ] {
        let r = put_raw(dep.clone(), body).await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
    }
    for body in [
        "",
        "[]",
        "{\"location\": 5}",
        "{\"location\": \"x\", \"identity\": [], \"properties\": {}}",
    ] {
        let r = put_raw(it_path("rg", "m"), body).await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
    }
    let r = put_raw(
        format!(
            "{}/providers/Microsoft.Resources/deployments/{}",
            rg_path("rg"),
            "x".repeat(65)
        ),
        "{}",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    // odd paths and encodings
    for p in [
        "/subscriptions",
        "/subscriptions/%ZZ/resourcegroups/a",
        "/blob/acct",
        "/blob/acct/c/%FF%FE",
        "/_sim/nothing",
        "/msi",
    ] {
        let r = client
            .get(format!("{}{}?api-version=2021-04-01", t.base, p))
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{p}: {}", r.status());
    }
    // bad Shared Key headers and ranges
    for auth in [
        "SharedKey",
        "SharedKey acct",
        "SharedKey acct:",
        "SharedKey other:abc",
    ] {
        let r = client
            .get(format!("{}/blob/acct/packerlogs/x.log", t.base))
            .header("authorization", auth)
            .header("x-ms-date", "Mon, 01 Jan 2024 00:00:00 GMT")
            .header("range", "bytes=abc")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{auth}");
    }
    // A token the simulator did not issue fails authentication (401), as Storage answers it.
    let r = client
        .get(format!("{}/blob/acct/packerlogs/x.log", t.base))
        .header("authorization", "Bearer x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .get(format!("{}/blob/acct/c/b?sig=abc&se=notadate&sp=r", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client
        .post(format!("{}/_sim/publish", t.base))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // non-ASCII names and huge numbers in expressions
    let r = client
        .get(format!(
            "{}{}",
            t.base,
            with_api(&rg_path("xy%C3%A9z"), API_RES)
        ))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let tpl = serde_json::json!({"properties": {"mode": "Incremental", "template": {"resources": [], "outputs": {"o": {"type": "string", "value": "[substring('abc', 18446744073709551615, 18446744073709551615)]"}}}}});
    let r = t.put(&dep, API_RES, &tpl).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let deep = format!("[{}'x'{}]", "toLower(".repeat(5000), ")".repeat(5000));
    let tpl = serde_json::json!({"properties": {"mode": "Incremental", "template": {"resources": [], "outputs": {"o": {"type": "string", "value": deep}}}}});
    let r = t.put(&dep, API_RES, &tpl).await;
    assert_eq!(r.code(), "InvalidTemplate");
    // still healthy
    assert_eq!(t.get(&rg_path("rg"), API_RES).await.status, 200);
    t.sim.shutdown().await;
}
