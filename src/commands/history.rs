//! `aib history`: past runs, newest first.

use aib_state::UnitStatus;

use super::status::{open_state, runtime, status_word};
use crate::cli::{GlobalArgs, HistoryArgs};
use crate::exit::Exit;

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
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::UnitFailed;
            }
        };
        if ids.is_empty() {
            println!("no runs yet");
            return Exit::Success;
        }
        // A `running` run whose lock is gone died without saying so: shown `interrupted`.
        let holder = store.lock_holder().await;
        println!(
            "{:<24}  {:<11}  {:<24}  {:>8}  UNITS",
            "RUN", "STATUS", "STARTED", "TIME"
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
                    println!(
                        "{:<24}  {:<11}  {:<24}  {:>8}  {} ok, {} failed, {} skipped, {} cancelled",
                        r.run_id,
                        status_word(match &holder {
                            Ok(h) => r.status_given_lock(h.as_ref()),
                            Err(_) => r.status,
                        }),
                        aib_state::record::rfc3339(r.started),
                        time,
                        c(UnitStatus::Succeeded) + c(UnitStatus::Unchanged),
                        c(UnitStatus::Failed),
                        c(UnitStatus::Skipped),
                        c(UnitStatus::Cancelled),
                    );
                }
                Err(e) => println!("{id:<24}  (unreadable: {e})"),
            }
        }
        Exit::Success
    })
}
