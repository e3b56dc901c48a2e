//! Incremental builds, `plan --refresh`, `--retry-failed` (also after kill -9) and
//! `schedule` catch-up, end to end: the `aib` binary against `aib sim` (a child process).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::support::{Sim, aib_cmd, manifest_dir, run, sim};

const FLEET: &str = r#"
version = 1

[pipeline]
name = "inc"

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
customize = [ { type = "shell", name = "harden", script = "scripts/harden.sh" } ]

[variants.app]
image_definition = "app"
source = { variant = "base" }
customize = [ { type = "shell", name = "app", inline = ["echo app"] } ]

[variants.web]
image_definition = "web"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [ { type = "shell", name = "web", inline = ["echo web"] } ]

[variants.win]
image_definition = "win"
source = { platform = "MicrosoftWindowsDesktop:windows-11:win11-24h2-ent:latest" }
customize = [ { type = "powershell", name = "tools", inline = ["echo tools"] } ]
"#;

const UNITS: [&str; 4] = ["dev/app", "dev/base", "dev/web", "dev/win"];

fn http(sim: &Sim, method: &str, path: &str, body: &str) -> serde_json::Value {
    let addr = sim.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let _ = write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let json = resp.split("\r\n\r\n").nth(1).unwrap_or("{}");
    serde_json::from_str(json).unwrap_or_default()
}

fn stats(sim: &Sim) -> serde_json::Value {
    http(sim, "GET", "/_sim/stats", "")
}

fn req(stats: &serde_json::Value, op: &str) -> u64 {
    stats["requests"][op].as_u64().unwrap_or(0)
}

/// `run` POSTs that started a build, per template name.
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

/// Templates (by their `inc-<variant>-dev-` prefix) whose run count grew between two stats.
fn rebuilt(before: &serde_json::Value, after: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = runs(after)
        .into_iter()
        .filter(|(k, n)| *n > before["runs"][k].as_u64().unwrap_or(0))
        .map(|(k, _)| {
            k.strip_prefix("inc-")
                .and_then(|r| r.split('-').next())
                .unwrap_or(&k)
                .to_string()
        })
        .collect();
    out.sort();
    out
}

/// `unit → status` from a JSON report.
fn statuses(dir: &Path, report: &str) -> Vec<(String, String)> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(report)).expect("report written"))
            .expect("report json");
    let mut out: Vec<(String, String)> = v["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap_or_default().to_string(),
                u["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// `unit → action` from `plan --refresh --format json`.
fn refreshed_actions(dir: &Path, sim: &Sim) -> Vec<(String, String)> {
    let (code, out, err) = run(dir, sim, &["plan", "--refresh", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("plan json");
    let mut a: Vec<(String, String)> = v["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap_or_default().to_string(),
                u["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    a.sort();
    a
}

fn expect(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

/// The build statuses a refreshed plan predicts.
fn as_statuses(actions: &[(String, String)]) -> Vec<(String, String)> {
    actions
        .iter()
        .map(|(id, a)| {
            let s = if a == "unchanged" {
                "unchanged"
            } else {
                "succeeded"
            };
            (id.clone(), s.to_string())
        })
        .collect()
}

fn build(dir: &Path, sim: &Sim, extra: &[&str]) -> Vec<(String, String)> {
    let mut args = vec!["build", "--report-json", "report.json"];
    args.extend_from_slice(extra);
    let (code, out, err) = run(dir, sim, &args);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    statuses(dir, "report.json")
}

const FAST: &str = "minute_ms = 5\nclock_minute_ms = 60\n";

/// `unit → (template_name, input_hash)` of a JSON document with a `units` array.
fn names_and_hashes(v: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = v["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|u| {
            let s = |k: &str| u[k].as_str().unwrap_or_default().to_string();
            (s("id"), s("template_name"), s("input_hash"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn plan_refresh_shows_the_template_names_and_hashes_the_build_uses() {
    let dir = manifest_dir(FLEET, &[("scripts/harden.sh", "echo harden v1\n")]);
    let d = dir.path();
    let sim = sim(d, FAST);
    let plan = |refresh: bool| {
        let mut args = vec!["plan", "--format", "json"];
        if refresh {
            args.push("--refresh");
        }
        let (code, out, err) = run(d, &sim, &args);
        assert_eq!(code, 0, "{err}");
        names_and_hashes(&serde_json::from_str(&out).expect("plan json"))
    };
    // The run record of the latest build.
    let last_run = || {
        let runs = d.join(".aib").join("runs");
        let mut ids: Vec<_> = std::fs::read_dir(&runs)
            .expect("runs")
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        ids.sort();
        let id = ids.last().expect("a run").clone();
        let text = std::fs::read_to_string(runs.join(id).join("run.json")).expect("run.json");
        names_and_hashes(&serde_json::from_str(&text).expect("run json"))
    };
    // Units whose plan marks their names provisional.
    let provisional = |refresh: bool| {
        let mut args = vec!["plan", "--format", "json"];
        if refresh {
            args.push("--refresh");
        }
        let (code, out, err) = run(d, &sim, &args);
        assert_eq!(code, 0, "{err}");
        let json: serde_json::Value = serde_json::from_str(&out).expect("plan json");
        json["units"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|u| u["provisional"] == true)
            .filter_map(|u| u["id"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
    };
    // Offline, `latest` is not pinned: the plan shows the preview hash and name, and says so.
    let offline = plan(false);
    assert_eq!(
        provisional(false),
        ["dev/base", "dev/app", "dev/web", "dev/win"]
    );
    let refreshed = plan(true);
    // Refreshed, only the unit built from a parent not built yet stays provisional.
    assert_eq!(provisional(true), ["dev/app"]);
    build(d, &sim, &[]);
    assert_eq!(provisional(true), Vec::<String>::new());
    let built = last_run();
    assert_ne!(offline, built, "the fleet has `latest` sources");
    // Units with a platform source: the refreshed plan names what the build used. dev/app is
    // built from dev/base, whose new version exists only once it is built.
    let without_app = |v: &[(String, String, String)]| {
        v.iter()
            .filter(|(id, ..)| id != "dev/app")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(without_app(&refreshed), without_app(&built));
    // Nothing changed since: every unit, dev/app included, shows what the last build used.
    assert_eq!(plan(true), built);
}

#[test]
fn only_what_changed_rebuilds_and_plan_refresh_agrees() {
    let dir = manifest_dir(FLEET, &[("scripts/harden.sh", "echo harden v1\n")]);
    let d = dir.path();
    let sim = sim(d, FAST);
    let all = |s: &str| expect(&UNITS.map(|u| (u, s)));

    // First build: everything.
    assert_eq!(build(d, &sim, &[]), all("succeeded"));

    // (a) Nothing changed: nothing starts; one gallery GET per unit, one platform lookup per image.
    assert_eq!(refreshed_actions(d, &sim), all("unchanged"));
    let before = stats(&sim);
    assert_eq!(build(d, &sim, &[]), all("unchanged"));
    let after = stats(&sim);
    assert_eq!(
        req(&after, "deployments.put"),
        req(&before, "deployments.put")
    );
    assert_eq!(
        req(&after, "imageTemplates.run"),
        req(&before, "imageTemplates.run")
    );
    assert_eq!(
        req(&after, "galleryImageVersions.get") - req(&before, "galleryImageVersions.get"),
        4
    );
    assert_eq!(
        req(&after, "platformImageVersions.list") - req(&before, "platformImageVersions.list"),
        2
    );
    assert_eq!(rebuilt(&before, &after), Vec::<String>::new());

    // (b, d) A referenced script edited: that unit and the unit built from it rebuild.
    std::fs::write(d.join("scripts/harden.sh"), "echo harden v2\n").expect("edit");
    let predicted = refreshed_actions(d, &sim);
    assert_eq!(
        predicted,
        expect(&[
            ("dev/base", "build"),
            ("dev/app", "build"),
            ("dev/web", "unchanged"),
            ("dev/win", "unchanged"),
        ])
    );
    let before = stats(&sim);
    assert_eq!(build(d, &sim, &[]), as_statuses(&predicted));
    assert_eq!(rebuilt(&before, &stats(&sim)), ["app", "base"]);

    // (c) A newer platform image: the units on `latest` of that image rebuild, and their children.
    http(
        &sim,
        "POST",
        "/_sim/publish",
        r#"{"image":"Canonical:ubuntu-24_04-lts:server","version":"1.0.1"}"#,
    );
    let predicted = refreshed_actions(d, &sim);
    assert_eq!(
        predicted,
        expect(&[
            ("dev/base", "build"),
            ("dev/app", "build"),
            ("dev/web", "build"),
            ("dev/win", "unchanged"),
        ])
    );
    let before = stats(&sim);
    assert_eq!(build(d, &sim, &[]), as_statuses(&predicted));
    assert_eq!(rebuilt(&before, &stats(&sim)), ["app", "base", "web"]);
    assert_eq!(refreshed_actions(d, &sim), all("unchanged"));

    // (e) --force rebuilds everything.
    let before = stats(&sim);
    assert_eq!(build(d, &sim, &["--force"]), all("succeeded"));
    assert_eq!(
        rebuilt(&before, &stats(&sim)),
        ["app", "base", "web", "win"]
    );

    // The text plan shows the decision too.
    let (code, out, err) = run(d, &sim, &["plan", "--refresh"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("unchanged"), "{out}");
    assert!(
        err.contains("dev/win: unchanged (inputs unchanged since run"),
        "{err}"
    );
}

#[test]
fn a_deleted_image_version_rebuilds_its_unit_and_children() {
    let dir = manifest_dir(FLEET, &[("scripts/harden.sh", "echo harden\n")]);
    let d = dir.path();
    let sim = sim(d, FAST);
    build(d, &sim, &[]);
    // The index points at an image version the gallery no longer has.
    let index_path = d.join(".aib").join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&index_path).expect("index")).expect("json");
    let v = index["units"]["dev/base"]["image_version_id"]
        .as_str()
        .expect("base version")
        .to_string();
    index["units"]["dev/base"]["image_version_id"] =
        serde_json::Value::String(v.replace("/versions/", "/versions/9"));
    std::fs::write(&index_path, index.to_string()).expect("write index");
    let predicted = refreshed_actions(d, &sim);
    assert_eq!(
        predicted,
        expect(&[
            ("dev/base", "build"),
            ("dev/app", "build"),
            ("dev/web", "unchanged"),
            ("dev/win", "unchanged"),
        ])
    );
    assert_eq!(build(d, &sim, &[]), as_statuses(&predicted));
}

#[test]
fn retry_failed_rebuilds_only_failed_and_skipped_units_with_the_same_inputs() {
    let dir = manifest_dir(FLEET, &[("scripts/harden.sh", "echo harden\n")]);
    let d = dir.path();
    let failing = sim(
        d,
        "minute_ms = 5\nclock_minute_ms = 60\n[[outcome]]\ntemplate = \"inc-base-dev-*\"\nresult = \"fail\"\nfailed_customizer = \"harden\"\n",
    );
    let (code, out, err) = run(d, &failing, &["build", "--report-json", "first.json"]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        statuses(d, "first.json"),
        expect(&[
            ("dev/base", "failed"),
            ("dev/app", "skipped"),
            ("dev/web", "succeeded"),
            ("dev/win", "succeeded"),
        ])
    );
    let first: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("first.json")).expect("report"))
            .expect("json");
    let first_run = first["run_id"].as_str().expect("run id").to_string();
    drop(failing);

    // Meanwhile a newer image is published: the retry still builds from the version the
    // failed run resolved (same template name, same input hash).
    let fixed = sim(d, FAST);
    http(
        &fixed,
        "POST",
        "/_sim/publish",
        r#"{"image":"Canonical:ubuntu-24_04-lts:server","version":"2.0.0"}"#,
    );
    let (code, out, err) = run(
        d,
        &fixed,
        &["build", "--retry-failed", "--report-json", "retry.json"],
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains(&format!("retrying 2 units of run {first_run}")),
        "{err}"
    );
    assert_eq!(
        statuses(d, "retry.json"),
        expect(&[("dev/base", "succeeded"), ("dev/app", "succeeded")])
    );
    assert_eq!(
        rebuilt(&serde_json::json!({}), &stats(&fixed)),
        ["app", "base"]
    );
    let first_rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join(".aib/runs").join(&first_run).join("run.json"))
            .expect("run.json"),
    )
    .expect("json");
    let retry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("retry.json")).expect("report"))
            .expect("json");
    let retry_rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            d.join(".aib/runs")
                .join(retry["run_id"].as_str().expect("id"))
                .join("run.json"),
        )
        .expect("run.json"),
    )
    .expect("json");
    let unit = |rec: &serde_json::Value, id: &str| {
        rec["units"]
            .as_array()
            .and_then(|u| u.iter().find(|u| u["id"] == id).cloned())
            .unwrap_or_default()
    };
    assert_eq!(unit(&retry_rec, "dev/base")["source_version"], "1.0.0");
    assert_eq!(
        unit(&retry_rec, "dev/base")["input_hash"],
        unit(&first_rec, "dev/base")["input_hash"]
    );
    assert_eq!(retry_rec["selection"]["retry_failed"], first_run.as_str());

    // Nothing left to retry.
    let (code, out, _) = run(d, &fixed, &["build", "--retry-failed"]);
    assert_eq!(code, 0);
    assert!(out.contains("nothing to retry"), "{out}");
}

#[test]
fn after_kill_9_retry_failed_finishes_the_batch_without_starting_a_build_twice() {
    let dir = manifest_dir(FLEET, &[("scripts/harden.sh", "echo harden\n")]);
    let d = dir.path();
    // Builds take 1 s: the kill lands while they run.
    let sim = sim(
        d,
        "minute_ms = 5\nclock_minute_ms = 60\nbuild_minutes = 200\n",
    );
    let mut child = aib_cmd(d, &sim, &["build"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn aib build");
    let deadline = Instant::now() + Duration::from_secs(60);
    while req(&stats(&sim), "imageTemplates.run") < 3 {
        assert!(Instant::now() < deadline, "no run POSTs: {}", stats(&sim));
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    // The dead run holds the lock and looks running.
    assert!(d.join(".aib/lock").exists());

    let (code, out, err) = run(
        d,
        &sim,
        &["build", "--retry-failed", "--report-json", "retry.json"],
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("taking it over"), "{err}");
    let done = statuses(d, "retry.json");
    assert!(done.iter().all(|(_, s)| s == "succeeded"), "{done:?}");
    assert!(done.iter().any(|(id, _)| id == "dev/app"), "{done:?}");
    let counts = runs(&stats(&sim));
    assert_eq!(counts.len(), 4, "{counts:?}");
    assert!(counts.iter().all(|(_, n)| *n == 1), "{counts:?}");

    // The crashed run is marked interrupted; together the two runs built the whole fleet.
    let (code, out, _) = run(d, &sim, &["history"]);
    assert_eq!(code, 0);
    assert!(out.contains("interrupted"), "{out}");
    let before = stats(&sim);
    assert_eq!(
        build(d, &sim, &[]),
        expect(&UNITS.map(|u| (u, "unchanged")))
    );
    assert_eq!(rebuilt(&before, &stats(&sim)), Vec::<String>::new());
}

const SCHEDULED: &str = r#"
[schedules.yearly]
cron = "0 0 1 1 *"
timezone = "UTC"
environments = ["dev"]
variants = ["web"]
catch_up = true
"#;

/// Lines of a child's stderr, as they come.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, needle: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) => {
                let hit = l.contains(needle);
                seen.push(l);
                if hit {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

#[test]
fn catch_up_runs_a_missed_due_time_once_and_not_again() {
    let text = format!("{FLEET}{SCHEDULED}");
    let dir = manifest_dir(&text, &[("scripts/harden.sh", "echo harden\n")]);
    let d = dir.path();
    let sim = sim(d, FAST);

    // Never ran: the due time of 1 January was missed, so the service builds at start.
    let mut service = aib_cmd(d, &sim, &["schedule"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn schedule");
    let rx = lines(&mut service);
    let mut seen = Vec::new();
    let ended = wait_for(
        &rx,
        &mut seen,
        "schedule `yearly`: build ended with exit code 0",
    );
    let _ = service.kill();
    let _ = service.wait();
    assert!(ended, "{}", seen.join("\n"));
    assert!(
        seen.iter()
            .any(|l| l.contains("catch_up: schedule `yearly` last due at")
                && l.contains("was missed: running it now")),
        "{}",
        seen.join("\n")
    );
    let built = stats(&sim);
    assert_eq!(rebuilt(&serde_json::json!({}), &built), ["web"]);

    // Started again: that due time has its run now; nothing is built.
    let mut service = aib_cmd(d, &sim, &["schedule"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn schedule");
    let rx = lines(&mut service);
    let mut seen = Vec::new();
    let next = wait_for(&rx, &mut seen, "next: yearly at");
    let _ = service.kill();
    let _ = service.wait();
    assert!(next, "{}", seen.join("\n"));
    assert!(
        seen.iter().any(|l| l.contains("already ran (run ")),
        "{}",
        seen.join("\n")
    );
    assert!(
        !seen.iter().any(|l| l.contains("was missed")),
        "{}",
        seen.join("\n")
    );
    assert_eq!(rebuilt(&built, &stats(&sim)), Vec::<String>::new());
}
