//! `aib build`: plan, take the state lock, resolve secrets, preflight, then run every unit
//! (deploy → build → verify → cleanup, collect-logs on failure) with one reporter on stderr,
//! the summary on stdout and the reports requested. `--simulate` runs all of it against an
//! in-process simulator whose world is kept between runs, with one scripted failure (see
//! [`super::simulate`]).

use std::path::Path;
use std::sync::Arc;

use aib_azure::{ArmClient, ArmConfig, Credential, Endpoints, TimeScale};
use aib_executor::report::BuildReport;
use aib_executor::runner::ExecutorConfig;
use aib_executor::secrets::SecretOptions;
use aib_executor::session::{self, BuildError, BuildRequest};
use aib_manifest::Manifest;
use aib_planner::Plan;
use aib_state::{StateError, StateLocation, Trigger};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::{BuildArgs, GlobalArgs, LogFormat, SelectArgs};
use crate::exit::Exit;
use crate::output::{out, outln};
use crate::reporter::{self, Mode};
use crate::signals;

use super::simulate;

pub fn run(global: &GlobalArgs, args: &BuildArgs) -> Exit {
    if let Err(exit) = check_report_paths(args) {
        return exit;
    }
    let manifest = match super::validate::load(&args.manifest, global.quiet) {
        Ok(m) => m,
        Err(exit) => return exit,
    };
    let plan = match super::plan::make_plan(&manifest, &args.select, &[], global.quiet) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let runtime = match super::runtime(true, Exit::Invalid) {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    runtime.block_on(build(global, args, manifest, plan))
}

fn cloud_of(m: &Manifest) -> aib_azure::Cloud {
    use aib_manifest::Cloud as M;
    match m.file.azure.cloud.as_ref().map(|c| *c.get_ref()) {
        Some(M::Usgov) => aib_azure::Cloud::UsGov,
        Some(M::China) => aib_azure::Cloud::China,
        Some(M::Custom) => aib_azure::Cloud::Custom,
        _ => aib_azure::Cloud::Public,
    }
}

/// An ARM client: the in-process simulator, or Azure (or `--arm-endpoint`).
pub(crate) struct Connection {
    pub arm: ArmClient,
    /// `--simulate`'s simulator: stop it with [`Connection::close`] (which saves its world).
    pub sim: Option<simulate::Simulator>,
    /// What `--simulate` scripted.
    pub note: Option<String>,
    /// The clock the endpoint runs on (a simulator's is faster than Azure's).
    pub clock: TimeScale,
}

impl Connection {
    /// Stops `--simulate`'s simulator, saving the world it keeps.
    pub async fn close(self) {
        if let Some(sim) = self.sim {
            sim.stop().await;
        }
    }
}

/// Connects to Azure, or with `simulate` starts the in-process simulator in its world. A
/// custom ARM endpoint that is a simulator tells its clock (`GET /_sim/clock`), and every
/// wait and deadline of the client and the run follows it.
pub(crate) async fn connect(
    global: &GlobalArgs,
    manifest: &Manifest,
    simulate: Option<simulate::Use<'_>>,
) -> Result<Connection, Exit> {
    if let Some(usage) = simulate {
        return connect_simulator(usage).await;
    }
    let manifest_ep = manifest
        .file
        .azure
        .arm_endpoint
        .as_ref()
        .map(|e| e.get_ref().clone());
    let ep = global.arm_endpoint.clone().or(manifest_ep);
    let fail = |e: String| {
        eprintln!("error: {e}");
        Exit::Azure
    };
    let endpoints = Endpoints::resolve(cloud_of(manifest), ep.as_deref(), global.insecure)
        .map_err(|e| fail(e.to_string()))?;
    let clock = aib_azure::clock::probe(&endpoints).await;
    let cred = Credential::from_env(cloud_of(manifest)).map_err(|e| fail(e.to_string()))?;
    let arm = ArmClient::with_config(
        endpoints,
        Arc::new(cred),
        ArmConfig::default().on_clock(clock),
    )
    .map_err(|e| fail(e.to_string()))?;
    Ok(Connection {
        arm,
        sim: None,
        note: None,
        clock,
    })
}

/// The in-process simulator of `--simulate`, with a managed-identity token from it.
pub(crate) async fn connect_simulator(usage: simulate::Use<'_>) -> Result<Connection, Exit> {
    let (sim, note) = simulate::start(usage).await?;
    let clock = TimeScale::from_minute_ms(simulate::SIMULATE_MINUTE_MS);
    let base = sim.handle.base_url();
    let arm = async {
        let cred = simulate::credential(&base).await?;
        let endpoints = Endpoints::custom(&base, true).map_err(|e| e.to_string())?;
        ArmClient::with_config(
            endpoints,
            Arc::new(cred),
            ArmConfig::default().on_clock(clock),
        )
        .map_err(|e| e.to_string())
    }
    .await;
    match arm {
        Ok(arm) => Ok(Connection {
            arm,
            sim: Some(sim),
            note,
            clock,
        }),
        Err(e) => {
            eprintln!("error: {e}");
            sim.stop().await;
            Err(Exit::Azure)
        }
    }
}

/// Where the state is: `--state`, `.aib/simulate/` for `--simulate`, else `.aib/` beside the
/// manifest. Also returns the `--state` value to show (`--simulate`'s directory).
pub(crate) fn state_location(
    global: &GlobalArgs,
    manifest_dir: &Path,
    simulate: bool,
) -> Result<(StateLocation, Option<String>), Exit> {
    let state_arg = match (&global.state, simulate) {
        (Some(s), _) => Some(s.clone()),
        (None, true) => Some(
            manifest_dir
                .join(".aib")
                .join("simulate")
                .display()
                .to_string(),
        ),
        (None, false) => None,
    };
    match StateLocation::parse(state_arg.as_deref(), manifest_dir) {
        Ok(l) => Ok((l, state_arg)),
        Err(e) => {
            eprintln!("error: {e}");
            Err(Exit::Invalid)
        }
    }
}

/// Takes the run lock, waiting up to `wait` (`--lock-timeout`) while another run holds it
/// and saying so. A lock left by a process that is gone from this host (kill -9, power loss)
/// is taken over, saying so; a live holder that outlasts the wait is exit 4; Ctrl-C while
/// waiting is exit 130.
pub(crate) async fn take_lock(
    store: &aib_state::StateStore,
    run_id: &str,
    host: &str,
    wait: std::time::Duration,
    quiet: bool,
    rerun: &str,
) -> Result<aib_state::RunLock, Exit> {
    take_lock_or_busy(store, run_id, host, wait, quiet, rerun, false).await
}

/// [`take_lock`]; with `busy_silent`, a live holder that outlasts the wait is exit 4 without
/// a word (the caller says what it means).
pub(crate) async fn take_lock_or_busy(
    store: &aib_state::StateStore,
    run_id: &str,
    host: &str,
    wait: std::time::Duration,
    quiet: bool,
    rerun: &str,
    busy_silent: bool,
) -> Result<aib_state::RunLock, Exit> {
    let waited = std::cell::Cell::new(false);
    let waiting = |e: &StateError| {
        waited.set(true);
        if !quiet {
            eprintln!(
                "waiting for the state lock (up to {}, --lock-timeout): {e}",
                crate::duration::format(wait)
            );
        }
    };
    let started = std::time::Instant::now();
    let try_lock = |opts| store.lock_waiting(run_id, host, opts, wait, waiting);
    let result = tokio::select! {
        r = try_lock(aib_state::LockOptions::default()) => r,
        () = signals::shutdown_requested() => {
            eprintln!("interrupted while waiting for the state lock");
            return Err(Exit::Interrupted);
        }
    };
    match result {
        Ok(l) => {
            if !quiet && waited.get() {
                eprintln!(
                    "took the state lock after waiting {}",
                    crate::duration::format(started.elapsed())
                );
            }
            Ok(l)
        }
        Err(StateError::StaleLock {
            run_id: dead, pid, ..
        }) => {
            if !quiet {
                eprintln!(
                    "warning: the state lock was left by run {dead} (process {pid} on this host, which is no longer running): taking it over; `{rerun} --retry-failed {dead}` finishes that run"
                );
            }
            let lock = store
                .lock_with(run_id, host, aib_state::LockOptions { break_stale: true })
                .await
                .map_err(state_error)?;
            mark_interrupted(store, &dead).await;
            Ok(lock)
        }
        Err(StateError::Locked { .. }) if busy_silent => Err(Exit::Locked),
        Err(e @ StateError::Locked { .. }) if !wait.is_zero() => {
            eprintln!(
                "error: {e}; gave up waiting after {}",
                crate::duration::format(wait)
            );
            Err(Exit::Locked)
        }
        Err(e @ StateError::Locked { .. }) => {
            let exit = state_error(e);
            if !quiet {
                eprintln!("hint: `{rerun} --lock-timeout 30m` waits for the other run to finish");
            }
            Err(exit)
        }
        Err(e) => Err(state_error(e)),
    }
}

/// A run whose process died holding the lock: `history` and `status` show it `interrupted`,
/// not `running` for ever. Said when it cannot be recorded.
pub(crate) async fn mark_interrupted(store: &aib_state::StateStore, run_id: &str) {
    match store.read_run(run_id).await {
        Ok(mut rec) if rec.status == aib_state::RunStatus::Running => {
            // A detached run's process died mid-tick: the run still waits for `aib resume`.
            rec.status = if rec.resume.as_ref().is_some_and(|r| r.detached) {
                aib_state::RunStatus::Detached
            } else {
                aib_state::RunStatus::Interrupted
            };
            if let Err(e) = store.write_run(&rec).await {
                eprintln!("warning: could not mark run {run_id} interrupted: {e}");
            }
        }
        Ok(_) | Err(StateError::RunNotFound(_)) => {}
        Err(e) => eprintln!("warning: could not mark run {run_id} interrupted: {e}"),
    }
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
    let all = super::plan::make_plan(manifest, &SelectArgs::default(), &[], true)?;
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
    let plan = super::plan::make_plan(manifest, &select, &[], global.quiet)?;
    if !global.quiet {
        eprintln!(
            "retrying {} of run {}",
            crate::text::count(plan.units().len(), "unit", "units"),
            old.run_id
        );
    }
    Ok((old.run_id, plan))
}

async fn build(global: &GlobalArgs, args: &BuildArgs, manifest: Manifest, plan: Plan) -> Exit {
    let manifest_dir = manifest
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let (loc, state_arg) = match state_location(global, &manifest_dir, args.simulate) {
        Ok(x) => x,
        Err(exit) => return exit,
    };
    // Azure before the state (Blob state needs its credential); the simulator after the state
    // lock, as its world goes with the state.
    let azure = if args.simulate {
        None
    } else {
        match connect(global, &manifest, None).await {
            Ok(c) => Some(c),
            Err(exit) => return exit,
        }
    };
    let credential = azure.as_ref().map(|c| c.arm.credential().clone());
    let store = match aib_state::open_with(&loc, credential, global.insecure).await {
        Ok(s) => s,
        Err(e) => return state_error(e),
    };
    let run_id = aib_state::new_run_id(chrono::Utc::now());
    let host = aib_state::current_host();
    let wait = args.lock_timeout.unwrap_or_default();
    let rerun = rerun(global, args);
    let lock = match take_lock(&store, &run_id, &host, wait, global.quiet, &rerun).await {
        Ok(l) => l,
        Err(exit) => return exit,
    };
    let release = |lock: aib_state::RunLock| async move {
        if let Err(e) = lock.release().await {
            eprintln!("warning: releasing the state lock: {e}");
        }
    };
    let (plan, retry_of) = match &args.retry_failed {
        Some(which) => match retry_plan(global, args, &manifest, &store, which).await {
            Ok((id, p)) => (p, Some(id)),
            Err(exit) => {
                release(lock).await;
                return exit;
            }
        },
        None => match leave_held(global, &manifest, &store, plan).await {
            Ok(p) => (p, None),
            Err(exit) => {
                release(lock).await;
                return exit;
            }
        },
    };
    let conn = match azure {
        Some(c) => c,
        None => match connect_simulated(args, &manifest, &plan, &loc, &manifest_dir).await {
            Ok(c) => c,
            Err(exit) => {
                release(lock).await;
                return exit;
            }
        },
    };
    let Connection {
        arm,
        sim,
        note,
        clock,
    } = conn;

    // Ctrl-C: the first cancels, the second exits at once (the state stays resumable).
    let interrupt = CancellationToken::new();
    {
        let interrupt = interrupt.clone();
        let quiet = global.quiet;
        let world = sim.as_ref().and_then(simulate::Simulator::saver);
        let status = format!(
            "aib status{}",
            reporter::logs_args(state_arg.as_deref(), &args.manifest)
        );
        tokio::spawn(async move {
            signals::shutdown_requested().await;
            interrupt.cancel();
            signals::shutdown_requested().await;
            if !quiet {
                eprintln!("interrupted again: exiting now; `{status}` shows the unfinished run");
            }
            if let Some(w) = world {
                w.save().await;
            }
            std::process::exit(Exit::Interrupted as i32);
        });
    }

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
        run_id.clone(),
        config.simulated_scale(),
        fwd_rx,
    ));
    let selection = aib_state::Selection {
        environments: args.select.envs.clone(),
        variants: args.select.variants.clone(),
        units: if retry_of.is_some() {
            plan.units().iter().map(|u| u.id.to_string()).collect()
        } else {
            args.select.units.clone()
        },
        force: args.force,
        retry_failed: retry_of,
    };
    let req = BuildRequest {
        manifest: Arc::new(manifest),
        plan,
        arm,
        store: store.clone(),
        run_id: run_id.clone(),
        trigger: match &args.trigger {
            Some(name) => Trigger::Schedule {
                name: name.clone(),
                due: args.trigger_due,
            },
            None => Trigger::Manual,
        },
        manifest_display: args.manifest.display().to_string(),
        selection,
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
    let reports = Reports::of(args);
    let shown = Shown {
        state_arg: state_arg.as_deref(),
        manifest: &args.manifest,
        simulate: args.simulate,
    };
    let exit = conclude(global, &reports, &shown, result, &interrupt);
    // The world is saved before the lock is released: the next run waiting for it loads it.
    if let Some(s) = sim {
        s.stop().await;
    }
    release(lock).await;
    exit
}

/// The reports a run writes (`--report-json`, `--report-junit`, `--report-markdown`).
pub(crate) struct Reports<'a> {
    pub json: Option<&'a Path>,
    pub junit: Option<&'a Path>,
    pub markdown: Option<&'a Path>,
    /// Collects each run's Markdown instead (`resume --all` writes them as one summary).
    pub markdown_parts: Option<&'a std::cell::RefCell<Vec<String>>>,
}

impl<'a> Reports<'a> {
    pub(crate) fn of(args: &'a BuildArgs) -> Self {
        Self {
            json: args.report_json.as_deref(),
            junit: args.report_junit.as_deref(),
            markdown: args.report_markdown.as_deref(),
            markdown_parts: None,
        }
    }
}

/// How the command was started, for the hints it prints.
pub(crate) struct Shown<'a> {
    pub state_arg: Option<&'a str>,
    pub manifest: &'a Path,
    pub simulate: bool,
}

/// The exit of a run that ended (or detached): its state errors, reports and summary.
pub(crate) fn conclude(
    global: &GlobalArgs,
    reports: &Reports<'_>,
    shown: &Shown<'_>,
    result: Result<aib_executor::runner::RunResult, BuildError>,
    interrupt: &CancellationToken,
) -> Exit {
    match result {
        Err(e) => {
            eprintln!("error: {}", crate::logging::redact(&e.to_string()));
            match e {
                BuildError::Secrets(_) => Exit::Invalid,
                BuildError::Preflight(aib_executor::preflight::PreflightError::VersionsExist(
                    _,
                )) => Exit::Invalid,
                BuildError::Preflight(aib_executor::preflight::PreflightError::Auth(_)) => {
                    crate::hints::login();
                    Exit::Azure
                }
                BuildError::Preflight(_) => Exit::Azure,
                BuildError::State(_) if interrupt.is_cancelled() => Exit::Interrupted,
                BuildError::State(_) => Exit::Io,
            }
        }
        Ok(r) => {
            // The build went on, but what the state should hold of it is (partly) lost: that
            // is not a success, and not "a unit failed" either.
            for e in &r.state_errors {
                eprintln!(
                    "error: the run's state was not saved: {}",
                    crate::logging::redact(e)
                );
            }
            let report = BuildReport::from_record(&r.record);
            let mut exit = match r.record.status {
                aib_state::RunStatus::Succeeded | aib_state::RunStatus::Detached => Exit::Success,
                aib_state::RunStatus::Cancelled | aib_state::RunStatus::Interrupted => {
                    Exit::Interrupted
                }
                _ => Exit::UnitFailed,
            };
            if !r.state_errors.is_empty() && exit != Exit::Interrupted {
                eprintln!(
                    "error: run {} ended {} but its record in {} is incomplete (see above); `aib status` may not show all of it",
                    r.record.run_id,
                    crate::commands::status::status_word(r.record.status),
                    shown.state_arg.unwrap_or(".aib/")
                );
                exit = Exit::Io;
            }
            if let Some(p) = &reports.json
                && let Err(e) = std::fs::write(p, report.to_json())
            {
                eprintln!("error: cannot write {}: {e}", p.display());
                exit = worse(exit);
            }
            if let Some(p) = &reports.junit
                && let Err(e) = std::fs::write(p, aib_executor::report::junit::render(&report))
            {
                eprintln!("error: cannot write {}: {e}", p.display());
                exit = worse(exit);
            }
            if let Some(parts) = reports.markdown_parts {
                parts
                    .borrow_mut()
                    .push(aib_executor::report::markdown::render(&report));
            }
            if let Some(p) = &reports.markdown
                && let Err(e) = std::fs::write(p, markdown_summary(&report))
            {
                eprintln!("error: cannot write {}: {e}", p.display());
                exit = worse(exit);
            }
            if !global.quiet || exit != Exit::Success {
                let opts = reporter::SummaryOptions::for_stdout(reporter::logs_args(
                    shown.state_arg,
                    shown.manifest,
                ));
                out!("{}", reporter::summary_table(&r.record, &opts));
                if shown.simulate
                    && let Some(dir) = &shown.state_arg
                {
                    outln!("state of this simulated run: {dir} (e.g. `aib status --state {dir}`)");
                }
            }
            if r.record.status == aib_state::RunStatus::Detached {
                let resume = format!(
                    "aib resume {}{}",
                    r.record.run_id,
                    reporter::logs_args(shown.state_arg, shown.manifest)
                );
                if global.quiet {
                    outln!("{}", r.record.run_id);
                } else {
                    outln!(
                        "run {} detached: its builds go on in Azure; `{resume} --detach` advances it, `{resume}` follows it to the end",
                        r.record.run_id
                    );
                }
            }
            exit
        }
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
    super::plan::make_plan(manifest, &select, &[], true)
}

/// The Markdown summary of a run, cut to GitHub's step-summary limit.
fn markdown_summary(report: &BuildReport) -> String {
    use aib_executor::report::markdown;
    markdown::fit(&markdown::render(report), markdown::MAX_STEP_SUMMARY)
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
    let whole = super::plan::make_plan(manifest, &SelectArgs::default(), &[], true)?;
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

/// A report that could not be written: the result is incomplete (exit 5), unless the run
/// already ends worse.
pub(crate) fn worse(e: Exit) -> Exit {
    match e {
        Exit::Success | Exit::UnitFailed => Exit::Io,
        other => other,
    }
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

pub(crate) fn state_error(e: StateError) -> Exit {
    eprintln!("error: {e}");
    match e.exit_code() {
        4 => Exit::Locked,
        3 => Exit::Azure,
        2 => Exit::Invalid,
        _ => Exit::Io,
    }
}
