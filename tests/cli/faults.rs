//! The fault matrix: `aib build` of a 22-unit fleet against `aib sim` with one kind of fault
//! per row. Every row ends with every unit in the status it must have (from `--report-json`),
//! each failed unit's whole `customization.log` in the run's state, at most one `run` POST per
//! template, no "Update/Upgrade of image templates" conflict, the templates the cleanup policy
//! (`on-success`) deletes gone and the others kept, and every state file parsing.
//!
//! Time is compressed: one simulated minute is `MINUTE_MS` (10) real ms, so a 45-minute build
//! takes 450 ms and "60 s" of Azure time is 10 ms. The simulator tells aib a 60 ms minute
//! (`clock_minute_ms = 60` at `GET /_sim/clock`), which runs aib's own clock (deployment and cleanup deadlines, build timeout + 30 min, cancel wait 10 min,
//! retry backoff and budget) at 60 ms per Azure minute, six times slower than the simulator's:
//! the slack keeps the rows independent of how loaded the machine is (process start-up, HTTP and
//! state writes are real time on two shared cores, not compressed).

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::fleet::{self, PARENTS};
use super::support::{Sim, aib_cmd, manifest_dir, sim};

const MINUTE_MS: u64 = 10;

/// An `[[outcome]]` for a variant's template.
fn outcome(variant: &str, result: &str) -> String {
    format!(
        "[[outcome]]\ntemplate = \"{}\"\nresult = \"{result}\"\nfailed_customizer = \"harden\"\n",
        fleet::template_glob(variant)
    )
}

/// Windows of `len_ms` every `every_ms` over the first `total_ms`.
fn windows(every_ms: u64, len_ms: u64, total_ms: u64) -> String {
    let w: Vec<String> = (0..total_ms / every_ms)
        .map(|k| format!("{{ start_ms = {}, duration_ms = {len_ms} }}", k * every_ms))
        .collect();
    format!("[{}]", w.join(", "))
}

/// One row of the matrix.
struct Row {
    name: &'static str,
    /// Top-level scenario keys (after `minute_ms`).
    top: String,
    /// `[[outcome]]` tables.
    outcomes: String,
    /// `[faults]` keys.
    faults: String,
    /// Units that must not succeed: id → status.
    expect: &'static [(&'static str, &'static str)],
    /// Send SIGINT once this many builds run.
    interrupt_after_runs: Option<usize>,
    /// Done to the simulator once it runs, before `aib build` starts.
    before: fn(&Sim),
    /// Done while `aib build` runs, once the first `run` POST was answered.
    during: fn(&Sim),
}

impl Default for Row {
    fn default() -> Self {
        Row {
            name: "",
            top: String::new(),
            outcomes: String::new(),
            faults: String::new(),
            expect: &[],
            interrupt_after_runs: None,
            before: |_| {},
            during: |_| {},
        }
    }
}

/// What a row left behind for its own checks.
struct Ran {
    _dir: tempfile::TempDir,
    sim: Sim,
    stderr: String,
    report: serde_json::Value,
    stats: serde_json::Value,
}

fn run_row(row: Row) -> Ran {
    let name = row.name;
    let dir = manifest_dir(&fleet::manifest(), &[]);
    let d = dir.path();
    let scenario = format!(
        "minute_ms = {MINUTE_MS}\nclock_minute_ms = 60\n{}\n{}\n[faults]\n{}\n",
        row.top, row.outcomes, row.faults
    );
    let sim = sim(d, &scenario);
    (row.before)(&sim);
    let mut cmd: Command = aib_cmd(d, &sim, &["build", "--report-json", "report.json"]);
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn aib build");
    let stderr_pipe = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let mut p = stderr_pipe;
        let _ = std::io::Read::read_to_string(&mut p, &mut s);
        s
    });
    fleet::wait_until(&format!("[{name}] a first run POST or the end"), || {
        !fleet::runs(&fleet::stats(&sim)).is_empty() || child.try_wait().ok().flatten().is_some()
    });
    (row.during)(&sim);
    if let Some(n) = row.interrupt_after_runs {
        fleet::wait_until(&format!("[{name}] {n} builds running"), || {
            fleet::runs(&fleet::stats(&sim)).len() >= n
        });
        sigint(child.id());
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait aib") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let err = reader.join().unwrap_or_default();
            panic!("[{name}] aib build did not finish in 90 s; stderr:\n{err}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = reader.join().unwrap_or_default();
    let report = fleet::report(d, "report.json");
    let got = fleet::statuses(&report);

    // Every unit in its final state.
    let mut want: BTreeMap<String, String> = fleet::units()
        .into_iter()
        .map(|u| (u, "succeeded".to_string()))
        .collect();
    for (id, st) in row.expect {
        want.insert(id.to_string(), st.to_string());
    }
    assert_eq!(got, want, "[{name}] unit statuses; stderr:\n{stderr}");
    let want_code = if row.interrupt_after_runs.is_some() {
        130
    } else if want.values().any(|s| s == "failed" || s == "skipped") {
        1
    } else {
        0
    };
    assert_eq!(
        status.code(),
        Some(want_code),
        "[{name}] exit code; stderr:\n{stderr}"
    );

    // Failure logs on disk, whole.
    fleet::assert_failure_logs(d, &report, name);

    // At most one run POST per template; every unit that built has one.
    let stats = fleet::stats(&sim);
    let runs = fleet::runs(&stats);
    assert!(
        runs.values().all(|n| *n == 1),
        "[{name}] a template was run twice: {runs:?}"
    );
    let built: BTreeSet<String> = runs.keys().map(|t| fleet::variant_of(t)).collect();
    let skipped: BTreeSet<String> = want
        .iter()
        .filter(|(_, s)| *s == "skipped")
        .map(|(u, _)| u.trim_start_matches("dev/").to_string())
        .collect();
    if row.interrupt_after_runs.is_none() {
        let should: BTreeSet<String> = want
            .keys()
            .map(|u| u.trim_start_matches("dev/").to_string())
            .filter(|v| !skipped.contains(v))
            .collect();
        assert_eq!(built, should, "[{name}] templates that were run");

        // Cleanup on-success: failed units' templates are kept, every other one is gone.
        let left: BTreeSet<String> = fleet::templates(&sim)
            .iter()
            .map(|t| fleet::variant_of(t["name"].as_str().unwrap_or_default()))
            .collect();
        let failed: BTreeSet<String> = want
            .iter()
            .filter(|(_, s)| *s == "failed")
            .map(|(u, _)| u.trim_start_matches("dev/").to_string())
            .collect();
        assert_eq!(left, failed, "[{name}] templates left after cleanup");
    }
    fleet::assert_common(d, &sim, &stderr, name);
    Ran {
        _dir: dir,
        sim,
        stderr,
        report,
        stats,
    }
}

fn sigint(pid: u32) {
    let ok = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(ok.success(), "kill -INT {pid}");
}

fn fault_count(stats: &serde_json::Value, kind: &str) -> u64 {
    stats["faults"][kind].as_u64().unwrap_or(0)
}

#[test]
fn row_429_storms() {
    // 429 storms of one simulated minute (60 s) every 15 minutes and 5% random 429s; each
    // 429 asks for two simulated minutes (Retry-After 120 s scaled).
    let ran = run_row(Row {
        name: "429 storms",
        outcomes: outcome("v01", "fail") + &outcome("v11", "fail"),
        faults: format!(
            "throttle = 0.05\nthrottle_retry_after_ms = {}\nthrottle_storm = {}\n",
            2 * MINUTE_MS,
            windows(15 * MINUTE_MS, MINUTE_MS, 20_000)
        ),
        expect: &[
            ("dev/v01", "failed"),
            ("dev/v11", "failed"),
            ("dev/c01", "skipped"),
        ],
        ..Row::default()
    });
    assert!(fault_count(&ran.stats, "throttle") > 0, "{}", ran.stats);
}

#[test]
fn row_5xx_bursts() {
    // 10% random 500/503 and a 3-minute 503 outage every 20 minutes.
    let ran = run_row(Row {
        name: "5xx bursts",
        outcomes: outcome("v03", "fail"),
        faults: format!(
            "server_error = 0.1\noutage = {}\n",
            windows(20 * MINUTE_MS, 3 * MINUTE_MS, 20_000)
        ),
        expect: &[("dev/v03", "failed")],
        ..Row::default()
    });
    assert!(fault_count(&ran.stats, "server_error") > 0, "{}", ran.stats);
}

#[test]
fn row_connection_resets() {
    // 10% of requests reset: half before an answer (some after the request took effect), half
    // in the middle of the body; and the first three log downloads are cut mid-body.
    let ran = run_row(Row {
        name: "connection resets",
        outcomes: outcome("v02", "fail") + &outcome("v05", "fail") + &outcome("v08", "fail"),
        faults: "reset = 0.1\nreset_mid_body = 0.5\nseed = 7\n".into(),
        expect: &[
            ("dev/v02", "failed"),
            ("dev/v05", "failed"),
            ("dev/v08", "failed"),
        ],
        before: |sim| {
            let (code, v) =
                fleet::http_json(sim, "POST", "/_sim/control", r#"{"cut_blob_bodies":3}"#);
            assert_eq!(code, 200, "{v}");
        },
        ..Row::default()
    });
    assert!(fault_count(&ran.stats, "reset") >= 3, "{}", ran.stats);
    // The cut downloads were resumed with Range (and the logs are whole: run_row checked).
    assert!(
        ran.stats["blob_range_gets"].as_u64().unwrap_or(0) >= 1,
        "no ranged GET: {}",
        ran.stats
    );
}

#[test]
fn row_latency_spikes() {
    // Every request 1.5 simulated minutes late, and mid-build the progress list and the
    // deployment reads stall for 30 simulated minutes.
    let ran = run_row(Row {
        name: "latency spikes",
        outcomes: outcome("v04", "fail"),
        faults: format!("latency_ms = {}\n", MINUTE_MS * 3 / 2),
        expect: &[("dev/v04", "failed")],
        during: |sim| {
            let (code, v) = fleet::http_json(
                sim,
                "POST",
                "/_sim/control",
                r#"{"hold":["imageTemplates.list","deployments.get","deployments.operationStatus"]}"#,
            );
            assert_eq!(code, 200, "{v}");
            fleet::wait_until("a held answer", || {
                fleet::stats(sim)["held"].as_u64().unwrap_or(0) > 0
            });
            // The spike: answers held for 30 simulated minutes.
            std::thread::sleep(Duration::from_millis(30 * MINUTE_MS));
            let (code, v) = fleet::http_json(sim, "POST", "/_sim/control", r#"{"release":["*"]}"#);
            assert_eq!(code, 200, "{v}");
        },
        ..Row::default()
    });
    assert_eq!(ran.stats["held"].as_u64(), Some(0), "{}", ran.stats);
}

#[test]
fn row_token_expires_mid_run() {
    // Tokens live one real second; the run (85-minute builds, 850 ms, within the manifest's
    // 90-minute build timeout, plus deploy, verify and cleanup) lasts longer, so it needs fresh
    // ones mid-run.
    let ran = run_row(Row {
        name: "token expiry",
        top: "token_lifetime_seconds = 1\nbuild_minutes = 85\n".into(),
        outcomes: outcome("v05", "fail"),
        expect: &[("dev/v05", "failed")],
        ..Row::default()
    });
    assert!(fleet::req(&ran.stats, "token") >= 2, "{}", ran.stats);
    assert!(
        // `HTTP 401` is how a refused request is shown; a bare "401" also matches run ids and
        // times (`T140135Z`), which made this fail at 14:01.
        !ran.stderr.contains("expired") && !ran.stderr.contains("HTTP 401"),
        "{}",
        ran.stderr
    );
}

#[test]
fn row_operation_status_500() {
    // The first 5 polls of every AIB operation (run, delete) answer 500.
    let ran = run_row(Row {
        name: "operation status 500",
        outcomes: outcome("v06", "fail"),
        faults: "operation_status_errors = 5\n".into(),
        expect: &[("dev/v06", "failed")],
        ..Row::default()
    });
    assert!(
        fleet::req(&ran.stats, "operations.get") > 5,
        "{}",
        ran.stats
    );
}

#[test]
fn row_stuck_canceling() {
    // Ctrl-C while every parent builds; one template never leaves Canceling: the wait for it is
    // bounded and it is reported with its id.
    let ran = run_row(Row {
        name: "stuck in Canceling",
        outcomes: outcome("v07", "stuck-canceling"),
        interrupt_after_runs: Some(PARENTS),
        expect: &[
            ("dev/v00", "cancelled"),
            ("dev/v01", "cancelled"),
            ("dev/v02", "cancelled"),
            ("dev/v03", "cancelled"),
            ("dev/v04", "cancelled"),
            ("dev/v05", "cancelled"),
            ("dev/v06", "cancelled"),
            ("dev/v07", "cancelled"),
            ("dev/v08", "cancelled"),
            ("dev/v09", "cancelled"),
            ("dev/v10", "cancelled"),
            ("dev/v11", "cancelled"),
            ("dev/v12", "cancelled"),
            ("dev/v13", "cancelled"),
            ("dev/v14", "cancelled"),
            ("dev/v15", "cancelled"),
            ("dev/v16", "cancelled"),
            ("dev/v17", "cancelled"),
            ("dev/v18", "cancelled"),
            ("dev/v19", "cancelled"),
            ("dev/c00", "cancelled"),
            ("dev/c01", "cancelled"),
        ],
        ..Row::default()
    });
    let stuck = fleet::templates(&ran.sim)
        .into_iter()
        .find(|t| fleet::variant_of(t["name"].as_str().unwrap_or_default()) == "v07")
        .expect("v07's template");
    let id = stuck["id"].as_str().expect("id");
    assert!(
        ran.stderr.contains("did not reach Canceled")
            && ran
                .stderr
                .to_ascii_lowercase()
                .contains(&id.to_ascii_lowercase()),
        "the stuck template is not reported with its id {id}:\n{}",
        ran.stderr
    );
    // Every running build was sent a cancel.
    assert!(
        fleet::req(&ran.stats, "imageTemplates.cancel") >= PARENTS as u64,
        "{}",
        ran.stats
    );
    for t in fleet::templates(&ran.sim) {
        let state = t["properties"]["lastRunStatus"]["runState"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            state == "Canceled" || state == "Canceling",
            "{} is {state}",
            t["name"]
        );
    }
}

#[test]
fn row_build_timeout() {
    let ran = run_row(Row {
        name: "build timeout",
        outcomes: outcome("v08", "timeout") + &outcome("v13", "timeout"),
        expect: &[("dev/v08", "failed"), ("dev/v13", "failed")],
        ..Row::default()
    });
    let failures: Vec<String> = ran.report["units"]
        .as_array()
        .expect("units")
        .iter()
        .filter(|u| u["status"] == "failed")
        .map(|u| u["failure"]["message"].to_string())
        .collect();
    assert!(
        failures.iter().all(|m| m.to_lowercase().contains("timeout")
            || m.to_lowercase().contains("timed out")),
        "{failures:?}"
    );
}

#[test]
fn row_replication_finishes_after_failure() {
    // The build reports a timeout while its gallery version still replicates; replication ends
    // three simulated minutes later: the unit is reconciled as succeeded, with a warning.
    let ran = run_row(Row {
        name: "replication after failure",
        top: "replicate_minutes = 3\n".into(),
        outcomes: outcome("v09", "timeout-distributing") + &outcome("v10", "fail"),
        expect: &[("dev/v10", "failed")],
        ..Row::default()
    });
    assert!(
        ran.stderr.contains("counted as succeeded"),
        "no reconciliation warning:\n{}",
        ran.stderr
    );
    let v09 = ran.report["units"]
        .as_array()
        .expect("units")
        .iter()
        .find(|u| u["id"] == "dev/v09")
        .cloned()
        .expect("v09");
    assert!(v09["image_version_id"].as_str().is_some(), "{v09}");
}
