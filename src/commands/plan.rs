//! `aib plan`: the units, their dependencies and template names, as text, JSON, DOT or Mermaid.

use aib_manifest::Manifest;
use aib_planner::Plan;

use crate::cli::{GlobalArgs, PlanArgs, PlanFormat, ShardBy};
use crate::exit::Exit;
use crate::steps::{check_units, make_plan};

pub fn run(global: &GlobalArgs, args: &PlanArgs) -> Exit {
    let started = std::time::Instant::now();
    let manifest = match crate::steps::load(&args.manifest, global.quiet) {
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
    let runtime = crate::steps::runtime(true, Exit::Invalid)?;
    runtime.block_on(async {
        let dir = manifest
            .path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let (loc, _) = crate::steps::state_location(global, &dir, args.simulate)?;
        let simulate = args.simulate.then(|| crate::steps::simulate::Use::Read {
            world: crate::steps::simulate::world_dir(&loc, &dir),
        });
        let conn = crate::steps::connect(global, manifest, simulate).await?;
        let result = async {
            let store =
                aib_state::open_with(&loc, Some(conn.arm.credential().clone()), global.insecure)
                    .await
                    .map_err(crate::steps::state_error)?;
            let index = store
                .read_family_index()
                .await
                .map_err(crate::steps::state_error)?;
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
