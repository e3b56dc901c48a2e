//! The state: where it is, opening it, its run lock, and its errors as exit codes.

use std::path::Path;

use aib_state::{RunStatus, StateError, StateLocation, StateStore};

use crate::cli::GlobalArgs;
use crate::exit::Exit;
use crate::output::outln;
use crate::signals;

/// Where the state is: `--state`, `.aib/simulate/` for `--simulate`, else `.aib/` beside the
/// manifest. Also returns the `--state` value to show (`--simulate`'s directory).
pub fn state_location(
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
pub async fn take_lock(
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
pub async fn take_lock_or_busy(
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
pub async fn mark_interrupted(store: &aib_state::StateStore, run_id: &str) {
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

/// Opens the state for a read-only command (no Azure credential unless blob state needs one);
/// `None` when the state is a local folder that does not exist yet (no run has been made
/// there): for `status`, `history` and `logs` that is no runs, not an error.
pub async fn open_existing_state(
    global: &GlobalArgs,
    manifest: &Path,
) -> Result<Option<StateStore>, Exit> {
    let dir = manifest
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    let loc = StateLocation::parse(global.state.as_deref(), &dir).map_err(|e| {
        eprintln!("error: {e}");
        Exit::Invalid
    })?;
    let cred = match &loc {
        StateLocation::Blob(_) => aib_azure::Credential::from_env(aib_azure::Cloud::Public)
            .ok()
            .map(std::sync::Arc::new),
        StateLocation::Local(p) if !p.exists() => {
            tracing::debug!(state = %p.display(), "no state folder: no runs yet");
            return Ok(None);
        }
        StateLocation::Local(_) => None,
    };
    aib_state::open_with(&loc, cred, global.insecure)
        .await
        .map(Some)
        .map_err(state_error)
}

/// A run of the state given to a command, or of one of its shards.
pub struct RunRef {
    /// The shard it belongs to (`<state>/shards/<key>`); `None` for the state itself.
    pub shard: Option<String>,
    /// The store that holds it.
    pub store: StateStore,
    pub run_id: String,
}

impl RunRef {
    /// The `--state` that shows this run by itself (`given` for the state itself).
    pub fn state_arg(&self, given: Option<&str>) -> Option<String> {
        match &self.shard {
            None => given.map(str::to_owned),
            Some(_) => Some(self.store.location().to_string()),
        }
    }
}

/// Every run of `store` and of its shards, newest first (run ids begin with their start time).
pub async fn runs_with_shards(store: &StateStore) -> Result<Vec<RunRef>, StateError> {
    let mut out = Vec::new();
    for (shard, s) in store.with_shards().await? {
        for run_id in s.list_runs().await? {
            out.push(RunRef {
                shard: shard.clone(),
                store: s.clone(),
                run_id,
            });
        }
    }
    out.sort_by(|a, b| b.run_id.cmp(&a.run_id));
    Ok(out)
}

pub fn status_word(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Running => "running",
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::Cancelled => "cancelled",
        RunStatus::Interrupted => "interrupted",
        RunStatus::Detached => "detached",
    }
}

/// `status` and `history` of a state without runs: said on stdout, and not a failure.
pub fn no_runs_yet() -> Exit {
    outln!("no runs yet");
    Exit::Success
}

pub fn state_error(e: StateError) -> Exit {
    eprintln!("error: {e}");
    match e.exit_code() {
        4 => Exit::Locked,
        3 => Exit::Azure,
        2 => Exit::Invalid,
        _ => Exit::Io,
    }
}
