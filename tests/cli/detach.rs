//! Detached runs end to end against `aib sim`: `aib build --detach` starts what is ready and
//! exits 0; `aib resume --detach` ticks advance the run (the run is `detached` between them)
//! until it ends with the code one `aib build` would have given, each template run once;
//! `aib resume` follows a run to the end; a tick killed at a point chosen by what the simulator
//! and the state show (deploy, build start, progress reads, verify, cleanup, after event writes)
//! loses nothing; a resume that finds another holding the lock exits 0 saying so.

use std::path::Path;
use std::process::Stdio;

use super::fleet::{self, CHILDREN, PARENTS};
use super::support::{Sim, aib_cmd, manifest_dir, run, sim};

fn run_record(d: &Path) -> serde_json::Value {
    let dirs = fleet::run_dirs(d);
    assert_eq!(dirs.len(), 1, "one run: {dirs:?}");
    let text = std::fs::read_to_string(dirs[0].join("run.json")).expect("run.json");
    serde_json::from_str(&text).expect("run.json parses")
}

fn status(d: &Path) -> String {
    run_record(d)["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Ticks `aib resume --detach` until the run ends; returns the last tick's exit and output
/// and how many ticks it took.
fn tick_to_end(d: &Path, sim: &Sim, extra: &[&str]) -> (i32, String, String, usize) {
    let mut args = vec!["resume", "--detach"];
    args.extend_from_slice(extra);
    for n in 1..=2000 {
        let (code, out, err) = run(d, sim, &args);
        let st = status(d);
        if st != "detached" {
            return (code, out, err, n);
        }
        assert_eq!(code, 0, "tick {n} of a detached run\n{out}\n{err}");
        // Azure time passes between ticks (10 ms per simulated minute).
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the run did not end in 2000 ticks");
}

fn assert_built_once(d: &Path, sim: &Sim, context: &str) {
    let runs = fleet::runs(&fleet::stats(sim));
    assert_eq!(runs.len(), PARENTS + CHILDREN, "{context}: {runs:?}");
    assert!(
        runs.values().all(|&n| n == 1),
        "{context}: a template ran twice: {runs:?}"
    );
    let rec = run_record(d);
    for u in rec["units"].as_array().expect("units") {
        assert_eq!(u["status"], "succeeded", "{context}: {u}");
        let builds = u["stages"]
            .as_array()
            .map(|s| s.iter().filter(|s| s["name"] == "build").count())
            .unwrap_or(0);
        assert_eq!(builds, 1, "{context}: one build stage per unit: {u}");
    }
    // Nothing left to build; cleanup removed every template.
    let (code, out, err) = run(d, sim, &["build", "--report-json", "after.json"]);
    assert_eq!(code, 0, "{context}: build after\n{out}\n{err}");
    let after = fleet::statuses(&fleet::report(d, "after.json"));
    assert!(
        after.values().all(|s| s == "unchanged"),
        "{context}: {after:?}"
    );
    assert!(
        fleet::templates(sim).is_empty(),
        "{context}: templates left"
    );
}

#[test]
fn a_detached_build_finishes_through_ticks_with_each_template_run_once() {
    let dir = manifest_dir(&fleet::manifest(), &[]);
    let d = dir.path();
    let sim = sim(d, "minute_ms = 10\n");
    let (code, out, err) = run(d, &sim, &["build", "--detach", "--max-parallel", "8"]);
    assert_eq!(code, 0, "build --detach\n{out}\n{err}");
    let rec = run_record(d);
    let run_id = rec["run_id"].as_str().expect("run id").to_string();
    assert!(
        out.contains(&format!("run {run_id} detached")) && out.contains("aib resume"),
        "{out}"
    );
    assert_eq!(rec["status"], "detached");
    assert!(rec["finished"].is_null(), "{rec}");
    assert_eq!(rec["resume"]["max_parallel"], 8, "{rec}");
    // The first process started what was ready, within the cap, and followed none of it.
    let running = rec["units"]
        .as_array()
        .expect("units")
        .iter()
        .filter(|u| u["status"] == "running")
        .count();
    assert!((1..=8).contains(&running), "{running} running: {rec}");
    // gc leaves the templates a detached run is building.
    let (code, out, err) = run(d, &sim, &["gc", "--dry-run"]);
    assert_eq!(code, 0, "{out}\n{err}");
    for u in rec["units"].as_array().expect("units") {
        let name = u["template_name"].as_str().unwrap_or_default();
        if u["status"] == "running" {
            assert!(!out.contains(name), "gc would delete {name}: {out}");
        }
    }
    let (code, out, _) = run(d, &sim, &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("detached"), "status shows detached: {out}");
    assert!(!out.contains("interrupted"), "{out}");

    let (code, out, err, ticks) = tick_to_end(d, &sim, &["--report-json", "tick.json"]);
    assert_eq!(code, 0, "the last tick gives the run's code\n{out}\n{err}");
    assert!(ticks > 1, "{ticks} ticks");
    assert_eq!(status(d), "succeeded");
    let report = fleet::report(d, "tick.json");
    assert_eq!(report["status"], "succeeded", "{report}");
    fleet::assert_common(d, &sim, &err, "ticks");
    assert_built_once(d, &sim, "ticks");
    // Resuming an ended run says so and gives its code.
    let (code, out, _) = run(d, &sim, &["resume", &run_id]);
    assert_eq!(code, 0);
    assert!(out.contains("already ended succeeded"), "{out}");
    let (code, out, _) = run(d, &sim, &["resume", "--all"]);
    assert_eq!(code, 0);
    assert!(out.contains("no unfinished run"), "{out}");
}

#[test]
fn resume_without_detach_follows_the_run_to_its_end_and_a_failure_gives_1() {
    let dir = manifest_dir(&fleet::manifest(), &[]);
    let d = dir.path();
    let scenario = format!(
        "minute_ms = 10\n[[outcome]]\ntemplate = \"{}\"\nresult = \"fail\"\nfailed_customizer = \"harden\"\n",
        fleet::template_glob("v00")
    );
    let sim = sim(d, &scenario);
    let (code, out, err) = run(d, &sim, &["build", "--detach"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(d, &sim, &["resume", "--report-json", "end.json"]);
    assert_eq!(code, 1, "v00 failed\n{out}\n{err}");
    let report = fleet::report(d, "end.json");
    let st = fleet::statuses(&report);
    assert_eq!(st["dev/v00"], "failed", "{st:?}");
    assert_eq!(st["dev/c00"], "skipped", "{st:?}");
    assert_eq!(st["dev/v01"], "succeeded", "{st:?}");
    fleet::assert_failure_logs(d, &report, "resume");
    assert_eq!(status(d), "failed");
    let runs = fleet::runs(&fleet::stats(&sim));
    assert!(runs.values().all(|&n| n == 1), "{runs:?}");
}

/// Where a tick is killed: the operations the simulator holds the answers of while the tick
/// runs (their requests take effect), and the condition that, once seen, kills it.
struct KillPoint {
    name: &'static str,
    hold: &'static [&'static str],
    /// Seen since the tick started: (held answers, new event lines of the run).
    reached: fn(u64, usize) -> bool,
}

fn event_lines(d: &Path) -> usize {
    fleet::run_dirs(d)
        .iter()
        .filter_map(|r| std::fs::read_to_string(r.join("events.ndjson")).ok())
        .map(|t| t.lines().count())
        .sum()
}

fn held(sim: &Sim) -> u64 {
    fleet::stats(sim)["held"].as_u64().unwrap_or(0)
}

fn control(sim: &Sim, body: &str) {
    let (code, v) = fleet::http_json(sim, "POST", "/_sim/control", body);
    assert_eq!(code, 200, "{v}");
}

/// Ticks until one reaches the kill point and is killed there (SIGKILL); the next ticks
/// finish the run with no template run twice.
fn kill_a_tick_at(p: KillPoint) {
    let name = p.name;
    let dir = manifest_dir(&fleet::manifest(), &[]);
    let d = dir.path();
    let sim = sim(d, "minute_ms = 10\n");
    let (code, out, err) = run(d, &sim, &["build", "--detach", "--max-parallel", "6"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let mut killed = false;
    for _ in 0..400 {
        if status(d) != "detached" {
            break;
        }
        if !p.hold.is_empty() {
            let ops: Vec<String> = p.hold.iter().map(|o| format!("\"{o}\"")).collect();
            control(&sim, &format!("{{\"hold\":[{}]}}", ops.join(",")));
        }
        let (held0, lines0) = (held(&sim), event_lines(d));
        let mut child = aib_cmd(d, &sim, &["resume", "--detach"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn resume");
        let mut ended = false;
        fleet::wait_until(
            &format!("[{name}] the tick ends or reaches the point"),
            || {
                ended = child.try_wait().ok().flatten().is_some();
                ended || (p.reached)(held(&sim).saturating_sub(held0), event_lines(d) - lines0)
            },
        );
        if !ended {
            child.kill().expect("SIGKILL");
            killed = true;
        }
        let _ = child.wait();
        control(&sim, r#"{"release":["*"]}"#);
        fleet::assert_state_parses(d);
        if killed {
            break;
        }
        // Azure time passes between ticks (10 ms per simulated minute).
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(killed, "[{name}] no tick reached the kill point");
    let (code, out, err, _) = tick_to_end(d, &sim, &[]);
    let context = format!("killed at {name}");
    assert_eq!(code, 0, "{context}\n{out}\n{err}");
    fleet::assert_common(d, &sim, &err, &context);
    assert_built_once(d, &sim, &context);
}

#[test]
fn a_tick_killed_after_a_deployment_was_submitted_loses_nothing() {
    kill_a_tick_at(KillPoint {
        name: "deploy submitted",
        hold: &["deployments.put"],
        reached: |held, _| held >= 1,
    });
}

#[test]
fn a_tick_killed_after_a_build_was_started_loses_nothing() {
    kill_a_tick_at(KillPoint {
        name: "run POSTed",
        hold: &["imageTemplates.run"],
        reached: |held, _| held >= 1,
    });
}

#[test]
fn a_tick_killed_during_verify_loses_nothing() {
    kill_a_tick_at(KillPoint {
        name: "verify",
        hold: &["galleryImageVersions.get"],
        reached: |held, _| held >= 1,
    });
}

#[test]
fn a_tick_killed_during_cleanup_loses_nothing() {
    kill_a_tick_at(KillPoint {
        name: "cleanup",
        hold: &["imageTemplates.delete"],
        reached: |held, _| held >= 1,
    });
}

#[test]
fn a_tick_killed_while_it_reads_the_progress_of_builds_loses_nothing() {
    kill_a_tick_at(KillPoint {
        name: "reading progress",
        hold: &["imageTemplates.list"],
        reached: |held, _| held >= 1,
    });
}

#[test]
fn a_tick_killed_after_it_recorded_progress_loses_nothing() {
    // The tick has written events and waits for a delete to be answered.
    kill_a_tick_at(KillPoint {
        name: "events written, cleanup unanswered",
        hold: &["imageTemplates.delete"],
        reached: |held, lines| held >= 1 && lines >= 1,
    });
}

#[test]
fn a_resume_finding_another_resume_holding_the_lock_exits_0() {
    let dir = manifest_dir(&fleet::manifest(), &[]);
    let d = dir.path();
    let sim = sim(d, "minute_ms = 50\n");
    let (code, out, err) = run(d, &sim, &["build", "--detach"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let mut follower = aib_cmd(d, &sim, &["resume"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn resume");
    fleet::wait_until("the follower holds the lock", || {
        d.join(".aib/lock").exists() || d.join(".aib/lock.json").exists()
    });
    let (code, out, err) = run(d, &sim, &["resume", "--detach", "--lock-timeout", "0"]);
    let _ = follower.wait();
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("nothing to do"), "{err}");
}

fn run_ids(d: &Path) -> Vec<String> {
    fleet::run_dirs(d)
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect()
}

fn record_of(d: &Path, id: &str) -> serde_json::Value {
    let text =
        std::fs::read_to_string(d.join(".aib/runs").join(id).join("run.json")).expect("run.json");
    serde_json::from_str(&text).expect("parses")
}

#[test]
fn a_new_run_leaves_units_of_unfinished_runs_and_cancel_frees_them() {
    let dir = manifest_dir(&fleet::manifest(), &[]);
    let d = dir.path();
    let sim = sim(d, "minute_ms = 50\n");
    let (code, out, err) = run(
        d,
        &sim,
        &[
            "build", "--detach", "--unit", "dev/v00", "--unit", "dev/v01",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let first = run_ids(d).pop().expect("run");
    let (code, out, err) = run(
        d,
        &sim,
        &[
            "build",
            "--detach",
            "--env",
            "dev",
            "--report-json",
            "second.json",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("leaving 4 units to unfinished runs")
            && err.contains(&format!("dev/v00 (run {first})")),
        "{err}"
    );
    let second = fleet::statuses(&fleet::report(d, "second.json"));
    // The units built from them wait for that run too.
    assert_eq!(second.len(), PARENTS + CHILDREN - 4, "{second:?}");
    assert!(!second.contains_key("dev/v00") && !second.contains_key("dev/v01"));

    let (code, out, err) = run(d, &sim, &["cancel", &first]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(&format!("run {first} cancelled")), "{out}");
    let rec = record_of(d, &first);
    assert_eq!(rec["status"], "cancelled", "{rec}");
    assert!(
        rec["units"]
            .as_array()
            .expect("units")
            .iter()
            .all(|u| u["status"] == "cancelled"),
        "{rec}"
    );
    // The other detached run goes on; --all advances what is left (only it).
    let (code, out, err) = run(d, &sim, &["resume", "--all"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, _) = run(d, &sim, &["resume", "--all"]);
    assert_eq!(code, 0);
    assert!(out.contains("no unfinished run"), "{out}");
    // The cancelled units are free again.
    let (code, out, err) = run(d, &sim, &["build", "--report-json", "third.json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let third = fleet::statuses(&fleet::report(d, "third.json"));
    assert_eq!(third["dev/v00"], "succeeded", "{third:?}");
    assert_eq!(third["dev/v02"], "unchanged", "{third:?}");
}

#[test]
fn resume_all_gives_the_worst_code_of_the_runs() {
    let dir = manifest_dir(&fleet::manifest(), &[]);
    let d = dir.path();
    let scenario = format!(
        "minute_ms = 10\n[[outcome]]\ntemplate = \"{}\"\nresult = \"fail\"\nfailed_customizer = \"harden\"\n",
        fleet::template_glob("v00")
    );
    let sim = sim(d, &scenario);
    for unit in ["dev/v00", "dev/v01"] {
        let (code, out, err) = run(d, &sim, &["build", "--detach", "--unit", unit]);
        assert_eq!(code, 0, "{out}\n{err}");
    }
    let (code, out, err) = run(d, &sim, &["resume", "--all", "--report-markdown", "sum.md"]);
    assert_eq!(code, 1, "{out}\n{err}");
    // One summary of every run advanced.
    let md = std::fs::read_to_string(d.join("sum.md")).expect("summary");
    for id in run_ids(d) {
        assert!(md.contains(&id), "{id} in the summary:\n{md}");
    }
    let mut statuses: Vec<String> = run_ids(d)
        .iter()
        .map(|id| {
            record_of(d, id)["status"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["failed", "succeeded"], "{out}\n{err}");
}
