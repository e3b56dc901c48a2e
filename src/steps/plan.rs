//! Planning a manifest for a selection, and the offline checks of its units (lint, render).

use aib_manifest::Manifest;
use aib_planner::{Date, Plan, PlanOptions, Selection};
use chrono::Datelike;

use crate::cli::SelectArgs;
use crate::diagnostics;
use crate::exit::Exit;

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

/// Lints the plan's units like AIB would and renders each one (secrets masked); prints every
/// problem, and returns exit 2 when any is an error. The rendered deployments are returned
/// with `keep` (for `--render-dir`); otherwise each is dropped once checked, so memory does not
/// grow with the plan.
pub fn check_units(
    manifest: &Manifest,
    plan: &Plan,
    quiet: bool,
    keep: bool,
) -> Result<Checked, Exit> {
    use aib_manifest::{Diagnostic, Diagnostics};

    let mut diags: Diagnostics = aib_render::lint::lint_plan(manifest, plan);
    let mut deployments = Vec::with_capacity(if keep { plan.units().len() } else { 0 });
    for r in render_all(manifest, plan, keep) {
        match r {
            Ok(d) => deployments.push(d),
            Err(e) => {
                let mut d = Diagnostic::error("aib::render", e.to_string());
                if let aib_render::render::RenderError::Template { debug, .. } = &e
                    && !debug.trim().is_empty()
                {
                    d = d.with_help(debug.trim_end().to_string());
                }
                diags.push(d);
            }
        }
    }
    // The same rules on what user templates rendered.
    diags.extend(aib_render::lint::lint_rendered(manifest, plan, &deployments).items);
    if !keep {
        deployments.clear();
    }
    diagnostics::print_all(&diags, quiet);
    if diags.has_errors() {
        eprintln!(
            "error: {} would be rejected: {}",
            manifest.path.display(),
            diagnostics::summary(&diags)
        );
        return Err(Exit::Invalid);
    }
    Ok(Checked {
        warnings: diags.warnings().count(),
        deployments,
    })
}

/// Every unit checked on every core (chunks of the plan in order, results joined in order);
/// with `keep`, rendered.
fn render_all(
    manifest: &Manifest,
    plan: &Plan,
    keep: bool,
) -> Vec<Result<aib_render::render::RenderedDeployment, aib_render::render::RenderError>> {
    use aib_render::render::{RenderInputs, Renderer};

    let renderer = Renderer::new(manifest);
    let units = plan.units();
    let threads = std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = units.len().div_ceil(threads).max(1);
    // A unit with the built-in template is only checked (the scripts it inlines are read);
    // one with a user template is rendered, for the lint of its rendered body.
    let render_chunk = |part: &[aib_planner::Unit]| {
        part.iter()
            .filter_map(|unit| {
                if keep {
                    Some(renderer.render_in_plan(plan, unit, &RenderInputs::default()))
                } else {
                    renderer.check_in_plan(plan, unit).transpose()
                }
            })
            .collect::<Vec<_>>()
    };
    if threads == 1 || units.len() < 256 {
        return render_chunk(units);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = units
            .chunks(chunk)
            .map(|part| s.spawn(|| render_chunk(part)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// Units rendered and linted.
pub struct Checked {
    /// Empty unless asked to keep them.
    pub deployments: Vec<aib_render::render::RenderedDeployment>,
    /// Lint warnings printed.
    pub warnings: usize,
}
