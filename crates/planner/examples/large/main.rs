//! Plans the benchmark manifest once and prints the time: `cargo run --release -p aib-planner
//! --example large -- 10000` (wrap in `/usr/bin/time -v` for peak memory). With `--write DIR`
//! it only writes the manifest (`DIR/aib.toml` and its script), for timing the `aib` binary:
//! `aib plan -m DIR/aib.toml --format json`.

mod manifest;

use aib_planner::{Date, PlanOptions, Selection};

fn main() {
    let units: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let (envs, variants) = manifest::shape(units);
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--write") {
        let out = std::path::PathBuf::from(args.get(i + 1).expect("--write DIR"));
        std::fs::create_dir_all(&out).expect("mkdir");
        manifest::write(&out, envs, variants);
        println!("wrote {} ({units} units)", out.join("aib.toml").display());
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = manifest::generate(dir.path(), envs, variants);
    let options = PlanOptions {
        selection: Selection::all(),
        set: Vec::new(),
        today: Date::new(2026, 1, 5),
    };
    for run in 1..=3 {
        let start = std::time::Instant::now();
        let plan = aib_planner::plan(&manifest, &options).expect("plan");
        let planned = start.elapsed();
        let json = plan.render_json();
        let total = start.elapsed();
        println!(
            "run {run}: {} units: plan {planned:?}, plan + json {total:?} ({} KiB of JSON, critical path {} units)",
            plan.units().len(),
            json.len() / 1024,
            plan.critical_path().len()
        );
    }
}
