//! `aib status [RUN_ID]`: one run (default: the latest), unit by unit, with each failure's
//! customizer and log excerpt.

use std::path::Path;

use aib_state::{RunStatus, StateLocation, StateStore};

use crate::cli::{GlobalArgs, StatusArgs};
use crate::exit::Exit;
use crate::reporter;

/// Opens the state for a read-only command (no Azure credential unless blob state needs one).
pub async fn open_state(global: &GlobalArgs, manifest: &Path) -> Result<StateStore, Exit> {
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
            eprintln!("error: no runs yet: {} does not exist", p.display());
            return Err(Exit::UnitFailed);
        }
        StateLocation::Local(_) => None,
    };
    aib_state::open_with(&loc, cred, global.insecure)
        .await
        .map_err(|e| {
            eprintln!("error: {e}");
            Exit::UnitFailed
        })
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
        let store = match open_state(global, &args.manifest).await {
            Ok(s) => s,
            Err(e) => return e,
        };
        let rec = match &args.run_id {
            Some(id) => store.read_run(id).await.map(Some),
            None => store.latest_run().await,
        };
        let mut rec = match rec {
            Ok(Some(r)) => r,
            Ok(None) => {
                eprintln!("error: no runs yet");
                return Exit::UnitFailed;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::UnitFailed;
            }
        };
        if rec.status == RunStatus::Running
            && matches!(store.lock_holder().await, Ok(h) if h.as_ref().is_none_or(|h| h.run_id != rec.run_id))
        {
            rec.status = RunStatus::Interrupted;
        }
        println!(
            "run {}  {}  pipeline {}  started {}{}  host {}",
            rec.run_id,
            status_word(rec.status),
            rec.pipeline,
            aib_state::record::rfc3339(rec.started),
            rec.finished
                .map(|f| format!("  finished {}", aib_state::record::rfc3339(f)))
                .unwrap_or_default(),
            rec.host
        );
        println!();
        let opts = reporter::SummaryOptions::for_stdout(reporter::logs_args(
            global.state.as_deref(),
            &args.manifest,
        ));
        print!("{}", reporter::summary_table(&rec, &opts));
        match rec.status {
            RunStatus::Succeeded => Exit::Success,
            RunStatus::Running => Exit::Success,
            _ => Exit::UnitFailed,
        }
    })
}
