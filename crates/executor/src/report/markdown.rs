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

/// Text that comes from Azure, a log or a manifest, as Markdown that shows it literally: HTML
/// escaped (`<img>`, `<details>` are text, not markup) and Markdown punctuation escaped (no
/// heading, link, emphasis or table cell of its own), on one line.
fn text(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\n' | '\r' => o.push(' '),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '|' | '~' | '=' => {
                o.push('\\');
                o.push(c);
            }
            c => o.push(c),
        }
    }
    o
}

/// The longest run of `c` in `s`.
fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for x in s.chars() {
        run = if x == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// `s` as inline code, on one line, whatever backticks it holds (CommonMark: a delimiter
/// longer than any run inside, padded with spaces).
fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let ticks = "`".repeat(longest_run(&s, '`') + 1);
    if ticks.len() > 1 || s.starts_with(' ') || s.ends_with(' ') {
        format!("{ticks} {s} {ticks}")
    } else {
        format!("{ticks}{s}{ticks}")
    }
}

/// [`code`] in a table cell: GFM splits rows at `|` before it sees code spans.
fn cell_code(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// A fenced block holding `s` as is: the fence is longer than any run of backticks in it, so
/// no line of a log can close it (and forge the rest of the summary).
fn fenced(s: &str) -> String {
    let fence = "`".repeat(longest_run(s, '`').max(2) + 1);
    format!("{fence}text\n{s}\n{fence}\n")
}

/// Mermaid task names may not contain `:`, `#`, `;`, backticks or line breaks (which would
/// end the task or the block); ids are made of letters, digits, `_`.
fn mermaid_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, ':' | '#' | ';' | '`' | '\n' | '\r' | '<' | '>') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Mermaid's default `maxTextSize`: a larger chart is not drawn.
pub const MERMAID_MAX_TEXT: usize = 50_000;
/// GitHub's limit on a step summary (`$GITHUB_STEP_SUMMARY`), in bytes.
pub const MAX_STEP_SUMMARY: usize = 1024 * 1024;

/// `md` cut at a line boundary to at most `max` bytes, with a closing fence if the cut falls
/// inside one and a note saying it was cut.
pub fn fit(md: &str, max: usize) -> String {
    if md.len() <= max {
        return md.to_string();
    }
    const NOTE: &str = "\n_Summary cut here to stay under GitHub's 1 MiB step-summary limit; `aib status RUN_ID` shows every unit._\n";
    let budget = max.saturating_sub(NOTE.len() + 64);
    let mut out = String::new();
    let mut fence: Option<String> = None;
    for line in md.split_inclusive('\n') {
        if out.len() + line.len() > budget {
            break;
        }
        let t = line.trim_start();
        let ticks = t.len() - t.trim_start_matches('`').len();
        if ticks >= 3 {
            let marker = "`".repeat(ticks);
            match &fence {
                Some(open) if ticks >= open.len() && t.trim_end().len() == ticks => fence = None,
                Some(_) => {}
                None => fence = Some(marker),
            }
        }
        out.push_str(line);
    }
    if let Some(open) = fence {
        out.push_str(&open);
        out.push('\n');
    }
    out.push_str(NOTE);
    out
}

/// The Markdown document.
pub fn render(r: &BuildReport) -> String {
    let mut o = String::new();
    let c = |s: ReportUnitStatus| r.units.iter().filter(|u| u.status == s).count();
    let _ = writeln!(o, "## aib build {} — {}\n", code(&r.pipeline), r.status);
    let _ = writeln!(
        o,
        "Run {}: {} succeeded, {} failed, {} skipped, {} cancelled, {} unchanged.\n",
        code(&r.run_id),
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
            (Some(v), _, _) => cell_code(v.rsplit("/images/").next().unwrap_or(v)),
            (_, Some(f), _) => format!(
                "{}{}",
                text(&f.stage),
                f.customizer
                    .as_ref()
                    .map(|c| format!(" (customizer {})", cell_code(c)))
                    .unwrap_or_default()
            ),
            (_, _, Some(r)) => text(r),
            _ => String::new(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} |",
            cell_code(&u.id),
            icon(u.status),
            detail
        );
    }
    let failures: Vec<_> = r.units.iter().filter(|u| u.failure.is_some()).collect();
    if !failures.is_empty() {
        let _ = writeln!(o, "\n### Failures\n");
        for u in failures {
            let Some(f) = &u.failure else { continue };
            let _ = writeln!(o, "#### {} — {}\n", code(&u.id), text(&f.stage));
            if let Some(cz) = &f.customizer {
                let _ = writeln!(o, "Failing customizer: **{}**\n", code(cz));
            }
            let _ = writeln!(o, "{}\n", text(&f.message));
            if let Some(x) = &f.log_excerpt {
                let _ = writeln!(o, "{}", fenced(x));
            }
            if let Some(p) = &f.log_path {
                let _ = writeln!(
                    o,
                    "Full log: {} ({})\n",
                    code(p),
                    code(&format!("aib logs {} --run {}", u.id, r.run_id))
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
    if n > 0 && tasks.len() > MERMAID_MAX_TEXT - 200 {
        let _ = writeln!(
            o,
            "\n### Timeline\n\nLeft out: the {n} stages make a Mermaid chart of about {} characters, over the {MERMAID_MAX_TEXT} Mermaid draws.",
            tasks.len() + 100
        );
    } else if n > 0 {
        let _ = writeln!(o, "\n### Timeline\n");
        let _ = writeln!(
            o,
            "```mermaid\ngantt\n    dateFormat YYYY-MM-DDTHH:mm:ss.SSSZ\n    axisFormat %H:%M:%S\n{tasks}```"
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_is_cut_to_its_limit_closing_an_open_fence() {
        let md = format!("# t\n\n```\n{}```\nafter\n", "line\n".repeat(1000));
        assert_eq!(fit(&md, md.len()), md);
        let cut = fit(&md, 2000);
        assert!(cut.len() <= 2000, "{}", cut.len());
        assert!(cut.contains("1 MiB"));
        let fences = cut.lines().filter(|l| l.starts_with("```")).count();
        assert_eq!(fences % 2, 0, "fences closed:\n{cut}");
    }
    use crate::report::json::{FailureReport, StageReport, UnitReport};
    use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

    /// A failed unit whose Azure message and log were written by an attacker.
    fn hostile_report() -> BuildReport {
        let log = "step 1\n```\n~~~~\n## ✅ All units succeeded\n<script>alert(1)</script>\n````\n```````\nlast line";
        BuildReport {
            version: 1,
            run_id: "20260101T000000Z-abcdef".into(),
            pipeline: "p`ipe|line".into(),
            status: "failed".into(),
            started: "2026-01-01T00:00:00.000Z".into(),
            finished: Some("2026-01-01T00:10:00.000Z".into()),
            units: vec![UnitReport {
                id: "dev/app".into(),
                status: ReportUnitStatus::Failed,
                reason: None,
                template_name: "t".into(),
                stages: vec![StageReport {
                    name: "build\n```\n# forged".into(),
                    status: "failed".into(),
                    started: Some("2026-01-01T00:00:00.000Z".into()),
                    finished: Some("2026-01-01T00:10:00.000Z".into()),
                }],
                image_version_id: None,
                failure: Some(FailureReport {
                    stage: "build".into(),
                    message: "failed <img src=x onerror=alert(1)>\n## All units succeeded [ok](https://evil.example)".into(),
                    customizer: Some("x` | `y".into()),
                    log_excerpt: Some(log.into()),
                    log_path: Some("/state/log".into()),
                    phase: None,
                    cause: None,
                }),
            }],
        }
    }

    /// A 1,000-unit run: its gantt would be far over Mermaid's limit, so it is left out with a
    /// note, and the whole summary fits GitHub's step-summary limit once cut.
    #[test]
    fn a_fleet_sized_gantt_is_left_out_with_a_note() {
        let mut r = hostile_report();
        r.units = (0..1000)
            .map(|i| {
                let mut u = r.units[0].clone();
                u.id = format!("dev/unit-{i:04}");
                u.failure = None;
                u.status = ReportUnitStatus::Succeeded;
                u.stages = ["deploy", "build", "verify", "cleanup"]
                    .iter()
                    .map(|n| StageReport {
                        name: (*n).into(),
                        status: "succeeded".into(),
                        started: Some("2026-01-01T00:00:00.000Z".into()),
                        finished: Some("2026-01-01T01:00:00.000Z".into()),
                    })
                    .collect();
                u
            })
            .collect();
        let md = render(&r);
        assert!(!md.contains("```mermaid"), "no chart over the limit");
        assert!(
            md.contains("Left out: the 4000 stages"),
            "{}",
            &md[md.len() - 300..]
        );
        r.units.truncate(10);
        assert!(
            render(&r).contains("```mermaid"),
            "a small run keeps its chart"
        );
        assert!(fit(&md, MAX_STEP_SUMMARY).len() <= MAX_STEP_SUMMARY);
    }

    /// Attack: a script prints a fence line and a heading, an Azure message carries HTML; the
    /// job summary must not show a forged "All units succeeded" heading, raw HTML or a link.
    #[test]
    fn hostile_text_cannot_forge_the_summary() {
        let md = render(&hostile_report());
        let mut headings = Vec::new();
        let mut in_heading: Option<HeadingLevel> = None;
        let mut code_blocks = Vec::new();
        let mut in_code: Option<String> = None;
        for ev in Parser::new(&md) {
            match ev {
                Event::Start(Tag::Heading { level, .. }) => {
                    in_heading = Some(level);
                    headings.push(String::new());
                }
                Event::End(TagEnd::Heading(_)) => in_heading = None,
                Event::Start(Tag::CodeBlock(_)) => in_code = Some(String::new()),
                Event::End(TagEnd::CodeBlock) => code_blocks.extend(in_code.take()),
                Event::Text(t) | Event::Code(t) => {
                    if in_heading.is_some()
                        && let Some(h) = headings.last_mut()
                    {
                        h.push_str(&t);
                    }
                    if let Some(c) = &mut in_code {
                        c.push_str(&t);
                    }
                }
                Event::Html(h) | Event::InlineHtml(h) => panic!("raw HTML in the report: {h}"),
                Event::Start(Tag::Link { dest_url, .. }) => panic!("a link: {dest_url}"),
                _ => {}
            }
        }
        assert_eq!(
            headings,
            [
                "aib build p`ipe|line — failed",
                "Failures",
                "dev/app — build",
                "Timeline"
            ],
            "{md}"
        );
        let log = hostile_report().units[0]
            .failure
            .as_ref()
            .and_then(|f| f.log_excerpt.clone())
            .unwrap_or_default();
        assert_eq!(code_blocks.first(), Some(&format!("{log}\n")), "{md}");
        // The message is shown as text, HTML and all.
        assert!(md.contains("&lt;img src") && !md.contains("<img"), "{md}");
    }

    #[test]
    fn inline_code_and_fences_fit_their_content() {
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(cell_code("a|b"), "`a\\|b`");
        assert_eq!(fenced("x"), "```text\nx\n```\n");
        assert!(fenced("````").starts_with("`````text"));
        assert_eq!(text("<b>#1</b>"), "&lt;b&gt;\\#1&lt;/b&gt;");
    }
}
