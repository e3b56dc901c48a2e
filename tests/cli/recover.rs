//! A template whose creation failed is recovered, never reused: `aib build` against `aib sim`
//! with `result = "provision-fail"`. The unit fails at `deploy` with the provisioning error and
//! its usual cause; no `run` is ever POSTed to a template that is not `Succeeded`; the next
//! `aib build` (or `--retry-failed`) deletes the failed template and deploys it again; and
//! `aib gc` removes a failed template nothing rebuilds.

use super::fleet::{self, req, runs, stats};
use super::support::{manifest_dir, run, sim};

const MANIFEST: &str = r#"
version = 1

[pipeline]
name = "rcv"

[defaults]
location = "eastus2"
resource_group = "rg-dev"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = { name = "gal_dev" }
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
"#;

fn scenario(times: Option<u32>) -> String {
    let mut s = String::from(
        "minute_ms = 5\nclock_minute_ms = 60\n[[outcome]]\ntemplate = \"rcv-base-*\"\nresult = \"provision-fail\"\n",
    );
    if let Some(n) = times {
        s.push_str(&format!("times = {n}\n"));
    }
    s
}

/// Every `run` POST the simulator received started a build: none was refused.
fn assert_no_refused_run(sim: &super::support::Sim) {
    let st = stats(sim);
    let started: u64 = runs(&st).values().sum();
    assert_eq!(
        req(&st, "imageTemplates.run"),
        started,
        "a run was POSTed to a template that could not run: {st}"
    );
}

fn base_template(sim: &super::support::Sim) -> Option<serde_json::Value> {
    fleet::templates(sim).into_iter().find(|t| {
        t["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("rcv-base-dev-"))
    })
}

#[test]
fn a_failed_template_is_reported_then_deleted_and_deployed_again() {
    let dir = manifest_dir(MANIFEST, &[]);
    let d = dir.path();
    let sim = sim(d, &scenario(Some(1)));

    // First build: base's template fails to provision; app (built from it) is skipped.
    let (code, out, err) = run(d, &sim, &["build", "--report-json", "first.json"]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let report = fleet::report(d, "first.json");
    let statuses = fleet::statuses(&report);
    assert_eq!(statuses["dev/base"], "failed", "{statuses:?}");
    assert_eq!(statuses["dev/app"], "skipped", "{statuses:?}");
    let base = report["units"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["id"] == "dev/base"))
        .cloned()
        .expect("dev/base in the report");
    let failure = &base["failure"];
    assert_eq!(failure["stage"], "deploy", "{failure}");
    let message = failure["message"].as_str().unwrap_or_default();
    for want in [
        "failed to provision",
        "AuthorizationFailed",
        "id-aib",
        "lacks a role",
        "deletes the failed template and deploys it again",
    ] {
        assert!(message.contains(want), "`{want}` not in: {message}");
    }
    let t = base_template(&sim).expect("the failed template stays in Azure");
    assert_eq!(t["properties"]["provisioningState"], "Failed");
    assert_no_refused_run(&sim);
    assert_eq!(runs(&stats(&sim)).len(), 0, "nothing was built");

    // Second build: the failed template is deleted and deployed again (it succeeds now).
    let (code, out, err) = run(d, &sim, &["build", "--report-json", "second.json"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("it can never run, so it is deleted and deployed again"),
        "{err}"
    );
    let statuses = fleet::statuses(&fleet::report(d, "second.json"));
    assert_eq!(statuses["dev/base"], "succeeded", "{statuses:?}");
    assert_eq!(statuses["dev/app"], "succeeded", "{statuses:?}");
    assert!(req(&stats(&sim), "imageTemplates.delete") >= 1);
    assert_no_refused_run(&sim);
    fleet::assert_state_parses(d);
}

#[test]
fn retry_failed_replaces_the_failed_template_too() {
    let dir = manifest_dir(MANIFEST, &[]);
    let d = dir.path();
    let sim = sim(d, &scenario(Some(1)));
    let (code, _, err) = run(d, &sim, &["build"]);
    assert_eq!(code, 1, "{err}");
    let (code, out, err) = run(
        d,
        &sim,
        &["build", "--retry-failed", "--report-json", "retry.json"],
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let statuses = fleet::statuses(&fleet::report(d, "retry.json"));
    assert_eq!(statuses["dev/base"], "succeeded", "{statuses:?}");
    let t = base_template(&sim);
    assert!(
        t.as_ref()
            .is_none_or(|t| t["properties"]["provisioningState"] != "Failed"),
        "a failed template is left: {t:?}"
    );
    assert_no_refused_run(&sim);
}

#[test]
fn gc_removes_a_failed_template_nothing_rebuilds() {
    let dir = manifest_dir(MANIFEST, &[]);
    let d = dir.path();
    // Every creation fails: the template stays Failed after the build.
    let sim = sim(d, &scenario(None));
    let (code, _, err) = run(d, &sim, &["build"]);
    assert_eq!(code, 1, "{err}");
    assert!(base_template(&sim).is_some());
    let (code, out, err) = run(d, &sim, &["gc", "--dry-run", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).expect("gc json");
    let planned: Vec<&str> = plan["delete"]
        .as_array()
        .expect("delete")
        .iter()
        .filter(|x| x["kind"] == "template")
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert!(
        planned.iter().any(|n| n.starts_with("rcv-base-dev-")),
        "gc does not plan the failed template: {out}"
    );
    let (code, out, err) = run(d, &sim, &["gc"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        base_template(&sim).is_none(),
        "the failed template is still there"
    );
    assert_no_refused_run(&sim);
}
