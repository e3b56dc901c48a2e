//! A Markdown summary that fits a GitHub job summary (`$GITHUB_STEP_SUMMARY`): a status
//! table, each failure's customizer and log excerpt, and a Mermaid `gantt` of the stages of
//! every unit so people see where the time went.

use std::fmt::Write;

use super::BuildReport;
use super::json::ReportUnitStatus;

fn icon(s: ReportUnitStatus) -> &'static str {
    match s {
        ReportUnitStatus::Succeeded => "✅ succeeded",
        ReportUnitStatus::Failed => "❌ failed",
        ReportUnitStatus::Skipped => "⏭️ skipped",
        ReportUnitStatus::Unchanged => "➖ unchanged",
        ReportUnitStatus::Cancelled => "🛑 cancelled",
        ReportUnitStatus::Pending => "… pending",
        ReportUnitStatus::Running => "… running",
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Mermaid task names may not contain `:` or `#`; ids are made of letters, digits, `_`.
fn mermaid_text(s: &str) -> String {
    s.chars()
        .map(|c| if matches!(c, ':' | '#' | ';') { ' ' } else { c })
        .collect()
}

/// The Markdown document.
pub fn render(r: &BuildReport) -> String {
    let mut o = String::new();
    let c = |s: ReportUnitStatus| r.units.iter().filter(|u| u.status == s).count();
    let _ = writeln!(o, "## aib build `{}` — {}\n", cell(&r.pipeline), r.status);
    let _ = writeln!(
        o,
        "Run `{}`: {} succeeded, {} failed, {} skipped, {} cancelled, {} unchanged.\n",
        r.run_id,
        c(ReportUnitStatus::Succeeded),
        c(ReportUnitStatus::Failed),
        c(ReportUnitStatus::Skipped),
        c(ReportUnitStatus::Cancelled),
        c(ReportUnitStatus::Unchanged)
    );
    let _ = writeln!(o, "| Unit | Status | Image version / reason |");
    let _ = writeln!(o, "|---|---|---|");
    for u in &r.units {
        let detail = match (&u.image_version_id, &u.failure, &u.reason) {
            (Some(v), _, _) => format!("`{}`", v.rsplit("/images/").next().unwrap_or(v)),
            (_, Some(f), _) => format!(
                "{}{}",
                f.stage,
                f.customizer
                    .as_ref()
                    .map(|c| format!(" (customizer `{c}`)"))
                    .unwrap_or_default()
            ),
            (_, _, Some(r)) => r.clone(),
            _ => String::new(),
        };
        let _ = writeln!(
            o,
            "| `{}` | {} | {} |",
            cell(&u.id),
            icon(u.status),
            cell(&detail)
        );
    }
    let failures: Vec<_> = r.units.iter().filter(|u| u.failure.is_some()).collect();
    if !failures.is_empty() {
        let _ = writeln!(o, "\n### Failures\n");
        for u in failures {
            let Some(f) = &u.failure else { continue };
            let _ = writeln!(o, "#### `{}` — {}\n", u.id, f.stage);
            if let Some(cz) = &f.customizer {
                let _ = writeln!(o, "Failing customizer: **`{cz}`**\n");
            }
            let _ = writeln!(o, "{}\n", f.message);
            if let Some(x) = &f.log_excerpt {
                let fence = if x.contains("```") { "~~~~" } else { "```" };
                let _ = writeln!(o, "{fence}text\n{x}\n{fence}\n");
            }
            if let Some(p) = &f.log_path {
                let _ = writeln!(
                    o,
                    "Full log: `{p}` (`aib logs {} --run {}`)\n",
                    u.id, r.run_id
                );
            }
        }
    }
    // Gantt of stages.
    let mut tasks = String::new();
    let mut n = 0usize;
    for u in &r.units {
        let stages: Vec<_> = u
            .stages
            .iter()
            .filter(|s| s.started.is_some() && s.finished.is_some())
            .collect();
        if stages.is_empty() {
            continue;
        }
        let _ = writeln!(tasks, "    section {}", mermaid_text(&u.id));
        for s in stages {
            let (Some(a), Some(b)) = (&s.started, &s.finished) else {
                continue;
            };
            let tag = match s.status.as_str() {
                "failed" => "crit, ",
                "running" => "active, ",
                "cancelled" | "skipped" => "done, ",
                _ => "",
            };
            n += 1;
            let _ = writeln!(
                tasks,
                "    {} :{tag}t{n}, {}, {}",
                mermaid_text(&s.name),
                a,
                b
            );
        }
    }
    if n > 0 {
        let _ = writeln!(o, "\n### Timeline\n");
        let _ = writeln!(
            o,
            "```mermaid\ngantt\n    dateFormat YYYY-MM-DDTHH:mm:ss.SSSZ\n    axisFormat %H:%M:%S\n{tasks}```"
        );
    }
    o
}
