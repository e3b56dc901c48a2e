//! `aib status [RUN_ID]`: one run (default: the latest), unit by unit, with each failure's
//! customizer and log excerpt.

use aib_state::{RunStatus, StateError};

use crate::cli::{GlobalArgs, StatusArgs};
use crate::exit::Exit;
use crate::output::{out, outln};
use crate::reporter;
use crate::steps::{
    no_runs_yet, open_existing_state, reading_runtime as runtime, runs_with_shards, status_word,
};

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
                return crate::steps::state_error(StateError::RunNotFound(id));
            }
            Err(e) => return e,
        };
        let runs = match runs_with_shards(&store).await {
            Ok(r) => r,
            Err(e) => return crate::steps::state_error(e),
        };
        let found = match &args.run_id {
            Some(id) => runs.into_iter().find(|r| &r.run_id == id),
            None => runs.into_iter().next(),
        };
        let Some(found) = found else {
            return match &args.run_id {
                // An unknown run id is a usage error.
                Some(id) => crate::steps::state_error(StateError::RunNotFound(id.clone())),
                None => no_runs_yet(),
            };
        };
        let mut rec = match found.store.read_run(&found.run_id).await {
            Ok(r) => r,
            // A record this aib cannot read (another version, corrupt) is 5.
            Err(e) => return crate::steps::state_error(e),
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
            RunStatus::Running | RunStatus::Detached => Exit::Success,
            _ => Exit::UnitFailed,
        }
    })
}
