//! A Markdown summary that fits a GitHub job summary (`$GITHUB_STEP_SUMMARY`): a status
//! table, each failure's customizer and log excerpt, and a Mermaid `gantt` of the stages of
//! every unit so people see where the time went. The document is the template
//! `templates/summary.md.j2`; this module gives it the values and the filters that show text
//! from Azure, logs and manifests literally.

use std::sync::LazyLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Serialize;

use super::BuildReport;
use super::json::ReportUnitStatus;

/// A status as the table shows it (`succeeded` → `✅ succeeded`).
fn icon(status: &str) -> String {
    let icon = match status {
        "succeeded" => "✅",
        "failed" => "❌",
        "skipped" => "⏭️",
        "unchanged" => "➖",
        "cancelled" => "🛑",
        _ => "…",
    };
    format!("{icon} {status}")
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

/// The template, with the filters it shows text through.
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    match SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
    {
        Ok(syntax) => env.set_syntax(syntax),
        Err(e) => tracing::error!("the job summary's template syntax: {e}"),
    }
    env.add_filter("text", |s: String| text(&s));
    env.add_filter("code", |s: String| code(&s));
    env.add_filter("cell_code", |s: String| cell_code(&s));
    env.add_filter("fenced", |s: String| fenced(&s));
    env.add_filter("mermaid", |s: String| mermaid_text(&s));
    env.add_filter("icon", |s: String| icon(&s));
    env.add_filter("version_name", |s: String| {
        s.rsplit("/images/").next().unwrap_or(&s).to_string()
    });
    // `.md`: no HTML auto-escaping; the filters do the escaping Markdown needs.
    if let Err(e) = env.add_template("summary.md", TEMPLATE) {
        tracing::error!("the job summary template does not parse: {e}");
    }
    env
});

const TEMPLATE: &str = include_str!("templates/summary.md.j2");

/// One unit's section of the timeline: its stages that started and finished.
#[derive(Serialize)]
struct Section<'a> {
    unit: &'a str,
    tasks: Vec<Task<'a>>,
}

/// A Gantt task: a stage, numbered across the chart.
#[derive(Serialize)]
struct Task<'a> {
    name: &'a str,
    /// Mermaid's task tags (`crit, ` for a failed stage).
    tag: &'static str,
    n: usize,
    started: &'a str,
    finished: &'a str,
}

fn timeline(r: &BuildReport) -> Vec<Section<'_>> {
    let mut n = 0;
    let mut sections = Vec::new();
    for u in &r.units {
        let mut tasks = Vec::new();
        for s in &u.stages {
            let (Some(started), Some(finished)) = (&s.started, &s.finished) else {
                continue;
            };
            let tag = match s.status.as_str() {
                "failed" => "crit, ",
                "running" => "active, ",
                "cancelled" | "skipped" => "done, ",
                _ => "",
            };
            n += 1;
            tasks.push(Task {
                name: &s.name,
                tag,
                n,
                started,
                finished,
            });
        }
        if !tasks.is_empty() {
            sections.push(Section { unit: &u.id, tasks });
        }
    }
    sections
}

/// Mermaid's default `maxTextSize`: a larger chart is not drawn.
pub const MERMAID_MAX_TEXT: usize = 50_000;
/// GitHub's limit on a step summary (`$GITHUB_STEP_SUMMARY`), in bytes.
pub const MAX_STEP_SUMMARY: usize = 1024 * 1024;

/// About how many characters the Mermaid chart of `timeline` has.
fn chart_size(timeline: &[Section<'_>]) -> usize {
    let header = 100;
    timeline
        .iter()
        .map(|s| {
            14 + mermaid_text(s.unit).len()
                + s.tasks
                    .iter()
                    .map(|t| {
                        mermaid_text(t.name).len()
                            + t.tag.len()
                            + t.started.len()
                            + t.finished.len()
                            + 20
                    })
                    .sum::<usize>()
        })
        .sum::<usize>()
        + header
}

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
            match &fence {
                Some(open) if ticks >= open.len() && t.trim_end().len() == ticks => fence = None,
                Some(_) => {}
                None => fence = Some("`".repeat(ticks)),
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

/// The Markdown document (`templates/summary.md.j2`).
pub fn render(r: &BuildReport) -> String {
    let count = |s: ReportUnitStatus| r.units.iter().filter(|u| u.status == s).count();
    let failures: Vec<_> = r.units.iter().filter(|u| u.failure.is_some()).collect();
    // A chart over Mermaid's limit is not drawn: it is left out, saying why.
    let mut timeline = timeline(r);
    let size = chart_size(&timeline);
    let left_out = (size > MERMAID_MAX_TEXT).then(|| {
        let stages: usize = timeline.iter().map(|s| s.tasks.len()).sum();
        format!(
            "Left out: the {stages} stages make a Mermaid chart of about {size} characters, over the {MERMAID_MAX_TEXT} Mermaid draws."
        )
    });
    if left_out.is_some() {
        timeline.clear();
    }
    let ctx = context! {
        pipeline => &r.pipeline,
        status => &r.status,
        run_id => &r.run_id,
        counts => context! {
            succeeded => count(ReportUnitStatus::Succeeded),
            failed => count(ReportUnitStatus::Failed),
            skipped => count(ReportUnitStatus::Skipped),
            cancelled => count(ReportUnitStatus::Cancelled),
            unchanged => count(ReportUnitStatus::Unchanged),
        },
        units => Value::from(Serde(&r.units)),
        failures => Value::from(Serde(&failures)),
        timeline => Value::from(Serde(&timeline)),
        left_out => left_out,
    };
    // The template is ours and tested; should it still fail, say so in the summary itself.
    TEMPLATES
        .get_template("summary.md")
        .and_then(|t| t.render(ctx))
        .unwrap_or_else(|e| format!("aib could not render the job summary: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
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

    /// A 1,000-unit run: its gantt would be far over Mermaid's limit, so it is left out with a
    /// note; a small run keeps its chart, whose size the estimate covers.
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
        assert!(fit(&md, MAX_STEP_SUMMARY).len() <= MAX_STEP_SUMMARY);
        r.units.truncate(10);
        let small = render(&r);
        let chart = small
            .split("```mermaid")
            .nth(1)
            .and_then(|c| c.split("```").next())
            .expect("a small run keeps its chart");
        assert!(
            chart.len() <= chart_size(&timeline(&r)),
            "the estimate covers the chart"
        );
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

    fn stage(name: &str, status: &str, at: Option<(&str, &str)>) -> StageReport {
        StageReport {
            name: name.into(),
            status: status.into(),
            started: at.map(|(a, _)| a.into()),
            finished: at.map(|(_, b)| b.into()),
        }
    }

    fn unit(id: &str, status: ReportUnitStatus) -> UnitReport {
        UnitReport {
            id: id.into(),
            status,
            reason: None,
            template_name: format!("aib-{id}"),
            stages: Vec::new(),
            image_version_id: None,
            failure: None,
        }
    }

    /// One unit of each status, stages of each kind, text that needs escaping.
    fn fleet_report() -> BuildReport {
        let t = |m: u32| format!("2026-01-01T00:{m:02}:00.000Z");
        let mut ok = unit("prod/web[os=linux]", ReportUnitStatus::Succeeded);
        ok.image_version_id = Some(
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/gal/images/web/versions/1.2.3".into(),
        );
        ok.stages = vec![
            stage("deploy", "succeeded", Some((&t(0), &t(1)))),
            stage("build", "succeeded", Some((&t(1), &t(9)))),
            stage("cleanup", "pending", None),
        ];
        let mut failed = unit("dev/app", ReportUnitStatus::Failed);
        failed.stages = vec![
            stage("deploy", "succeeded", Some((&t(0), &t(1)))),
            stage("build: #1; `x`", "failed", Some((&t(1), &t(5)))),
            stage("cleanup", "cancelled", Some((&t(5), &t(6)))),
        ];
        failed.failure = Some(FailureReport {
            stage: "build".into(),
            message: "Customizer 'app' failed: exit 1 (see *log*)".into(),
            customizer: Some("app".into()),
            log_excerpt: Some("+ make install\nmake: *** [all] Error 1".into()),
            log_path: Some("/state/runs/r/dev_app/customization.log".into()),
            phase: None,
            cause: None,
        });
        let mut skipped = unit("dev/app-child", ReportUnitStatus::Skipped);
        skipped.reason = Some("dependency `dev/app` failed".into());
        let mut running = unit("test/db", ReportUnitStatus::Running);
        running.stages = vec![stage("build", "running", Some((&t(2), &t(7))))];
        let mut cancelled = unit("test/cache", ReportUnitStatus::Cancelled);
        cancelled.stages = vec![stage("deploy", "skipped", Some((&t(3), &t(3))))];
        BuildReport {
            version: 1,
            run_id: "20260101T000000Z-abcdef".into(),
            pipeline: "fleet".into(),
            status: "failed".into(),
            started: t(0),
            finished: Some(t(10)),
            units: vec![
                ok,
                failed,
                skipped,
                unit("prod/api", ReportUnitStatus::Unchanged),
                cancelled,
                running,
                unit("prod/queue", ReportUnitStatus::Pending),
            ],
        }
    }

    #[test]
    fn the_summary_of_a_fleet() {
        insta::assert_snapshot!(render(&fleet_report()));
    }

    #[test]
    fn the_summary_of_a_hostile_run() {
        insta::assert_snapshot!(render(&hostile_report()));
    }

    #[test]
    fn the_summary_of_an_empty_run_has_no_timeline() {
        let mut r = fleet_report();
        r.units.clear();
        insta::assert_snapshot!(render(&r));
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
