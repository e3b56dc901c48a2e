//! `aib logs UNIT [--run RUN_ID]`: the build log collected for a unit.

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
        let runs = match &args.run_id {
            Some(r) => vec![r.clone()],
            None => match store.list_runs().await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Exit::UnitFailed;
                }
            },
        };
        for run in &runs {
            match store.read_log(run, &args.unit, &args.file).await {
                Ok(bytes) => {
                    if !global.quiet {
                        eprintln!("{} of {} in run {run}:", args.file, args.unit);
                    }
                    crate::output::write_bytes(&bytes);
                    return Exit::Success;
                }
                Err(aib_state::StateError::LogNotFound { .. }) => continue,
                Err(aib_state::StateError::RunNotFound(_)) if args.run_id.is_some() => {
                    eprintln!("error: no run {run}");
                    return Exit::UnitFailed;
                }
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
