//! `aib schedule`: runs the manifest's `[schedules.<name>]` rebuilds.
//!
//! `--once [--now T]` runs, as if the time were T (default: now), every schedule due in the
//! minute ending at T, then exits with the worst exit code of those builds. Without `--once`
//! it runs as a service: sleep until the next due time, build the schedules due then, repeat,
//! until SIGINT/SIGTERM. A schedule still building when it is due again is skipped that time.
//!
//! Each schedule's build is `aib build` of its selection (environments, variant globs;
//! `rebuild = "always"` forces), recorded with the schedule's name as trigger.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use aib_manifest::model::Rebuild;
use aib_planner::schedule::{self, DueSchedule};
use chrono::{DateTime, Utc};

use crate::cli::{BuildArgs, GlobalArgs, ScheduleArgs, SelectArgs};
use crate::exit::Exit;
use crate::output::outln;
use crate::signals;

pub fn run(global: &GlobalArgs, args: &ScheduleArgs) -> Exit {
    let manifest = match crate::steps::load(&args.manifest, global.quiet) {
        Ok(m) => m,
        Err(exit) => return exit,
    };
    if let Err(e) = schedule::check(&manifest.file) {
        eprintln!("error: {e}");
        return Exit::Invalid;
    }
    if args.once {
        let now = args.now.map_or_else(Utc::now, |t| t.with_timezone(&Utc));
        return run_once(global, args, &manifest.file, now);
    }
    let runtime = match crate::steps::runtime(false, Exit::Invalid) {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    runtime.block_on(service(global, args, manifest.file))
}

fn run_once(
    global: &GlobalArgs,
    args: &ScheduleArgs,
    file: &aib_manifest::ManifestFile,
    now: DateTime<Utc>,
) -> Exit {
    let due = match args.within {
        None => schedule::due_in_minute_ending(file, now),
        Some(within) => schedule::last_due_at_or_before(file, now).map(|list| {
            let since = chrono::Duration::from_std(within)
                .ok()
                .and_then(|w| now.checked_sub_signed(w))
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            list.into_iter().filter(|d| d.fire_time > since).collect()
        }),
    };
    let due = match due {
        Ok(d) => restrict(d, &args.envs),
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Invalid;
        }
    };
    let due = match args.within {
        Some(_) if !due.is_empty() => {
            // Due times already covered by a recorded run are done (an earlier trigger, or
            // another runner sharing the state, built them).
            match crate::steps::runtime(false, Exit::Invalid) {
                Ok(rt) => rt.block_on(missed(global, args, due)),
                Err(exit) => return exit,
            }
        }
        _ => due,
    };
    if due.is_empty() {
        match args.within {
            None => outln!("no schedule due at {}", crate::text::when(now)),
            Some(w) => outln!(
                "no schedule due in the {} before {} that has not run",
                humanize(w),
                crate::text::when(now)
            ),
        }
        return Exit::Success;
    }
    let mut exit = Exit::Success;
    for d in &due {
        exit = worst(exit, build_one(global, args, d));
        if exit == Exit::Interrupted {
            break;
        }
    }
    exit
}

/// Keeps only the environments `envs` names (all when empty); drops schedules left with none.
fn restrict(due: Vec<DueSchedule>, envs: &[String]) -> Vec<DueSchedule> {
    if envs.is_empty() {
        return due;
    }
    due.into_iter()
        .filter_map(|mut d| {
            d.environments.retain(|e| envs.contains(e));
            (!d.environments.is_empty()).then_some(d)
        })
        .collect()
}

fn humanize(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Runs one due schedule's build (blocking: the build command starts its own runtime).
fn build_one(global: &GlobalArgs, args: &ScheduleArgs, d: &DueSchedule) -> Exit {
    if !global.quiet {
        eprintln!(
            "schedule `{}` due at {}: building environments [{}], variants [{}]{}",
            d.name,
            crate::text::when(d.fire_time),
            d.environments.join(", "),
            d.variant_globs.join(", "),
            if d.rebuild == Rebuild::Always {
                " (rebuild always)"
            } else {
                ""
            }
        );
    }
    let build_args = build_args_for(args, d);
    super::build::run(global, &build_args)
}

fn build_args_for(args: &ScheduleArgs, d: &DueSchedule) -> BuildArgs {
    BuildArgs {
        manifest: args.manifest.clone(),
        select: SelectArgs {
            envs: d.environments.clone(),
            variants: d.variant_globs.clone(),
            units: Vec::new(),
        },
        max_parallel: None,
        fail_fast: false,
        force: d.rebuild == Rebuild::Always,
        retry_failed: None,
        simulate: args.simulate,
        report_json: None,
        report_junit: None,
        report_markdown: None,
        lock_timeout: None,
        detach: args.detach,
        trigger: Some(d.name.clone()),
        trigger_due: Some(d.fire_time),
    }
}

/// The worse of two exit codes (success is best, an interruption worst).
fn worst(a: Exit, b: Exit) -> Exit {
    if (b as i32) > (a as i32) { b } else { a }
}

async fn service(
    global: &GlobalArgs,
    args: &ScheduleArgs,
    file: aib_manifest::ManifestFile,
) -> Exit {
    let shutdown = signals::shutdown_requested();
    tokio::pin!(shutdown);
    let running: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut workers: Vec<std::thread::JoinHandle<()>> = Vec::new();
    let (global, sargs) = service_args(global, args);
    let mut after = Utc::now();
    if !global.quiet {
        eprintln!(
            "aib schedule: {} from {}; stop with Ctrl-C or SIGTERM",
            crate::text::count(file.schedules.len(), "schedule", "schedules"),
            args.manifest.display()
        );
    }
    let pending = match catch_up(&file, after, &args.envs) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let mut pending = missed(&global, &sargs, pending).await;
    loop {
        workers.retain(|w| !w.is_finished());
        if !pending.is_empty() {
            let batch = std::mem::take(&mut pending);
            start_batch(&global, &sargs, &running, batch, &mut workers);
        }
        let next = match schedule::next_due(&file, after) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("error: {e}");
                break;
            }
        };
        let Some((when, due)) = next else {
            if !global.quiet {
                eprintln!("no schedule will ever be due again; waiting for Ctrl-C or SIGTERM");
            }
            (&mut shutdown).await;
            break;
        };
        if !global.quiet {
            let names: Vec<&str> = due.iter().map(|d| d.name.as_str()).collect();
            eprintln!("next: {} at {}", names.join(", "), crate::text::when(when));
        }
        if !wait_until(when, &mut shutdown).await {
            break;
        }
        after = when;
        pending = restrict(due, &args.envs);
    }
    if !global.quiet {
        eprintln!("aib schedule: stopping; waiting for running builds to end");
    }
    // Running builds received the same signal and are winding down.
    for w in workers {
        let _ = tokio::task::spawn_blocking(move || w.join()).await;
    }
    Exit::Success
}

/// The arguments every build the service starts shares (owned: builds run on threads).
fn service_args(global: &GlobalArgs, args: &ScheduleArgs) -> (Arc<GlobalArgs>, Arc<ScheduleArgs>) {
    let global = Arc::new(GlobalArgs {
        state: global.state.clone(),
        arm_endpoint: global.arm_endpoint.clone(),
        verbose: global.verbose,
        quiet: global.quiet,
        log_format: global.log_format,
        insecure: global.insecure,
    });
    let sargs = Arc::new(ScheduleArgs {
        manifest: args.manifest.clone(),
        once: false,
        now: None,
        simulate: args.simulate,
        within: None,
        envs: args.envs.clone(),
        detach: false,
    });
    (global, sargs)
}

/// `catch_up = true`: the last due time before start is run now if no run of that schedule
/// started at or after it (the service was down then).
fn catch_up(
    file: &aib_manifest::ManifestFile,
    now: chrono::DateTime<Utc>,
    envs: &[String],
) -> Result<Vec<DueSchedule>, Exit> {
    match schedule::last_due_at_or_before(file, now) {
        Ok(list) => Ok(restrict(
            list.into_iter().filter(|d| d.catch_up).collect(),
            envs,
        )),
        Err(e) => {
            eprintln!("error: {e}");
            Err(Exit::Invalid)
        }
    }
}

/// Sleeps until `when` (waiting out a sleep that ends a little early on some clocks); false
/// when shutdown came first.
async fn wait_until(
    when: chrono::DateTime<Utc>,
    shutdown: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) -> bool {
    loop {
        let now = Utc::now();
        if now >= when {
            return true;
        }
        let wait = (when - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = shutdown.as_mut() => return false,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// The catch-up candidates whose due time was missed: no run triggered by the schedule started
/// at or after its last due time. Unreadable state counts as missed (running once more is
/// safer than skipping a build).
async fn missed(
    global: &GlobalArgs,
    args: &ScheduleArgs,
    candidates: Vec<DueSchedule>,
) -> Vec<DueSchedule> {
    if candidates.is_empty() {
        return candidates;
    }
    let dir = args
        .manifest
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let store = match crate::steps::state_location(global, &dir, args.simulate) {
        Ok((loc, _)) => aib_state::open_with(&loc, None, global.insecure)
            .await
            .map_err(|e| e.to_string()),
        Err(_) => Err("invalid state location".to_string()),
    };
    let runs = match &store {
        Ok(s) => s.list_runs().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    let (store, runs) = match (store, runs) {
        (Ok(s), Ok(r)) => (s, r),
        (_, Err(e)) | (Err(e), _) => {
            eprintln!(
                "warning: catch_up: cannot read the state ({e}); running the catch-up builds"
            );
            return candidates;
        }
    };
    let mut out = Vec::new();
    for d in candidates {
        match ran_since(&store, &runs, &d.name, d.fire_time).await {
            Some(run) => {
                if !global.quiet {
                    eprintln!(
                        "catch_up: schedule `{}` last due at {} already ran (run {run})",
                        d.name,
                        crate::text::when(d.fire_time)
                    );
                }
            }
            None => {
                if !global.quiet {
                    eprintln!(
                        "catch_up: schedule `{}` last due at {} was missed: running it now",
                        d.name,
                        crate::text::when(d.fire_time)
                    );
                }
                out.push(d);
            }
        }
    }
    out
}

/// A run triggered by schedule `name` for a due time at or after `since` (by when the schedule
/// fired, recorded with the run; before that was recorded, by when the run started). `runs`:
/// ids newest first; an id starts with its start time to the second, and a run starts after
/// its schedule fired, so older ones are not read.
async fn ran_since(
    store: &aib_state::StateStore,
    runs: &[String],
    name: &str,
    since: DateTime<Utc>,
) -> Option<String> {
    let floor = since.format("%Y%m%dT%H%M%SZ").to_string();
    for id in runs {
        if id.as_str() < floor.as_str() {
            break;
        }
        let Ok(rec) = store.read_run(id).await else {
            continue;
        };
        // A run that says when its schedule fired covers that due time and the earlier ones;
        // an older record without it, a due time before it started.
        let covers = match &rec.trigger {
            aib_state::Trigger::Schedule { name: n, due } if n == name => {
                due.map_or(rec.started >= since, |due| due >= since)
            }
            _ => false,
        };
        if covers {
            return Some(rec.run_id);
        }
    }
    None
}

/// Builds `due` one after another on a thread of its own, skipping schedules whose previous
/// run is still going.
fn start_batch(
    global: &Arc<GlobalArgs>,
    args: &Arc<ScheduleArgs>,
    running: &Arc<Mutex<HashSet<String>>>,
    due: Vec<DueSchedule>,
    workers: &mut Vec<std::thread::JoinHandle<()>>,
) {
    let mut batch = Vec::new();
    {
        let Ok(mut set) = running.lock() else {
            eprintln!("error: schedule bookkeeping poisoned; skipping this run");
            return;
        };
        for d in due {
            if set.contains(&d.name) {
                eprintln!(
                    "warning: schedule `{}` due at {} skipped: its previous run is still going",
                    d.name,
                    crate::text::when(d.fire_time)
                );
            } else {
                set.insert(d.name.clone());
                batch.push(d);
            }
        }
    }
    if batch.is_empty() {
        return;
    }
    let (global, args, running) = (global.clone(), args.clone(), running.clone());
    // A plain thread, not spawn_blocking: the build starts its own runtime.
    let spawned = std::thread::Builder::new()
        .name("aib-schedule".into())
        .spawn(move || {
            for d in batch {
                let exit = build_one(&global, &args, &d);
                if !global.quiet || exit != Exit::Success {
                    eprintln!(
                        "schedule `{}`: build ended with exit code {}",
                        d.name, exit as i32
                    );
                }
                if let Ok(mut set) = running.lock() {
                    set.remove(&d.name);
                }
            }
        });
    match spawned {
        Ok(h) => workers.push(h),
        Err(e) => eprintln!("error: cannot start a build thread: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_prefers_failures_and_interrupts() {
        assert_eq!(worst(Exit::Success, Exit::UnitFailed), Exit::UnitFailed);
        assert_eq!(worst(Exit::Locked, Exit::UnitFailed), Exit::Locked);
        assert_eq!(worst(Exit::Interrupted, Exit::Azure), Exit::Interrupted);
    }
}
