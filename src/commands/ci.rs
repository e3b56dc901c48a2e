//! `aib ci github|azure-pipelines`: write a CI workflow for the manifest's environments and
//! schedules.

use aib_planner::ci::{WorkflowOptions, azure_tick_pipeline, github_tick_workflow};

use crate::cli::{CiCommand, GlobalArgs, SelectArgs};
use crate::exit::Exit;
use crate::output::out;

pub fn run(global: &GlobalArgs, command: &CiCommand) -> Exit {
    let (args, github) = match command {
        CiCommand::Github(a) => (a, true),
        CiCommand::AzurePipelines(a) => (a, false),
    };
    if let Err(why) = check_within(&args.within) {
        eprintln!("error: --within {}: {why}", args.within);
        return Exit::Invalid;
    }
    let state = match shared_state(global.state.as_deref()) {
        Ok(s) => s,
        Err(exit) => return exit,
    };
    let manifest = match crate::steps::load(&args.manifest, global.quiet) {
        Ok(m) => m,
        Err(exit) => return exit,
    };
    let plan = match crate::steps::make_plan(&manifest, &SelectArgs::default(), &[], global.quiet) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let opts = WorkflowOptions {
        manifest_path: args.manifest.to_string_lossy().replace('\\', "/"),
        state,
        install: args.install.clone(),
        within: args.within.clone(),
        service_connection: args.service_connection.clone(),
        branch: args.branch.clone(),
        now: chrono::Utc::now(),
    };
    let minutes = u32::try_from(args.tick_every.as_secs() / 60).unwrap_or(u32::MAX);
    if args.tick_every.as_secs() % 60 != 0 {
        eprintln!("error: --tick-every: a whole number of minutes");
        return Exit::Invalid;
    }
    let generated = if github {
        github_tick_workflow(&plan, &opts, minutes)
    } else {
        azure_tick_pipeline(&plan, &opts, minutes)
    };
    let workflow = match generated {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Invalid;
        }
    };
    if !global.quiet {
        for w in &workflow.warnings {
            eprintln!("note: {w}");
        }
        if opts.state.is_none() {
            eprintln!(
                "note: no --state azblob://... given: the workflow reads the AIB_STATE variable, set it in the CI system"
            );
        }
    }
    match &args.out {
        None => {
            out!("{}", workflow.text);
            Exit::Success
        }
        Some(path) => write_out(path, &workflow.text, global.quiet),
    }
}

/// The `--state` a workflow may name: an `azblob://` location (CI runners share no disk), or
/// none (the workflow reads `AIB_STATE`).
fn shared_state(state: Option<&str>) -> Result<Option<String>, Exit> {
    match state {
        None => Ok(None),
        Some(s) if s.starts_with("azblob://") => Ok(Some(s.to_string())),
        Some(s) => {
            eprintln!(
                "error: --state {s}: CI runners share no disk; give an azblob://ACCOUNT/CONTAINER[/PREFIX] location, or leave --state out and set the AIB_STATE variable in the CI system"
            );
            Err(Exit::Invalid)
        }
    }
}

/// Writes the workflow to `--out`, creating its folder.
fn write_out(path: &std::path::Path, text: &str, quiet: bool) -> Exit {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(parent)
    {
        eprintln!("error: cannot create {}: {e}", parent.display());
        return Exit::Invalid;
    }
    match std::fs::write(path, text) {
        Ok(()) => {
            if !quiet {
                eprintln!("wrote {}", path.display());
            }
            Exit::Success
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", path.display());
            Exit::Invalid
        }
    }
}

/// `--within` is written into the workflow and read by `aib schedule --within`: check it now.
fn check_within(s: &str) -> Result<(), crate::duration::DurationError> {
    crate::duration::parse(s).map(|_| ())
}
