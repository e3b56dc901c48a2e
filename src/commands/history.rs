//! `aib history`: past runs, newest first.

use aib_state::UnitStatus;

use super::status::{open_state, runtime, status_word};
use crate::cli::{GlobalArgs, HistoryArgs};
use crate::exit::Exit;
use crate::output::outln;

pub fn run(global: &GlobalArgs, args: &HistoryArgs) -> Exit {
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return e,
    };
    rt.block_on(async {
        let store = match open_state(global, &args.manifest).await {
            Ok(s) => s,
            Err(e) => return e,
        };
        let ids = match store.list_runs().await {
            Ok(ids) => ids,
            Err(e) => return super::build::state_error(e),
        };
        if ids.is_empty() {
            outln!("no runs yet");
            return Exit::Success;
        }
        outln!(
            "{:<24}  {:<11}  {:<24}  {:>8}  UNITS",
            "RUN",
            "STATUS",
            "STARTED",
            "TIME"
        );
        for id in ids.iter().take(args.limit) {
            match store.read_run(id).await {
                Ok(r) => {
                    let time = r
                        .finished
                        .map(|f| {
                            let s = (f - r.started).num_seconds().max(0);
                            format!("{}m{:02}s", s / 60, s % 60)
                        })
                        .unwrap_or_else(|| "-".into());
                    let c = |s: UnitStatus| r.units.iter().filter(|u| u.status == s).count();
                    outln!(
                        "{:<24}  {:<11}  {:<24}  {:>8}  {} ok, {} failed, {} skipped, {} cancelled",
                        r.run_id,
                        status_word(r.status),
                        aib_state::record::rfc3339(r.started),
                        time,
                        c(UnitStatus::Succeeded) + c(UnitStatus::Unchanged),
                        c(UnitStatus::Failed),
                        c(UnitStatus::Skipped),
                        c(UnitStatus::Cancelled),
                    );
                }
                Err(e) => outln!("{id:<24}  (unreadable: {e})"),
            }
        }
        Exit::Success
    })
}
