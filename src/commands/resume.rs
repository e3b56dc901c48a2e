//! `aib resume [RUN_ID|--all] [--detach]`: advance unfinished runs from the state alone (their
//! records hold the options, the units and where each stands); `aib cancel RUN_ID`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aib_azure::{ResourceGroupId, ResourceId};
use aib_executor::inputs;
use aib_executor::resume::ResumeRequest;
use aib_executor::runner::ExecutorConfig;
use aib_executor::secrets::SecretOptions;
use aib_manifest::Manifest;
use aib_planner::Plan;
use aib_state::{ResumeSpec, RunRecord, RunStatus, StateStore};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::{CancelArgs, GlobalArgs, LogFormat, ResumeArgs, SelectArgs};
use crate::exit::Exit;
use crate::output::outln;
use crate::reporter::{self, Mode};
use crate::signals;
use crate::steps::simulate;
use crate::steps::{self, Connection, Reports, Shown, state_error};

/// How long `resume` waits for the state lock by default: a tick that finds another process
/// advancing the runs has nothing to do.
pub const DEFAULT_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

pub fn run(global: &GlobalArgs, args: &ResumeArgs) -> Exit {
    let runtime = match crate::steps::runtime(true, Exit::Invalid) {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    runtime.block_on(resume(global, args))
}

/// The manifest the state is found beside (for the default `.aib/`).
fn manifest_for_state(args: &ResumeArgs) -> PathBuf {
    args.manifest
        .clone()
        .unwrap_or_else(|| PathBuf::from("aib.toml"))
}

/// Opens the state (Blob state with an Azure credential from the environment).
pub(crate) async fn open_store(
    global: &GlobalArgs,
    manifest: &Path,
) -> Result<(StateStore, Option<String>, aib_state::StateLocation), Exit> {
    let dir = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let (loc, state_arg) = steps::state_location(global, &dir, false)?;
    let credential = match &loc {
        aib_state::StateLocation::Blob(_) => {
            let cred = aib_azure::Credential::from_env(aib_azure::Cloud::Public).map_err(|e| {
                eprintln!("error: {e}");
                Exit::Azure
            })?;
            Some(Arc::new(cred))
        }
        aib_state::StateLocation::Local(_) => None,
    };
    let store = aib_state::open_with(&loc, credential, global.insecure)
        .await
        .map_err(state_error)?;
    Ok((store, state_arg, loc))
}

async fn resume(global: &GlobalArgs, args: &ResumeArgs) -> Exit {
    let manifest = manifest_for_state(args);
    let (store, state_arg, loc) = match open_store(global, &manifest).await {
        Ok(x) => x,
        Err(exit) => return exit,
    };
    let targets: Vec<String> = if let Some(id) = &args.run_id {
        vec![id.clone()]
    } else {
        match store.unfinished_runs().await {
            Ok(runs) if runs.is_empty() => {
                if !global.quiet {
                    outln!("no unfinished run to resume");
                }
                if let Some(p) = &args.report_markdown
                    && let Err(e) = std::fs::write(p, "No unfinished run to advance.\n")
                {
                    eprintln!("error: cannot write {}: {e}", p.display());
                    return Exit::Io;
                }
                return Exit::Success;
            }
            Ok(runs) if args.all => runs.into_iter().map(|r| r.run_id).collect(),
            Ok(runs) => runs
                .into_iter()
                .last()
                .map(|r| r.run_id)
                .into_iter()
                .collect(),
            Err(e) => return state_error(e),
        }
    };
    let ctx = Ctx {
        global,
        args,
        store,
        state_arg,
        loc,
        markdown: Default::default(),
    };
    let mut exit = Exit::Success;
    for id in targets {
        let e = ctx.one(&id).await;
        if (e as i32) > (exit as i32) {
            exit = e;
        }
        if e == Exit::Interrupted {
            break;
        }
    }
    if let Some(p) = &args.report_markdown {
        use aib_executor::report::markdown;
        let parts = ctx.markdown.take();
        let text = if parts.is_empty() {
            "No unfinished run to advance.\n".to_string()
        } else {
            parts.join("\n---\n\n")
        };
        if let Err(e) = std::fs::write(p, markdown::fit(&text, markdown::MAX_STEP_SUMMARY)) {
            eprintln!("error: cannot write {}: {e}", p.display());
            exit = steps::worse(exit);
        }
    }
    exit
}

struct Ctx<'a> {
    global: &'a GlobalArgs,
    args: &'a ResumeArgs,
    store: StateStore,
    state_arg: Option<String>,
    loc: aib_state::StateLocation,
    /// The Markdown summary of each run advanced (`--report-markdown` writes them together).
    markdown: std::cell::RefCell<Vec<String>>,
}

/// The exit of a run that has ended, as `aib build` would have given it.
fn final_exit(status: RunStatus) -> Exit {
    match status {
        RunStatus::Succeeded | RunStatus::Detached | RunStatus::Running => Exit::Success,
        RunStatus::Failed => Exit::UnitFailed,
        RunStatus::Cancelled | RunStatus::Interrupted => Exit::Interrupted,
    }
}

impl Ctx<'_> {
    fn rerun(&self) -> String {
        format!(
            "aib resume{}",
            reporter::logs_args(self.state_arg.as_deref(), &manifest_for_state(self.args))
        )
    }

    /// Advances one run under the state lock.
    async fn one(&self, run_id: &str) -> Exit {
        let quiet = self.global.quiet;
        let wait = self.args.lock_timeout.unwrap_or(DEFAULT_LOCK_WAIT);
        let host = aib_state::current_host();
        let rerun = self.rerun();
        let lock =
            match steps::take_lock_or_busy(&self.store, run_id, &host, wait, quiet, &rerun, true)
                .await
            {
                Ok(l) => l,
                Err(Exit::Locked) => return self.busy(run_id).await,
                Err(e) => return e,
            };
        let exit = self.advance(run_id).await;
        if let Err(e) = lock.release().await {
            eprintln!("warning: releasing the state lock: {e}");
        }
        exit
    }

    /// The lock stayed held: by another process advancing runs (nothing to do), or by a run
    /// that is not resumable (exit 4).
    async fn busy(&self, run_id: &str) -> Exit {
        let holder = self.store.lock_holder().await.ok().flatten();
        let Some(h) = holder else {
            eprintln!("error: the state lock is held; try again");
            return Exit::Locked;
        };
        let theirs = self.store.read_run(&h.run_id).await.ok();
        if theirs.is_some_and(|r| r.resume.is_some()) {
            if !self.global.quiet {
                eprintln!(
                    "run {} holds the state lock (host {}, process {}, since {}): another process is advancing the runs; nothing to do for run {run_id} now",
                    h.run_id,
                    h.host,
                    h.pid,
                    crate::text::when(h.since)
                );
            }
            return Exit::Success;
        }
        eprintln!(
            "error: the state is locked by run {} (host {}, process {}); run {run_id} was not advanced",
            h.run_id, h.host, h.pid
        );
        Exit::Locked
    }

    async fn advance(&self, run_id: &str) -> Exit {
        let global = self.global;
        let (record, spec) = match self.open_run(run_id).await {
            Ok(r) => r,
            Err(exit) => return exit,
        };
        let (manifest, _inputs) = match run_manifest(
            global.quiet,
            self.args.manifest.as_deref(),
            &self.store,
            &record,
        )
        .await
        {
            Ok(m) => m,
            Err(exit) => return exit,
        };
        let plan = match plan_run(&manifest, &record) {
            Ok(p) => p,
            Err(exit) => return exit,
        };
        let conn = connect_for(
            global,
            &self.loc,
            self.args.manifest.as_deref(),
            &record,
            &manifest,
        )
        .await;
        let Connection {
            arm,
            sim,
            note: _,
            clock,
        } = match conn {
            Ok(c) => c,
            Err(exit) => return exit,
        };
        let interrupt = watch_signals(self.args.detach);
        let mode = Mode::detect(global.log_format == LogFormat::Json, global.quiet);
        let (fwd_tx, fwd_rx) = mpsc::unbounded_channel();
        let config = ExecutorConfig {
            time_scale: clock.factor(),
            ..run_config(&spec, &record, self.args.detach)
        }
        .with_manifest_limits(&manifest);
        let reporter = tokio::spawn(reporter::report(
            mode,
            run_id.to_string(),
            config.simulated_scale(),
            fwd_rx,
        ));
        if !global.quiet {
            eprintln!("resuming run {run_id}");
        }
        let result = aib_executor::resume::resume(ResumeRequest {
            manifest: Arc::new(manifest),
            plan,
            arm,
            store: self.store.clone(),
            record,
            config,
            interrupt: interrupt.clone(),
            forward: Some(fwd_tx),
            secret_options: SecretOptions {
                placeholder_for_missing_env: spec.simulate,
                placeholders_only: spec.simulate,
            },
            redactor: crate::logging::redactor().clone(),
        })
        .await;
        let _ = reporter.await;
        let exit = self.conclude(result, &interrupt);
        if let Some(s) = sim {
            s.stop().await;
        }
        exit
    }

    /// The run's record when it can be advanced: not ended, recorded by an aib that resumes.
    async fn open_run(&self, run_id: &str) -> Result<(RunRecord, ResumeSpec), Exit> {
        let record = self.store.read_run(run_id).await.map_err(state_error)?;
        if !record.status.is_unfinished() {
            if !self.global.quiet {
                outln!(
                    "run {run_id} already ended {}",
                    steps::status_word(record.status)
                );
            }
            return Err(final_exit(record.status));
        }
        let Some(spec) = record.resume.clone() else {
            eprintln!(
                "error: run {run_id} was recorded by an aib that could not resume runs; `aib build --retry-failed {run_id}` re-runs what it left"
            );
            return Err(Exit::Invalid);
        };
        Ok((record, spec))
    }

    /// Reports the result and gives the exit code.
    fn conclude(
        &self,
        result: Result<aib_executor::runner::RunResult, aib_executor::session::BuildError>,
        interrupt: &CancellationToken,
    ) -> Exit {
        let reports = Reports {
            json: self.args.report_json.as_deref(),
            junit: self.args.report_junit.as_deref(),
            markdown: None,
            markdown_parts: Some(&self.markdown),
        };
        let shown = Shown {
            state_arg: self.state_arg.as_deref(),
            manifest: &manifest_for_state(self.args),
            simulate: false,
        };
        steps::conclude(self.global, &reports, &shown, result, interrupt)
    }
}

/// The options the run was started with (the manifest's limits and the clock are added).
fn run_config(spec: &ResumeSpec, record: &RunRecord, detach: bool) -> ExecutorConfig {
    ExecutorConfig {
        max_parallel: spec.max_parallel.max(1),
        fail_fast: spec.fail_fast,
        force: record.selection.force,
        detach,
        ..ExecutorConfig::default()
    }
}

/// Cancelled by Ctrl-C or a termination signal. A tick (`detach`) stopped by one (a CI
/// timeout, a cancelled job) leaves the builds to the next tick, as if killed: it exits at
/// once and nothing is cancelled in Azure.
fn watch_signals(detach: bool) -> CancellationToken {
    let interrupt = CancellationToken::new();
    let token = interrupt.clone();
    tokio::spawn(async move {
        signals::shutdown_requested().await;
        if detach {
            eprintln!("interrupted: exiting; the next `aib resume` takes the run up");
            std::process::exit(Exit::Interrupted as i32);
        }
        token.cancel();
    });
    interrupt
}

/// The manifest a run was started with: restored from the inputs its state keeps (the files
/// on this machine play no part), or for a run recorded before inputs were kept, the manifest
/// at `--manifest` or the path in its record. The restored folder lives as long as the
/// second value.
pub(crate) async fn run_manifest(
    quiet: bool,
    manifest_arg: Option<&Path>,
    store: &StateStore,
    record: &RunRecord,
) -> Result<(Manifest, Option<inputs::Restored>), Exit> {
    let run_id = record.run_id.as_str();
    let Some(digest) = record.resume.as_ref().and_then(|r| r.inputs.clone()) else {
        let path = manifest_arg
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(&record.manifest));
        if !quiet {
            eprintln!(
                "note: run {run_id} was started by an aib that kept no inputs in the state: resuming it from {}",
                path.display()
            );
        }
        return Ok((steps::load(&path, quiet)?, None));
    };
    let restored = inputs::restore(store, run_id, &digest).await.map_err(|e| {
        eprintln!(
            "error: the inputs of run {run_id} kept in the state cannot be restored: {e}; `aib cancel {run_id}` ends the run"
        );
        Exit::Io
    })?;
    if !restored.outside.is_empty() {
        eprintln!(
            "warning: run {run_id} read files by absolute path, which are read again from this machine: {}",
            restored.outside.join(", ")
        );
    }
    let manifest = steps::load(&restored.manifest, true)?;
    Ok((manifest, Some(restored)))
}

/// The run's units as `manifest` plans them.
fn plan_run(manifest: &Manifest, record: &RunRecord) -> Result<Plan, Exit> {
    let run_id = record.run_id.as_str();
    let all = steps::make_plan(manifest, &SelectArgs::default(), &[], true)?;
    let ids: Vec<String> = record
        .units
        .iter()
        .map(|u| u.id.clone())
        .filter(|id| all.unit(&aib_planner::UnitId::from(id.as_str())).is_some())
        .collect();
    if ids.is_empty() {
        eprintln!(
            "error: none of run {run_id}'s units is in {} any more; `aib cancel {run_id}` ends it",
            manifest.path.display()
        );
        return Err(Exit::Invalid);
    }
    let select = SelectArgs {
        units: ids,
        ..SelectArgs::default()
    };
    steps::make_plan(manifest, &select, &[], true)
}

/// Connects as the run did: to Azure, or for a `--simulate` run to its saved world (beside
/// the state, or beside the manifest on disk for a Blob state).
async fn connect_for(
    global: &GlobalArgs,
    loc: &aib_state::StateLocation,
    manifest_arg: Option<&Path>,
    record: &RunRecord,
    manifest: &Manifest,
) -> Result<Connection, Exit> {
    if !record.resume.as_ref().is_some_and(|r| r.simulate) {
        return steps::connect(global, manifest, None).await;
    }
    let on_disk = manifest_arg
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(&record.manifest));
    let dir = on_disk.parent().map(Path::to_path_buf).unwrap_or_default();
    steps::connect_simulator(simulate::Use::Keep {
        world: simulate::world_dir(loc, &dir),
        scripted: None,
    })
    .await
}

pub fn cancel(global: &GlobalArgs, args: &CancelArgs) -> Exit {
    let runtime = match crate::steps::runtime(true, Exit::Invalid) {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    runtime.block_on(cancel_run(global, args))
}

async fn cancel_run(global: &GlobalArgs, args: &CancelArgs) -> Exit {
    let state_manifest = args
        .manifest
        .clone()
        .unwrap_or_else(|| PathBuf::from("aib.toml"));
    let (store, _, loc) = match open_store(global, &state_manifest).await {
        Ok(x) => x,
        Err(exit) => return exit,
    };
    let run_id = args.run_id.as_str();
    let host = aib_state::current_host();
    let wait = args.lock_timeout.unwrap_or(DEFAULT_LOCK_WAIT);
    let lock = match steps::take_lock(&store, run_id, &host, wait, global.quiet, "aib cancel").await
    {
        Ok(l) => l,
        Err(e) => return e,
    };
    let exit = cancel_locked(global, args, &store, &loc, run_id).await;
    if let Err(e) = lock.release().await {
        eprintln!("warning: releasing the state lock: {e}");
    }
    exit
}

/// The run, its unfinished units and their running stages, cancelled at `now`.
fn mark_cancelled(record: &mut aib_state::RunRecord, now: chrono::DateTime<chrono::Utc>) {
    for u in record.units.iter_mut().filter(|u| {
        matches!(
            u.status,
            aib_state::UnitStatus::Pending | aib_state::UnitStatus::Running
        )
    }) {
        u.status = aib_state::UnitStatus::Cancelled;
        u.reason = Some("cancelled by `aib cancel`".into());
        for s in u
            .stages
            .iter_mut()
            .filter(|s| s.status == aib_state::StageStatus::Running)
        {
            s.status = aib_state::StageStatus::Cancelled;
            s.finished = Some(now);
        }
    }
    record.status = RunStatus::Cancelled;
    record.finished = Some(now);
}

async fn cancel_locked(
    global: &GlobalArgs,
    args: &CancelArgs,
    store: &StateStore,
    loc: &aib_state::StateLocation,
    run_id: &str,
) -> Exit {
    let mut record = match store.read_run(run_id).await {
        Ok(r) => r,
        Err(e) => return state_error(e),
    };
    if !record.status.is_unfinished() {
        if !global.quiet {
            outln!(
                "run {run_id} already ended {}",
                crate::steps::status_word(record.status)
            );
        }
        return Exit::Success;
    }
    let building: Vec<ResourceId> = record
        .open_units()
        .filter(|u| u.stages.iter().any(|s| s.name == "build") && !u.template_name.is_empty())
        .map(|u| {
            let group = ResourceGroupId::new(&u.subscription, &u.resource_group);
            ResourceId::image_template(&group, &u.template_name)
        })
        .collect();
    let mut cancelled = 0usize;
    if !building.is_empty() {
        let (manifest, _inputs) =
            match run_manifest(true, args.manifest.as_deref(), store, &record).await {
                Ok(m) => m,
                Err(exit) => return exit,
            };
        let conn = connect_for(global, loc, args.manifest.as_deref(), &record, &manifest).await;
        let conn = match conn {
            Ok(c) => c,
            Err(exit) => return exit,
        };
        for template in &building {
            match conn.arm.cancel_image_template(template).await {
                Ok(_) => cancelled += 1,
                // 409: no build is active any more; 404: the template is gone.
                Err(e) if matches!(e.status(), Some(409 | 404)) => {}
                Err(e) => eprintln!("warning: cancelling the build of {}: {e}", template.name()),
            }
        }
        conn.close().await;
    }
    mark_cancelled(&mut record, chrono::Utc::now());
    if let Err(e) = store.write_run(&record).await {
        return state_error(e);
    }
    if !global.quiet {
        outln!(
            "run {run_id} cancelled: {} cancelled in Azure; their templates are left to `aib gc`",
            crate::text::count(cancelled, "build", "builds")
        );
    }
    Exit::Success
}
