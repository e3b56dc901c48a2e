//! `aib logs UNIT [--run RUN_ID]`: the build log collected for a unit, and what it says.
//! `aib logs --analyse FILE [--manifest M --unit ID] [--format json]`: the same reading of any
//! customization.log, e.g. one from a build run by hand.

use std::io::Write;
use std::path::Path;

use aib_executor::logs::analyse::AnalysisReport;
use aib_executor::logs::{LogAnalysis, StepNames, analyse};

use crate::cli::{GcFormat, GlobalArgs, LogsArgs, SelectArgs};
use crate::exit::Exit;
use crate::steps::{open_existing_state, reading_runtime as runtime};

/// The largest log `--analyse` reads (AIB's logs are a few MB).
const MAX_LOG_BYTES: u64 = 64 << 20;

pub fn run(global: &GlobalArgs, args: &LogsArgs) -> Exit {
    match (&args.analyse, &args.unit) {
        (Some(file), _) => analyse_file(global, args, file),
        (None, Some(unit)) => show(global, args, unit),
        (None, None) => {
            eprintln!("error: name a unit, or a log file with --analyse FILE");
            Exit::Invalid
        }
    }
}

fn analyse_file(global: &GlobalArgs, args: &LogsArgs, file: &Path) -> Exit {
    let text = match read_bounded(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return Exit::Invalid;
        }
    };
    let validation_log = file
        .file_name()
        .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case("validation.log"));
    let names = match &args.analyse_unit {
        Some(id) => match unit_steps(global, &args.manifest, id, validation_log) {
            Ok(n) => n,
            Err(exit) => return exit,
        },
        None => StepNames {
            validation_log,
            ..StepNames::default()
        },
    };
    let a = analyse(&text, &names);
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        GcFormat::Json => serde_json::to_string_pretty(&AnalysisReport::from(&a))
            .map_err(std::io::Error::other)
            .and_then(|s| writeln!(out, "{s}")),
        GcFormat::Text => write!(out, "{}", text_report(&a)),
    };
    // A closed pipe ends quietly; another write error makes the command exit 5.
    if let Err(e) = written.and_then(|()| out.flush()) {
        crate::output::write_failed(&e);
    }
    Exit::Success
}

/// A file's text (lossy UTF-8), refusing files beyond [`MAX_LOG_BYTES`].
fn read_bounded(file: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(file)?;
    let mut bytes = Vec::new();
    f.take(MAX_LOG_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_LOG_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MB; not a customization.log",
            MAX_LOG_BYTES >> 20
        )));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The customizers and validations of a manifest's unit.
fn unit_steps(
    global: &GlobalArgs,
    manifest: &Path,
    id: &str,
    validation_log: bool,
) -> Result<StepNames, Exit> {
    let m = crate::steps::load(manifest, global.quiet)?;
    let select = SelectArgs {
        units: vec![id.to_string()],
        ..SelectArgs::default()
    };
    let plan = crate::steps::make_plan(&m, &select, &[], global.quiet)?;
    let Some(unit) = plan.units().iter().find(|u| u.id.to_string() == id) else {
        eprintln!("error: {} has no unit `{id}`", manifest.display());
        return Err(Exit::Invalid);
    };
    Ok(aib_executor::stages::collect::step_names(
        unit,
        validation_log,
    ))
}

/// The analysis as lines of text.
fn text_report(a: &LogAnalysis) -> String {
    let mut s = format!("phase: {}\ncause: {}\n", a.phase.as_str(), a.cause.as_str());
    match (a.step, &a.provisioner) {
        (Some(n), Some(p)) => s.push_str(&format!("step: {n} ({p})\n")),
        (None, Some(p)) => s.push_str(&format!("provisioner: {p}\n")),
        _ => {}
    }
    if let Some(c) = &a.customizer {
        s.push_str(&format!("customizer: {c}\n"));
    }
    if let Some(sig) = &a.signature {
        s.push_str(&format!("signature: {}: {}\n", sig.id, sig.hint));
    }
    if !a.error_lines.is_empty() {
        s.push_str("errors:\n");
        for l in &a.error_lines {
            s.push_str(&format!("  {l}\n"));
        }
    }
    s
}

/// One line on where and why, for the header of `aib logs UNIT`.
fn summary(a: &LogAnalysis) -> String {
    let mut s = format!("phase {}, cause {}", a.phase.as_str(), a.cause.as_str());
    if let (Some(n), Some(p)) = (a.step, &a.provisioner) {
        s.push_str(&format!(", step {n} ({p})"));
    }
    s
}

fn show(global: &GlobalArgs, args: &LogsArgs, unit: &str) -> Exit {
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return e,
    };
    rt.block_on(async {
        let store = match open_existing_state(global, &args.manifest).await {
            Ok(Some(s)) => s,
            Ok(None) => return no_log(unit, args, " (no runs yet)"),
            Err(e) => return e,
        };
        // The state's runs and its shards' (`<state>/shards/<key>`), newest first.
        let runs = match crate::steps::runs_with_shards(&store).await {
            Ok(r) => r,
            Err(e) => return crate::steps::state_error(e),
        };
        let runs: Vec<_> = match &args.run_id {
            Some(id) => {
                let Some(r) = runs.into_iter().find(|r| &r.run_id == id) else {
                    // An unknown run id is a usage error.
                    return crate::steps::state_error(aib_state::StateError::RunNotFound(
                        id.clone(),
                    ));
                };
                vec![r]
            }
            None => runs,
        };
        for r in &runs {
            let run = &r.run_id;
            match r.store.read_log(run, unit, &args.file).await {
                Ok(bytes) => {
                    if !global.quiet {
                        let names = StepNames {
                            validation_log: args.file == "validation.log",
                            ..StepNames::default()
                        };
                        let a = analyse(&String::from_utf8_lossy(&bytes), &names);
                        eprintln!("{} of {unit} in run {run} ({}):", args.file, summary(&a));
                    }
                    crate::output::write_bytes(&bytes);
                    return Exit::Success;
                }
                Err(aib_state::StateError::LogNotFound { .. }) => continue,
                Err(e) if args.run_id.is_some() => return crate::steps::state_error(e),
                Err(e) => eprintln!("warning: run {run}: {e}"),
            }
        }
        no_log(unit, args, "")
    })
}

/// No log to show for what was asked: a usage error (2), not a failed unit.
fn no_log(unit: &str, args: &LogsArgs, why: &str) -> Exit {
    eprintln!(
        "error: no {} of unit `{unit}` in {}{why}",
        args.file,
        match &args.run_id {
            Some(r) => format!("run {r}"),
            None => "any run".into(),
        }
    );
    Exit::Invalid
}
