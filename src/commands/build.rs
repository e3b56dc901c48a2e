//! `aib build`: plan, take the state lock, resolve secrets, preflight, then run every unit
//! (deploy → build → verify → cleanup, collect-logs on failure) with one reporter on stderr,
//! the summary on stdout and the reports requested. `--simulate` runs all of it against an
//! in-process simulator whose world is kept between runs, with one scripted failure (see
//! [`crate::steps::simulate`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aib_executor::runner::ExecutorConfig;
use aib_executor::secrets::SecretOptions;
use aib_executor::session::{self, BuildRequest};
use aib_manifest::Manifest;
use aib_planner::Plan;
use aib_state::{StateError, StateLocation, Trigger};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::{BuildArgs, GlobalArgs, LogFormat, SelectArgs};
use crate::exit::Exit;
use crate::output::outln;
use crate::reporter::{self, Mode};
use crate::signals;

use crate::steps::simulate;
use crate::steps::{
    Connection, Reports, Shown, conclude, connect, connect_simulator, make_plan, state_error,
    state_location, take_lock,
};

pub fn run(global: &GlobalArgs, args: &BuildArgs) -> Exit {
    if let Err(exit) = check_report_paths(args) {
        return exit;
    }
    let manifest = match crate::steps::load(&args.manifest, global.quiet) {
        Ok(m) => m,
        Err(exit) => return exit,
    };
    let plan = match make_plan(&manifest, &args.select, &[], global.quiet) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let runtime = match crate::steps::runtime(true, Exit::Invalid) {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    runtime.block_on(build(global, args, manifest, plan))
}

/// The run that started last. Run ids sort by their start second only, so the runs sharing
/// the newest id's second are read and compared by start time.
async fn latest_run(
    store: &aib_state::StateStore,
) -> Result<Option<aib_state::RunRecord>, StateError> {
    let ids = store.list_runs().await?;
    let Some(first) = ids.first() else {
        return Ok(None);
    };
    let second = first.get(..16).unwrap_or(first).to_string();
    let mut best: Option<aib_state::RunRecord> = None;
    for id in ids.iter().take_while(|id| id.starts_with(&second)) {
        let rec = store.read_run(id).await?;
        if best.as_ref().is_none_or(|b| rec.started > b.started) {
            best = Some(rec);
        }
    }
    Ok(best)
}

/// `--retry-failed [RUN_ID]`: the run to retry (a crashed one is marked interrupted) and the
/// plan of its units to re-run, or the exit when there is nothing to do.
async fn retry_plan(
    global: &GlobalArgs,
    args: &BuildArgs,
    manifest: &Manifest,
    store: &aib_state::StateStore,
    which: &str,
) -> Result<(String, Plan), Exit> {
    let old = if which == "latest" {
        match latest_run(store).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                eprintln!("error: --retry-failed: the state has no run yet");
                return Err(Exit::Invalid);
            }
            Err(e) => return Err(state_error(e)),
        }
    } else {
        match store.read_run(which).await {
            Ok(r) => r,
            Err(e) => return Err(state_error(e)),
        }
    };
    if old.status == aib_state::RunStatus::Running {
        // We hold the lock, so its process is gone.
        let mut rec = old.clone();
        rec.status = aib_state::RunStatus::Interrupted;
        if let Err(e) = store.write_run(&rec).await {
            eprintln!("warning: marking run {} interrupted: {e}", rec.run_id);
        }
    }
    let all = make_plan(manifest, &SelectArgs::default(), &[], true)?;
    let mut ids = Vec::new();
    for id in session::retry_units(&old) {
        if all.unit(&aib_planner::UnitId::from(id.as_str())).is_some() {
            ids.push(id);
        } else if !global.quiet {
            eprintln!(
                "warning: unit {id} of run {} is no longer in the manifest",
                old.run_id
            );
        }
    }
    if !args.select.units.is_empty() {
        ids.retain(|id| args.select.units.contains(id));
    }
    if ids.is_empty() {
        if !global.quiet {
            outln!("run {}: nothing to retry", old.run_id);
        }
        return Err(Exit::Success);
    }
    let select = SelectArgs {
        envs: args.select.envs.clone(),
        variants: args.select.variants.clone(),
        units: ids,
    };
    let plan = make_plan(manifest, &select, &[], global.quiet)?;
    if !global.quiet {
        eprintln!(
            "retrying {} of run {}",
            crate::text::count(plan.units().len(), "unit", "units"),
            old.run_id
        );
    }
    Ok((old.run_id, plan))
}

/// The state of a build, opened and locked for its run (with Azure connected first when the
/// state is Blob, which needs its credential).
struct Opened {
    loc: StateLocation,
    state_arg: Option<String>,
    manifest_dir: PathBuf,
    /// `None` for `--simulate` (its simulator starts after the lock: its world goes with the
    /// state).
    azure: Option<Connection>,
    store: aib_state::StateStore,
    run_id: String,
    lock: aib_state::RunLock,
}

async fn build(global: &GlobalArgs, args: &BuildArgs, manifest: Manifest, plan: Plan) -> Exit {
    let mut opened = match open(global, args, &manifest).await {
        Ok(o) => o,
        Err(exit) => return exit,
    };
    let exit = match choose_units(global, args, &manifest, &opened.store, plan).await {
        Ok((plan, retry_of)) => {
            run_units(global, args, manifest, plan, retry_of, &mut opened).await
        }
        Err(exit) => exit,
    };
    if let Err(e) = opened.lock.release().await {
        eprintln!("warning: releasing the state lock: {e}");
    }
    exit
}

/// Where the state is, Azure (unless simulated), the opened state and its lock.
async fn open(global: &GlobalArgs, args: &BuildArgs, manifest: &Manifest) -> Result<Opened, Exit> {
    let manifest_dir = manifest
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let (loc, state_arg) = state_location(global, &manifest_dir, args.simulate)?;
    let azure = match args.simulate {
        true => None,
        false => Some(connect(global, manifest, None).await?),
    };
    let credential = azure.as_ref().map(|c| c.arm.credential().clone());
    let store = aib_state::open_with(&loc, credential, global.insecure)
        .await
        .map_err(state_error)?;
    let run_id = aib_state::new_run_id(chrono::Utc::now());
    let host = aib_state::current_host();
    let wait = args.lock_timeout.unwrap_or_default();
    let lock = take_lock(
        &store,
        &run_id,
        &host,
        wait,
        global.quiet,
        &rerun(global, args),
    )
    .await?;
    Ok(Opened {
        loc,
        state_arg,
        manifest_dir,
        azure,
        store,
        run_id,
        lock,
    })
}

/// The units this run builds: a retried run's failed ones, or the plan less the units an
/// unfinished detached run holds. Also the run retried.
async fn choose_units(
    global: &GlobalArgs,
    args: &BuildArgs,
    manifest: &Manifest,
    store: &aib_state::StateStore,
    plan: Plan,
) -> Result<(Plan, Option<String>), Exit> {
    match &args.retry_failed {
        Some(which) => {
            let (id, plan) = retry_plan(global, args, manifest, store, which).await?;
            Ok((plan, Some(id)))
        }
        None => Ok((leave_held(global, manifest, store, plan).await?, None)),
    }
}

/// Runs the chosen units under the lock: connects the simulator if simulated, reports as
/// it goes, and concludes (reports, summary, exit code).
async fn run_units(
    global: &GlobalArgs,
    args: &BuildArgs,
    manifest: Manifest,
    plan: Plan,
    retry_of: Option<String>,
    opened: &mut Opened,
) -> Exit {
    let conn = match opened.azure.take() {
        Some(c) => c,
        None => {
            let (loc, dir) = (&opened.loc, &opened.manifest_dir);
            match connect_simulated(args, &manifest, &plan, loc, dir).await {
                Ok(c) => c,
                Err(exit) => return exit,
            }
        }
    };
    let Connection {
        arm,
        sim,
        note,
        clock,
    } = conn;
    let world = sim.as_ref().and_then(simulate::Simulator::saver);
    let status = format!(
        "aib status{}",
        reporter::logs_args(opened.state_arg.as_deref(), &args.manifest)
    );
    let interrupt = watch_interrupts(global.quiet, world, status);
    let mode = Mode::detect(global.log_format == LogFormat::Json, global.quiet);
    let (fwd_tx, fwd_rx) = mpsc::unbounded_channel();
    let config = ExecutorConfig {
        fail_fast: args.fail_fast,
        time_scale: clock.factor(),
        force: args.force,
        detach: args.detach,
        ..ExecutorConfig::default()
    }
    .with_caps(&manifest, args.max_parallel);
    let reporter = tokio::spawn(reporter::report(
        mode,
        opened.run_id.clone(),
        config.simulated_scale(),
        fwd_rx,
    ));
    let req = BuildRequest {
        selection: selection(args, &plan, retry_of),
        manifest: Arc::new(manifest),
        plan,
        arm,
        store: opened.store.clone(),
        run_id: opened.run_id.clone(),
        trigger: trigger(args),
        manifest_display: args.manifest.display().to_string(),
        config,
        interrupt: interrupt.clone(),
        forward: Some(fwd_tx),
        note,
        secret_options: SecretOptions {
            placeholder_for_missing_env: args.simulate,
            placeholders_only: args.simulate,
        },
        redactor: crate::logging::redactor().clone(),
    };
    let result = session::build(req).await;
    let _ = reporter.await;
    let shown = Shown {
        state_arg: opened.state_arg.as_deref(),
        manifest: &args.manifest,
        simulate: args.simulate,
    };
    let exit = conclude(global, &Reports::of(args), &shown, result, &interrupt);
    // The world is saved before the lock is released: the next run waiting for it loads it.
    if let Some(s) = sim {
        s.stop().await;
    }
    exit
}

/// Ctrl-C / SIGTERM: the first cancels the run (its builds are cancelled in Azure), the
/// second exits at once (the state stays resumable; `status` shows the run).
fn watch_interrupts(
    quiet: bool,
    world: Option<simulate::Saver>,
    status: String,
) -> CancellationToken {
    let interrupt = CancellationToken::new();
    let cancel = interrupt.clone();
    tokio::spawn(async move {
        signals::shutdown_requested().await;
        cancel.cancel();
        signals::shutdown_requested().await;
        if !quiet {
            eprintln!("interrupted again: exiting now; `{status}` shows the unfinished run");
        }
        if let Some(w) = world {
            w.save().await;
        }
        std::process::exit(Exit::Interrupted as i32);
    });
    interrupt
}

/// What the run record says was selected (a retry selects the units it retries).
fn selection(args: &BuildArgs, plan: &Plan, retry_of: Option<String>) -> aib_state::Selection {
    aib_state::Selection {
        environments: args.select.envs.clone(),
        variants: args.select.variants.clone(),
        units: if retry_of.is_some() {
            plan.units().iter().map(|u| u.id.to_string()).collect()
        } else {
            args.select.units.clone()
        },
        force: args.force,
        retry_failed: retry_of,
    }
}

/// A scheduled build (`aib schedule` passes the schedule's name and due time) or a manual one.
fn trigger(args: &BuildArgs) -> Trigger {
    match &args.trigger {
        Some(name) => Trigger::Schedule {
            name: name.clone(),
            due: args.trigger_due,
        },
        None => Trigger::Manual,
    }
}

/// The plan without the units an unfinished detached run holds (it builds them; `aib resume`
/// advances it), saying which were left; exit 0 when that leaves nothing.
async fn leave_held(
    global: &GlobalArgs,
    manifest: &Manifest,
    store: &aib_state::StateStore,
    plan: Plan,
) -> Result<Plan, Exit> {
    let runs = store.unfinished_runs().await.map_err(state_error)?;
    let mut held: std::collections::BTreeMap<String, String> = Default::default();
    for r in runs.iter().filter(|r| r.holds_units()) {
        for u in r.open_units() {
            held.insert(u.id.clone(), r.run_id.clone());
        }
    }
    // Units built from a held unit wait for that run's result: left too.
    for u in plan.topological() {
        let id = u.id.to_string();
        if held.contains_key(&id) {
            continue;
        }
        if let Some(run) = u
            .depends_on
            .iter()
            .find_map(|p| held.get(p.as_str()).cloned())
        {
            held.insert(id, run);
        }
    }
    let (left, keep): (Vec<_>, Vec<_>) = plan
        .units()
        .iter()
        .map(|u| u.id.to_string())
        .partition(|id| held.contains_key(id));
    if left.is_empty() {
        return Ok(plan);
    }
    if !global.quiet {
        let shown: Vec<String> = left
            .iter()
            .take(10)
            .map(|id| format!("{id} (run {})", held[id]))
            .collect();
        eprintln!(
            "leaving {} to unfinished runs that build {}: {}{}; `aib resume --all` advances them, `aib cancel RUN_ID` ends one",
            crate::text::count(left.len(), "unit", "units"),
            if left.len() == 1 { "it" } else { "them" },
            shown.join(", "),
            if left.len() > 10 { ", …" } else { "" }
        );
    }
    if keep.is_empty() {
        if !global.quiet {
            outln!("nothing to build: every selected unit belongs to an unfinished run");
        }
        return Err(Exit::Success);
    }
    let select = SelectArgs {
        units: keep,
        ..SelectArgs::default()
    };
    make_plan(manifest, &select, &[], true)
}

/// `--simulate`'s simulator in the world of the state `loc`, scripting the failure of the
/// manifest's whole plan (the same unit whatever is selected).
async fn connect_simulated(
    args: &BuildArgs,
    manifest: &Manifest,
    selected: &Plan,
    loc: &StateLocation,
    manifest_dir: &Path,
) -> Result<Connection, Exit> {
    let whole = make_plan(manifest, &SelectArgs::default(), &[], true)?;
    let usage = simulate::Use::Keep {
        world: simulate::world_dir(loc, manifest_dir),
        scripted: Some(simulate::Script {
            whole: &whole,
            selected,
            manifest: &args.manifest,
        }),
    };
    connect_simulator(usage).await
}

/// `aib build` as this one was started (its manifest, `--state`, `--simulate`): what hints
/// to run it again begin with.
fn rerun(global: &GlobalArgs, args: &BuildArgs) -> String {
    let mut s = String::from("aib build");
    if args.manifest != Path::new("aib.toml") {
        s.push(' ');
        s.push_str(&crate::text::shell_word(
            &args.manifest.display().to_string(),
        ));
    }
    if let Some(state) = &global.state {
        s.push_str(" --state ");
        s.push_str(&crate::text::shell_word(state));
    }
    if args.simulate {
        s.push_str(" --simulate");
    }
    s
}

/// Checks, before anything is built, that every report can be written: its folder exists and
/// the path is not a folder. A report found unwritable after an hour of building is lost.
fn check_report_paths(args: &BuildArgs) -> Result<(), Exit> {
    for (flag, p) in [
        ("--report-json", &args.report_json),
        ("--report-junit", &args.report_junit),
        ("--report-markdown", &args.report_markdown),
    ] {
        let Some(p) = p else { continue };
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let why = if !dir.is_dir() {
            Some(format!("its folder `{}` does not exist", dir.display()))
        } else if p.is_dir() {
            Some("it is a folder".to_string())
        } else {
            // Open it as the report will be written (creating it for the time of the check).
            let existed = p.exists();
            match std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(p)
            {
                Ok(_) => {
                    if !existed {
                        let _ = std::fs::remove_file(p);
                    }
                    None
                }
                Err(e) => Some(e.to_string()),
            }
        };
        if let Some(why) = why {
            eprintln!(
                "error: {flag} {}: cannot write the report there: {why}",
                p.display()
            );
            return Err(Exit::Invalid);
        }
    }
    Ok(())
}
