//! Planning benchmark (divan): the generated manifest of
//! `crates/planner/examples/large/manifest.rs` (E environments in a promotion chain × V variants
//! built from each other × a 4×5 matrix), planned and rendered as JSON at 1,000, 10,000 and
//! 100,000 units. Target: 10,000 units planned and rendered in under 300 ms.
//!
//! `cargo bench --bench plan`. The whole `aib plan` (load, plan, lint, render check of every
//! unit, JSON) is timed on the binary: write the manifest with
//! `cargo run --release -p aib-planner --example large -- 10000 --write DIR`, then
//! `aib plan DIR/aib.toml --format json`.

#[path = "../crates/planner/examples/large/manifest.rs"]
mod manifest;

use aib_planner::{Date, PlanOptions, Selection};

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
