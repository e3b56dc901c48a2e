//! Reports of a run with a failure: JSON against the checked-in schema, JUnit, Markdown.

use aib_executor::report::{BuildReport, junit, markdown, report_schema};
use aib_executor::runner::ExecutorConfig;
use aib_sim::Scenario;
use aib_sim::scenario::{OutcomeResult, OutcomeRule};
use tokio_util::sync::CancellationToken;

use super::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_of_a_failed_run() {
    let sim = sim(Scenario {
        outcome: vec![OutcomeRule {
            template: "fleet-app-dev-*".into(),
            result: OutcomeResult::Fail,
            failed_customizer: Some("app".into()),
            build_minutes: None,
            times: None,
            ..OutcomeRule::default()
        }],
        ..Scenario::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let run = build(
        &sim,
        dir.path(),
        FLEET,
        ExecutorConfig::default(),
        CancellationToken::new(),
    )
    .await;
    let rec = run.result.expect("run").record;
    let report = BuildReport::from_record(&rec);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("json");
    let schema: serde_json::Value = serde_json::from_str(&report_schema()).expect("schema");
    let v = jsonschema::validator_for(&schema).expect("compile");
    let errors: Vec<String> = v.iter_errors(&json).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let app = json["units"]
        .as_array()
        .expect("units")
        .iter()
        .find(|u| u["id"] == "dev/app")
        .cloned()
        .expect("dev/app");
    assert_eq!(app["status"], "failed", "{json:#}");
    assert_eq!(app["failure"]["customizer"], "app");
    assert!(
        app["stages"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x["name"] == "collect-logs"))
    );

    // JUnit, read back with a JUnit parser: one suite per environment, the failure typed by
    // its stage, the dependent skipped with the reason.
    let xml = junit::render(&report);
    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit");
    assert_eq!(parsed.tests, report.units.len(), "{xml}");
    assert_eq!(parsed.failures, 1, "{xml}");
    let case = |id: &str| {
        parsed
            .test_suites
            .iter()
            .flat_map(|s| s.test_cases.iter().map(move |c| (s.name.as_str(), c)))
            .find(|(_, c)| c.name.as_str() == id)
            .unwrap_or_else(|| panic!("no test case {id}: {xml}"))
    };
    let (suite, app) = case("dev/app");
    assert_eq!(suite, "dev");
    assert_eq!(app.classname.as_deref(), Some("fleet.dev"));
    match &app.status {
        quick_junit::TestCaseStatus::NonSuccess {
            kind: quick_junit::NonSuccessKind::Failure,
            ty,
            description,
            ..
        } => {
            assert_eq!(ty.as_deref(), Some("build"));
            assert!(
                description
                    .as_deref()
                    .is_some_and(|d| d.contains("customizer: app")),
                "{xml}"
            );
        }
        other => panic!("dev/app is not a failure: {other:?}"),
    }
    let skipped: Vec<_> = parsed
        .test_suites
        .iter()
        .flat_map(|s| &s.test_cases)
        .filter_map(|c| match &c.status {
            quick_junit::TestCaseStatus::Skipped { message, .. } => {
                message.as_deref().map(str::to_string)
            }
            _ => None,
        })
        .collect();
    assert!(
        skipped.iter().any(|m| m == "dependency `dev/app` failed"),
        "{skipped:?}"
    );

    let md = markdown::render(&report);
    assert!(
        md.contains("| `dev/app` | ❌ failed | build (customizer `app`) |"),
        "{md}"
    );
    assert!(md.contains("```mermaid\ngantt"), "{md}");
    assert!(md.contains("Failing customizer: **`app`**"), "{md}");
    sim.shutdown().await;
}
