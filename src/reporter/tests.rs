//! What the reporter prints for a fixed run: the same events, stamped at fixed times, through
//! each log format; and the summary table of a fixed run record.

use super::*;
use aib_executor::events::Stage;
use aib_state::{Failure, RunRecord, RunStatus, StageRecord, Trigger, UnitRecord};
use chrono::{DateTime, TimeZone, Utc};

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0)
        .single()
        .unwrap_or_default()
        + chrono::Duration::seconds(i64::from(second))
}

const VERSION: &str = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/gal/images/web/versions/1.2.3";

fn failure() -> Failure {
    Failure {
        customizer: Some("install".into()),
        log_excerpt: Some("+ make install\nmake: *** [all] Error 2".into()),
        log_path: Some(".aib/runs/r1/dev_app/customization.log".into()),
        ..Failure::new(
            Stage::Build,
            "Customizer 'install' failed: exit status 2\nsecond line",
        )
    }
}

/// One of every event, in the order a run with a success, a failure, a skip, a cancel and
/// an unchanged unit sends them.
fn events() -> Vec<Stamped> {
    use BuildEvent::*;
    let evs = vec![
        RunStarted {
            units: vec!["dev/web".into(), "dev/app".into()],
            note: Some("simulated Azure\nsecond note line".into()),
        },
        UnitPrepared {
            unit: "dev/web".into(),
            template_name: "aib-web".into(),
            deployment_name: "aib-web".into(),
            resource_group: "g".into(),
            subscription: "s".into(),
            input_hash: "sha256:00".into(),
            source_version: None,
            image_version: Some("1.2.3".into()),
        },
        StageStarted {
            unit: "dev/web".into(),
            stage: Stage::Deploy,
        },
        StageFinished {
            unit: "dev/web".into(),
            stage: Stage::Deploy,
            status: StageStatus::Succeeded,
            message: None,
        },
        StageStarted {
            unit: "dev/web".into(),
            stage: Stage::Build,
        },
        RunOperation {
            unit: "dev/web".into(),
            url: "https://management.azure.com/op".into(),
        },
        BuildProgress {
            unit: "dev/web".into(),
            run_state: "Running".into(),
            sub_state: Some("Customizing".into()),
        },
        BuildProgress {
            unit: "dev/web".into(),
            run_state: "Verifying".into(),
            sub_state: None,
        },
        StageFinished {
            unit: "dev/web".into(),
            stage: Stage::Build,
            status: StageStatus::Succeeded,
            message: Some("42m".into()),
        },
        UnitFinished {
            unit: "dev/web".into(),
            status: UnitStatus::Succeeded,
            reason: None,
            image_version_id: Some(VERSION.into()),
            failure: None,
        },
        Message {
            unit: Some("dev/app".into()),
            level: Level::Warn,
            text: "throttled by Azure, waiting 30s".into(),
        },
        Message {
            unit: None,
            level: Level::Info,
            text: "2 templates reused".into(),
        },
        StageFinished {
            unit: "dev/app".into(),
            stage: Stage::Build,
            status: StageStatus::Failed,
            message: Some("exit status 2".into()),
        },
        LogCollected {
            unit: "dev/app".into(),
            file: "customization.log".into(),
            path: ".aib/runs/r1/dev_app/customization.log".into(),
        },
        StageFinished {
            unit: "dev/app".into(),
            stage: Stage::Cleanup,
            status: StageStatus::Skipped,
            message: Some("kept for debugging".into()),
        },
        StageFinished {
            unit: "dev/app".into(),
            stage: Stage::Verify,
            status: StageStatus::Cancelled,
            message: None,
        },
        UnitFinished {
            unit: "dev/app".into(),
            status: UnitStatus::Failed,
            reason: None,
            image_version_id: None,
            failure: Some(failure()),
        },
        UnitFinished {
            unit: "dev/child".into(),
            status: UnitStatus::Skipped,
            reason: Some("dependency `dev/app` failed".into()),
            image_version_id: None,
            failure: None,
        },
        UnitFinished {
            unit: "dev/api".into(),
            status: UnitStatus::Unchanged,
            reason: None,
            image_version_id: Some(VERSION.into()),
            failure: None,
        },
        Interrupted,
        UnitFinished {
            unit: "dev/db".into(),
            status: UnitStatus::Cancelled,
            reason: Some("interrupted".into()),
            image_version_id: None,
            failure: None,
        },
        RunFinished {
            status: RunStatus::Failed,
        },
    ];
    evs.into_iter()
        .zip(0..)
        .map(|(event, i)| Stamped {
            ts: at(i * 7),
            event,
        })
        .collect()
}

/// What the reporter writes in `mode` for [`events`].
async fn printed(mode: Mode) -> String {
    let (tx, rx) = mpsc::unbounded_channel();
    for ev in events() {
        let _ = tx.send(ev);
    }
    drop(tx);
    let mut out = Vec::new();
    report_to(mode, "r1", None, rx, &mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn lines_format() {
    insta::assert_snapshot!(printed(Mode::Lines).await);
}

#[tokio::test]
async fn json_format() {
    let out = printed(Mode::Json).await;
    // Every line is one JSON event of this run.
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        assert_eq!(v["run_id"], "r1", "{line}");
    }
    insta::assert_snapshot!(out);
}

#[tokio::test]
async fn quiet_format_prints_nothing() {
    assert_eq!(printed(Mode::Quiet).await, "");
}

fn record(time_scale: Option<f64>) -> RunRecord {
    let mut r = RunRecord::new("r1", Trigger::Manual, "fleet", "aib.toml", "host", at(0));
    r.status = RunStatus::Failed;
    r.time_scale = time_scale;
    let stage = |name: &str, status, a: u32, b: u32| StageRecord {
        name: name.into(),
        status,
        started: Some(at(a)),
        finished: Some(at(b)),
    };
    let mut web = UnitRecord::pending("prod/web[os=linux]");
    web.status = UnitStatus::Succeeded;
    web.image_version_id = Some(VERSION.into());
    web.stages = vec![
        stage("deploy", StageStatus::Succeeded, 0, 60),
        stage("build", StageStatus::Succeeded, 60, 2_700),
    ];
    let mut app = UnitRecord::pending("dev/app");
    app.status = UnitStatus::Failed;
    app.failure = Some(failure());
    app.stages = vec![stage("build", StageStatus::Failed, 30, 900)];
    let mut child = UnitRecord::pending("dev/app child");
    child.status = UnitStatus::Skipped;
    child.reason = Some("dependency `dev/app` failed".into());
    let mut api = UnitRecord::pending("dev/api");
    api.status = UnitStatus::Unchanged;
    api.image_version_id = Some(VERSION.into());
    let mut db = UnitRecord::pending("dev/db");
    db.status = UnitStatus::Cancelled;
    db.reason = Some("interrupted".into());
    r.units = vec![web, app, child, api, db, UnitRecord::pending("dev/queue")];
    r
}

#[test]
fn summary_table_unlimited() {
    let opts = SummaryOptions {
        width: None,
        logs_args: " --state '/tmp/my state'".into(),
    };
    insta::assert_snapshot!(summary_table(&record(None), &opts));
}

#[test]
fn summary_table_in_a_narrow_terminal_of_a_simulated_run() {
    let opts = SummaryOptions {
        width: Some(60),
        logs_args: String::new(),
    };
    insta::assert_snapshot!(summary_table(&record(Some(60.0)), &opts));
}

#[test]
fn short_versions_and_logs_args() {
    assert_eq!(short_version(VERSION), "web 1.2.3");
    assert_eq!(short_version("not-an-id"), "not-an-id");
    assert_eq!(logs_args(None, std::path::Path::new("aib.toml")), "");
    assert_eq!(
        logs_args(None, std::path::Path::new("fleet dir/aib.toml")),
        " --manifest 'fleet dir/aib.toml'"
    );
    assert_eq!(
        logs_args(Some("s"), std::path::Path::new("x")),
        " --state s"
    );
}
