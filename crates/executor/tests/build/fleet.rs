//! A fleet with scripted failures: failed units name their customizer and keep their log,
//! dependents are skipped, the rest succeed; cleanup policies; fail-fast; Ctrl-C.

use aib_executor::runner::ExecutorConfig;
use aib_sim::Scenario;
use aib_sim::scenario::{OutcomeResult, OutcomeRule};
use aib_state::{RunStatus, UnitStatus};
use tokio_util::sync::CancellationToken;

use super::common::*;

fn fail(template: &str, customizer: &str) -> OutcomeRule {
    OutcomeRule {
        template: template.into(),
        result: OutcomeResult::Fail,
        failed_customizer: Some(customizer.into()),
        build_minutes: None,
        times: None,
        ..OutcomeRule::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_name_their_customizer_keep_their_log_and_skip_dependents() {
    let sim = sim(Scenario {
        outcome: vec![fail("fleet-win-dev-*", "updates")],
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
    let r = run.result.expect("run");
    let rec = &r.record;
    let status = |id: &str| rec.unit(id).map(|u| u.status);
    assert_eq!(rec.status, RunStatus::Failed, "{rec:#?}");
    for ok in ["dev/base", "dev/app", "prod/base", "prod/app"] {
        assert_eq!(
            status(ok),
            Some(UnitStatus::Succeeded),
            "{ok}: {:#?}",
            rec.unit(ok)
        );
        let v = rec
            .unit(ok)
            .and_then(|u| u.image_version_id.clone())
            .unwrap_or_default();
        assert!(v.contains("/versions/"), "{v}");
    }
    assert_eq!(status("dev/win"), Some(UnitStatus::Failed));
    let skipped = rec.unit("prod/win").expect("prod/win");
    assert_eq!(skipped.status, UnitStatus::Skipped);
    assert_eq!(
        skipped.reason.as_deref(),
        Some("dependency `dev/win` failed")
    );
    let f = rec
        .unit("dev/win")
        .and_then(|u| u.failure.clone())
        .expect("failure");
    assert_eq!(f.stage, "build");
    assert_eq!(f.customizer.as_deref(), Some("updates"));
    let excerpt = f.log_excerpt.clone().unwrap_or_default();
    assert!(excerpt.contains("Failed to install updates"), "{excerpt}");
    assert!(f.message.contains("Windows Update"), "{}", f.message);
    let log = run
        .store
        .read_log(&rec.run_id, "dev/win", "customization.log")
        .await
        .expect("log kept in state");
    assert!(String::from_utf8_lossy(&log).contains("Starting provisioner windows-update"));
    // app used exactly the version base published.
    let base_v = rec
        .unit("dev/base")
        .and_then(|u| u.image_version_id.clone())
        .unwrap_or_default();
    assert_eq!(
        rec.unit("dev/app").and_then(|u| u.source_version.clone()),
        Some(base_v)
    );
    // Default cleanup on-success: the failed template stays, the others are gone.
    let arm = client(&sim).await;
    let left = arm
        .list_image_templates(&aib_azure::ResourceGroupId::new(
            "00000000-0000-0000-0000-000000000001",
            "rg-dev",
        ))
        .await
        .expect("list");
    let names: Vec<String> = left.iter().filter_map(|t| t.name.clone()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("fleet-win-dev-"), "{names:?}");
    // Events were recorded.
    let events = run.store.read_events(&rec.run_id).await.expect("events");
    assert!(events.iter().any(|e| e.event == "build.progress"));
    assert!(events.iter().any(|e| e.event == "run.finished"));
    // Progress came from lists, not per-unit GETs.
    let st = stats(&sim).await;
    let lists = st["requests"]["imageTemplates.list"].as_u64().unwrap_or(0);
    let gets = st["requests"]["imageTemplates.get"].as_u64().unwrap_or(0);
    assert!(lists > 0, "{st}");
    assert!(gets <= 12, "one GET per run POST at most: {st}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_always_deletes_failed_templates_too_and_never_keeps_all() {
    for (policy, expect_left) in [("always", 0usize), ("never", 6usize)] {
        let sim = sim(Scenario {
            outcome: vec![fail("fleet-base-dev-*", "install")],
            ..Scenario::default()
        })
        .await;
        let dir = tempfile::tempdir().expect("tempdir");
        let text = FLEET.replace(
            "version = \"date\"",
            &format!("version = \"date\"\ncleanup = \"{policy}\""),
        );
        let run = build(
            &sim,
            dir.path(),
            &text,
            ExecutorConfig::default(),
            CancellationToken::new(),
        )
        .await;
        let r = run.result.expect("run");
        let rec = &r.record;
        let f = rec
            .unit("dev/base")
            .and_then(|u| u.failure.clone())
            .expect("failure");
        assert_eq!(f.customizer.as_deref(), Some("install"), "{policy}");
        assert!(
            f.log_path.is_some(),
            "logs are collected before the delete ({policy})"
        );
        for skipped in ["dev/app", "prod/base", "prod/app"] {
            assert_eq!(
                rec.unit(skipped).map(|u| u.status),
                Some(UnitStatus::Skipped),
                "{skipped}"
            );
        }
        let arm = client(&sim).await;
        let mut left = 0;
        for (sub, rg) in [
            ("00000000-0000-0000-0000-000000000001", "rg-dev"),
            ("00000000-0000-0000-0000-000000000002", "rg-prod"),
        ] {
            let group = aib_azure::ResourceGroupId::new(sub, rg);
            left += arm.list_image_templates(&group).await.expect("list").len();
        }
        // never: dev/base, dev/win, prod/win stay (3 built + ... ) — count what was built.
        let built = rec
            .units
            .iter()
            .filter(|u| matches!(u.status, UnitStatus::Succeeded | UnitStatus::Failed))
            .count();
        let want = if policy == "never" {
            built
        } else {
            expect_left
        };
        assert_eq!(left, want, "{policy}");
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fast_stops_starting_new_units() {
    let sim = sim(Scenario {
        outcome: vec![OutcomeRule {
            template: "fleet-base-dev-*".into(),
            result: OutcomeResult::Fail,
            failed_customizer: None,
            build_minutes: Some(5.0),
            times: None,
            ..OutcomeRule::default()
        }],
        ..Scenario::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ExecutorConfig {
        max_parallel: 1,
        fail_fast: true,
        ..ExecutorConfig::default()
    };
    let run = build(&sim, dir.path(), FLEET, config, CancellationToken::new()).await;
    let rec = run.result.expect("run").record;
    assert_eq!(
        rec.unit("dev/base").map(|u| u.status),
        Some(UnitStatus::Failed)
    );
    // One unit at a time, in an order the runtime picks: `dev/win` may have run (and
    // succeeded) before `dev/base`. What fail-fast guarantees is that nothing *starts* after
    // the failure: every other unit either started before `dev/base` ended, or was skipped.
    let base = rec.unit("dev/base").expect("dev/base");
    let base_end = base
        .stages
        .iter()
        .filter_map(|s| s.finished)
        .max()
        .expect("dev/base ended");
    for u in rec.units.iter().filter(|u| u.id != "dev/base") {
        let first_start = u.stages.iter().filter_map(|s| s.started).min();
        match first_start {
            Some(t) => assert!(t <= base_end, "{} started after the failure: {u:#?}", u.id),
            None => {
                assert_eq!(u.status, UnitStatus::Skipped, "{u:#?}");
                let reason = u.reason.as_deref().unwrap_or_default();
                assert!(
                    reason == "--fail-fast: `dev/base` failed"
                        || reason.starts_with("dependency `"),
                    "{u:#?}"
                );
            }
        }
    }
    let win = rec.unit("dev/win").expect("dev/win");
    if win.status == UnitStatus::Skipped {
        assert_eq!(
            win.reason.as_deref(),
            Some("--fail-fast: `dev/base` failed")
        );
    } else {
        assert_eq!(win.status, UnitStatus::Succeeded, "{win:#?}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_cancels_running_builds_and_collects_state() {
    let sim = sim(Scenario {
        build_minutes: 600.0,
        ..Scenario::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token = CancellationToken::new();
    let t2 = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        t2.cancel();
    });
    let started = std::time::Instant::now();
    let run = build(&sim, dir.path(), FLEET, ExecutorConfig::default(), token).await;
    let rec = run.result.expect("run").record;
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(rec.status, RunStatus::Cancelled);
    for u in &rec.units {
        assert_eq!(u.status, UnitStatus::Cancelled, "{}: {:?}", u.id, u.reason);
    }
    let st = stats(&sim).await;
    assert!(
        st["requests"]["imageTemplates.cancel"]
            .as_u64()
            .unwrap_or(0)
            >= 2,
        "{st}"
    );
    let stored = run.store.read_run(&rec.run_id).await.expect("stored");
    assert_eq!(stored.status, RunStatus::Cancelled);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_resources_are_listed_together_before_anything_is_deployed() {
    let sim = sim(Scenario {
        missing: vec![
            "*/resourceGroups/rg-prod".into(),
            "*/galleries/gal_dev/images/win".into(),
        ],
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
    let err = run.result.expect_err("preflight fails");
    let msg = err.to_string();
    assert!(msg.contains("rg-prod"), "{msg}");
    assert!(msg.contains("image definition `win`"), "{msg}");
    // Each comes with the command that creates it, where the unit builds.
    assert!(
        msg.contains("create it: az group create --subscription ")
            && msg.contains("--name rg-prod --location "),
        "{msg}"
    );
    assert!(
        msg.contains("create it: az sig image-definition create ")
            && msg.contains("--gallery-name gal_dev --gallery-image-definition win "),
        "{msg}"
    );
    let st = stats(&sim).await;
    assert_eq!(
        st["requests"]["deployments.put"].as_u64().unwrap_or(0),
        0,
        "{st}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_secrets_are_named_before_anything_is_deployed() {
    let sim = sim(Scenario::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let text = FLEET.replace(
        "version = \"date\"",
        "version = \"date\"\nsecrets = { admin = \"env:AIB_TEST_SURELY_UNSET_SECRET\" }",
    );
    let run = build(
        &sim,
        dir.path(),
        &text,
        ExecutorConfig::default(),
        CancellationToken::new(),
    )
    .await;
    let err = run.result.expect_err("secrets fail");
    assert!(matches!(err, aib_executor::session::BuildError::Secrets(_)));
    assert!(
        err.to_string().contains("AIB_TEST_SURELY_UNSET_SECRET"),
        "{err}"
    );
    let st = stats(&sim).await;
    assert!(st["requests"].get("deployments.put").is_none(), "{st}");
    sim.shutdown().await;
}
