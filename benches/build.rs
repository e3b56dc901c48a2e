//! `aib build` benchmark against the in-process simulator (1 simulated minute = 20 ms).
//!
//! - `fleet`: 200 independent units, max_parallel 50, each build 60 simulated minutes: wall
//!   time vs the 4-wave bound (4 × 62 simulated minutes = 4.96 s), ARM requests per unit
//!   (from `/_sim/stats`), peak memory (VmHWM of the process, simulator included).
//! - `AIB_BENCH_UNITS=1000 AIB_BENCH_PARALLEL=1000 cargo bench --bench build`: every unit in
//!   flight at once: CPU time (process, simulator included), memory, list rate.
//!
//! `cargo bench --bench build` runs the 200-unit case once and prints the numbers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aib_executor::runner::ExecutorConfig;
use aib_executor::secrets::SecretOptions;
use aib_executor::session::{self, BuildRequest};
use aib_manifest::Manifest;
use aib_planner::{Date, PlanOptions};
use chrono::Datelike;
use tokio_util::sync::CancellationToken;

#[path = "support/mod.rs"]
mod support;

const MINUTE_MS: u64 = 20;

fn main() {
    let units: usize = std::env::var("AIB_BENCH_UNITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let parallel: usize = std::env::var("AIB_BENCH_PARALLEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(fleet(units, parallel));
    divan::main();
}

/// Log analysis of a 2,000-line log (the only CPU-heavy step of a failure).
#[divan::bench]
fn analyse_log(b: divan::Bencher) {
    let mut log = String::new();
    for i in 0..6 {
        log.push_str(&format!(
            "PACKER ERR x [INFO] (telemetry) Starting provisioner shell\n"
        ));
        for j in 0..300 {
            log.push_str(&format!("PACKER OUT     azure-arm: step {i} line {j}\n"));
        }
        if i < 5 {
            log.push_str("PACKER ERR x [INFO] (telemetry) ending provisioner shell\n");
        }
    }
    log.push_str("==> azure-arm: Script exited with non-zero exit status: 1\n");
    let steps: Vec<aib_executor::logs::StepName> = (0..6)
        .map(|i| aib_executor::logs::StepName {
            name: format!("s{i}"),
            packer_type: "shell".into(),
        })
        .collect();
    b.bench(|| aib_executor::logs::analyse(divan::black_box(&log), &steps));
}

fn manifest(dir: &std::path::Path, units: usize) -> Manifest {
    let rows: Vec<String> = (1..=units).map(|i| format!("\"{i}\"")).collect();
    let text = format!(
        r#"
version = 1
[pipeline]
name = "bench"
[defaults]
location = "eastus2"
resource_group = "rg-bench"
identity = "/subscriptions/{{{{ subscription }}}}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
gallery = {{ name = "gal" }}
version = "date"
[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"
[variants.img]
image_definition = "img-{{{{ matrix.n }}}}"
source = {{ platform = "Canonical:ubuntu-24_04-lts:server:latest" }}
customize = [ {{ type = "shell", name = "s", inline = ["true"] }} ]
[variants.img.matrix]
n = [{}]
"#,
        rows.join(", ")
    );
    std::fs::write(dir.join("aib.toml"), text).expect("write");
    Manifest::load(&dir.join("aib.toml")).expect("manifest")
}

fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn cpu_seconds() -> f64 {
    // utime + stime from /proc/self/stat (clock ticks, 100 per second on Linux).
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit(')').next()?.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let u: f64 = f.get(11)?.parse().ok()?;
            let st: f64 = f.get(12)?.parse().ok()?;
            Some((u + st) / 100.0)
        })
        .unwrap_or(0.0)
}

async fn fleet(units: usize, parallel: usize) {
    let scenario = aib_sim::Scenario {
        minute_ms: MINUTE_MS,
        build_minutes: 60.0,
        ..aib_sim::Scenario::default()
    };
    let sim = aib_sim::start("127.0.0.1:0".parse().expect("addr"), scenario)
        .await
        .expect("sim");
    let base = sim.base_url();
    let t = aib_azure::transport::Transport::new(&Default::default()).expect("transport");
    let arm = support::sim_client(&base, &t, MINUTE_MS as f64 / 60_000.0).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let m = manifest(dir.path(), units);
    let now = chrono::Utc::now().date_naive();
    let plan = aib_planner::plan(
        &m,
        &PlanOptions {
            today: Date::new(now.year(), now.month(), now.day()),
            ..PlanOptions::default()
        },
    )
    .expect("plan");
    let store = aib_state::StateStore::open_local(dir.path().join(".aib"))
        .await
        .expect("state");
    let cpu0 = cpu_seconds();
    let mem0 = peak_kb();
    let start = Instant::now();
    let r = session::build(BuildRequest {
        manifest: Arc::new(m),
        plan,
        arm,
        store,
        run_id: aib_state::new_run_id(chrono::Utc::now()),
        trigger: aib_state::Trigger::Manual,
        manifest_display: "aib.toml".into(),
        selection: Default::default(),
        config: ExecutorConfig {
            max_parallel: parallel,
            time_scale: MINUTE_MS as f64 / 60_000.0,
            ..ExecutorConfig::default()
        },
        interrupt: CancellationToken::new(),
        forward: None,
        note: None,
        secret_options: SecretOptions::default(),
    })
    .await
    .expect("build");
    let wall = start.elapsed();
    let cpu = cpu_seconds() - cpu0;
    let ok = r
        .record
        .units
        .iter()
        .filter(|u| u.status == aib_state::UnitStatus::Succeeded)
        .count();
    let stats: serde_json::Value = t
        .client()
        .get(format!("{base}/_sim/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json");
    let reqs = stats["requests"].as_object().cloned().unwrap_or_default();
    let total: u64 = reqs
        .iter()
        .filter(|(k, _)| !k.starts_with("blob.") && k.as_str() != "token")
        .filter_map(|(_, v)| v.as_u64())
        .sum();
    let waves = units.div_ceil(parallel.max(1)) as f64;
    let bound = Duration::from_millis((waves * 62.0 * MINUTE_MS as f64) as u64);
    println!(
        "== aib build benchmark: {units} units, max_parallel {parallel}, build 60 min, 1 min = {MINUTE_MS} ms =="
    );
    println!("succeeded: {ok}/{units}");
    println!(
        "wall time: {:.3} s; {}-wave bound {:.3} s; ratio {:.3}",
        wall.as_secs_f64(),
        waves,
        bound.as_secs_f64(),
        wall.as_secs_f64() / bound.as_secs_f64()
    );
    println!(
        "ARM requests: {total} ({:.2} per unit); progress lists: {}; list rate {:.2}/s",
        total as f64 / units as f64,
        r.progress_lists,
        r.progress_lists as f64 / wall.as_secs_f64()
    );
    println!("requests by operation: {}", serde_json::Value::Object(reqs));
    // Where a unit's time goes, in simulated minutes (mean over units), and the gap between
    // one stage's end and the next one's start.
    let mut per_stage: std::collections::BTreeMap<String, (f64, f64, usize)> = Default::default();
    for u in &r.record.units {
        let mut prev_end: Option<chrono::DateTime<chrono::Utc>> = None;
        for s in &u.stages {
            if let (Some(a), Some(b)) = (s.started, s.finished) {
                let e = per_stage.entry(s.name.clone()).or_default();
                e.0 += (b - a).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                if let Some(p) = prev_end {
                    e.1 += (a - p).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                }
                e.2 += 1;
                prev_end = Some(b);
            }
        }
    }
    let minutes: Vec<String> = per_stage
        .iter()
        .map(|(k, (d, g, n))| {
            let n = (*n).max(1) as f64;
            format!(
                "{k} {:.2} (+{:.2} before)",
                d / n / MINUTE_MS as f64,
                g / n / MINUTE_MS as f64
            )
        })
        .collect();
    println!("mean simulated minutes per stage: {}", minutes.join(", "));
    println!(
        "process CPU (orchestrator + in-process simulator): {:.2} s = {:.1}% of a core over the run",
        cpu,
        100.0 * cpu / wall.as_secs_f64()
    );
    let peak = peak_kb();
    println!(
        "peak RSS (VmHWM, simulator included): {:.1} MB (before the run {:.1} MB; {:.1} KB per unit above it)",
        peak as f64 / 1024.0,
        mem0 as f64 / 1024.0,
        (peak.saturating_sub(mem0)) as f64 / units as f64
    );
    sim.shutdown().await;
}
