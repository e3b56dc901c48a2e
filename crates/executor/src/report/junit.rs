//! JUnit XML: one `<testsuite>` per environment, one `<testcase>` per unit (classname the
//! environment, name the unit id); failures carry the failing stage, customizer, message and
//! log excerpt; skipped and cancelled units are `<skipped>`.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::BuildReport;
use super::json::{ReportUnitStatus, UnitReport};

/// Escape text for XML attributes and content.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => o.push(c),
        }
    }
    o
}

fn seconds(u: &UnitReport) -> f64 {
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    let start = u.stages.iter().filter_map(|s| parse(&s.started)).min();
    let end = u.stages.iter().filter_map(|s| parse(&s.finished)).max();
    match (start, end) {
        (Some(a), Some(b)) => (b - a).num_milliseconds().max(0) as f64 / 1000.0,
        _ => 0.0,
    }
}

/// The JUnit document.
pub fn render(r: &BuildReport) -> String {
    let mut by_env: BTreeMap<String, Vec<&UnitReport>> = BTreeMap::new();
    for u in &r.units {
        let env = u.id.split('/').next().unwrap_or("").to_string();
        by_env.entry(env).or_default().push(u);
    }
    let count = |us: &[&UnitReport], f: &dyn Fn(ReportUnitStatus) -> bool| {
        us.iter().filter(|u| f(u.status)).count()
    };
    let failed = |s: ReportUnitStatus| s == ReportUnitStatus::Failed;
    let skipped = |s: ReportUnitStatus| {
        matches!(
            s,
            ReportUnitStatus::Skipped
                | ReportUnitStatus::Cancelled
                | ReportUnitStatus::Pending
                | ReportUnitStatus::Running
        )
    };
    let all: Vec<&UnitReport> = r.units.iter().collect();
    let total_time: f64 = r.units.iter().map(seconds).sum();
    let mut o = String::new();
    let _ = writeln!(o, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        o,
        r#"<testsuites name="aib build {}" tests="{}" failures="{}" skipped="{}" time="{:.3}">"#,
        escape(&r.run_id),
        all.len(),
        count(&all, &failed),
        count(&all, &skipped),
        total_time
    );
    for (env, units) in &by_env {
        let time: f64 = units.iter().map(|u| seconds(u)).sum();
        let _ = writeln!(
            o,
            r#"  <testsuite name="{}" tests="{}" failures="{}" skipped="{}" time="{:.3}" timestamp="{}">"#,
            escape(env),
            units.len(),
            count(units, &failed),
            count(units, &skipped),
            time,
            escape(&r.started)
        );
        for u in units {
            let _ = write!(
                o,
                r#"    <testcase classname="{}" name="{}" time="{:.3}""#,
                escape(&format!("{}.{}", r.pipeline, env)),
                escape(&u.id),
                seconds(u)
            );
            match u.status {
                ReportUnitStatus::Failed => {
                    let _ = writeln!(o, ">");
                    let (stage, message, body) = match &u.failure {
                        Some(f) => {
                            let mut body = String::new();
                            if let Some(c) = &f.customizer {
                                let _ = writeln!(body, "customizer: {c}");
                            }
                            let _ = writeln!(body, "{}", f.message);
                            if let Some(x) = &f.log_excerpt {
                                let _ = writeln!(body, "\n{x}");
                            }
                            if let Some(p) = &f.log_path {
                                let _ = writeln!(body, "\nfull log: {p}");
                            }
                            (
                                f.stage.clone(),
                                f.message.lines().next().unwrap_or("").to_string(),
                                body,
                            )
                        }
                        None => ("unknown".into(), "failed".into(), String::new()),
                    };
                    let _ = writeln!(
                        o,
                        r#"      <failure type="{}" message="{}">{}</failure>"#,
                        escape(&stage),
                        escape(&message),
                        escape(&body)
                    );
                    let _ = writeln!(o, "    </testcase>");
                }
                s if skipped(s) => {
                    let _ = writeln!(o, ">");
                    let msg = u
                        .reason
                        .clone()
                        .unwrap_or_else(|| format!("{s:?}").to_lowercase());
                    let _ = writeln!(o, r#"      <skipped message="{}"/>"#, escape(&msg));
                    let _ = writeln!(o, "    </testcase>");
                }
                _ => match &u.image_version_id {
                    Some(v) => {
                        let _ = writeln!(o, ">");
                        let _ = writeln!(o, "      <system-out>{}</system-out>", escape(v));
                        let _ = writeln!(o, "    </testcase>");
                    }
                    None => {
                        let _ = writeln!(o, "/>");
                    }
                },
            }
        }
        let _ = writeln!(o, "  </testsuite>");
    }
    let _ = writeln!(o, "</testsuites>");
    o
}
