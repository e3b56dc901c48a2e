//! The end of a run (or of a detached tick): its state errors, its reports (JSON, JUnit,
//! Markdown) and its summary, as an exit code.

use std::path::Path;

use aib_executor::report::BuildReport;
use aib_executor::runner::RunResult;
use aib_executor::session::BuildError;
use aib_state::RunStatus;
use tokio_util::sync::CancellationToken;

use crate::cli::{BuildArgs, GlobalArgs};
use crate::exit::Exit;
use crate::output::{out, outln};
use crate::reporter;

/// The reports a run writes (`--report-json`, `--report-junit`, `--report-markdown`).
pub struct Reports<'a> {
    pub json: Option<&'a Path>,
    pub junit: Option<&'a Path>,
    pub markdown: Option<&'a Path>,
    /// Collects each run's Markdown instead (`resume --all` writes them as one summary).
    pub markdown_parts: Option<&'a std::cell::RefCell<Vec<String>>>,
}

impl<'a> Reports<'a> {
    pub fn of(args: &'a BuildArgs) -> Self {
        Self {
            json: args.report_json.as_deref(),
            junit: args.report_junit.as_deref(),
            markdown: args.report_markdown.as_deref(),
            markdown_parts: None,
        }
    }
}

/// How the command was started, for the hints it prints.
pub struct Shown<'a> {
    pub state_arg: Option<&'a str>,
    pub manifest: &'a Path,
    pub simulate: bool,
}

/// The exit of a run that ended (or detached): its state errors, reports and summary.
pub fn conclude(
    global: &GlobalArgs,
    reports: &Reports<'_>,
    shown: &Shown<'_>,
    result: Result<RunResult, BuildError>,
    interrupt: &CancellationToken,
) -> Exit {
    let r = match result {
        Ok(r) => r,
        Err(e) => return failed_to_run(e, interrupt),
    };
    let mut exit = run_exit(&r, shown);
    let report = BuildReport::from_record(&r.record);
    if !write_reports(reports, &report) {
        exit = worse(exit);
    }
    if !global.quiet || exit != Exit::Success {
        let opts = reporter::SummaryOptions::for_stdout(reporter::logs_args(
            shown.state_arg,
            shown.manifest,
        ));
        out!("{}", reporter::summary_table(&r.record, &opts));
        if shown.simulate
            && let Some(dir) = &shown.state_arg
        {
            outln!("state of this simulated run: {dir} (e.g. `aib status --state {dir}`)");
        }
    }
    if r.record.status == RunStatus::Detached {
        say_detached(global, shown, &r.record.run_id);
    }
    exit
}

/// A run that could not start (secrets, preflight) or whose state failed: said, and its exit.
fn failed_to_run(e: BuildError, interrupt: &CancellationToken) -> Exit {
    use aib_executor::preflight::PreflightError;
    eprintln!("error: {}", crate::logging::redact(&e.to_string()));
    match e {
        BuildError::Secrets(_) => Exit::Invalid,
        BuildError::Preflight(PreflightError::VersionsExist(_)) => Exit::Invalid,
        BuildError::Preflight(PreflightError::Auth(_)) => {
            crate::hints::login();
            Exit::Azure
        }
        BuildError::Preflight(_) => Exit::Azure,
        BuildError::State(_) if interrupt.is_cancelled() => Exit::Interrupted,
        BuildError::State(_) => Exit::Io,
    }
}

/// The exit of a run by how it ended; a run whose record could not be (fully) saved is not a
/// success, and not "a unit failed" either (exit 5).
fn run_exit(r: &RunResult, shown: &Shown<'_>) -> Exit {
    for e in &r.state_errors {
        eprintln!(
            "error: the run's state was not saved: {}",
            crate::logging::redact(e)
        );
    }
    let exit = match r.record.status {
        RunStatus::Succeeded | RunStatus::Detached => Exit::Success,
        RunStatus::Cancelled | RunStatus::Interrupted => Exit::Interrupted,
        _ => Exit::UnitFailed,
    };
    if r.state_errors.is_empty() || exit == Exit::Interrupted {
        return exit;
    }
    eprintln!(
        "error: run {} ended {} but its record in {} is incomplete (see above); `aib status` may not show all of it",
        r.record.run_id,
        super::status_word(r.record.status),
        shown.state_arg.unwrap_or(".aib/")
    );
    Exit::Io
}

/// Writes the reports asked for; false when one could not be written (said).
fn write_reports(reports: &Reports<'_>, report: &BuildReport) -> bool {
    use aib_executor::report::{junit, markdown};
    let mut ok = true;
    let mut write = |p: Option<&Path>, body: &dyn Fn() -> String| {
        if let Some(p) = p
            && let Err(e) = std::fs::write(p, body())
        {
            eprintln!("error: cannot write {}: {e}", p.display());
            ok = false;
        }
    };
    write(reports.json, &|| report.to_json());
    write(reports.junit, &|| junit::render(report));
    if let Some(parts) = reports.markdown_parts {
        parts.borrow_mut().push(markdown::render(report));
    }
    write(reports.markdown, &|| markdown_summary(report));
    ok
}

/// A detached run: its id (with `--quiet`, alone) and how to advance or follow it.
fn say_detached(global: &GlobalArgs, shown: &Shown<'_>, run_id: &str) {
    let resume = format!(
        "aib resume {run_id}{}",
        reporter::logs_args(shown.state_arg, shown.manifest)
    );
    if global.quiet {
        outln!("{run_id}");
    } else {
        outln!(
            "run {run_id} detached: its builds go on in Azure; `{resume} --detach` advances it, `{resume}` follows it to the end"
        );
    }
}

/// The Markdown summary of a run, cut to GitHub's step-summary limit.
fn markdown_summary(report: &BuildReport) -> String {
    use aib_executor::report::markdown;
    markdown::fit(&markdown::render(report), markdown::MAX_STEP_SUMMARY)
}

/// A report that could not be written: the result is incomplete (exit 5), unless the run
/// already ends worse.
pub fn worse(e: Exit) -> Exit {
    match e {
        Exit::Success | Exit::UnitFailed => Exit::Io,
        other => other,
    }
}
