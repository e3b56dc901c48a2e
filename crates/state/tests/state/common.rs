use aib_state::{
    Event, Failure, IndexEntry, RunRecord, Stage, StageRecord, StageStatus, Trigger, UnitRecord,
    UnitStatus, new_run_id,
};
use chrono::{TimeZone, Utc};

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

pub const UNIT: &str = "prod/ubuntu[release=2204,arch=x64]";

pub fn sample_run(offset_s: i64) -> RunRecord {
    let started = Utc
        .with_ymd_and_hms(2026, 11, 28, 23, 35, 0)
        .single()
        .unwrap_or_else(Utc::now)
        + chrono::Duration::seconds(offset_s);
    let run_id = new_run_id(started);
    let mut rec = RunRecord::new(
        &run_id,
        Trigger::Schedule {
            name: "nightly".into(),
            due: None,
        },
        "avd",
        "pipelines/avd/aib.toml",
        "build-host-1",
        started,
    );
    let mut u = UnitRecord::pending(UNIT);
    u.status = UnitStatus::Failed;
    u.input_hash = "sha256:abcd".into();
    u.template_name = "avd-ubuntu-prod-abcd1234".into();
    u.stages.push(StageRecord {
        name: "deploy".into(),
        status: StageStatus::Succeeded,
        started: Some(started),
        finished: Some(started + chrono::Duration::seconds(60)),
    });
    u.failure = Some(Failure {
        customizer: Some("harden".into()),
        log_excerpt: Some("exit 1".into()),
        ..Failure::new(Stage::Build, "customizer harden failed")
    });
    u.run_operation = Some("https://management.azure.com/op/1".into());
    rec.units.push(u);
    rec.units.push(UnitRecord::pending("dev/win11-avd"));
    rec
}

pub fn event(run_id: &str, n: usize) -> Event {
    Event::new(run_id, "stage.started")
        .unit(UNIT)
        .stage("build")
        .field("n", n)
}

pub fn entry(unit: &str, run_id: &str, secs: i64) -> IndexEntry {
    IndexEntry {
        unit: unit.into(),
        input_hash: format!("sha256:{secs}"),
        template_name: "t".into(),
        image_version_id: format!("/subscriptions/x/versions/2026.1128.{secs}"),
        built_at: Utc
            .timestamp_opt(1_800_000_000 + secs, 0)
            .single()
            .unwrap_or_else(Utc::now),
        run_id: run_id.into(),
    }
}
