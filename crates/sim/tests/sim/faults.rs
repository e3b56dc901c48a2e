use crate::common::*;
use std::time::Duration;

#[tokio::test]
async fn random_faults_are_counted() {
    let t = start("minute_ms = 50\n[faults]\nthrottle = 0.3\nserver_error = 0.2\nreset = 0.1\nlatency_ms = 1\nseed = 7\n").await;
    let url = format!("{}{}", t.base, with_api(&rg_path("rg1"), API_RES));
    let (mut throttled, mut errors, mut resets, mut ok) = (0u64, 0u64, 0u64, 0u64);
    for _ in 0..200 {
        match t.http.get(&url).bearer_auth(&t.token).send().await {
            Ok(r) => match r.status().as_u16() {
                429 => {
                    assert_eq!(r.headers()["retry-after-ms"], "50");
                    assert_eq!(r.headers()["retry-after"], "1");
                    let v: serde_json::Value = r.json().await.unwrap();
                    assert_eq!(v["error"]["code"], "TooManyRequests");
                    throttled += 1;
                }
                500 | 503 => errors += 1,
                200 => ok += 1,
                s => panic!("unexpected {s}"),
            },
            Err(_) => resets += 1,
        }
    }
    let s = t.stats().await;
    assert_eq!(s["faults"]["throttle"], throttled);
    assert_eq!(s["faults"]["server_error"], errors);
    assert_eq!(s["faults"]["reset"], resets);
    assert_eq!(throttled + errors + resets + ok, 200);
    assert!(
        throttled > 30 && errors > 15 && resets > 5 && ok > 50,
        "{throttled} {errors} {resets} {ok}"
    );
    assert_eq!(s["requests"]["resourceGroups.get"], 200);
    // /_sim is never faulted
    for _ in 0..30 {
        assert_eq!(
            t.http
                .get(format!("{}/_sim/stats", t.base))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn reset_mid_body_breaks_the_body() {
    let t = start("minute_ms = 1\n[faults]\nreset = 1.0\nreset_mid_body = 1.0\n").await;
    let url = format!("{}{}", t.base, with_api(&rg_path("rg1"), API_RES));
    let r = t.http.get(&url).bearer_auth(&t.token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err());
    t.sim.shutdown().await;
}

#[tokio::test]
async fn throttle_storm_and_operation_status_errors() {
    let t = start(
        "minute_ms = 1\nbuild_minutes = 5\ncreate_minutes = 0\n[faults]\noperation_status_errors = 2\n[[faults.throttle_storm]]\nstart_ms = 0\nduration_ms = 1500\n",
    )
    .await;
    let url = format!("{}{}", t.base, with_api(&rg_path("rg1"), API_RES));
    assert_eq!(
        t.http
            .get(&url)
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap()
            .status(),
        429
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(
        t.http
            .get(&url)
            .bearer_auth(&t.token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let body = template_body(
        serde_json::json!([shell("a")]),
        sig_distribute("rg1", "g", "i", None, &["eastus2"]),
    );
    assert_eq!(
        t.put(&it_path("rg1", "x"), API_AIB, &body).await.status,
        201
    );
    let r = t
        .post(&format!("{}/run", it_path("rg1", "x")), API_AIB)
        .await;
    let op = r.header("azure-asyncoperation").unwrap();
    assert_eq!(t.get(&op, API_AIB).await.status, 500);
    assert_eq!(t.get(&op, API_AIB).await.status, 500);
    assert_eq!(t.get(&op, API_AIB).await.status, 200);
    t.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput() {
    let t = start("minute_ms = 1").await;
    let http = reqwest::Client::new();
    let url = format!("{}{}", t.base, with_api(&it_path("rg1", "none"), API_AIB));
    let n = 2000;
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (http, url, token) = (http.clone(), url.clone(), t.token.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..n / 16 {
                let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
                assert_eq!(r.status(), 404);
                let _ = r.bytes().await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let rps = n as f64 / started.elapsed().as_secs_f64();
    eprintln!("throughput: {rps:.0} requests/s");
    assert!(rps > 300.0, "{rps}");
    t.sim.shutdown().await;
}
