//! The one owner of the terminal during `aib build`: workers send events, the reporter turns
//! them into indicatif bars (stderr is a terminal), plain timestamped lines (it is not), or
//! NDJSON (`--log-format json`); and the summary table at the end.

mod summary;

pub use summary::{SummaryOptions, summary_table};

/// The arguments `aib logs` needs to read the same state as a command run with `state` (its
/// `--state`, if any) and `manifest`: each with a leading space, shell-quoted.
pub fn logs_args(state: Option<&str>, manifest: &std::path::Path) -> String {
    match state {
        Some(s) => format!(" --state {}", crate::text::shell_word(s)),
        None if manifest != std::path::Path::new("aib.toml") => format!(
            " --manifest {}",
            crate::text::shell_word(&manifest.display().to_string())
        ),
        None => String::new(),
    }
}

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use aib_executor::events::{BuildEvent, Level, Stamped};
use aib_planner::UnitId;
use aib_state::{Failure, Stage, StageStatus, UnitStatus};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bars on a terminal.
    Bars,
    /// Plain timestamped lines.
    Lines,
    /// NDJSON events.
    Json,
    /// Nothing but errors.
    Quiet,
}

impl Mode {
    /// Bars when stderr is a terminal, lines otherwise.
    pub fn detect(json: bool, quiet: bool) -> Self {
        if json {
            Mode::Json
        } else if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

struct Bars {
    /// Azure minutes per real minute of a simulated run (its times shown in Azure time).
    scale: Option<f64>,
    multi: MultiProgress,
    overall: ProgressBar,
    units: HashMap<UnitId, (ProgressBar, Instant, String)>,
}

/// Consumes events until the channel closes. `scale`: Azure minutes per real minute of a
/// simulated run, whose elapsed times are shown in Azure time.
pub async fn report(
    mode: Mode,
    run_id: String,
    scale: Option<f64>,
    rx: mpsc::UnboundedReceiver<Stamped>,
) {
    report_to(mode, &run_id, scale, rx, &mut std::io::stderr()).await
}

/// [`report`] with the lines and NDJSON written to `out` (one `write_all` per line, so a
/// line is never split by another writer of stderr). Bars draw on stderr themselves.
async fn report_to(
    mode: Mode,
    run_id: &str,
    scale: Option<f64>,
    mut rx: mpsc::UnboundedReceiver<Stamped>,
    out: &mut impl Write,
) {
    let mut bars: Option<Bars> = None;
    let mut total = 0u64;
    while let Some(ev) = rx.recv().await {
        let line = match mode {
            Mode::Quiet => None,
            Mode::Json => serde_json::to_string(&ev.to_state_event(run_id)).ok(),
            Mode::Lines => line_for(&ev).map(|l| format!("{} {l}", ev.ts.format("%H:%M:%S"))),
            Mode::Bars => {
                if let BuildEvent::RunStarted { units, .. } = &ev.event {
                    total = units.len() as u64;
                }
                let b = bars.get_or_insert_with(|| new_bars(total, scale));
                on_bar_event(b, &ev);
                None
            }
        };
        if let Some(line) = line {
            let _ = out.write_all(format!("{line}\n").as_bytes());
        }
    }
    if let Some(b) = bars {
        for (_, (bar, _, _)) in b.units {
            bar.finish_and_clear();
        }
        b.overall.finish();
    }
}

fn new_bars(total: u64, scale: Option<f64>) -> Bars {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
    let overall = multi.add(ProgressBar::new(total));
    overall.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} units {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    overall.enable_steady_tick(Duration::from_millis(250));
    Bars {
        scale,
        multi,
        overall,
        units: HashMap::new(),
    }
}

fn on_bar_event(b: &mut Bars, ev: &Stamped) {
    use BuildEvent::*;
    match &ev.event {
        RunStarted { units, note } => {
            b.overall.set_length(units.len() as u64);
            if let Some(n) = note {
                for l in n.lines() {
                    let _ = b.multi.println(format!("note: {l}"));
                }
            }
        }
        StageStarted { unit, stage } => {
            let entry = b.units.entry(unit.clone()).or_insert_with(|| {
                let bar = b
                    .multi
                    .insert_before(&b.overall, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:40} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(unit.to_string());
                bar.enable_steady_tick(Duration::from_millis(200));
                (bar, Instant::now(), String::new())
            });
            entry.2 = stage.as_str().to_string();
            entry.0.set_message(format!(
                "{stage}  {}",
                fmt_elapsed(entry.1.elapsed(), b.scale)
            ));
        }
        BuildProgress {
            unit, sub_state, ..
        } => {
            if let Some((bar, start, stage)) = b.units.get(unit) {
                bar.set_message(format!(
                    "{stage}: {}  {}",
                    sub_state.clone().unwrap_or_default(),
                    fmt_elapsed(start.elapsed(), b.scale)
                ));
            }
        }
        UnitFinished { unit, .. } => {
            if let Some((bar, _, _)) = b.units.remove(unit) {
                bar.finish_and_clear();
                b.multi.remove(&bar);
            }
            b.overall.inc(1);
            if let Some(l) = line_for(ev) {
                let _ = b.multi.println(l);
            }
        }
        _ => {
            if let Some(l) = line_for(ev)
                && matches!(
                    ev.event,
                    Message { .. }
                        | StageFinished {
                            status: StageStatus::Failed,
                            ..
                        }
                        | Interrupted
                        | LogCollected { .. }
                )
            {
                let _ = b.multi.println(l);
            }
        }
    }
}

fn fmt_elapsed(d: Duration, scale: Option<f64>) -> String {
    crate::text::elapsed(chrono::Duration::from_std(d).unwrap_or_default(), scale)
}

/// The plain line for an event (`None`: not shown).
pub fn line_for(ev: &Stamped) -> Option<String> {
    use BuildEvent::*;
    Some(match &ev.event {
        RunStarted { units, note } => run_started_line(units.len(), note.as_deref()),
        UnitPrepared { .. } | RunOperation { .. } => return None,
        StageStarted { unit, stage } => format!("{unit}: {stage}"),
        StageFinished {
            unit,
            stage,
            status,
            message,
        } => stage_finished_line(unit, *stage, *status, message.as_deref())?,
        BuildProgress {
            unit,
            run_state,
            sub_state,
        } => format!(
            "{unit}: {} {}",
            if run_state == "Verifying" {
                "verify"
            } else {
                "build"
            },
            sub_state.clone().unwrap_or_else(|| run_state.clone())
        ),
        LogCollected { unit, file, path } => format!("{unit}: saved {file} to {path}"),
        UnitFinished {
            unit,
            status,
            reason,
            image_version_id,
            failure,
        } => unit_finished_line(unit, *status, reason, image_version_id, failure)?,
        Message { unit, level, text } => {
            let lvl = match level {
                Level::Info => "",
                Level::Warn => "warning: ",
            };
            match unit {
                Some(u) => format!("{u}: {lvl}{text}"),
                None => format!("{lvl}{text}"),
            }
        }
        Interrupted => format!(
            "interrupted: cancelling running builds and waiting up to {} (Azure time) for each to stop; a build still canceling then is named and left to Azure (press Ctrl-C again to exit at once; the state stays resumable)",
            aib_azure::retry::human(aib_executor::stages::build::CANCEL_WAIT)
        ),
        RunFinished { status } => format!(
            "build {}",
            serde_json::to_value(status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ),
    })
}

/// `": why"`, or nothing without a why.
fn colon(why: Option<&str>) -> String {
    why.map(|m| format!(": {m}")).unwrap_or_default()
}

fn run_started_line(units: usize, note: Option<&str>) -> String {
    let mut s = format!("build: {}", crate::text::count(units, "unit", "units"));
    for l in note.into_iter().flat_map(str::lines) {
        s.push_str(&format!("\nnote: {l}"));
    }
    s
}

fn stage_finished_line(
    unit: &UnitId,
    stage: Stage,
    status: StageStatus,
    message: Option<&str>,
) -> Option<String> {
    Some(match status {
        StageStatus::Succeeded => match message {
            Some(m) => format!("{unit}: {stage} done ({m})"),
            None => format!("{unit}: {stage} done"),
        },
        StageStatus::Failed => format!("{unit}: {stage} FAILED{}", colon(message)),
        StageStatus::Cancelled => format!("{unit}: {stage} cancelled"),
        StageStatus::Skipped => format!("{unit}: {stage} skipped{}", colon(message)),
        _ => return None,
    })
}

fn unit_finished_line(
    unit: &UnitId,
    status: UnitStatus,
    reason: &Option<String>,
    image_version_id: &Option<String>,
    failure: &Option<Failure>,
) -> Option<String> {
    Some(match status {
        UnitStatus::Succeeded => format!(
            "✓ {unit} succeeded{}",
            colon(image_version_id.as_deref().map(short_version).as_deref())
        ),
        UnitStatus::Failed => match failure {
            Some(f) => format!("✗ {unit} failed at {}: {}", f.stage, f.message),
            None => format!("✗ {unit} failed"),
        },
        UnitStatus::Skipped => format!("- {unit} skipped{}", colon(reason.as_deref())),
        UnitStatus::Unchanged => format!("= {unit} unchanged"),
        UnitStatus::Cancelled => format!("✗ {unit} cancelled{}", colon(reason.as_deref())),
        _ => return None,
    })
}

/// `.../images/win11/versions/2026.1128.1` → `win11 2026.1128.1`.
pub fn short_version(id: &str) -> String {
    let parts: Vec<&str> = id.split('/').collect();
    match (
        parts.iter().position(|p| p.eq_ignore_ascii_case("images")),
        parts
            .iter()
            .position(|p| p.eq_ignore_ascii_case("versions")),
    ) {
        (Some(i), Some(v)) => format!(
            "{} {}",
            parts.get(i + 1).copied().unwrap_or(""),
            parts.get(v + 1).copied().unwrap_or("")
        ),
        _ => id.to_string(),
    }
}

#[cfg(test)]
mod tests;
