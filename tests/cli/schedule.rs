//! `aib schedule --once` end to end.

use super::support::{aib, repo_root};

#[test]
fn nothing_due_prints_so_and_exits_zero() {
    // Wednesday noon UTC: the linux-fleet pipeline schedules only Sunday 04:00 Amsterdam.
    let out = aib(
        &repo_root(),
        &[
            "schedule",
            "pipelines/linux-fleet/aib.toml",
            "--once",
            "--now",
            "2026-11-25T12:00:00Z",
        ],
    );
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stdout
            .contains("no schedule due at 2026-11-25T12:00:00Z"),
        "{}",
        out.stdout
    );
}

#[test]
fn invalid_now_exits_two() {
    let out = aib(
        &repo_root(),
        &[
            "schedule",
            "pipelines/linux-fleet/aib.toml",
            "--once",
            "--now",
            "yesterday",
        ],
    );
    assert_eq!(
        out.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert!(out.stderr.contains("RFC 3339"), "{}", out.stderr);
}

#[test]
fn now_requires_once() {
    let out = aib(
        &repo_root(),
        &[
            "schedule",
            "pipelines/linux-fleet/aib.toml",
            "--now",
            "2026-11-25T12:00:00Z",
        ],
    );
    assert_eq!(
        out.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
}

const CI_FLEET: &str = r#"
version = 1

[pipeline]
name = "cish"

[defaults]
location = "eastus2"
resource_group = "rg-{{ env }}"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = { name = "gal_{{ env }}" }
version = "date"
subscription = "00000000-0000-0000-0000-000000000001"

[environments.dev]

[environments.prod]
after = ["dev"]

[variants.base]
image_definition = "base"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [ { type = "shell", name = "harden", inline = ["echo harden"] } ]

[schedules.nightly]
cron = "0 3 * * *"
timezone = "Europe/Berlin"
"#;

/// The CI trigger path (`aib ci` workflows): `--once --within W --env E` builds a schedule
/// whose due time lies in the last W, for shard E only, and a second trigger for the same due
/// time (late, early, or another runner on the same state) builds nothing.
#[test]
fn within_builds_a_missed_due_time_once_per_shard() {
    use super::support::{aib_cmd, sim};
    let dir = super::support::manifest_dir(CI_FLEET, &[]);
    let sim = sim(dir.path(), "minute_ms = 5\n");
    let run = |now: &str, extra: &[&str]| {
        let mut args = vec!["schedule", "--once", "--now", now, "--within", "2h"];
        args.extend_from_slice(extra);
        let out = aib_cmd(dir.path(), &sim, &args)
            .output()
            .expect("run aib schedule");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // 03:00 in Berlin on 2 Jan 2020 is 02:00 UTC; a trigger 40 minutes late still builds it.
    let (code, out, err) = run("2020-01-02T02:40:00Z", &["--env", "dev"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("schedule `nightly` due at 2020-01-02T02:00:00"),
        "{err}"
    );
    assert!(err.contains("building environments [dev]"), "{err}");
    assert!(out.contains("dev/base"), "{out}");
    assert!(!out.contains("prod/base"), "only the dev shard: {out}");

    // The DST twin trigger an hour later, for the same shard: already built.
    let (code, out, err) = run("2020-01-02T03:40:00Z", &["--env", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("no schedule due in the 2h before 2020-01-02T03:40:00Z that has not run"),
        "stdout:\n{out}\nstderr:\n{err}"
    );

    // Outside the window nothing is due at all.
    let (code, out, _) = run("2020-01-02T05:00:00Z", &["--env", "dev"]);
    assert_eq!(code, 0);
    assert!(out.contains("no schedule due"), "{out}");

    // An environment the schedule does not cover: nothing to build for that shard.
    let (code, out, _) = run("2020-01-02T02:40:00Z", &["--env", "staging"]);
    assert_eq!(code, 0);
    assert!(out.contains("no schedule due"), "{out}");
}

#[test]
fn within_needs_once_and_a_duration() {
    let root = repo_root();
    let out = aib(
        &root,
        &[
            "schedule",
            "pipelines/linux-fleet/aib.toml",
            "--within",
            "2h",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = aib(
        &root,
        &[
            "schedule",
            "pipelines/linux-fleet/aib.toml",
            "--once",
            "--within",
            "soon",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("not a duration"), "{}", out.stderr);
}

/// A CI tick: `schedule --once --within W --detach` starts the due schedule's build detached
/// (recording when the schedule fired), a later tick finds that due time built, and
/// `resume --all` finishes the run.
#[test]
fn once_detach_starts_the_due_build_detached_and_records_when_it_fired() {
    use super::support::{run, sim};
    let dir = super::support::manifest_dir(CI_FLEET, &[]);
    let d = dir.path();
    let sim = sim(d, "minute_ms = 5\n");
    let tick = |now: &str| {
        run(
            d,
            &sim,
            &[
                "schedule", "--once", "--now", now, "--within", "2h", "--detach",
            ],
        )
    };
    let (code, out, err) = tick("2020-01-02T02:40:00Z");
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("detached"), "{out}");
    let runs: Vec<_> = std::fs::read_dir(d.join(".aib/runs"))
        .expect("runs")
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1);
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(runs[0].path().join("run.json")).expect("run.json"),
    )
    .expect("parses");
    assert_eq!(rec["status"], "detached", "{rec}");
    assert_eq!(rec["trigger"]["name"], "nightly");
    assert_eq!(rec["trigger"]["due"], "2020-01-02T02:00:00.000Z", "{rec}");

    let (code, out, err) = tick("2020-01-02T03:40:00Z");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("that has not run"), "{out}\n{err}");

    let (code, out, err) = run(d, &sim, &["resume", "--all"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("dev/base") && out.contains("prod/base"),
        "{out}"
    );
}
