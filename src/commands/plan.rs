//! `aib plan`: the units, their dependencies and template names, as text, JSON, DOT or Mermaid.

use aib_manifest::Manifest;
use aib_planner::{Date, Plan, PlanOptions, Selection};
use chrono::Datelike;

use crate::cli::{GlobalArgs, PlanArgs, PlanFormat, SelectArgs, ShardBy};
use crate::diagnostics;
use crate::exit::Exit;

pub fn run(global: &GlobalArgs, args: &PlanArgs) -> Exit {
    let started = std::time::Instant::now();
    let manifest = match super::validate::load(&args.manifest, global.quiet) {
        Ok(m) => m,
        Err(exit) => return exit,
    };
    tracing::debug!(elapsed = ?started.elapsed(), "manifest loaded");
    let mut plan = match make_plan(&manifest, &args.select, &args.set, global.quiet) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    tracing::debug!(elapsed = ?started.elapsed(), units = plan.units().len(), "planned");
    let keep = args.render_dir.is_some();
    let deployments = match check_units(&manifest, &plan, global.quiet, keep) {
        Ok(c) => c.deployments,
        Err(exit) => return exit,
    };
    tracing::debug!(elapsed = ?started.elapsed(), "units checked");
    if let Some(dir) = &args.render_dir {
        match aib_render::render::write_render_dir(dir, &deployments) {
            Ok(summary) => {
                if !global.quiet {
                    eprintln!(
                        "wrote {} ({}) to {}",
                        crate::text::count(deployments.len(), "deployment", "deployments"),
                        crate::text::count(summary.files.len(), "file", "files"),
                        dir.display()
                    );
                }
            }
            Err(e) => {
                eprintln!("error: cannot write to {}: {e}", dir.display());
                return Exit::Invalid;
            }
        }
    }
    if args.refresh
        && let Err(exit) = refresh(global, args, &manifest, &mut plan)
    {
        return exit;
    }
    let exit = print_plan(&manifest, &plan, args, global.quiet);
    tracing::debug!(elapsed = ?started.elapsed(), "plan printed");
    // The process ends here: freeing every unit one by one (most of them on other threads than
    // the one that made them) took a twentieth of a 100,000-unit plan's time.
    std::mem::forget(plan);
    exit
}

/// Prints the plan on stdout in the format asked for; JSON is written as it is made (a
/// 100,000-unit plan is 60 MB of it). A reader that stops early (`| head`) is not an error.
fn print_plan(manifest: &Manifest, plan: &Plan, args: &PlanArgs, quiet: bool) -> Exit {
    use std::io::Write;

    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let text = match args.format {
        PlanFormat::Json => None,
        PlanFormat::Text => Some(plan.render_text()),
        PlanFormat::Dot => Some(plan.render_dot()),
        PlanFormat::Mermaid => Some(plan.render_mermaid()),
        PlanFormat::GithubMatrix => Some(github_matrix(manifest, plan, args.shard_by, quiet)),
    };
    let written = match &text {
        None => plan.write_json(&mut out),
        Some(t) if t.ends_with('\n') => out.write_all(t.as_bytes()),
        Some(t) => out
            .write_all(t.as_bytes())
            .and_then(|()| out.write_all(b"\n")),
    }
    .and_then(|()| out.flush());
    if let Err(e) = written {
        crate::output::write_failed(&e);
    }
    Exit::Success
}

/// `--format github-matrix`, its warnings on stderr.
fn github_matrix(manifest: &Manifest, plan: &Plan, by: ShardBy, quiet: bool) -> String {
    let by = match by {
        ShardBy::Environment => aib_planner::ci::ShardBy::Environment,
        ShardBy::Component => aib_planner::ci::ShardBy::Component,
        ShardBy::Unit => {
            if !quiet {
                eprintln!(
                    "warning: --shard-by unit is now --shard-by component: one entry per connected component of the plan graph, so a unit is built with the units it waits for (one unit per entry built dependent units without their sources); entries carry `shard`, `state_prefix` and `select`"
                );
            }
            aib_planner::ci::ShardBy::Component
        }
    };
    let matrix = aib_planner::ci::github_matrix(&manifest.file, plan, by);
    if !quiet {
        for w in &matrix.warnings {
            eprintln!("warning: {w}");
        }
    }
    matrix.json
}

/// `--refresh`: resolves `latest` sources and sets each unit's action as `aib build` would
/// decide it (the state's index, the gallery), without building.
fn refresh(
    global: &GlobalArgs,
    args: &PlanArgs,
    manifest: &Manifest,
    plan: &mut Plan,
) -> Result<(), Exit> {
    let runtime = super::runtime(true, Exit::Invalid)?;
    runtime.block_on(async {
        let dir = manifest
            .path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let (loc, _) = super::build::state_location(global, &dir, args.simulate)?;
        let simulate = args.simulate.then(|| super::simulate::Use::Read {
            world: super::simulate::world_dir(&loc, &dir),
        });
        let conn = super::build::connect(global, manifest, simulate).await?;
        let result = async {
            let store =
                aib_state::open_with(&loc, Some(conn.arm.credential().clone()), global.insecure)
                    .await
                    .map_err(super::build::state_error)?;
            let index = store
                .read_family_index()
                .await
                .map_err(super::build::state_error)?;
            let azure = |e: aib_executor::incremental::DecideError| {
                eprintln!("error: {e}");
                if matches!(e, aib_executor::incremental::DecideError::Auth(_)) {
                    crate::hints::login();
                }
                Exit::Azure
            };
            check_prerequisites(&conn.arm, plan).await?;
            let (platform, _) = aib_executor::incremental::resolve_platform_versions(
                &conn.arm,
                plan,
                &Default::default(),
            )
            .await
            .map_err(azure)?;
            let decisions =
                aib_executor::incremental::decide(&conn.arm, plan, &index, &platform, false)
                    .await
                    .map_err(azure)?;
            decisions.apply_resolved(plan);
            if !global.quiet {
                for (id, d) in &decisions.units {
                    eprintln!("{id}: {} ({})", action_word(d.action), d.reason);
                }
            }
            Ok(())
        }
        .await;
        conn.close().await;
        result
    })
}

/// The resources the units to build need (resource groups, galleries, image definitions,
/// identities): each missing one is printed with the command that creates it (exit 3).
async fn check_prerequisites(arm: &aib_azure::ArmClient, plan: &Plan) -> Result<(), Exit> {
    use aib_executor::preflight::PreflightError;
    match aib_executor::prerequisites::check(arm, plan).await {
        Ok(missing) if missing.is_empty() => Ok(()),
        Ok(missing) => {
            eprintln!("error: {}", PreflightError::Missing(missing));
            Err(Exit::Azure)
        }
        Err(e) => {
            eprintln!("error: {e}");
            if matches!(e, PreflightError::Auth(_)) {
                crate::hints::login();
            }
            Err(Exit::Azure)
        }
    }
}

fn action_word(a: aib_planner::Action) -> &'static str {
    match a {
        aib_planner::Action::Build => "build",
        aib_planner::Action::Unchanged => "unchanged",
    }
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
    use aib_render::render::{RenderInputs, Renderer};

    let mut diags: Diagnostics = aib_render::lint::lint_plan(manifest, plan);
    let renderer = Renderer::new(manifest);
    // Render every unit, on every core: chunks of the plan in order, results joined in order.
    let units = plan.units();
    let threads = std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = units.len().div_ceil(threads).max(1);
    // A unit with the built-in template is only checked (the scripts it inlines are read);
    // one with a user template is rendered, for the lint of its rendered body below.
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
    let results: Vec<_> = if threads == 1 || units.len() < 256 {
        render_chunk(units)
    } else {
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
    };
    let mut deployments = Vec::with_capacity(if keep { units.len() } else { 0 });
    for r in results {
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

/// Units rendered and linted.
pub struct Checked {
    /// Empty unless asked to keep them.
    pub deployments: Vec<aib_render::render::RenderedDeployment>,
    /// Lint warnings printed.
    pub warnings: usize,
}
