//! Planning benchmark (divan): the generated manifest of
//! `crates/planner/examples/large/manifest.rs` (E environments in a promotion chain × V variants
//! built from each other × a 4×5 matrix), planned and rendered as JSON at 1,000, 10,000 and
//! 100,000 units. Target: 10,000 units planned and rendered in under 300 ms.
//!
//! `cargo bench --bench plan`. `aib_plan_command` times the whole command on the release binary
//! (process start, load, plan, lint and render check of every unit, JSON to `/dev/null`), the
//! issue's target, and prints each size's peak memory (VmHWM, read every 2 ms in one extra run
//! outside the timed ones). The same manifest for running by hand:
//! `cargo run --release -p aib-planner --example large -- 10000 --write DIR`, then
//! `aib plan DIR/aib.toml --format json > /dev/null`.

#[path = "../crates/planner/examples/large/manifest.rs"]
mod manifest;

use aib_planner::{Date, PlanOptions, Selection};

use std::path::Path;
use std::process::{Command, Stdio};

fn main() {
    divan::main();
}

fn options() -> PlanOptions {
    PlanOptions {
        selection: Selection::all(),
        set: Vec::new(),
        today: Date::new(2026, 1, 5),
    }
}

fn run(bencher: divan::Bencher, units: usize) {
    let (envs, variants) = manifest::shape(units);
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = manifest::generate(dir.path(), envs, variants);
    let options = options();
    bencher.bench_local(|| {
        let plan = aib_planner::plan(&manifest, &options).expect("plan");
        divan::black_box(plan.render_json())
    });
}

/// Plan + JSON at 1,000 and 10,000 units.
#[divan::bench(args = [1_000, 10_000], sample_count = 10, sample_size = 1)]
fn plan_and_json(bencher: divan::Bencher, units: usize) {
    run(bencher, units);
}

/// Plan + JSON at 100,000 units (few samples: each takes seconds).
#[divan::bench(args = [100_000], sample_count = 2, sample_size = 1)]
fn plan_and_json_100k(bencher: divan::Bencher, units: usize) {
    run(bencher, units);
}

/// `aib plan DIR/aib.toml --format json > /dev/null`, started.
fn aib_plan(manifest: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_aib"))
        .arg("plan")
        .arg(manifest)
        .args(["--format", "json", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn aib plan")
}

/// The peak resident memory of one `aib plan` run, in MB: VmHWM read every 2 ms until it exits.
fn peak_mb(manifest: &Path) -> f64 {
    let mut child = aib_plan(manifest);
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status)
            && let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        match child.try_wait().expect("wait") {
            Some(s) => {
                assert!(s.success(), "aib plan failed: {s}");
                break;
            }
            None => std::thread::sleep(std::time::Duration::from_millis(2)),
        }
    }
    peak_kb as f64 / 1024.0
}

/// The whole `aib plan` command at 1,000, 10,000 and 100,000 units (target at 10,000: under
/// 300 ms and 150 MB).
#[divan::bench(args = [1_000, 10_000, 100_000], sample_count = 10, sample_size = 1)]
fn aib_plan_command(bencher: divan::Bencher, units: usize) {
    let (envs, variants) = manifest::shape(units);
    let dir = tempfile::tempdir().expect("temp dir");
    manifest::write(dir.path(), envs, variants);
    let path = dir.path().join("aib.toml");
    eprintln!(
        "aib plan at {units} units: peak memory {:.1} MB",
        peak_mb(&path)
    );
    bencher.bench_local(|| {
        let status = aib_plan(&path).wait().expect("wait");
        assert!(status.success(), "aib plan failed: {status}");
    });
}
