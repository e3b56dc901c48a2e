//! Simulator throughput: `cargo bench --bench sim`.
//!
//! Starts the simulator in-process (`aib_sim::start`, default scenario but `minute_ms = 1` so
//! the set-up builds finish at once), creates a resource group's worth of image templates,
//! gallery versions and deployments, then drives a fixed number of requests of a realistic
//! mix over the shared reqwest client (`aib_azure::transport::Transport`):
//!
//! | share | request |
//! |---|---|
//! | 5 % | `GET /msi/token` |
//! | 35 % | `GET` imageTemplate |
//! | 20 % | list imageTemplates in the resource group (one page of `page_size`) |
//! | 20 % | `GET` gallery image version `?$expand=ReplicationStatus` |
//! | 20 % | `GET` deployment |
//!
//! at concurrency 32, 64 and 128, and prints requests/s and latency p50/p99 for each. Not a
//! timed test: it prints numbers (goal: at least 2,000 requests/s on the 2-core CI machine).
//! `AIB_BENCH_SIM_REQUESTS` overrides the request count per concurrency level (20,000).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aib_azure::transport::{Transport, TransportOptions};
use serde_json::{Value, json};

const SUB: &str = "00000000-0000-0000-0000-000000000001";
const RG: &str = "rg-bench";
const TEMPLATES: usize = 20;
const API_AIB: &str = "2025-10-01";
const API_GAL: &str = "2025-03-03";
const API_RES: &str = "2025-04-01";

fn main() {
    let requests: usize = std::env::var("AIB_BENCH_SIM_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(run(requests)) {
        eprintln!("sim benchmark failed: {e}");
        std::process::exit(1);
    }
}

type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

struct Fixture {
    base: String,
    /// The pooled reqwest client, reached through `Transport::client()`.
    http: Arc<Transport>,
    token: String,
    urls: Vec<String>,
}

async fn run(requests: usize) -> BenchResult {
    let scenario = aib_sim::Scenario::from_toml_str("minute_ms = 1\nbuild_minutes = 1")?;
    let sim = aib_sim::start("127.0.0.1:0".parse()?, scenario).await?;
    let transport = Arc::new(Transport::new(&TransportOptions::default())?);
    let base = sim.base_url();
    let token = fetch_token(&transport, &base).await?;
    let fx = Arc::new(
        setup(Fixture {
            base: base.clone(),
            http: transport,
            token,
            urls: Vec::new(),
        })
        .await?,
    );

    println!(
        "sim throughput: {requests} requests per level, mix token 5% / GET imageTemplate 35% / list RG 20% / GET gallery version 20% / GET deployment 20%"
    );
    println!(
        "{:>11} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "concurrency", "req/s", "p50 ms", "p99 ms", "max ms", "errors"
    );
    for concurrency in [32usize, 64, 128] {
        let r = drive(fx.clone(), concurrency, requests).await?;
        println!(
            "{:>11} {:>10.0} {:>10.2} {:>10.2} {:>10.2} {:>8}",
            concurrency, r.rps, r.p50_ms, r.p99_ms, r.max_ms, r.errors
        );
    }
    let stats: Value = fx
        .http
        .client()
        .get(format!("{base}/_sim/stats"))
        .send()
        .await?
        .json()
        .await?;
    let total: u64 = stats["requests"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    println!("simulator counted {total} requests in all");
    sim.shutdown().await;
    Ok(())
}

async fn fetch_token(t: &Transport, base: &str) -> BenchResult<String> {
    let v: Value = t
        .client()
        .get(format!(
            "{base}/msi/token?api-version=2019-08-01&resource=https://management.azure.com"
        ))
        .header("X-IDENTITY-HEADER", "bench")
        .send()
        .await?
        .json()
        .await?;
    Ok(v["access_token"]
        .as_str()
        .ok_or("no access_token")?
        .to_owned())
}

fn rg_path(rg: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}")
}

fn template_path(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.VirtualMachineImages/imageTemplates/{name}",
        rg_path(RG)
    )
}

fn version_path(version: &str) -> String {
    format!(
        "{}/providers/Microsoft.Compute/galleries/gal/images/bench/versions/{version}",
        rg_path("rg-gal")
    )
}

fn deployment_path(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Resources/deployments/{name}",
        rg_path(RG)
    )
}

async fn call(
    fx: &Fixture,
    method: &str,
    path_and_query: &str,
    body: Option<&Value>,
) -> BenchResult<(u16, Value)> {
    let url = format!("{}{path_and_query}", fx.base);
    let c = fx.http.client();
    let mut rb = match method {
        "PUT" => c.put(&url),
        "POST" => c.post(&url).header("content-length", "0"),
        _ => c.get(&url),
    };
    rb = rb.bearer_auth(&fx.token);
    if let Some(b) = body {
        rb = rb
            .header("content-type", "application/json")
            .body(serde_json::to_vec(b)?);
    }
    let r = rb.send().await?;
    let status = r.status().as_u16();
    let bytes = r.bytes().await?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// Templates (each run once, so each has a gallery version), deployments, and the request URLs.
async fn setup(mut fx: Fixture) -> BenchResult<Fixture> {
    let identity = format!(
        "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib",
        rg_path("rg-id")
    );
    for i in 0..TEMPLATES {
        let name = format!("it-bench-{i}");
        let body = json!({
            "location": "eastus2",
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity.clone(): {}}},
            "properties": {
                "buildTimeoutInMinutes": 60,
                "source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"},
                "customize": [{"type": "Shell", "name": "base", "inline": ["echo hi"]}],
                "distribute": [{
                    "type": "SharedImage",
                    "galleryImageId": format!("{}/providers/Microsoft.Compute/galleries/gal/images/bench/versions/1.0.{i}", rg_path("rg-gal")),
                    "runOutputName": "out",
                    "targetRegions": [{"name": "eastus2", "replicaCount": 1}]
                }]
            }
        });
        let (s, v) = call(
            &fx,
            "PUT",
            &format!("{}?api-version={API_AIB}", template_path(&name)),
            Some(&body),
        )
        .await?;
        if !(200..300).contains(&s) {
            return Err(format!("PUT template {name}: {s} {v}").into());
        }
        let (s, v) = call(
            &fx,
            "PUT",
            &format!(
                "{}?api-version={API_RES}",
                deployment_path(&format!("dep-{i}"))
            ),
            Some(&json!({"properties": {"mode": "Incremental", "template": {"resources": []}}})),
        )
        .await?;
        if !(200..300).contains(&s) {
            return Err(format!("PUT deployment: {s} {v}").into());
        }
    }
    // Provisioned after one simulated minute (1 ms); run every template.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for i in 0..TEMPLATES {
        let path = format!(
            "{}/run?api-version={API_AIB}",
            template_path(&format!("it-bench-{i}"))
        );
        let (s, v) = call(&fx, "POST", &path, None).await?;
        if s != 202 {
            return Err(format!("run: {s} {v}").into());
        }
    }
    // Wait until every version exists.
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in 0..TEMPLATES {
        loop {
            let (s, _) = call(
                &fx,
                "GET",
                &format!(
                    "{}?api-version={API_GAL}",
                    version_path(&format!("1.0.{i}"))
                ),
                None,
            )
            .await?;
            if s == 200 {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("gallery version 1.0.{i} never appeared ({s})").into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // The mix, 20 slots: 1 token, 7 template GETs, 4 lists, 4 version GETs, 4 deployment GETs.
    let mut urls = vec![format!(
        "/msi/token?api-version=2019-08-01&resource=https://management.azure.com"
    )];
    for k in 0..7 {
        urls.push(format!(
            "{}?api-version={API_AIB}",
            template_path(&format!("it-bench-{}", k * 3 % TEMPLATES))
        ));
    }
    for _ in 0..4 {
        urls.push(format!(
            "{}/providers/Microsoft.VirtualMachineImages/imageTemplates?api-version={API_AIB}",
            rg_path(RG)
        ));
    }
    for k in 0..4 {
        urls.push(format!(
            "{}?api-version={API_GAL}&$expand=ReplicationStatus",
            version_path(&format!("1.0.{}", k * 5 % TEMPLATES))
        ));
    }
    for k in 0..4 {
        urls.push(format!(
            "{}?api-version={API_RES}",
            deployment_path(&format!("dep-{}", k * 5 % TEMPLATES))
        ));
    }
    fx.urls = urls;
    Ok(fx)
}

struct Level {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: usize,
}

async fn drive(fx: Arc<Fixture>, concurrency: usize, requests: usize) -> BenchResult<Level> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let fx = fx.clone();
        let next = next.clone();
        tasks.spawn(async move {
            let mut lat = Vec::with_capacity(requests / concurrency + 1);
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                // Spread the mix: a stride coprime with the 20 slots.
                let url = &fx.urls[(i * 7) % fx.urls.len()];
                let t0 = Instant::now();
                let c = fx.http.client();
                let rb = if url.starts_with("/msi/") {
                    c.get(format!("{}{url}", fx.base))
                        .header("X-IDENTITY-HEADER", "bench")
                } else {
                    c.get(format!("{}{url}", fx.base)).bearer_auth(&fx.token)
                };
                let ok = match rb.send().await {
                    Ok(r) => {
                        let good = r.status().is_success();
                        r.bytes().await.is_ok() && good
                    }
                    Err(_) => false,
                };
                lat.push(t0.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (lat, errors)
        });
    }
    let mut all = Vec::with_capacity(requests);
    let mut errors = 0;
    while let Some(r) = tasks.join_next().await {
        let (lat, e) = r?;
        all.extend(lat);
        errors += e;
    }
    let wall = start.elapsed();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let i = ((all.len() as f64 - 1.0) * p).round() as usize;
        all[i].as_secs_f64() * 1000.0
    };
    Ok(Level {
        rps: all.len() as f64 / wall.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: pct(1.0),
        errors,
    })
}
