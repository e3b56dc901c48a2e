use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn failing_build_writes_customization_log() {
    let t = start(
        "minute_ms = 1\nbuild_minutes = 20\ncreate_minutes = 0\n[[outcome]]\ntemplate = \"*ubuntu*\"\nresult = \"fail\"\nfailed_customizer = \"harden\"\n[[outcome]]\ntemplate = \"*slow*\"\nresult = \"timeout\"\n",
    )
    .await;
    let rg = "rg-b";
    let name = "img-ubuntu-1";
    let cust = json!([shell("setup"), shell("harden"), shell("after")]);
    let body = template_body(cust, sig_distribute(rg, "gal", "img", None, &["eastus2"]));
    assert_eq!(t.put(&it_path(rg, name), API_AIB, &body).await.status, 201);
    let r = t.post(&format!("{}/run", it_path(rg, name)), API_AIB).await;
    let op_url = r.header("azure-asyncoperation").unwrap();
    let b = t.wait_run_done(rg, name).await;
    let lrs = &b["properties"]["lastRunStatus"];
    assert_eq!(lrs["runState"], "Failed");
    assert_eq!(lrs["runSubState"], "Customizing");
    let msg = lrs["message"].as_str().unwrap();
    assert!(
        msg.contains("/packerlogs/") && msg.contains("customization.log"),
        "{msg}"
    );
    let op = t.get(&op_url, API_AIB).await.body;
    assert_eq!(op["status"], "Failed");
    assert!(op["error"]["code"].is_string());
    // no run outputs, no gallery version
    assert_eq!(
        t.get(&format!("{}/runOutputs", it_path(rg, name)), API_AIB)
            .await
            .body["value"],
        json!([])
    );

    // find the log: staging RG -> storage account -> listKeys -> list blobs -> get blob
    let staging = b["properties"]["exactStagingResourceGroup"]
        .as_str()
        .unwrap();
    let sas = t
        .get(
            &format!("{staging}/providers/Microsoft.Storage/storageAccounts"),
            "2023-05-01",
        )
        .await;
    assert_eq!(sas.status, 200, "{}", sas.text);
    let acct = &sas.body["value"][0];
    let account = acct["name"].as_str().unwrap().to_string();
    let endpoint = acct["properties"]["primaryEndpoints"]["blob"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(endpoint.starts_with(&t.base));
    let keys = t
        .post(
            &format!("{}/listKeys", acct["id"].as_str().unwrap()),
            "2023-05-01",
        )
        .await;
    assert_eq!(keys.status, 200, "{}", keys.text);
    let key = keys.body["keys"][0]["value"].as_str().unwrap().to_string();
    assert_eq!(keys.body["keys"][0]["keyName"], "key1");
    assert_eq!(keys.body["keys"][0]["permissions"], "FULL");

    let list_url =
        reqwest::Url::parse(&format!("{endpoint}packerlogs?restype=container&comp=list")).unwrap();
    // unauthenticated -> 403
    let r = t.http.get(list_url.clone()).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["x-ms-error-code"], "AuthenticationFailed");
    let mut rb = t.http.get(list_url.clone());
    for (k, v) in shared_key_headers(&account, &key, "GET", &list_url, &[]) {
        rb = rb.header(k, v);
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let xml = r.text().await.unwrap();
    assert!(
        xml.contains("<EnumerationResults") && xml.contains("<NextMarker />"),
        "{xml}"
    );
    let start = xml.find("<Name>").unwrap() + 6;
    let end = xml[start..].find("</Name>").unwrap() + start;
    let blob_name = xml[start..end].to_string();
    assert!(blob_name.ends_with("/customization.log"));

    let blob_url = reqwest::Url::parse(&format!("{endpoint}packerlogs/{blob_name}")).unwrap();
    let mut rb = t.http.get(blob_url.clone());
    for (k, v) in shared_key_headers(&account, &key, "GET", &blob_url, &[]) {
        rb = rb.header(k, v);
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let log = r.text().await.unwrap();
    if std::env::var_os("SIM_PRINT_LOG").is_some() {
        eprintln!("{msg}\n----\n{log}");
    }
    // Packer's real markers: AIB's upload first, then the customizers up to the failing one,
    // which gets its `ending` line too.
    assert_eq!(
        log.matches("(telemetry) Starting provisioner shell")
            .count(),
        2,
        "{log}"
    );
    assert_eq!(log.matches("(telemetry) ending shell").count(), 2, "{log}");
    assert_eq!(
        log.matches("(telemetry) Starting provisioner file").count(),
        1
    );
    assert!(log.contains(
        "Uploading /aib/packerInput/DeprovisioningScript.txt => /tmp/DeprovisioningScript.sh"
    ));
    assert!(log.contains("Script exited with non-zero exit status: 1"));
    assert!(log.contains("Build 'azure-arm' errored after"));
    assert!(log.contains("[harden]"));
    assert!(!log.contains("[after]"));
    assert!(msg.contains(&blob_name));

    // wrong key -> 403
    let mut rb = t.http.get(blob_url.clone());
    for (k, v) in shared_key_headers(
        &account,
        &aib_sim::arm::storage::account_key("other", 1),
        "GET",
        &blob_url,
        &[],
    ) {
        rb = rb.header(k, v);
    }
    assert_eq!(rb.send().await.unwrap().status(), 403);

    // Range via x-ms-range (signed as an x-ms header) and plain Range
    let mut rb = t.http.get(blob_url.clone());
    for (k, v) in shared_key_headers(
        &account,
        &key,
        "GET",
        &blob_url,
        &[("x-ms-range", "bytes=0-9")],
    ) {
        rb = rb.header(k, v);
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), 206);
    let total = log.len();
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-9/{total}").as_str()
    );
    assert_eq!(r.bytes().await.unwrap().len(), 10);
    let mut rb = t.http.get(blob_url.clone());
    for (k, v) in shared_key_headers(&account, &key, "GET", &blob_url, &[("range", "bytes=-5")]) {
        rb = rb.header(k, v);
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.text().await.unwrap(), &log[total - 5..]);

    // HEAD
    let mut rb = t.http.head(blob_url.clone());
    for (k, v) in shared_key_headers(&account, &key, "HEAD", &blob_url, &[]) {
        rb = rb.header(k, v);
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], total.to_string().as_str());
    assert_eq!(r.headers()["x-ms-blob-type"], "BlockBlob");

    // SAS: valid, expired, wrong permission
    let future = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let past = (chrono::Utc::now() - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let q = service_sas(&account, &key, "packerlogs", Some(&blob_name), "r", &future);
    let r = t
        .http
        .get(format!("{endpoint}packerlogs/{blob_name}?{q}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let q = service_sas(&account, &key, "packerlogs", Some(&blob_name), "r", &past);
    assert_eq!(
        t.http
            .get(format!("{endpoint}packerlogs/{blob_name}?{q}"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let q = service_sas(&account, &key, "packerlogs", None, "l", &future);
    let r = t
        .http
        .get(format!(
            "{endpoint}packerlogs?restype=container&comp=list&{q}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let q = service_sas(&account, &key, "packerlogs", None, "r", &future);
    assert_eq!(
        t.http
            .get(format!(
                "{endpoint}packerlogs?restype=container&comp=list&{q}"
            ))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let mut tampered = service_sas(&account, &key, "packerlogs", Some(&blob_name), "r", &future);
    tampered = tampered.replace("sp=r", "sp=rw");
    assert_eq!(
        t.http
            .get(format!("{endpoint}packerlogs/{blob_name}?{tampered}"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );

    // timeout writes a log ending with the timeout
    let slow = "img-slow";
    let mut sbody = body.clone();
    sbody["properties"]["buildTimeoutInMinutes"] = json!(30);
    assert_eq!(t.put(&it_path(rg, slow), API_AIB, &sbody).await.status, 201);
    t.post(&format!("{}/run", it_path(rg, slow)), API_AIB).await;
    let b = t.wait_run_done(rg, slow).await;
    let m = b["properties"]["lastRunStatus"]["message"]
        .as_str()
        .unwrap();
    assert_eq!(b["properties"]["lastRunStatus"]["runState"], "Failed");
    assert!(
        m.contains("context deadline exceeded") && m.contains("customization.log"),
        "{m}"
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn blob_listing_pages() {
    // Several failed runs of one template put several logs in one container.
    let t = start("minute_ms = 1\nbuild_minutes = 5\ncreate_minutes = 0\n[[outcome]]\ntemplate = \"*\"\nresult = \"fail\"\n").await;
    let rg = "rg-p";
    let body = template_body(
        json!([{"type": "PowerShell", "name": "ps", "inline": ["x"]}, {"type": "WindowsRestart"}]),
        sig_distribute(rg, "g", "win", None, &["eastus2"]),
    );
    assert_eq!(t.put(&it_path(rg, "w"), API_AIB, &body).await.status, 201);
    for _ in 0..3 {
        assert_eq!(
            t.post(&format!("{}/run", it_path(rg, "w")), API_AIB)
                .await
                .status,
            202
        );
        t.wait_run_done(rg, "w").await;
    }
    let b = t.get(&it_path(rg, "w"), API_AIB).await.body;
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
    let account = acct["name"].as_str().unwrap();
    let endpoint = acct["properties"]["primaryEndpoints"]["blob"]
        .as_str()
        .unwrap();
    let key = t
        .post(
            &format!("{}/listKeys", acct["id"].as_str().unwrap()),
            "2023-05-01",
        )
        .await
        .body["keys"][1]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let mut marker = String::new();
    let mut names = Vec::new();
    for _ in 0..5 {
        let mut u = format!("{endpoint}packerlogs?restype=container&comp=list&maxresults=2");
        if !marker.is_empty() {
            u.push_str(&format!(
                "&marker={}",
                percent_encoding::utf8_percent_encode(&marker, percent_encoding::NON_ALPHANUMERIC)
            ));
        }
        let url = reqwest::Url::parse(&u).unwrap();
        let mut rb = t.http.get(url.clone());
        for (k, v) in shared_key_headers(account, &key, "GET", &url, &[]) {
            rb = rb.header(k, v);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), 200);
        let xml = r.text().await.unwrap();
        for part in xml.split("<Name>").skip(1) {
            names.push(part.split("</Name>").next().unwrap().to_string());
        }
        match xml.split("<NextMarker>").nth(1) {
            Some(rest) => marker = rest.split("</NextMarker>").next().unwrap().to_string(),
            None => break,
        }
    }
    assert_eq!(names.len(), 3, "{names:?}");
    // the log is Windows-flavoured
    let url = reqwest::Url::parse(&format!("{endpoint}packerlogs/{}", names[0])).unwrap();
    let mut rb = t.http.get(url.clone());
    for (k, v) in shared_key_headers(account, &key, "GET", &url, &[]) {
        rb = rb.header(k, v);
    }
    let log = rb.send().await.unwrap().text().await.unwrap();
    assert!(
        log.contains("Starting provisioner powershell") && log.contains("ending powershell"),
        "{log}"
    );
    // The failing restart gets its `ending` line too, as Packer writes it.
    assert!(
        log.contains("Starting provisioner windows-restart")
            && log.contains("ending windows-restart")
            && log.contains("Timeout waiting for machine to restart")
    );
    t.sim.shutdown().await;
}

/// `log_format = "packer-1.14"`: the log has no telemetry; each step starts at its first UI
/// line.
#[tokio::test]
async fn the_packer_1_14_format_has_no_telemetry() {
    let t = start(
        "minute_ms = 1\nbuild_minutes = 10\ncreate_minutes = 0\nlog_format = \"packer-1.14\"\n[[outcome]]\ntemplate = \"*\"\nresult = \"fail\"\nfailed_customizer = \"tools\"\n",
    )
    .await;
    let rg = "rg-n";
    let cust = json!([
        {"type": "PowerShell", "name": "setup", "inline": ["echo"]},
        {"type": "WindowsRestart", "name": "restart"},
        {"type": "PowerShell", "name": "tools", "inline": ["echo"]},
    ]);
    let body = template_body(cust, sig_distribute(rg, "gal", "img", None, &["eastus2"]));
    assert_eq!(t.put(&it_path(rg, "w"), API_AIB, &body).await.status, 201);
    t.post(&format!("{}/run", it_path(rg, "w")), API_AIB).await;
    let b = t.wait_run_done(rg, "w").await;
    let staging = b["properties"]["exactStagingResourceGroup"]
        .as_str()
        .unwrap();
    let log = read_log(&t, staging).await;
    assert!(!log.contains("(telemetry)"), "{log}");
    assert_eq!(
        log.matches("ui: ==> azure-arm: Provisioning with Powershell...")
            .count(),
        2,
        "{log}"
    );
    assert_eq!(
        log.matches("ui: ==> azure-arm: Restarting Machine").count(),
        1
    );
    assert!(log.contains("ui: ==> azure-arm: Uploading /aib/packerInput/DeprovisioningScript.txt => c:\\DeprovisioningScript.ps1"), "{log}");
    assert!(
        log.contains("ui error: Build 'azure-arm' errored after"),
        "{log}"
    );
    assert!(log.lines().all(|l| l.starts_with('[')), "{log}");
    t.sim.shutdown().await;
}

/// The newest `customization.log` of a staging group, read with the account key.
async fn read_log(t: &T, staging: &str) -> String {
    let sas = t
        .get(
            &format!("{staging}/providers/Microsoft.Storage/storageAccounts"),
            "2023-05-01",
        )
        .await;
    let acct = &sas.body["value"][0];
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
    let get = |url: reqwest::Url| {
        let mut rb = t.http.get(url.clone());
        for (k, v) in shared_key_headers(&account, &key, "GET", &url, &[]) {
            rb = rb.header(k, v);
        }
        rb
    };
    let list =
        reqwest::Url::parse(&format!("{endpoint}packerlogs?restype=container&comp=list")).unwrap();
    let xml = get(list).send().await.unwrap().text().await.unwrap();
    let start = xml.find("<Name>").unwrap() + 6;
    let end = xml[start..].find("</Name>").unwrap() + start;
    let url = reqwest::Url::parse(&format!("{endpoint}packerlogs/{}", &xml[start..end])).unwrap();
    get(url).send().await.unwrap().text().await.unwrap()
}

/// `[storage]`: an account that forbids Shared Key answers key-signed requests 403
/// `KeyBasedAuthenticationNotPermitted` and takes Entra tokens; `list_keys = false` refuses
/// listKeys; `data_reader = false` refuses tokens.
#[tokio::test]
async fn storage_access_rules() {
    for (storage, key_ok, keys_listed, token_ok) in [
        ("", true, true, true),
        ("shared_key = false", false, true, true),
        ("list_keys = false", true, false, true),
        ("data_reader = false", true, true, false),
    ] {
        let t = start(&format!(
            "minute_ms = 1\nbuild_minutes = 5\ncreate_minutes = 0\n[storage]\n{storage}\n[[outcome]]\ntemplate = \"*\"\nresult = \"fail\"\n"
        ))
        .await;
        let rg = "rg-s";
        let body = template_body(
            json!([shell("a")]),
            sig_distribute(rg, "g", "i", None, &["eastus2"]),
        );
        assert_eq!(t.put(&it_path(rg, "s"), API_AIB, &body).await.status, 201);
        t.post(&format!("{}/run", it_path(rg, "s")), API_AIB).await;
        let b = t.wait_run_done(rg, "s").await;
        let staging = b["properties"]["exactStagingResourceGroup"]
            .as_str()
            .unwrap();
        let sas = t
            .get(
                &format!("{staging}/providers/Microsoft.Storage/storageAccounts"),
                "2023-05-01",
            )
            .await;
        let acct = &sas.body["value"][0];
        assert_eq!(
            acct["properties"]["allowSharedKeyAccess"], key_ok,
            "{storage}"
        );
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
        let list =
            reqwest::Url::parse(&format!("{endpoint}packerlogs?restype=container&comp=list"))
                .unwrap();
        if keys_listed {
            assert_eq!(keys.status, 200, "{storage}");
            let key = keys.body["keys"][0]["value"].as_str().unwrap().to_string();
            let mut rb = t.http.get(list.clone());
            for (k, v) in shared_key_headers(&account, &key, "GET", &list, &[]) {
                rb = rb.header(k, v);
            }
            let r = rb.send().await.unwrap();
            if key_ok {
                assert_eq!(r.status(), 200, "{storage}");
            } else {
                assert_eq!(r.status(), 403, "{storage}");
                assert_eq!(
                    r.headers()["x-ms-error-code"],
                    "KeyBasedAuthenticationNotPermitted"
                );
            }
        } else {
            assert_eq!(keys.status, 403, "{storage}");
            assert_eq!(keys.code(), "AuthorizationFailed");
        }
        let r = t
            .http
            .get(list.clone())
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap();
        if token_ok {
            assert_eq!(r.status(), 200, "{storage}");
        } else {
            assert_eq!(r.status(), 403, "{storage}");
            assert_eq!(
                r.headers()["x-ms-error-code"],
                "AuthorizationPermissionMismatch"
            );
        }
        // A token the simulator never issued is not a token.
        let r = t
            .http
            .get(list)
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{storage}");
        t.sim.shutdown().await;
    }
}
