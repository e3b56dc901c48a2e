//! Rendering benchmark (divan): the generated manifest of the planning benchmark
//! (`crates/planner/examples/large/manifest.rs`) taken through what `aib plan --render-dir DIR
//! --format json` does — plan, offline lint, render every unit (builtin template, local script
//! inlined, secrets masked), write `<template_name>.json` and `<template_name>.parameters.json`
//! per unit, and the plan as JSON — at 1,000 and 10,000 units. Target: 10,000 units in under
//! 3 s. The phases are benchmarked one by one too, to show where the time goes.

#[path = "../crates/planner/examples/large/manifest.rs"]
mod manifest;

use aib_manifest::Manifest;
use aib_planner::{Date, Plan, PlanOptions, Selection};
use aib_render::render::{RenderInputs, RenderedDeployment, Renderer, write_render_dir};

fn main() {
    divan::main();
}

struct Setup {
    _dir: tempfile::TempDir,
    manifest: Manifest,
}

fn setup(units: usize) -> Setup {
    let (envs, variants) = manifest::shape(units);
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = manifest::generate(dir.path(), envs, variants);
    Setup {
        _dir: dir,
        manifest,
    }
}

fn plan(m: &Manifest) -> Plan {
    let options = PlanOptions {
        selection: Selection::all(),
        set: Vec::new(),
        today: Date::new(2026, 1, 5),
    };
    aib_planner::plan(m, &options).expect("plan")
}

fn render_all(m: &Manifest, plan: &Plan) -> Vec<RenderedDeployment> {
    let r = Renderer::new(m);
    plan.units()
        .iter()
        .map(|u| {
            r.render_in_plan(plan, u, &RenderInputs::default())
                .expect("renders")
        })
        .collect()
}

/// Everything `aib plan --render-dir DIR --format json` does after loading the manifest.
#[divan::bench(args = [1_000, 10_000], sample_count = 3, sample_size = 1)]
fn plan_lint_render_write(bencher: divan::Bencher, units: usize) {
    let s = setup(units);
    bencher
        .with_inputs(|| tempfile::tempdir().expect("out dir"))
        .bench_local_values(|out| {
            let p = plan(&s.manifest);
            let lint = aib_render::lint::lint_plan(&s.manifest, &p);
            assert!(!lint.has_errors());
            let deployments = render_all(&s.manifest, &p);
            let lint = aib_render::lint::lint_rendered(&s.manifest, &p, &deployments);
            assert!(!lint.has_errors());
            let summary = write_render_dir(out.path(), &deployments).expect("write");
            assert_eq!(summary.files.len(), 2 * units);
            divan::black_box(p.render_json());
            // Removing the files (when divan drops the returned value) is not timed.
            out
        });
}

#[divan::bench(args = [1_000, 10_000], sample_count = 3, sample_size = 1)]
fn phase_plan(bencher: divan::Bencher, units: usize) {
    let s = setup(units);
    bencher.bench_local(|| divan::black_box(plan(&s.manifest)));
}

#[divan::bench(args = [1_000, 10_000], sample_count = 3, sample_size = 1)]
fn phase_lint(bencher: divan::Bencher, units: usize) {
    let s = setup(units);
    let p = plan(&s.manifest);
    let deployments = render_all(&s.manifest, &p);
    bencher.bench_local(|| {
        let mut d = aib_render::lint::lint_plan(&s.manifest, &p);
        d.extend(aib_render::lint::lint_rendered(&s.manifest, &p, &deployments).items);
        divan::black_box(d)
    });
}

#[divan::bench(args = [1_000, 10_000], sample_count = 3, sample_size = 1)]
fn phase_render(bencher: divan::Bencher, units: usize) {
    let s = setup(units);
    let p = plan(&s.manifest);
    bencher.bench_local(|| divan::black_box(render_all(&s.manifest, &p)));
}

#[divan::bench(args = [1_000, 10_000], sample_count = 3, sample_size = 1)]
fn phase_write(bencher: divan::Bencher, units: usize) {
    let s = setup(units);
    let p = plan(&s.manifest);
    let deployments = render_all(&s.manifest, &p);
    let out = tempfile::tempdir().expect("out dir");
    bencher.bench_local(|| divan::black_box(write_render_dir(out.path(), &deployments)));
}

#[divan::bench(args = [1_000, 10_000], sample_count = 3, sample_size = 1)]
fn phase_plan_json(bencher: divan::Bencher, units: usize) {
    let s = setup(units);
    let p = plan(&s.manifest);
    bencher.bench_local(|| divan::black_box(p.render_json()));
}
