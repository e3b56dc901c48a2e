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
            // An unknown run id is exit 2, an unreadable record 5.
            Some(r) => match store.read_run(r).await {
                Ok(_) => vec![r.clone()],
                Err(e) => return super::build::state_error(e),
            },
            None => match store.list_runs().await {
                Ok(r) => r,
                Err(e) => return super::build::state_error(e),
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
                Err(e) if args.run_id.is_some() => return super::build::state_error(e),
                Err(e) => eprintln!("warning: run {run}: {e}"),
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
        // Nothing to show for what was asked: a usage error, not a failed unit.
        Exit::Invalid
    })
}
