//! `aib plan`: the units, their dependencies and template names, as text, JSON, DOT or Mermaid.

use aib_manifest::Manifest;
use aib_planner::{Date, Plan, PlanOptions, Selection};
use chrono::Datelike;

use crate::cli::{GlobalArgs, PlanArgs, PlanFormat, SelectArgs};
use crate::diagnostics;
use crate::exit::Exit;

pub fn run(global: &GlobalArgs, args: &PlanArgs) -> Exit {
    let manifest = match super::validate::load(&args.manifest, global.quiet) {
        Ok(m) => m,
        Err(exit) => return exit,
    };
    let plan = match make_plan(&manifest, &args.select, &args.set, global.quiet) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let out = match args.format {
        PlanFormat::Text => plan.render_text(),
        PlanFormat::Json => plan.render_json(),
        PlanFormat::Dot => plan.render_dot(),
        PlanFormat::Mermaid => plan.render_mermaid(),
    };
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Exit::Success
}

/// Plans the manifest for a selection; on failure prints every problem and returns exit 2.
pub fn make_plan(
    manifest: &Manifest,
    select: &SelectArgs,
    set: &[String],
    quiet: bool,
) -> Result<Plan, Exit> {
    let options = PlanOptions {
        selection: Selection {
            environments: select.envs.clone(),
            variants: select.variants.clone(),
            units: select.units.clone(),
        },
        set: set.to_vec(),
        today: today(),
    };
    aib_planner::plan(manifest, &options).map_err(|e| {
        diagnostics::print_all(&e.diagnostics, quiet);
        eprintln!(
            "error: cannot plan {}: {}",
            manifest.path.display(),
            diagnostics::summary(&e.diagnostics)
        );
        Exit::Invalid
    })
}

/// Today's UTC date (the planner never reads the clock itself).
pub fn today() -> Date {
    let now = chrono::Utc::now().date_naive();
    Date::new(now.year(), now.month(), now.day())
}
