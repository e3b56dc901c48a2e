//! `--retry-failed` after a run that died: builds it finished that its record had not caught
//! up with are not built again, and templates it left Canceling are waited out, then run again.

use aib_executor::runner::{ExecutorConfig, RunResult};
use aib_sim::{Scenario, SimHandle};
use aib_state::{RunStatus, UnitStatus};
use tokio_util::sync::CancellationToken;

use super::common::*;

const PAIR: &str = r#"
version = 1

[pipeline]
name = "rty"

[defaults]
location = "eastus2"
resource_group = "rg-{{ env }}"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = { name = "gal_{{ env }}" }
version = "date"

[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"

[variants.base]
image_definition = "base"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [ { type = "shell", name = "harden", inline = ["echo harden"] } ]

[variants.app]
image_definition = "app"
source = { variant = "base" }
customize = [ { type = "shell", name = "app", inline = ["echo app"] } ]

[variants.web]
image_definition = "web"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [ { type = "shell", name = "web", inline = ["echo web"] } ]
"#;

/// `session::build` of every unit of `PAIR`, as a retry of `retry_of` if given.
async fn run(
    sim: &SimHandle,
    dir: &std::path::Path,
    retry_of: Option<&str>,
    interrupt: CancellationToken,
) -> RunResult {
    run_scaled(sim, dir, retry_of, interrupt, 1.0).await
}

/// [`run`] with aib's clock `slower` times slower than the simulator's.
async fn run_scaled(
    sim: &SimHandle,
    dir: &std::path::Path,
    retry_of: Option<&str>,
    interrupt: CancellationToken,
    slower: f64,
) -> RunResult {
    let run = build_with(
        sim,
        dir,
        PAIR,
        ExecutorConfig::default(),
        interrupt,
        slower,
        |plan| aib_state::Selection {
            units: match retry_of {
                Some(_) => plan.units().iter().map(|u| u.id.to_string()).collect(),
                None => Vec::new(),
            },
            retry_failed: retry_of.map(str::to_string),
            ..Default::default()
        },
    )
    .await;
    run.result.expect("build runs")
}

fn runs(stats: &serde_json::Value) -> Vec<(String, u64)> {
    stats["runs"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_a_dead_run_finished_but_never_recorded_are_not_built_again() {
    let sim = sim(Scenario::default()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let first = run(&sim, dir.path(), None, CancellationToken::new()).await;
    assert_eq!(first.record.status, RunStatus::Succeeded);
    let run_id = first.record.run_id.clone();
    let before = runs(&stats(&sim).await);
    assert_eq!(before.len(), 3, "{before:?}");

    // The run died before its record caught up: every unit still running, no version, and the
    // index never written. Its builds finished and cleanup deleted their templates.
    let store = aib_state::StateStore::open_local(dir.path().join(".aib"))
        .await
        .expect("state");
    let mut rec = store.read_run(&run_id).await.expect("record");
    rec.status = RunStatus::Running;
    rec.finished = None;
    for u in &mut rec.units {
        u.status = UnitStatus::Running;
        u.image_version_id = None;
        u.stages.retain(|s| s.name == "deploy" || s.name == "build");
    }
    store.write_run(&rec).await.expect("write record");
    std::fs::remove_file(dir.path().join(".aib/index.json")).expect("no index");

    let retry = run(&sim, dir.path(), Some(&run_id), CancellationToken::new()).await;
    for u in &retry.record.units {
        assert_eq!(u.status, UnitStatus::Unchanged, "{u:?}");
        let reason = u.reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains(&format!("built by run {run_id} before it stopped")),
            "{reason}"
        );
        let version = u.image_version_id.as_deref().unwrap_or_default();
        let published = rec_version(&first, &u.id);
        assert_eq!(version, published, "{}", u.id);
    }
    // No template ran again, and the index knows every unit now.
    assert_eq!(runs(&stats(&sim).await), before);
    let index = store.read_index().await.expect("index");
    for u in &retry.record.units {
        assert_eq!(
            index.get(&u.id).map(|e| e.image_version_id.as_str()),
            u.image_version_id.as_deref(),
            "{}",
            u.id
        );
    }
}

fn rec_version(r: &RunResult, unit: &str) -> String {
    r.record
        .unit(unit)
        .and_then(|u| u.image_version_id.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_left_canceling_is_waited_out_then_run_again() {
    // Cancelling takes 40 simulated minutes, longer than the cancel wait (10): the interrupted
    // run ends while its templates are still Canceling. The retry's clock runs 4 times slower
    // than the simulator's, so its bounded wait (10 of its minutes) outlasts the rest.
    let sim = sim(Scenario {
        cancel_minutes: 40.0,
        ..Scenario::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tmp");
    let interrupt = CancellationToken::new();
    let stop = interrupt.clone();
    let base = sim.base_url();
    let watcher = tokio::spawn(async move {
        let t = aib_azure::transport::Transport::new(&Default::default()).expect("transport");
        loop {
            let s: serde_json::Value = t
                .client()
                .get(format!("{base}/_sim/stats"))
                .send()
                .await
                .expect("stats")
                .json()
                .await
                .expect("json");
            if s["runs"].as_object().is_some_and(|m| m.len() >= 2) {
                stop.cancel();
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    });
    let first = run(&sim, dir.path(), None, interrupt).await;
    watcher.await.expect("watcher");
    assert_eq!(first.record.status, RunStatus::Cancelled);

    let retry = run_scaled(
        &sim,
        dir.path(),
        Some(&first.record.run_id),
        CancellationToken::new(),
        4.0,
    )
    .await;
    assert_eq!(
        retry.record.status,
        RunStatus::Succeeded,
        "{:?}",
        retry.record
    );
    let store = aib_state::StateStore::open_local(dir.path().join(".aib"))
        .await
        .expect("state");
    let waited = store
        .read_events(&retry.record.run_id)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| {
            e.event == "message"
                && e.fields
                    .get("message")
                    .and_then(|m| m.as_str())
                    .is_some_and(|m| {
                        m.contains("is still canceling a build an earlier run started")
                    })
        })
        .count();
    assert_eq!(waited, 2, "base and web waited for their cancel to end");
    let counts = runs(&stats(&sim).await);
    assert_eq!(counts.len(), 3, "{counts:?}");
    for (t, n) in counts {
        // base and web: the cancelled run and the retry; app: the retry only.
        let want = if t.starts_with("rty-app-") { 1 } else { 2 };
        assert_eq!(n, want, "{t}");
    }
}
