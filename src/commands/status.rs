//! `aib status [RUN_ID]`: one run (default: the latest), unit by unit, with each failure's
//! customizer and log excerpt.

use std::path::Path;

use aib_state::{RunStatus, StateError, StateLocation, StateStore};

use crate::cli::{GlobalArgs, StatusArgs};
use crate::exit::Exit;
use crate::output::{out, outln};
use crate::reporter;

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
        .map_err(super::build::state_error)
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

/// The runtime of the state-reading commands (`status`, `history`, `logs`).
pub fn runtime() -> Result<tokio::runtime::Runtime, Exit> {
    super::runtime(false, Exit::UnitFailed)
}

pub fn status_word(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Running => "running",
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
        RunStatus::Cancelled => "cancelled",
        RunStatus::Interrupted => "interrupted",
    }
}

pub fn run(global: &GlobalArgs, args: &StatusArgs) -> Exit {
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return e,
    };
    rt.block_on(async {
        let store = match open_existing_state(global, &args.manifest).await {
            Ok(Some(s)) => s,
            Ok(None) if args.run_id.is_none() => return no_runs_yet(),
            Ok(None) => {
                let id = args.run_id.clone().unwrap_or_default();
                return super::build::state_error(StateError::RunNotFound(id));
            }
            Err(e) => return e,
        };
        let runs = match runs_with_shards(&store).await {
            Ok(r) => r,
            Err(e) => return super::build::state_error(e),
        };
        let found = match &args.run_id {
            Some(id) => runs.into_iter().find(|r| &r.run_id == id),
            None => runs.into_iter().next(),
        };
        let Some(found) = found else {
            return match &args.run_id {
                // An unknown run id is a usage error.
                Some(id) => super::build::state_error(StateError::RunNotFound(id.clone())),
                None => no_runs_yet(),
            };
        };
        let mut rec = match found.store.read_run(&found.run_id).await {
            Ok(r) => r,
            // A record this aib cannot read (another version, corrupt) is 5.
            Err(e) => return super::build::state_error(e),
        };
        if let Ok(holder) = found.store.lock_holder().await {
            rec.status = rec.status_given_lock(holder.as_ref());
        }
        outln!(
            "run {}  {}  pipeline {}  started {}{}  host {}{}",
            rec.run_id,
            status_word(rec.status),
            rec.pipeline,
            crate::text::when(rec.started),
            rec.finished
                .map(|f| format!("  finished {}", crate::text::when(f)))
                .unwrap_or_default(),
            rec.host,
            found
                .shard
                .as_ref()
                .map(|k| format!("  shard {k}"))
                .unwrap_or_default()
        );
        outln!();
        let opts = reporter::SummaryOptions::for_stdout(reporter::logs_args(
            found.state_arg(global.state.as_deref()).as_deref(),
            &args.manifest,
        ));
        out!("{}", reporter::summary_table(&rec, &opts));
        match rec.status {
            RunStatus::Succeeded => Exit::Success,
            RunStatus::Running => Exit::Success,
            _ => Exit::UnitFailed,
        }
    })
}

/// `status` and `history` of a state without runs: said on stdout, and not a failure.
pub fn no_runs_yet() -> Exit {
    outln!("no runs yet");
    Exit::Success
}
