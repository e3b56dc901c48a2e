//! The scheduler through whole builds: a unit built from another starts once its parent is
//! verified (not after its cleanup), the longest chain starts first when the cap binds, and a
//! second run orders units by how long they took in the first.

use aib_executor::runner::ExecutorConfig;
use aib_sim::Scenario;
use aib_sim::scenario::{OutcomeResult, OutcomeRule};
use aib_state::{RunRecord, UnitRecord, UnitStatus};
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::common::*;

fn first_start(u: &UnitRecord) -> DateTime<Utc> {
    u.stages
        .iter()
        .filter_map(|s| s.started)
        .min()
        .unwrap_or_else(|| panic!("{} never started: {u:#?}", u.id))
}

fn stage_end(u: &UnitRecord, stage: &str) -> DateTime<Utc> {
    u.stages
        .iter()
        .find(|s| s.name == stage)
        .and_then(|s| s.finished)
        .unwrap_or_else(|| panic!("{} has no finished {stage}: {u:#?}", u.id))
}

fn unit<'a>(rec: &'a RunRecord, id: &str) -> &'a UnitRecord {
    rec.unit(id).unwrap_or_else(|| panic!("no {id}: {rec:#?}"))
}

/// Units in the order their first stage started.
fn start_order(rec: &RunRecord) -> Vec<String> {
    let mut v: Vec<&UnitRecord> = rec.units.iter().collect();
    v.sort_by_key(|u| first_start(u));
    v.into_iter().map(|u| u.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_starts_once_its_parent_is_verified_while_the_parent_cleans_up() {
    // Deleting a template takes 30 simulated minutes: a child waiting for its parent's cleanup
    // would start after it.
    let sim = sim(Scenario {
        build_minutes: 10.0,
        delete_minutes: 30.0,
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
    assert!(
        rec.units.iter().all(|u| u.status == UnitStatus::Succeeded),
        "{rec:#?}"
    );
    // dev/app is built from dev/base; prod/base waits for dev/base (`after`).
    let base = unit(&rec, "dev/base");
    for child in ["dev/app", "prod/base"] {
        let c = first_start(unit(&rec, child));
        assert!(
            c >= stage_end(base, "verify"),
            "{child} started before dev/base was verified"
        );
        assert!(
            c < stage_end(base, "cleanup"),
            "{child} waited for dev/base's cleanup: {rec:#?}"
        );
    }
    sim.shutdown().await;
}

const CHAIN_BEHIND: &str = r#"
version = 1
[pipeline]
name = "chain"
[defaults]
location = "eastus2"
resource_group = "rg-chain"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
gallery = { name = "gal" }
version = "date"
customize = [ { type = "shell", name = "s", inline = ["true"] } ]
[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"
[variants.a]
image_definition = "a-{{ matrix.n }}"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
[variants.a.matrix]
n = ["1", "2", "3"]
[variants.z1]
image_definition = "z1"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
[variants.z2]
image_definition = "z2"
source = { variant = "z1" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_cap_binds_the_longest_chain_starts_first() {
    let sim = sim(Scenario {
        build_minutes: 5.0,
        ..Scenario::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ExecutorConfig {
        max_parallel: 2,
        ..ExecutorConfig::default()
    };
    let run = build(
        &sim,
        dir.path(),
        CHAIN_BEHIND,
        config,
        CancellationToken::new(),
    )
    .await;
    let rec = run.result.expect("run").record;
    let mut order = start_order(&rec);
    // z1 heads a chain of two: it starts in the first pair though declared after the a's (in
    // plan order it would start last but one); z2 once z1 is verified.
    order[..2].sort();
    assert_eq!(order[..2].to_vec(), ["dev/a[n=1]", "dev/z1"], "{order:?}");
    let z2 = first_start(unit(&rec, "dev/z2"));
    assert!(z2 >= stage_end(unit(&rec, "dev/z1"), "verify"), "{rec:#?}");
    sim.shutdown().await;
}

const SHORT_AND_LONG: &str = r#"
version = 1
[pipeline]
name = "durations"
[defaults]
location = "eastus2"
resource_group = "rg-d"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
gallery = { name = "gal" }
version = "date"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [ { type = "shell", name = "s", inline = ["true"] } ]
[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"
[variants.short]
image_definition = "short"
[variants.long]
image_definition = "long"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_starts_the_unit_that_took_longest_first() {
    let sim = sim(Scenario {
        build_minutes: 5.0,
        outcome: vec![OutcomeRule {
            template: "durations-long-*".into(),
            result: OutcomeResult::Succeed,
            failed_customizer: None,
            build_minutes: Some(40.0),
            times: None,
            tags: Default::default(),
        }],
        ..Scenario::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ExecutorConfig {
        max_parallel: 1,
        force: true,
        ..ExecutorConfig::default()
    };
    let mut orders = Vec::new();
    for _ in 0..2 {
        let run = build_with(
            &sim,
            dir.path(),
            SHORT_AND_LONG,
            config.clone(),
            CancellationToken::new(),
            1.0,
            |_| aib_state::Selection {
                force: true,
                ..Default::default()
            },
        )
        .await;
        let rec = run.result.expect("run").record;
        assert!(
            rec.units.iter().all(|u| u.status == UnitStatus::Succeeded),
            "{rec:#?}"
        );
        orders.push(start_order(&rec));
    }
    // Without history: plan order. With it: the 40-minute build first.
    assert_eq!(orders[0], ["dev/short", "dev/long"]);
    assert_eq!(orders[1], ["dev/long", "dev/short"]);
    sim.shutdown().await;
}
