//! Incremental `aib build` benchmark: an unchanged fleet against the in-process simulator.
//!
//! The fleet (default 1,000 units, `AIB_BENCH_UNITS` to change; two platform images shared by
//! all units) is built once, time-scaled fast (1 simulated minute = 2 ms). Then the second
//! build is timed: plan + `session::build` deciding "nothing to do" (resolve `latest` once per
//! image, one gallery image version GET per unit, every unit `unchanged`). The ARM reads of the
//! second build are counted from `/_sim/stats`; the target is under 2 s with at most one ARM
//! read per unit plus the shared platform lookups.
//!
//! `cargo bench --bench incremental` (release) prints the numbers.

use std::sync::Arc;
use std::time::Instant;

use aib_azure::ArmClient;
use aib_executor::runner::ExecutorConfig;
use aib_executor::secrets::SecretOptions;
use aib_executor::session::{self, BuildRequest};
use aib_manifest::Manifest;
use aib_planner::{Date, PlanOptions};
use chrono::Datelike;
use tokio_util::sync::CancellationToken;

#[path = "support/mod.rs"]
mod support;

const MINUTE_MS: u64 = 2;

fn main() {
    let units: usize = std::env::var("AIB_BENCH_UNITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(unchanged_fleet(units));
}

fn manifest_text(units: usize) -> String {
    let half = units / 2;
    let rows = |r: std::ops::RangeInclusive<usize>| {
        r.map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(", ")
    };
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
[variants.lin]
image_definition = "lin-{{{{ matrix.n }}}}"
source = {{ platform = "Canonical:ubuntu-24_04-lts:server:latest" }}
customize = [ {{ type = "shell", name = "s", inline = ["true"] }} ]
[variants.lin.matrix]
n = [{}]
[variants.win]
image_definition = "win-{{{{ matrix.n }}}}"
source = {{ platform = "MicrosoftWindowsDesktop:windows-11:win11-24h2-ent:latest" }}
customize = [ {{ type = "powershell", name = "p", inline = ["echo"] }} ]
[variants.win.matrix]
n = [{}]
"#,
        rows(1..=half),
        rows(half + 1..=units)
    )
}

async fn stats(base: &str, t: &aib_azure::transport::Transport) -> serde_json::Value {
    t.client()
        .get(format!("{base}/_sim/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json")
}

fn arm_reads(before: &serde_json::Value, after: &serde_json::Value) -> Vec<(String, u64)> {
    let a = after["requests"].as_object().cloned().unwrap_or_default();
    a.iter()
        .filter(|(k, _)| !k.starts_with("blob.") && !k.starts_with("token"))
        .filter_map(|(k, v)| {
            let d = v.as_u64()? - before["requests"][k].as_u64().unwrap_or(0);
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

async fn build_once(
    dir: &std::path::Path,
    arm: ArmClient,
    store: aib_state::StateStore,
) -> (aib_executor::runner::RunResult, std::time::Duration) {
    let start = Instant::now();
    let arm_clock = arm.config().retry.time_scale;
    let m = Manifest::load(&dir.join("aib.toml")).expect("manifest");
    let now = chrono::Utc::now().date_naive();
    let plan = aib_planner::plan(
        &m,
        &PlanOptions {
            today: Date::new(now.year(), now.month(), now.day()),
            ..PlanOptions::default()
        },
    )
    .expect("plan");
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
            max_parallel: 200,
            // Timeouts with a wide margin (the simulator tells a 20 times slower clock):
            // 1,000 builds share the machine with the simulator.
            time_scale: arm_clock,
            ..ExecutorConfig::default()
        },
        interrupt: CancellationToken::new(),
        forward: None,
        note: None,
        secret_options: SecretOptions::default(),
    })
    .await
    .expect("build");
    (r, start.elapsed())
}

fn count(r: &aib_executor::runner::RunResult, s: aib_state::UnitStatus) -> usize {
    r.record.units.iter().filter(|u| u.status == s).count()
}

async fn unchanged_fleet(units: usize) {
    let scenario = aib_sim::Scenario {
        minute_ms: MINUTE_MS,
        clock_minute_ms: Some(MINUTE_MS * 20),
        build_minutes: 30.0,
        ..aib_sim::Scenario::default()
    };
    let sim = aib_sim::start("127.0.0.1:0".parse().expect("addr"), scenario)
        .await
        .expect("sim");
    let base = sim.base_url();
    let t = aib_azure::transport::Transport::new(&Default::default()).expect("transport");
    let arm = support::sim_client(&base, &t).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("aib.toml"), manifest_text(units)).expect("write");
    let store = aib_state::StateStore::open_local(dir.path().join(".aib"))
        .await
        .expect("state");

    let (first, first_wall) = build_once(dir.path(), arm.clone(), store.clone()).await;
    println!(
        "== aib build, incremental: {units} units, 2 platform images, 1 min = {MINUTE_MS} ms =="
    );
    println!(
        "first build: {} succeeded of {units} in {:.2} s",
        count(&first, aib_state::UnitStatus::Succeeded),
        first_wall.as_secs_f64()
    );
    if let Some(f) = first.record.units.iter().find_map(|u| u.failure.as_ref()) {
        println!("  first failure ({}): {}", f.stage, f.message);
    }

    for round in 1..=3 {
        let before = stats(&base, &t).await;
        let (second, wall) = build_once(dir.path(), arm.clone(), store.clone()).await;
        let after = stats(&base, &t).await;
        let reads = arm_reads(&before, &after);
        let total: u64 = reads.iter().map(|(_, n)| n).sum();
        println!(
            "unchanged build #{round}: {} unchanged, {} built, status {:?}; wall {:.3} s (plan + decide + record; target < 2 s)",
            count(&second, aib_state::UnitStatus::Unchanged),
            count(&second, aib_state::UnitStatus::Succeeded),
            second.record.status,
            wall.as_secs_f64()
        );
        println!(
            "  ARM requests: {total} ({:.3} per unit): {}",
            total as f64 / units as f64,
            reads
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    sim.shutdown().await;
}
