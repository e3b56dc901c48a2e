//! The run lock seen from the command line: `aib build --lock-timeout` waits for a held lock
//! (saying so) or gives up naming the holder, and a run whose process died is shown
//! `interrupted` by `status` and `history` once its lock is gone, for a local state directory
//! and for `azblob://` state on Azurite (a lease that expires).
//!
//! The first build is kept holding the lock by the simulator's `hold` control (its deployments
//! get no answer until released), so nothing here depends on how fast the machine is.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::fleet;
use super::support::{Sim, aib_cmd, manifest_dir, run, sim};

const SCENARIO: &str = "minute_ms = 5\nclock_minute_ms = 60\n";

fn control(sim: &Sim, body: &str) {
    let (code, v) = fleet::http_json(sim, "POST", "/_sim/control", body);
    assert_eq!(code, 200, "{v}");
}

fn held(sim: &Sim) -> u64 {
    fleet::stats(sim)["held"].as_u64().unwrap_or(0)
}

/// `aib build` in `d` with `extra` arguments and environment, stderr to `stderr_file`.
fn spawn(d: &Path, sim: &Sim, extra: &[&str], env: &[(&str, &str)], stderr_file: &str) -> Child {
    let mut args = vec!["build"];
    args.extend_from_slice(extra);
    let mut cmd: Command = aib_cmd(d, sim, &args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let err = std::fs::File::create(d.join(stderr_file)).expect("stderr file");
    cmd.stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("spawn aib build")
}

/// A first build that holds the lock with its deployments held by the simulator.
fn holder(d: &Path, sim: &Sim, extra: &[&str], env: &[(&str, &str)]) -> Child {
    control(sim, r#"{"hold":["deployments.put"]}"#);
    let mut child = spawn(d, sim, extra, env, "first.err");
    fleet::wait_until("the first build holds the lock and a deployment", || {
        if let Ok(Some(s)) = child.try_wait() {
            let err = std::fs::read_to_string(d.join("first.err")).unwrap_or_default();
            panic!("the first build ended ({s}) early:\n{err}");
        }
        held(sim) > 0
    });
    child
}

fn wait_exit(child: &mut Child, what: &str) -> i32 {
    let mut status = None;
    fleet::wait_until(what, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    status.and_then(|s| s.code()).unwrap_or(-1)
}

#[test]
fn build_waits_for_a_held_lock_with_lock_timeout_and_gives_up_naming_the_holder() {
    let dir = manifest_dir(&fleet::manifest(), &[]);
    let d = dir.path();
    let sim = sim(d, SCENARIO);
    let mut first = holder(d, &sim, &[], &[]);

    // Default: no wait, exit 4 naming the holder, with the flag that would have waited.
    let (code, _, err) = run(d, &sim, &["build"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("error: state is locked by run "), "{err}");
    assert!(err.contains("--lock-timeout"), "{err}");
    assert!(!err.contains("waiting for the state lock"), "{err}");

    // A short wait says it waits, then gives up with the same exit code.
    let (code, _, err) = run(d, &sim, &["build", "--lock-timeout", "1s"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains(
            "waiting for the state lock (up to 1s, --lock-timeout): state is locked by run "
        ),
        "{err}"
    );
    assert!(err.contains("gave up waiting after 1s"), "{err}");

    // A long wait: it waits until the first build ends, then runs (every unit is built by
    // then, so it has nothing to build).
    let mut second = spawn(
        d,
        &sim,
        &["--lock-timeout", "10m", "--report-json", "second.json"],
        &[],
        "second.err",
    );
    fleet::wait_until("the second build says it waits", || {
        std::fs::read_to_string(d.join("second.err"))
            .unwrap_or_default()
            .contains("waiting for the state lock (up to 10m, --lock-timeout)")
    });
    control(&sim, r#"{"release":["*"]}"#);
    let first_code = wait_exit(&mut first, "the first build ends");
    assert_eq!(first_code, 0);
    let code = wait_exit(&mut second, "the second build ends");
    let err = std::fs::read_to_string(d.join("second.err")).unwrap_or_default();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("took the state lock after waiting"), "{err}");
    let statuses = fleet::statuses(&fleet::report(d, "second.json"));
    assert!(
        !statuses.is_empty() && statuses.values().all(|s| s == "unchanged"),
        "{statuses:?}"
    );
    // Every template was built once, by the first build.
    assert!(
        fleet::runs(&fleet::stats(&sim)).values().all(|n| *n == 1),
        "{}",
        fleet::stats(&sim)
    );
}

/// `aib status` and `aib history` word for the latest run, with `extra` global arguments.
fn shown(d: &Path, sim: &Sim, extra: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut status = vec!["status"];
    status.extend_from_slice(extra);
    let mut cmd = aib_cmd(d, sim, &status);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("aib status");
    let status_out = String::from_utf8_lossy(&out.stdout).into_owned();
    let first = status_out.lines().next().unwrap_or_default().to_string();
    let mut history = vec!["history"];
    history.extend_from_slice(extra);
    let mut cmd = aib_cmd(d, sim, &history);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out2 = cmd.output().expect("aib history");
    let hist = String::from_utf8_lossy(&out2.stdout).into_owned();
    (out.status.code().unwrap_or(-1), first, hist)
}

fn run_word(line: &str) -> &str {
    line.split_whitespace().nth(2).unwrap_or_default()
}

fn history_word(history: &str) -> &str {
    history
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_default()
}

#[test]
fn a_killed_build_is_shown_interrupted_once_its_local_lock_is_gone() {
    let dir = manifest_dir(&fleet::manifest(), &[]);
    let d = dir.path();
    let sim = sim(d, SCENARIO);
    let mut first = holder(d, &sim, &[], &[]);
    let (code, line, hist) = shown(d, &sim, &[], &[]);
    assert_eq!(run_word(&line), "running", "{line}");
    assert_eq!(history_word(&hist), "running", "{hist}");
    assert_eq!(code, 0);

    first.kill().expect("SIGKILL");
    let _ = first.wait();
    // The lock file names a process that is gone: the run is interrupted, not running.
    assert!(d.join(".aib/lock").exists());
    let (code, line, hist) = shown(d, &sim, &[], &[]);
    assert_eq!(run_word(&line), "interrupted", "{line}");
    assert_eq!(history_word(&hist), "interrupted", "{hist}");
    assert_eq!(code, 1);
    control(&sim, r#"{"release":["*"]}"#);
}

#[test]
fn a_killed_build_is_shown_interrupted_once_its_blob_lease_expires() {
    let az = aib_testkit::Azurite::start().expect("azurite");
    let dir = manifest_dir(&fleet::manifest(), &[]);
    let d = dir.path();
    let sim = sim(d, SCENARIO);
    let env = [
        ("AIB_STATE_BLOB_ENDPOINT", az.blob_endpoint.as_str()),
        ("AZURE_STORAGE_KEY", az.key.as_str()),
        ("AIB_STATE_LEASE_SECONDS", "15"),
    ];
    let state = format!("azblob://{}/aib/fleet", az.account);
    let global = ["--state", state.as_str()];
    let mut first = holder(d, &sim, &global, &env);
    let (_, line, hist) = shown(d, &sim, &global, &env);
    assert_eq!(run_word(&line), "running", "{line}");
    assert_eq!(history_word(&hist), "running", "{hist}");

    first.kill().expect("SIGKILL");
    let _ = first.wait();
    // The lease outlives the process by up to 15 s; then the run is interrupted.
    let mut last = (String::new(), String::new());
    fleet::wait_until("the dead run's lease to expire", || {
        let (_, line, hist) = shown(d, &sim, &global, &env);
        let done = run_word(&line) == "interrupted";
        last = (line, hist);
        done
    });
    assert_eq!(history_word(&last.1), "interrupted", "{}", last.1);
    control(&sim, r#"{"release":["*"]}"#);
}
