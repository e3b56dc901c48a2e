//! `aib history`: past runs, newest first.

use aib_state::UnitStatus;

use crate::cli::{GlobalArgs, HistoryArgs};
use crate::exit::Exit;
use crate::output::outln;
use crate::steps::{no_runs_yet, open_existing_state, reading_runtime as runtime, status_word};

pub fn run(global: &GlobalArgs, args: &HistoryArgs) -> Exit {
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return e,
    };
    rt.block_on(async {
        let store = match open_existing_state(global, &args.manifest).await {
            Ok(Some(s)) => s,
            Ok(None) => return no_runs_yet(),
            Err(e) => return e,
        };
        let runs = match crate::steps::runs_with_shards(&store).await {
            Ok(r) => r,
            Err(e) => return crate::steps::state_error(e),
        };
        if runs.is_empty() {
            return no_runs_yet();
        }
        // Runs of shards (`<state>/shards/<key>`) are listed with their shard.
        let shard_width = runs
            .iter()
            .filter_map(|r| r.shard.as_ref().map(String::len))
            .max()
            .map(|w| w.max("SHARD".len()));
        let shard_col = |s: &str| shard_width.map(|w| format!("{s:<w$}  ")).unwrap_or_default();
        outln!(
            "{:<24}  {:<11}  {:<24}  {:>8}  {}UNITS",
            "RUN",
            "STATUS",
            "STARTED",
            "TIME",
            shard_col("SHARD")
        );
        // A `running` run whose lock is gone died without saying so: shown `interrupted`.
        let mut holders = std::collections::HashMap::new();
        let mut simulated = None;
        for r in runs.iter().take(args.limit) {
            let id = &r.run_id;
            match r.store.read_run(id).await {
                Ok(rec) => {
                    let key = r.shard.clone().unwrap_or_default();
                    if !holders.contains_key(&key) {
                        holders.insert(key.clone(), r.store.lock_holder().await);
                    }
                    let status = match holders.get(&key) {
                        Some(Ok(h)) => rec.status_given_lock(h.as_ref()),
                        _ => rec.status,
                    };
                    let time = rec
                        .finished
                        .map(|f| crate::text::elapsed(f - rec.started, rec.time_scale))
                        .unwrap_or_else(|| "-".into());
                    if rec.time_scale.is_some() {
                        simulated = rec.time_scale;
                    }
                    let c = |s: UnitStatus| rec.units.iter().filter(|u| u.status == s).count();
                    outln!(
                        "{:<24}  {:<11}  {:<24}  {:>8}  {}{} ok, {} failed, {} skipped, {} cancelled",
                        rec.run_id,
                        status_word(status),
                        crate::text::when(rec.started),
                        time,
                        shard_col(r.shard.as_deref().unwrap_or("-")),
                        c(UnitStatus::Succeeded) + c(UnitStatus::Unchanged),
                        c(UnitStatus::Failed),
                        c(UnitStatus::Skipped),
                        c(UnitStatus::Cancelled),
                    );
                }
                Err(e) => outln!("{id:<24}  (unreadable: {e})"),
            }
        }
        if let Some(k) = simulated {
            println!("{}", crate::text::azure_time_note(k));
        }
        Exit::Success
    })
}
