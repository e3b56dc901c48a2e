//! `aib build` benchmark against the simulator (1 simulated minute = 20 ms).
//!
//! The simulator is `aib sim` in a child process, so CPU and memory are the orchestrator's.
//!
//! - `fleet`: 200 independent units, max_parallel 50, each build 60 simulated minutes: wall
//!   time vs the 4-wave bound (4 × 62 simulated minutes = 4.96 s), ARM requests per unit
//!   (from `/_sim/stats`), the orchestrator's peak memory (VmHWM).
//! - `chain`: 40 independent units and a chain of 4 units built from each other (declared after
//!   them), max_parallel 10: wall time vs max(critical path 4, ⌈44/10⌉ = 5) × 62 simulated
//!   minutes (6.2 s), which only a scheduler that starts the chain's head first reaches.
//! - `AIB_BENCH_UNITS=1000 AIB_BENCH_PARALLEL=1000 cargo bench --bench build`: every unit in
//!   flight at once: the orchestrator's CPU time and memory, ARM reads per Azure second.
//!
//! Each bound is printed with one poll interval (1 simulated minute) added, the target being a
//! wall time within 2 % of it; and again from what the units really took (their slot times,
//! with their stages' polling lags), which is what a scheduler can be held to.
//!
//! `cargo bench --bench build` runs the 200-unit case and the chain once each and prints the
//! numbers (`AIB_BENCH_CASE=fleet|chain` runs one);
//! `AIB_BENCH_MINUTE_MS` changes the time scale (the simulator needs about 4 CPU-seconds to
//! deploy 1,000 templates, more than 30 simulated minutes at 20 ms on a busy 2-core machine).

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

/// `AIB_BENCH_FAULTS=F`: fault a fraction F of requests (429 with Retry-After, 500/503 and
/// connection resets, before and in the middle of bodies, in equal parts).
fn faults_toml() -> String {
    match std::env::var("AIB_BENCH_FAULTS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
    {
        Some(f) if f > 0.0 => format!(
            "[faults]\nthrottle = {t}\nserver_error = {t}\nreset = {t}\nreset_mid_body = 0.5\nseed = 7\n",
            t = f / 3.0
        ),
        _ => String::new(),
    }
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Real milliseconds per simulated minute (`AIB_BENCH_MINUTE_MS`, default 20).
fn minute_ms() -> u64 {
    std::env::var("AIB_BENCH_MINUTE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(20)
}

fn main() {
    let units: usize = std::env::var("AIB_BENCH_UNITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let parallel: usize = std::env::var("AIB_BENCH_PARALLEL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let only = std::env::var("AIB_BENCH_CASE").unwrap_or_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if only.is_empty() || only == "fleet" {
        rt.block_on(fleet(&Case::fleet(units, parallel)));
    }
    if only.is_empty() || only == "chain" {
        rt.block_on(fleet(&Case::chain()));
    }
    divan::main();
}

/// One timed build: its manifest and the bound it is measured against.
struct Case {
    title: String,
    /// The manifest's text.
    manifest: String,
    units: usize,
    parallel: usize,
    /// The longest chain of units built from each other.
    critical_path: usize,
}

impl Case {
    /// `units` independent units (one variant with a matrix).
    fn fleet(units: usize, parallel: usize) -> Self {
        let rows: Vec<String> = (1..=units).map(|i| format!("\"{i}\"")).collect();
        let variants = format!(
            r#"[variants.img]
image_definition = "img-{{{{ matrix.n }}}}"
source = {{ platform = "Canonical:ubuntu-24_04-lts:server:latest" }}
customize = [ {{ type = "shell", name = "s", inline = ["true"] }} ]
[variants.img.matrix]
n = [{}]
"#,
            rows.join(", ")
        );
        Self {
            title: format!("{units} units, max_parallel {parallel}"),
            manifest: manifest_text(&variants),
            units,
            parallel,
            critical_path: 1,
        }
    }

    /// The issue's case: 40 independent units `a[n=00]`…`a[n=39]` and a chain `z1 → z2 → z3 →
    /// z4` (each built from the previous one), declared after them, at max_parallel 10.
    fn chain() -> Self {
        let rows: Vec<String> = (0..40).map(|i| format!("\"{i:02}\"")).collect();
        let mut variants = format!(
            r#"[variants.a]
image_definition = "a-{{{{ matrix.n }}}}"
source = {{ platform = "Canonical:ubuntu-24_04-lts:server:latest" }}
customize = [ {{ type = "shell", name = "s", inline = ["true"] }} ]
[variants.a.matrix]
n = [{}]
"#,
            rows.join(", ")
        );
        for z in 1..=4 {
            let source = if z == 1 {
                r#"{ platform = "Canonical:ubuntu-24_04-lts:server:latest" }"#.to_string()
            } else {
                format!("{{ variant = \"z{}\" }}", z - 1)
            };
            variants.push_str(&format!(
                "[variants.z{z}]\nimage_definition = \"z{z}\"\nsource = {source}\ncustomize = [ {{ type = \"shell\", name = \"s\", inline = [\"true\"] }} ]\n"
            ));
        }
        Self {
            title: "40 independent units and a 4-unit chain, max_parallel 10".into(),
            manifest: manifest_text(&variants),
            units: 44,
            parallel: 10,
            critical_path: 4,
        }
    }

    /// max(critical path, ⌈work / cap⌉) in unit build times (every build takes as long).
    fn bound_units(&self) -> usize {
        self.critical_path
            .max(self.units.div_ceil(self.parallel.max(1)))
    }
}

/// Log analysis of a 2,000-line log in each format (the only CPU-heavy step of a failure).
#[divan::bench(args = ["telemetry", "packer-1.14"])]
fn analyse_log(b: divan::Bencher, format: &str) {
    let mut log = String::new();
    for i in 0..6 {
        if format == "telemetry" {
            log.push_str("[op] PACKER ERR 2026/01/01 10:00:00 [INFO] (telemetry) Starting provisioner shell\n");
        }
        log.push_str(&format!(
            "[op] PACKER 2026/01/01 10:00:00 ui: ==> azure-arm: Provisioning with shell script: /tmp/s{i}.sh\n"
        ));
        for j in 0..300 {
            log.push_str(&format!(
                "[op] PACKER OUT     azure-arm: step {i} line {j}\n"
            ));
        }
        if format == "telemetry" {
            log.push_str("[op] PACKER ERR 2026/01/01 10:00:00 [INFO] (telemetry) ending shell\n");
        }
    }
    log.push_str(
        "[op] PACKER OUT Build 'azure-arm' errored: Script exited with non-zero exit status: 1\n",
    );
    let steps = aib_executor::logs::StepNames {
        customize: (0..6)
            .map(|i| aib_executor::logs::StepName {
                name: format!("s{i}"),
                packer_type: "shell".into(),
            })
            .collect(),
        ..Default::default()
    };
    b.bench(|| aib_executor::logs::analyse(divan::black_box(&log), &steps));
}

/// The benchmark's manifest around `variants` (TOML of the `[variants.*]` tables).
fn manifest_text(variants: &str) -> String {
    format!(
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
{variants}"#
    )
}

/// The schedule against the bound computed from what each unit really took: its slot time
/// (first stage start → verify end, polling lags included), the longest chain of them, and
/// ⌈units / cap⌉ × their mean; also the time before the first stage and after the last verify.
fn print_schedule(
    record: &aib_state::RunRecord,
    edges: &[(String, String)],
    parallel: usize,
    started_at: chrono::DateTime<chrono::Utc>,
    wall: Duration,
    minute_ms: u64,
) {
    let minutes =
        |d: chrono::TimeDelta| d.num_microseconds().unwrap_or(0) as f64 / 1000.0 / minute_ms as f64;
    let mut slot: std::collections::HashMap<&str, f64> = Default::default();
    let (mut first, mut last) = (None, None);
    for u in &record.units {
        let start = u.stages.iter().filter_map(|s| s.started).min();
        let verified = u
            .stages
            .iter()
            .find(|s| s.name == "verify")
            .and_then(|s| s.finished);
        if let (Some(a), Some(b)) = (start, verified) {
            slot.insert(u.id.as_str(), minutes(b - a));
            first = Some(first.map_or(a, |f: chrono::DateTime<chrono::Utc>| f.min(a)));
            last = Some(last.map_or(b, |l: chrono::DateTime<chrono::Utc>| l.max(b)));
        }
    }
    let (Some(first), Some(last)) = (first, last) else {
        return;
    };
    // The longest chain (the record lists units in plan order, a topological order).
    let mut chain: std::collections::HashMap<&str, f64> = Default::default();
    for u in &record.units {
        let own = slot.get(u.id.as_str()).copied().unwrap_or(0.0);
        let before = edges
            .iter()
            .filter(|(_, b)| b == &u.id)
            .filter_map(|(a, _)| chain.get(a.as_str()).copied())
            .fold(0.0, f64::max);
        chain.insert(u.id.as_str(), before + own);
    }
    let critical = chain.values().copied().fold(0.0, f64::max);
    let mean = slot.values().sum::<f64>() / slot.len().max(1) as f64;
    let waves = record.units.len().div_ceil(parallel.max(1)) as f64;
    let bound = critical.max(waves * mean);
    let makespan = minutes(last - first);
    println!(
        "measured (simulated minutes): mean slot time {mean:.2}; bound max(critical path {critical:.2}, {waves} × {mean:.2}) = {bound:.2}; first stage to last verify {makespan:.2}: ratio {:.3}, with one poll interval {:.3}",
        makespan / bound,
        makespan / (bound + 1.0)
    );
    println!(
        "simulated minutes before the first stage: {:.2}; after the last verify: {:.2}",
        minutes(first - started_at),
        wall.as_secs_f64() * 1000.0 / minute_ms as f64 - minutes(last - started_at)
    );
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
    support::proc_cpu_seconds("/proc/self/stat")
}

async fn fleet(case: &Case) {
    let (units, parallel) = (case.units, case.parallel);
    #[allow(non_snake_case)]
    let MINUTE_MS = minute_ms();
    // The simulator runs as `aib sim` in its own process, so this process's CPU and memory
    // are the orchestrator's alone.
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = support::ChildSim::start(
        dir.path(),
        &format!(
            "minute_ms = {MINUTE_MS}\nbuild_minutes = 60.0\n{}",
            faults_toml()
        ),
    );
    let base = sim.url.clone();
    let t = aib_azure::transport::Transport::new(&Default::default()).expect("transport");
    let arm = support::sim_client(&base, &t).await;
    let arm_clock = arm.config().retry.time_scale;
    std::fs::write(dir.path().join("aib.toml"), &case.manifest).expect("write");
    let m = Manifest::load(&dir.path().join("aib.toml")).expect("manifest");
    let now = chrono::Utc::now().date_naive();
    let plan = aib_planner::plan(
        &m,
        &PlanOptions {
            today: Date::new(now.year(), now.month(), now.day()),
            ..PlanOptions::default()
        },
    )
    .expect("plan");
    let edges: Vec<(String, String)> = plan
        .edges()
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let store = aib_state::StateStore::open_local(dir.path().join(".aib"))
        .await
        .expect("state");
    let cpu0 = cpu_seconds();
    let sim_cpu0 = sim.cpu_seconds();
    let mem0 = peak_kb();
    let start = Instant::now();
    let started_at = chrono::Utc::now();
    // Resident memory every 100 ms, to see whether it grows with the polls of a long run.
    let sampling = CancellationToken::new();
    let sampler = {
        let stop = sampling.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            loop {
                samples.push(rss_kb());
                tokio::select! {
                    _ = stop.cancelled() => return samples,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        })
    };
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
            time_scale: arm_clock,
            ..ExecutorConfig::default()
        },
        interrupt: CancellationToken::new(),
        forward: None,
        note: None,
        secret_options: SecretOptions::default(),
        redactor: aib_executor::redact::Redactor::new(),
    })
    .await
    .expect("build");
    let wall = start.elapsed();
    sampling.cancel();
    let samples = sampler.await.unwrap_or_default();
    let cpu = cpu_seconds() - cpu0;
    let sim_cpu = sim.cpu_seconds() - sim_cpu0;
    let ok = r
        .record
        .units
        .iter()
        .filter(|u| u.status == aib_state::UnitStatus::Succeeded)
        .count();
    let stats = support::sim_stats(&base, &t).await;
    let reqs = stats["requests"].as_object().cloned().unwrap_or_default();
    let total = support::arm_requests(&stats);
    // Every unit takes 62 simulated minutes (deploy 1, build 60, verify); the target allows
    // one poll interval (the default, 1 Azure minute) on top of the bound.
    let waves = case.bound_units() as f64;
    let bound = Duration::from_millis((waves * 62.0 * MINUTE_MS as f64) as u64);
    let target = bound + Duration::from_millis(MINUTE_MS);
    println!(
        "== aib build benchmark: {}, build 60 min, 1 min = {MINUTE_MS} ms ==",
        case.title
    );
    println!("succeeded: {ok}/{units}");
    let mut why: std::collections::BTreeMap<String, usize> = Default::default();
    for u in &r.record.units {
        if let Some(f) = &u.failure {
            let m: String = f
                .message
                .chars()
                .rev()
                .take(200)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            *why.entry(format!("{}: {m}", f.stage)).or_default() += 1;
        }
    }
    for (m, n) in &why {
        println!("  {n} failed: {m}");
    }
    if let Some(f) = r.record.units.iter().find_map(|u| u.failure.as_ref()) {
        println!("  first failure in full: {}", f.message);
    }
    println!(
        "wall time: {:.3} s; bound max(critical path {}, ⌈{units}/{parallel}⌉) = {waves} × 62 min = {:.3} s; ratio {:.3}; with one poll interval {:.3} s: ratio {:.3} (target 1.02)",
        wall.as_secs_f64(),
        case.critical_path,
        bound.as_secs_f64(),
        wall.as_secs_f64() / bound.as_secs_f64(),
        target.as_secs_f64(),
        wall.as_secs_f64() / target.as_secs_f64()
    );
    print_schedule(&r.record, &edges, parallel, started_at, wall, MINUTE_MS);
    println!(
        "ARM requests: {total} ({:.2} per unit); progress lists: {}; list rate {:.2}/s",
        total as f64 / units as f64,
        r.progress_lists,
        r.progress_lists as f64 / wall.as_secs_f64()
    );
    println!(
        "requests by operation: {}",
        serde_json::Value::Object(reqs.clone())
    );
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
    // Azure time the run covered: wall / time scale.
    let azure_secs = wall.as_secs_f64() * 60_000.0 / MINUTE_MS as f64;
    let reads: u64 = reqs
        .iter()
        .filter(|(k, _)| {
            !k.starts_with("blob.")
                && k.as_str() != "token"
                && !k.ends_with(".put")
                && !k.ends_with(".run")
                && !k.ends_with(".delete")
                && !k.ends_with(".cancel")
        })
        .filter_map(|(_, v)| v.as_u64())
        .sum();
    println!(
        "ARM reads: {reads}, {:.3} per Azure second over the run's {:.0} Azure minutes (ARM refills 25/s; the goal is under 12.5)",
        reads as f64 / azure_secs,
        azure_secs / 60.0
    );
    println!(
        "orchestrator CPU: {:.2} s = {:.1}% of a core over the scaled wall time, {:.4}% of a core over the Azure time it stands for (simulator process: {:.2} s)",
        cpu,
        100.0 * cpu / wall.as_secs_f64(),
        100.0 * cpu / azure_secs,
        sim_cpu
    );
    if samples.len() >= 8 {
        // Quarters of the run: if memory grew per poll, the later quarters would be higher.
        let q = samples.len() / 4;
        let avg = |a: &[u64]| a.iter().sum::<u64>() as f64 / a.len().max(1) as f64 / 1024.0;
        println!(
            "orchestrator RSS by quarter of the run (MB, mean of 100 ms samples): {:.1} / {:.1} / {:.1} / {:.1}",
            avg(&samples[..q]),
            avg(&samples[q..2 * q]),
            avg(&samples[2 * q..3 * q]),
            avg(&samples[3 * q..])
        );
    }
    let peak = peak_kb();
    println!(
        "orchestrator peak RSS (VmHWM): {:.1} MB (before the run {:.1} MB; {:.1} KB per unit above it)",
        peak as f64 / 1024.0,
        mem0 as f64 / 1024.0,
        (peak.saturating_sub(mem0)) as f64 / units as f64
    );
    drop(sim);
}
