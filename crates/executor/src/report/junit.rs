//! JUnit XML (written by `quick-junit`): one `<testsuite>` per environment, one `<testcase>` per
//! unit (classname `<pipeline>.<environment>`, name the unit id); failures carry the failing
//! stage as their type, the first line of the message, and the customizer, message, log excerpt
//! and log path as their text; skipped and cancelled units are `<skipped>` with the reason; a
//! unit that published a version has it as its `system-out`.

use std::collections::BTreeMap;
use std::time::Duration;

use aib_vocab::UnitId;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::BuildReport;
use super::json::{ReportUnitStatus, UnitReport};

fn parse_time(s: &Option<String>) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    s.as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
}

/// From the unit's first stage start to its last stage end.
fn duration(u: &UnitReport) -> Duration {
    let start = u.stages.iter().filter_map(|s| parse_time(&s.started)).min();
    let end = u
        .stages
        .iter()
        .filter_map(|s| parse_time(&s.finished))
        .max();
    match (start, end) {
        (Some(a), Some(b)) => (b - a).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    }
}

fn is_skipped(s: ReportUnitStatus) -> bool {
    matches!(
        s,
        ReportUnitStatus::Skipped
            | ReportUnitStatus::Cancelled
            | ReportUnitStatus::Pending
            | ReportUnitStatus::Running
    )
}

/// A failed unit's status: stage as type, first message line as message, details as text.
fn failure(u: &UnitReport) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
    let Some(f) = &u.failure else {
        status.set_type("unknown").set_message("failed");
        return status;
    };
    let mut body = String::new();
    if let Some(c) = &f.customizer {
        body.push_str(&format!("customizer: {c}\n"));
    }
    body.push_str(&f.message);
    body.push('\n');
    if let Some(x) = &f.log_excerpt {
        body.push_str(&format!("\n{x}\n"));
    }
    if let Some(p) = &f.log_path {
        body.push_str(&format!("\nfull log: {p}\n"));
    }
    status
        .set_type(f.stage.as_str())
        .set_message(f.message.lines().next().unwrap_or(""))
        .set_description(body);
    status
}

fn test_case(pipeline: &str, env: &str, u: &UnitReport) -> TestCase {
    let status = match u.status {
        ReportUnitStatus::Failed => failure(u),
        s if is_skipped(s) => {
            let mut st = TestCaseStatus::skipped();
            st.set_message(
                u.reason
                    .clone()
                    .unwrap_or_else(|| format!("{s:?}").to_lowercase()),
            );
            st
        }
        _ => TestCaseStatus::success(),
    };
    let mut case = TestCase::new(u.id.as_str(), status);
    case.set_classname(format!("{pipeline}.{env}"))
        .set_time(duration(u));
    if u.status != ReportUnitStatus::Failed
        && let Some(v) = &u.image_version_id
    {
        case.set_system_out(v.as_str());
    }
    case
}

/// The JUnit document.
pub fn render(r: &BuildReport) -> String {
    let mut by_env: BTreeMap<String, Vec<&UnitReport>> = BTreeMap::new();
    for u in &r.units {
        let env = UnitId::from(u.id.as_str()).environment().to_owned();
        by_env.entry(env).or_default().push(u);
    }
    let started = chrono::DateTime::parse_from_rfc3339(&r.started).ok();
    let mut report = Report::new(format!("aib build {}", r.run_id));
    if let Some(t) = started {
        report.set_timestamp(t);
    }
    report.set_time(r.units.iter().map(duration).sum());
    for (env, units) in by_env {
        let mut suite = TestSuite::new(env.as_str());
        if let Some(t) = started {
            suite.set_timestamp(t);
        }
        suite.set_time(units.iter().map(|u| duration(u)).sum());
        suite.add_test_cases(units.iter().map(|u| test_case(&r.pipeline, &env, u)));
        report.add_test_suite(suite);
    }
    report.to_string().unwrap_or_else(|e| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- the JUnit report could not be written: {} -->\n<testsuites/>\n",
            e.to_string().replace("--", "- -")
        )
    })
}
