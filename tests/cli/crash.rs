//! Crash safety and interrupts, end to end: `aib build` of the 22-unit fleet against `aib sim`
//! is killed with SIGKILL at twelve distinct points (each reached by watching the simulator's
//! counters, held answers or the run's `events.ndjson`, never by sleeping), then
//! `aib build --retry-failed` finishes the batch: no template is run twice, no template is
//! refused as an update, the state files parse right after the kill and at the end, and a
//! plain build afterwards finds every unit unchanged. Ctrl-C cancels every running build and
//! exits 130; a second Ctrl-C exits at once; `--retry-failed` then finishes and the cleanup
//! policy's templates are gone.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::fleet::{self, CHILDREN, PARENTS};
use super::support::{Sim, aib_cmd, manifest_dir, run, sim};

const MINUTE_MS: u64 = 10;

/// The clock the simulator tells aib: 60 ms per Azure minute, slower than the simulator's
/// own 10 (see `faults.rs`): a second Ctrl-C leaves cancels running that the retry's bounded
/// wait must outlast.
const CLOCK: &str = "clock_minute_ms = 60\n";

fn build_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["build"];
    v.extend_from_slice(extra);
    v
}

fn spawn_build(d: &Path, sim: &Sim, stderr: Stdio) -> Child {
    aib_cmd(d, sim, &build_args(&["--report-json", "first.json"]))
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn aib build")
}

fn control(sim: &Sim, body: &str) {
    let (code, v) = fleet::http_json(sim, "POST", "/_sim/control", body);
    assert_eq!(code, 200, "{v}");
}

fn held(sim: &Sim) -> u64 {
    fleet::stats(sim)["held"].as_u64().unwrap_or(0)
}

/// Events of the run so far named `name` (and, if given, for `unit`).
fn count_events(d: &Path, name: &str, pred: impl Fn(&serde_json::Value) -> bool) -> usize {
    fleet::events(d)
        .iter()
        .filter(|e| e["event"] == name && pred(e))
        .count()
}

fn event_lines(d: &Path) -> usize {
    fleet::run_dirs(d)
        .iter()
        .filter_map(|r| std::fs::read_to_string(r.join("events.ndjson")).ok())
        .map(|t| t.lines().count())
        .sum()
}

/// One kill point.
struct Point {
    name: &'static str,
    /// Operations whose answers the simulator holds from the start.
    hold: &'static [&'static str],
    /// A variant whose build fails (its log is what is downloaded).
    failing: Option<&'static str>,
    /// Reached when this holds.
    reached: fn(&Path, &Sim) -> bool,
}

fn kill_at(p: Point) {
    let name = p.name;
    let dir = manifest_dir(&fleet::manifest(), &[]);
    let d = dir.path();
    let mut scenario = format!("minute_ms = {MINUTE_MS}\n{CLOCK}");
    if let Some(v) = p.failing {
        scenario.push_str(&format!(
            "[[outcome]]\ntemplate = \"{}\"\nresult = \"fail\"\nfailed_customizer = \"harden\"\n",
            fleet::template_glob(v)
        ));
    }
    let sim = sim(d, &scenario);
    if !p.hold.is_empty() {
        let ops: Vec<String> = p.hold.iter().map(|o| format!("\"{o}\"")).collect();
        control(&sim, &format!("{{\"hold\":[{}]}}", ops.join(",")));
    }
    let mut child = spawn_build(d, &sim, Stdio::null());
    let mut ended = None;
    fleet::wait_until(&format!("kill point `{name}`"), || {
        ended = child.try_wait().ok().flatten();
        ended.is_some() || (p.reached)(d, &sim)
    });
    assert!(
        ended.is_none(),
        "[{name}] the build ended ({ended:?}) before the kill point"
    );
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    control(&sim, r#"{"release":["*"]}"#);
    // Right after the kill: nothing torn.
    fleet::assert_state_parses(d);

    let (code, out, err) = run(
        d,
        &sim,
        &build_args(&["--retry-failed", "--report-json", "retry.json"]),
    );
    let want_code = if p.failing.is_some() { 1 } else { 0 };
    assert_eq!(
        code, want_code,
        "[{name}] --retry-failed\nstdout:\n{out}\nstderr:\n{err}"
    );
    let retry = fleet::report(d, "retry.json");
    fleet::assert_failure_logs(d, &retry, name);
    for (id, st) in fleet::statuses(&retry) {
        let failing = p.failing.is_some_and(|v| id == format!("dev/{v}"));
        // `unchanged`: the killed run had finished it (its record had not caught up).
        let ok = if failing {
            st == "failed"
        } else {
            st == "succeeded" || st == "unchanged"
        };
        assert!(
            ok,
            "[{name}] {id} is {st} after --retry-failed\nstderr:\n{err}"
        );
    }
    fleet::assert_common(d, &sim, &err, name);

    // Together the two runs built the whole fleet, each template once.
    let runs = fleet::runs(&fleet::stats(&sim));
    let mut want: BTreeMap<String, u64> = fleet::units()
        .iter()
        .map(|u| (u.trim_start_matches("dev/").to_string(), 1))
        .collect();
    if let Some(v) = p.failing {
        // Retrying a failed build runs its template again: once per run.
        want.insert(v.to_string(), 2);
    }
    let got: BTreeMap<String, u64> = runs
        .iter()
        .map(|(t, n)| (fleet::variant_of(t), *n))
        .collect();
    assert_eq!(got, want, "[{name}] run POSTs per template: {runs:?}");
    assert_eq!(runs.len(), PARENTS + CHILDREN, "[{name}] {runs:?}");

    if p.failing.is_none() {
        // Nothing is left to build, and cleanup (on-success) removed every template.
        let (code, out, err) = run(d, &sim, &build_args(&["--report-json", "after.json"]));
        assert_eq!(code, 0, "[{name}] build after the retry\n{out}\n{err}");
        let after = fleet::statuses(&fleet::report(d, "after.json"));
        assert!(
            after.values().all(|s| s == "unchanged") && after.len() == PARENTS + CHILDREN,
            "[{name}] {after:?}"
        );
        let left: Vec<String> = fleet::templates(&sim)
            .iter()
            .map(|t| t["name"].to_string())
            .collect();
        assert!(left.is_empty(), "[{name}] templates left: {left:?}");
    }
    let (code, out, err) = run(d, &sim, &["history"]);
    assert_eq!(code, 0, "[{name}] history: {err}");
    assert!(out.contains("interrupted"), "[{name}] {out}");
    fleet::assert_state_parses(d);
}

#[test]
fn kill_after_the_run_started() {
    kill_at(Point {
        name: "run started",
        hold: &[],
        failing: None,
        reached: |d, _| count_events(d, "run.started", |_| true) > 0,
    });
}

#[test]
fn kill_after_a_deployment_was_submitted_but_not_answered() {
    kill_at(Point {
        name: "deploy submitted, unanswered",
        hold: &["deployments.put"],
        failing: None,
        reached: |_, sim| held(sim) >= 3,
    });
}

#[test]
fn kill_after_every_deployment_was_submitted() {
    kill_at(Point {
        name: "all deploys submitted",
        hold: &[],
        failing: None,
        reached: |_, sim| fleet::req(&fleet::stats(sim), "deployments.put") >= PARENTS as u64,
    });
}

#[test]
fn kill_after_run_posts_took_effect_but_were_not_answered() {
    kill_at(Point {
        name: "run POSTed, unanswered",
        hold: &["imageTemplates.run"],
        failing: None,
        reached: |_, sim| held(sim) >= 5,
    });
}

#[test]
fn kill_after_half_the_runs_were_posted() {
    kill_at(Point {
        name: "runs POSTed",
        hold: &[],
        failing: None,
        reached: |_, sim| fleet::runs(&fleet::stats(sim)).len() >= PARENTS / 2,
    });
}

#[test]
fn kill_while_builds_customize() {
    kill_at(Point {
        name: "building",
        hold: &[],
        failing: None,
        reached: |d, _| {
            count_events(d, "build.progress", |e| {
                e["sub_state"].as_str().is_some_and(|s| s == "Customizing")
            }) >= 5
        },
    });
}

#[test]
fn kill_during_verify() {
    kill_at(Point {
        name: "verify",
        hold: &["galleryImageVersions.get"],
        failing: None,
        reached: |_, sim| held(sim) >= 2,
    });
}

#[test]
fn kill_after_a_delete_was_submitted() {
    kill_at(Point {
        name: "cleanup",
        hold: &["imageTemplates.delete"],
        failing: None,
        reached: |_, sim| held(sim) >= 2,
    });
}

#[test]
fn kill_during_log_download() {
    kill_at(Point {
        name: "log download",
        hold: &["blob.get"],
        failing: Some("v05"),
        reached: |_, sim| held(sim) >= 1,
    });
}

#[test]
fn kill_during_state_writes() {
    kill_at(Point {
        name: "state write",
        hold: &[],
        failing: None,
        reached: |d, _| event_lines(d) >= 120,
    });
}

#[test]
fn kill_after_units_finished() {
    kill_at(Point {
        name: "units finished",
        hold: &[],
        failing: None,
        reached: |d, _| count_events(d, "unit.finished", |_| true) >= 5,
    });
}

#[test]
fn kill_while_a_child_deploys() {
    kill_at(Point {
        name: "child deploying",
        hold: &[],
        failing: None,
        reached: |d, _| {
            count_events(d, "stage.started", |e| {
                e["unit"] == "dev/c00" && e["stage"] == "deploy"
            }) > 0
        },
    });
}

fn sigint(pid: u32) {
    let ok = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(ok.success(), "kill -INT {pid}");
}

/// Waits (at most `limit`) for the child to exit; its exit code.
fn exit_within(child: &mut Child, limit: Duration, what: &str) -> i32 {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: aib did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn stderr_of(child: &mut Child) -> std::thread::JoinHandle<String> {
    let mut pipe = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut pipe, &mut s);
        s
    })
}

/// After the interrupted run: `--retry-failed` builds every unit, each template once more
/// than the interrupted run ran it (which is at most once: a parent whose build had not started
/// when Ctrl-C came was never run); cleanup leaves no template.
fn retry_after_interrupt(d: &Path, sim: &Sim, what: &str) -> String {
    fleet::assert_state_parses(d);
    let before = fleet::runs(&fleet::stats(sim));
    let (code, out, err) = run(
        d,
        sim,
        &build_args(&["--retry-failed", "--report-json", "retry.json"]),
    );
    assert_eq!(
        code, 0,
        "{what}: --retry-failed\nstdout:\n{out}\nstderr:\n{err}"
    );
    let retry = fleet::statuses(&fleet::report(d, "retry.json"));
    assert_eq!(retry.len(), PARENTS + CHILDREN, "{what}: {retry:?}");
    assert!(
        retry.values().all(|s| s == "succeeded"),
        "{what}: {retry:?}"
    );
    let runs = fleet::runs(&fleet::stats(sim));
    for (t, n) in &runs {
        let earlier = before.get(t).copied().unwrap_or(0);
        assert!(
            earlier <= 1,
            "{what}: run POSTs of {t} before the retry: {before:?}"
        );
        assert_eq!(
            *n,
            earlier + 1,
            "{what}: run POSTs of {t}: before the retry {before:?}, after {runs:?}"
        );
    }
    assert!(
        before.keys().any(|t| fleet::variant_of(t).starts_with('v')),
        "{what}: the interrupted run had started builds: {before:?}"
    );
    assert_eq!(runs.len(), PARENTS + CHILDREN, "{what}: {runs:?}");
    let left: Vec<String> = fleet::templates(sim)
        .iter()
        .map(|t| t["name"].to_string())
        .collect();
    assert!(
        left.is_empty(),
        "{what}: templates left after cleanup: {left:?}"
    );
    fleet::assert_common(d, sim, &err, what);
    err
}

#[test]
fn ctrl_c_cancels_every_running_build_and_exits_130() {
    let dir = manifest_dir(&fleet::manifest(), &[]);
    let d = dir.path();
    let sim = sim(d, &format!("minute_ms = {MINUTE_MS}\n{CLOCK}"));
    let mut child = spawn_build(d, &sim, Stdio::piped());
    let stderr = stderr_of(&mut child);
    fleet::wait_until("every parent building", || {
        fleet::runs(&fleet::stats(&sim)).len() >= PARENTS
    });
    sigint(child.id());
    let code = exit_within(&mut child, Duration::from_secs(5), "Ctrl-C");
    let err = stderr.join().unwrap_or_default();
    assert_eq!(code, 130, "{err}");

    // Every running build was told to cancel.
    let templates = fleet::templates(&sim);
    assert_eq!(templates.len(), PARENTS, "{templates:?}");
    for t in &templates {
        let st = t["properties"]["lastRunStatus"]["runState"]
            .as_str()
            .unwrap_or_default();
        assert!(
            st == "Canceled" || st == "Canceling",
            "{} was not cancelled: {st}\n{err}",
            t["name"]
        );
    }
    assert!(
        fleet::req(&fleet::stats(&sim), "imageTemplates.cancel") >= PARENTS as u64,
        "{}",
        fleet::stats(&sim)
    );
    let first = fleet::statuses(&fleet::report(d, "first.json"));
    assert!(first.values().all(|s| s == "cancelled"), "{first:?}");
    let _ = retry_after_interrupt(d, &sim, "after Ctrl-C");
}

#[test]
fn a_second_ctrl_c_exits_at_once_and_retry_failed_finishes() {
    let dir = manifest_dir(&fleet::manifest(), &[]);
    let d = dir.path();
    // Cancelling takes 60 simulated minutes, so the first Ctrl-C alone would be waiting.
    let sim = sim(
        d,
        &format!("minute_ms = {MINUTE_MS}\n{CLOCK}cancel_minutes = 60\n"),
    );
    let mut child = spawn_build(d, &sim, Stdio::piped());
    let stderr = stderr_of(&mut child);
    fleet::wait_until("every parent building", || {
        fleet::runs(&fleet::stats(&sim)).len() >= PARENTS
    });
    sigint(child.id());
    fleet::wait_until("a cancel POST", || {
        fleet::req(&fleet::stats(&sim), "imageTemplates.cancel") > 0
    });
    sigint(child.id());
    let code = exit_within(&mut child, Duration::from_secs(5), "second Ctrl-C");
    let err = stderr.join().unwrap_or_default();
    assert_eq!(code, 130, "{err}");
    assert!(err.contains("interrupted again: exiting now"), "{err}");
    // The cancels are still running in Azure: the retry waits them out, then runs again.
    let retry = retry_after_interrupt(d, &sim, "after a second Ctrl-C");
    assert!(
        retry.contains("is still canceling a build an earlier run started"),
        "{retry}"
    );
}
