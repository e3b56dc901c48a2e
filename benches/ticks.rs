//! A fleet built through CI ticks, against the simulator (`aib sim` in a child process, so the
//! CPU measured is the orchestrator's): `aib build --detach` of 1,000 units with 60-minute
//! builds at the default cap of 20, then `aib resume --detach` once every 15 simulated minutes
//! (as `aib ci` schedules it) until the run ends. Each tick loads the manifest, plans, reads
//! the run record and Azure, advances the run and writes it back, as the command does.
//!
//! Prints: ticks, the run's status, ARM requests per unit (the target: at most 12), and the
//! CPU time of the slowest and the mean tick (the target: under a minute each).
//!
//! `cargo bench --bench ticks`; `AIB_BENCH_UNITS` (default 1000), `AIB_BENCH_MINUTE_MS`
//! (default 20), `AIB_BENCH_TICK_MINUTES` (simulated minutes between ticks, default 15).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aib_executor::resume::{self, ResumeRequest};
use aib_executor::runner::ExecutorConfig;
use aib_executor::secrets::SecretOptions;
use aib_executor::session::{self, BuildRequest};
use aib_manifest::Manifest;
use aib_planner::{Date, PlanOptions};
use chrono::Datelike;
use tokio_util::sync::CancellationToken;

#[path = "support/mod.rs"]
mod support;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

fn manifest_text(units: u64) -> String {
    let rows: Vec<String> = (1..=units).map(|i| format!("\"{i}\"")).collect();
    format!(
        r#"
version = 1
[pipeline]
name = "ticks"
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
    )
}

fn cpu_seconds() -> f64 {
    support::proc_cpu_seconds("/proc/self/stat")
}

fn plan_of(m: &Manifest) -> aib_planner::Plan {
    let now = chrono::Utc::now().date_naive();
    aib_planner::plan(
        m,
        &PlanOptions {
            today: Date::new(now.year(), now.month(), now.day()),
            ..PlanOptions::default()
        },
    )
    .expect("plan")
}

fn main() {
    let units = env_num("AIB_BENCH_UNITS", 1000);
    let minute_ms = env_num("AIB_BENCH_MINUTE_MS", 20);
    let tick_minutes = env_num("AIB_BENCH_TICK_MINUTES", 15);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(units, minute_ms, tick_minutes));
}

async fn run(units: u64, minute_ms: u64, tick_minutes: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = support::ChildSim::start(
        dir.path(),
        &format!("minute_ms = {minute_ms}\nbuild_minutes = 60.0\n"),
    );
    let base = sim.url.clone();
    let t = aib_azure::transport::Transport::new(&Default::default()).expect("transport");
    let arm = support::sim_client(&base, &t).await;
    let time_scale = arm.config().retry.time_scale;
    let path = dir.path().join("aib.toml");
    std::fs::write(&path, manifest_text(units)).expect("write");
    let store = aib_state::StateStore::open_local(dir.path().join(".aib"))
        .await
        .expect("state");
    let config = ExecutorConfig {
        max_parallel: 20,
        time_scale,
        detach: true,
        ..ExecutorConfig::default()
    };
    let start = Instant::now();
    let cpu0 = cpu_seconds();
    let m = Manifest::load(&path).expect("manifest");
    let r = session::build(BuildRequest {
        manifest: Arc::new(m.clone()),
        plan: plan_of(&m),
        arm: arm.clone(),
        store: store.clone(),
        run_id: aib_state::new_run_id(chrono::Utc::now()),
        trigger: aib_state::Trigger::Manual,
        manifest_display: "aib.toml".into(),
        selection: Default::default(),
        config: config.clone(),
        interrupt: CancellationToken::new(),
        forward: None,
        note: None,
        secret_options: SecretOptions::default(),
        redactor: aib_executor::redact::Redactor::new(),
    })
    .await
    .expect("build --detach");
    let first_cpu = cpu_seconds() - cpu0;
    let run_id = r.record.run_id.clone();
    let mut status = r.record.status;
    let mut tick_cpu: Vec<f64> = Vec::new();
    let mut tick_wall: Vec<Duration> = Vec::new();
    while status == aib_state::RunStatus::Detached {
        tokio::time::sleep(Duration::from_millis(tick_minutes * minute_ms)).await;
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        // What `aib resume --detach` does: load, plan, read the record, advance, write.
        let m = Manifest::load(&path).expect("manifest");
        let plan = plan_of(&m);
        let record = store.read_run(&run_id).await.expect("record");
        let r = resume::resume(ResumeRequest {
            manifest: Arc::new(m),
            plan,
            arm: arm.clone(),
            store: store.clone(),
            record,
            config: config.clone(),
            interrupt: CancellationToken::new(),
            forward: None,
            secret_options: SecretOptions::default(),
            redactor: aib_executor::redact::Redactor::new(),
        })
        .await
        .expect("resume");
        tick_cpu.push(cpu_seconds() - cpu0);
        tick_wall.push(t0.elapsed());
        status = r.record.status;
        if tick_cpu.len() > 100_000 {
            break;
        }
    }
    let record = store.read_run(&run_id).await.expect("record");
    let ok = record
        .units
        .iter()
        .filter(|u| u.status == aib_state::UnitStatus::Succeeded)
        .count();
    let stats = support::sim_stats(&base, &t).await;
    let reqs = stats["requests"].as_object().cloned().unwrap_or_default();
    let arm_total = support::arm_requests(&stats);
    let runs_twice = stats["runs"]
        .as_object()
        .map(|m| m.values().filter(|v| v.as_u64() > Some(1)).count())
        .unwrap_or(0);
    let max_cpu = tick_cpu.iter().copied().fold(0.0, f64::max);
    let mean_cpu = tick_cpu.iter().sum::<f64>() / tick_cpu.len().max(1) as f64;
    let max_wall = tick_wall.iter().max().copied().unwrap_or_default();
    println!(
        "== aib ticks benchmark: {units} units, 60-minute builds, max_parallel 20, a tick every {tick_minutes} simulated minutes, 1 min = {minute_ms} ms =="
    );
    println!(
        "run {run_id}: {:?}, {ok}/{units} succeeded, templates run more than once: {runs_twice}",
        status
    );
    println!(
        "ticks: {} after build --detach (its CPU {first_cpu:.2} s); wall {:.1} s = {:.1} simulated hours",
        tick_cpu.len(),
        start.elapsed().as_secs_f64(),
        start.elapsed().as_secs_f64() * 1000.0 / minute_ms as f64 / 60.0
    );
    println!(
        "CPU per tick: max {max_cpu:.3} s, mean {mean_cpu:.3} s (target: under 60 s); slowest tick wall {:.3} s",
        max_wall.as_secs_f64()
    );
    println!(
        "ARM requests: {arm_total} = {:.2} per unit (target: at most 12)",
        arm_total as f64 / units as f64
    );
    println!("requests by operation: {}", serde_json::Value::Object(reqs));
}
