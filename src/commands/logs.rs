//! `aib logs UNIT [--run RUN_ID]`: the build log collected for a unit.

use std::io::Write;

use super::status::{open_state, runtime};
use crate::cli::{GlobalArgs, LogsArgs};
use crate::exit::Exit;

pub fn run(global: &GlobalArgs, args: &LogsArgs) -> Exit {
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return e,
    };
    rt.block_on(async {
        let store = match open_state(global, &args.manifest).await {
            Ok(s) => s,
            Err(e) => return e,
        };
        // The state's runs and its shards' (`<state>/shards/<key>`), newest first.
        let runs = match super::status::runs_with_shards(&store).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::UnitFailed;
            }
        };
        let runs: Vec<_> = match &args.run_id {
            Some(id) => {
                let Some(r) = runs.into_iter().find(|r| &r.run_id == id) else {
                    eprintln!("error: no run {id}");
                    return Exit::UnitFailed;
                };
                vec![r]
            }
            None => runs,
        };
        for r in &runs {
            let run = &r.run_id;
            match r.store.read_log(run, &args.unit, &args.file).await {
                Ok(bytes) => {
                    if !global.quiet {
                        eprintln!("{} of {} in run {run}:", args.file, args.unit);
                    }
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&bytes);
                    let _ = out.flush();
                    return Exit::Success;
                }
                Err(aib_state::StateError::LogNotFound { .. }) => continue,
                Err(e) => {
                    if args.run_id.is_some() {
                        eprintln!("error: {e}");
                        return Exit::UnitFailed;
                    }
                }
            }
        }
        eprintln!(
            "error: no {} of unit `{}` in {}",
            args.file,
            args.unit,
            match &args.run_id {
                Some(r) => format!("run {r}"),
                None => "any run".into(),
            }
        );
        Exit::UnitFailed
    })
}
