//! Simulator outcomes the build has to reconcile or bound: a build that times out while its
//! gallery version is still replicating (reconciled: succeeded, with a warning), and a build
//! stuck in Canceling after Ctrl-C (bounded wait, reported with the template's id).

use aib_executor::runner::ExecutorConfig;
use aib_sim::Scenario;
use aib_sim::scenario::{OutcomeResult, OutcomeRule};
use aib_state::{RunStatus, UnitStatus};
use tokio_util::sync::CancellationToken;

use super::common::*;

const ONE: &str = r#"
version = 1

[pipeline]
name = "late"

[defaults]
location = "eastus2"
resource_group = "rg-{{ env }}"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = { name = "gal_{{ env }}" }
version = "date"
build_timeout_minutes = 60

[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"
replicate_to = ["eastus2", "westus3"]

[variants.base]
image_definition = "base"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [ { type = "shell", name = "harden", inline = ["echo harden"] } ]
"#;

fn rule(result: OutcomeResult) -> OutcomeRule {
    OutcomeRule {
        template: "late-base-dev-*".into(),
        result,
        failed_customizer: None,
        build_minutes: None,
        times: None,
        ..OutcomeRule::default()
    }
}

async fn warnings(run: &Run, run_id: &str) -> Vec<String> {
    run.store
        .read_events(run_id)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| {
            e.event == "message" && e.fields.get("level").and_then(|l| l.as_str()) == Some("warn")
        })
        .filter_map(|e| {
            e.fields
                .get("message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_while_replicating_is_reconciled_as_succeeded_with_a_warning() {
    // Replication finishes 5 simulated minutes after AIB reports the timeout.
    let sim = sim(Scenario {
        replicate_minutes: 5.0,
        outcome: vec![rule(OutcomeResult::TimeoutDistributing)],
        ..Scenario::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let run = build(
        &sim,
        dir.path(),
        ONE,
        ExecutorConfig::default(),
        CancellationToken::new(),
    )
    .await;
    let rec = run.result.as_ref().expect("run").record.clone();
    let unit = rec.unit("dev/base").expect("dev/base").clone();
    assert_eq!(unit.status, UnitStatus::Succeeded, "{unit:#?}");
    assert_eq!(rec.status, RunStatus::Succeeded, "{rec:#?}");
    let version = unit.image_version_id.clone().unwrap_or_default();
    assert!(version.contains("/versions/"), "{version}");
    assert!(unit.failure.is_none(), "{unit:#?}");
    let warned = warnings(&run, &rec.run_id).await;
    assert!(
        warned.iter().any(|w| w.contains("reported a failure")
            && w.contains("counted as succeeded")
            && w.contains(&version)),
        "{warned:#?}"
    );
    // The run really did fail in Azure, and nothing ran twice.
    let st = stats(&sim).await;
    assert_eq!(st["runs"][&unit.template_name], 1, "{st}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_without_a_published_version_is_a_failure() {
    // Plain `timeout`: no version was published, so there is nothing to reconcile.
    let sim = sim(Scenario {
        outcome: vec![rule(OutcomeResult::Timeout)],
        ..Scenario::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let run = build(
        &sim,
        dir.path(),
        ONE,
        ExecutorConfig::default(),
        CancellationToken::new(),
    )
    .await;
    let rec = run.result.as_ref().expect("run").record.clone();
    let unit = rec.unit("dev/base").expect("dev/base");
    assert_eq!(unit.status, UnitStatus::Failed, "{unit:#?}");
    let f = unit.failure.clone().expect("failure");
    // The log says AIB stopped Packer inside the last customizer: a timeout there.
    assert!(
        f.message.contains("timed out") && f.message.contains("build_timeout_minutes"),
        "{}",
        f.message
    );
    assert_eq!(f.phase.as_deref(), Some("customizer"), "{f:#?}");
    assert_eq!(f.cause.as_deref(), Some("timeout"), "{f:#?}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_canceling_is_bounded_and_reported_with_the_template_id() {
    let sim = sim(Scenario {
        build_minutes: 100_000.0,
        outcome: vec![rule(OutcomeResult::StuckCanceling)],
        ..Scenario::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token = CancellationToken::new();
    let t2 = token.clone();
    let base = sim.base_url().to_string();
    tokio::spawn(async move {
        // Ctrl-C once the build is running (the sim has seen the run POST).
        let http = aib_azure::transport::Transport::new(&Default::default()).expect("transport");
        for _ in 0..400 {
            let st: serde_json::Value =
                match http.client().get(format!("{base}/_sim/stats")).send().await {
                    Ok(r) => r.json().await.unwrap_or_default(),
                    Err(_) => serde_json::Value::Null,
                };
            if st["requests"]["imageTemplates.run"].as_u64().unwrap_or(0) >= 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        t2.cancel();
    });
    let run = build(&sim, dir.path(), ONE, ExecutorConfig::default(), token).await;
    let rec = run.result.as_ref().expect("run").record.clone();
    assert_eq!(rec.status, RunStatus::Cancelled, "{rec:#?}");
    let unit = rec.unit("dev/base").expect("dev/base").clone();
    assert_eq!(unit.status, UnitStatus::Cancelled, "{unit:#?}");
    // Still Canceling in Azure after our bounded wait.
    let arm = client(&sim).await;
    let t = arm
        .get_image_template(&aib_azure::ResourceId::image_template(
            &aib_azure::ResourceGroupId::new(&unit.subscription, &unit.resource_group),
            &unit.template_name,
        ))
        .await
        .expect("template kept");
    let state = t
        .properties
        .last_run_status
        .and_then(|l| l.run_state)
        .unwrap_or_default();
    assert_eq!(state, "Canceling");
    let template_id = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.VirtualMachineImages/imageTemplates/{}",
        unit.subscription, unit.resource_group, unit.template_name
    );
    let warned = warnings(&run, &rec.run_id).await;
    assert!(
        warned
            .iter()
            .any(|w| w.contains("did not reach Canceled") && w.contains(&template_id)),
        "{warned:#?}"
    );
    let st = stats(&sim).await;
    assert_eq!(st["requests"]["imageTemplates.cancel"], 1, "{st}");
    sim.shutdown().await;
}
