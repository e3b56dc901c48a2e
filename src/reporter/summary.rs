//! The summary table printed at the end of `aib build` and by `aib status`.

use aib_state::{Failure, RunRecord, UnitRecord, UnitStatus};

fn status_word(s: UnitStatus) -> &'static str {
    match s {
        UnitStatus::Pending => "pending",
        UnitStatus::Running => "running",
        UnitStatus::Succeeded => "succeeded",
        UnitStatus::Failed => "FAILED",
        UnitStatus::Skipped => "skipped",
        UnitStatus::Unchanged => "unchanged",
        UnitStatus::Cancelled => "cancelled",
    }
}

/// How long a unit took; in Azure time for a simulated run (`scale`).
fn duration(u: &aib_state::UnitRecord, scale: Option<f64>) -> String {
    let start = u.stages.iter().filter_map(|s| s.started).min();
    let end = u.stages.iter().filter_map(|s| s.finished).max();
    match (start, end) {
        (Some(a), Some(b)) => crate::text::elapsed(b - a, scale),
        _ => "-".into(),
    }
}

/// How the summary is laid out and what its hints say.
#[derive(Debug, Clone, Default)]
pub struct SummaryOptions {
    /// Columns available (the terminal's width); `None`: no limit, lines are not cut.
    pub width: Option<usize>,
    /// Arguments `aib logs UNIT` needs to find this run's state from where the user is
    /// (`--state DIR`, `--manifest FILE`), shell-quoted, each with a leading space.
    pub logs_args: String,
}

impl SummaryOptions {
    /// The width of stdout when it is a terminal.
    pub fn for_stdout(logs_args: String) -> Self {
        use std::io::IsTerminal;
        let width = std::io::stdout()
            .is_terminal()
            .then(|| terminal_size::terminal_size().map(|(w, _)| usize::from(w.0)))
            .flatten();
        Self { width, logs_args }
    }
}

/// `text` cut to `max` characters with an ellipsis; unchanged when it fits or `max` is `None`.
fn fit(text: &str, max: Option<usize>) -> String {
    match max {
        Some(m) if text.chars().count() > m => {
            let cut: String = text.chars().take(m.saturating_sub(1)).collect();
            format!("{cut}…")
        }
        _ => text.to_string(),
    }
}

/// The table: unit, status, time, and the image version or what went wrong; then each
/// failure's customizer, log excerpt and log path.
pub fn summary_table(r: &RunRecord, opts: &SummaryOptions) -> String {
    let rows: Vec<[String; 4]> = r.units.iter().map(|u| row(u, r.time_scale)).collect();
    let headers = ["UNIT", "STATUS", "TIME", "RESULT"];
    let mut w = headers.map(|h| h.len());
    for row in &rows {
        for (i, c) in row.iter().enumerate().take(3) {
            w[i] = w[i].max(c.chars().count());
        }
    }
    // RESULT takes what the terminal has left after the other columns and their gaps.
    let result_width = opts
        .width
        .map(|total| total.saturating_sub(w[0] + w[1] + w[2] + 6).max(20));
    let mut out = String::new();
    let line = |cells: [&str; 4]| {
        format!(
            "{:w0$}  {:w1$}  {:>w2$}  {}\n",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2]
        )
    };
    out.push_str(&line(headers));
    for row in &rows {
        let result = fit(&row[3], result_width);
        out.push_str(line([&row[0], &row[1], &row[2], &result]).trim_end());
        out.push('\n');
    }
    if let Some(k) = r.time_scale {
        out.push_str(&crate::text::azure_time_note(k));
        out.push('\n');
    }
    let count = |s: UnitStatus| r.units.iter().filter(|u| u.status == s).count();
    out.push_str(&format!(
        "\n{} succeeded, {} failed, {} skipped, {} cancelled, {} unchanged (run {})\n",
        count(UnitStatus::Succeeded),
        count(UnitStatus::Failed),
        count(UnitStatus::Skipped),
        count(UnitStatus::Cancelled),
        count(UnitStatus::Unchanged),
        r.run_id
    ));
    for u in r.units.iter().filter(|u| u.status == UnitStatus::Failed) {
        if let Some(f) = &u.failure {
            failure_block(&mut out, u, f, opts);
        }
    }
    out
}

/// A unit's row: id, status, time, and its image version or what went wrong.
fn row(u: &UnitRecord, time_scale: Option<f64>) -> [String; 4] {
    let detail = match u.status {
        UnitStatus::Succeeded | UnitStatus::Unchanged => u
            .image_version_id
            .as_deref()
            .map(super::short_version)
            .unwrap_or_default(),
        UnitStatus::Failed => u
            .failure
            .as_ref()
            .map(|f| format!("{}: {}", f.stage, f.message.lines().next().unwrap_or("")))
            .unwrap_or_default(),
        _ => u.reason.clone().unwrap_or_default(),
    };
    [
        u.id.clone(),
        status_word(u.status).to_string(),
        duration(u, time_scale),
        detail,
    ]
}

/// A failed unit's customizer, message, log excerpt and where its full log is.
fn failure_block(out: &mut String, u: &UnitRecord, f: &Failure, opts: &SummaryOptions) {
    out.push_str(&format!("\n✗ {} failed at {}\n", u.id, f.stage));
    if let Some(c) = &f.customizer {
        out.push_str(&format!("  customizer: {c}\n"));
    }
    out.push_str(&format!("  {}\n", f.message));
    if let Some(x) = &f.log_excerpt {
        out.push_str("  log excerpt:\n");
        for l in x.lines() {
            out.push_str(&format!("    │ {l}\n"));
        }
    }
    if let Some(p) = &f.log_path {
        out.push_str(&format!(
            "  full log: {p}  (aib logs {}{})\n",
            crate::text::shell_word(&u.id),
            opts.logs_args
        ));
    }
}
