//! The offline demo, as README tells it: `aib build --simulate` on a copy of each example, run
//! from the folder above it as a user runs it from a clone. The first run fails the unit its
//! note names and skips its dependents; every hint it prints works when pasted, and the `aib
//! build` hint of the note is the second run, which rebuilds only those units and reports the
//! rest `unchanged`. `plan --refresh --simulate`, `schedule --simulate` and `gc --simulate`
//! work on the same simulated Azure; a corrupt or busy world is refused saying what to do.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use super::support::{Output, aib, repo_root, run, sim_with};

/// A copy of `pipelines/<example>` in a temporary folder (the demo's state stays out of the
/// repository).
fn example(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let to = dir.path().join(name);
    std::fs::create_dir_all(&to).expect("mkdir");
    copy_dir(&repo_root().join("pipelines").join(name), &to);
    dir
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            if e.file_name() == ".aib" {
                continue;
            }
            std::fs::create_dir_all(&t).expect("mkdir");
            copy_dir(&p, &t);
        } else {
            std::fs::copy(&p, &t).expect("copy");
        }
    }
}

/// Unit → status of a summary table (`UNIT  STATUS  TIME  RESULT` lines).
fn statuses(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("UNIT "))
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && !l.starts_with('~'))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(u, s)| (u.to_string(), s.to_string()))
        .collect()
}

/// Every `aib ...` a text tells the user to run: `(aib ...)` and `` `aib ...` ``.
fn hints(text: &str) -> Vec<String> {
    text.split(['(', '`'])
        .filter_map(|part| part.strip_prefix("aib "))
        .map(|h| h.split([')', '`']).next().unwrap_or(h).to_string())
        .collect()
}

/// Pastes `aib HINT` into a shell in `dir`.
fn paste(dir: &Path, hint: &str) -> Output {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("\"$AIB\" {hint}"))
        .env("AIB", env!("CARGO_BIN_EXE_aib"))
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("AIB_ARM_ENDPOINT")
        .current_dir(dir)
        .output()
        .expect("run the hint");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Unit → action of `plan --refresh --simulate --format json`.
fn refreshed(dir: &Path, manifest: &str) -> BTreeMap<String, String> {
    let out = aib(
        dir,
        &[
            "plan",
            manifest,
            "--refresh",
            "--simulate",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("plan json");
    plan["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap_or_default().to_string(),
                u["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Pastes every hint of a command's output but `build` ones; `status` exits `status_code`.
fn paste_all_but_builds(dir: &Path, out: &Output, status_code: i32) {
    for hint in hints(&format!("{}\n{}", out.stdout, out.stderr)) {
        if hint.starts_with("build ") {
            continue;
        }
        let pasted = paste(dir, &hint);
        let want = if hint.starts_with("status") {
            status_code
        } else {
            0
        };
        assert_eq!(pasted.code, want, "`aib {hint}`: {}", pasted.stderr);
        if hint.starts_with("logs") {
            assert!(
                pasted.stdout.contains("PACKER"),
                "`aib {hint}` printed no log"
            );
        }
    }
}

#[test]
fn avd_demo_fails_once_skips_dependents_and_rebuilds_only_those() {
    let dir = example("avd");
    let d = dir.path();
    let first = aib(d, &["build", "avd/aib.toml", "--simulate"]);
    assert_eq!(first.code, 1, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(
        statuses(&first.stdout),
        expect(&[
            ("dev/win11-avd", "succeeded"),
            ("dev/win11-avd-devtools", "succeeded"),
            ("test/win11-avd", "FAILED"),
            ("test/win11-avd-devtools", "skipped"),
            ("prod/win11-avd", "skipped"),
        ])
    );
    // The note names exactly that unit and what happens next.
    assert!(
        first.stderr.contains(
            "note: simulated: unit test/win11-avd is scripted to fail once, at customizer `updates`, and its dependents test/win11-avd-devtools, prod/win11-avd to be skipped; then `aib build avd/aib.toml --simulate` rebuilds only those 3\n"
        ),
        "{}",
        first.stderr
    );
    // Simulated times are Azure times, marked: a build takes about 45 Azure minutes.
    let dev = first
        .stdout
        .lines()
        .find(|l| l.starts_with("dev/win11-avd "))
        .unwrap_or_default()
        .to_string();
    let minutes: u32 = dev
        .split_whitespace()
        .nth(2)
        .and_then(|t| t.strip_prefix('~')?.strip_suffix('m')?.parse().ok())
        .unwrap_or(0);
    assert!((40..=90).contains(&minutes), "{dev}");
    assert!(
        first
            .stdout
            .contains("~ Azure time of a simulated run (one Azure minute took 20 ms)"),
        "{}",
        first.stdout
    );

    // plan --refresh agrees with the last build.
    assert_eq!(
        refreshed(d, "avd/aib.toml"),
        expect(&[
            ("dev/win11-avd", "unchanged"),
            ("dev/win11-avd-devtools", "unchanged"),
            ("test/win11-avd", "build"),
            ("test/win11-avd-devtools", "build"),
            ("prod/win11-avd", "build"),
        ])
    );

    // Every hint works pasted where the build ran: logs, status, and the note's build.
    let all = hints(&format!("{}\n{}", first.stdout, first.stderr));
    for kind in ["logs ", "status ", "build "] {
        assert!(all.iter().any(|h| h.starts_with(kind)), "{kind}: {all:?}");
    }
    paste_all_but_builds(d, &first, 1);
    let build = all
        .iter()
        .find(|h| h.starts_with("build "))
        .expect("a build hint");
    let second = paste(d, build);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert_eq!(
        statuses(&second.stdout),
        expect(&[
            ("dev/win11-avd", "unchanged"),
            ("dev/win11-avd-devtools", "unchanged"),
            ("test/win11-avd", "succeeded"),
            ("test/win11-avd-devtools", "succeeded"),
            ("prod/win11-avd", "succeeded"),
        ])
    );
    assert!(
        second
            .stderr
            .contains("note: simulated: the scripted failure of unit test/win11-avd happened in an earlier run"),
        "{}",
        second.stderr
    );
    paste_all_but_builds(d, &second, 0);
    let everything: BTreeMap<String, String> = statuses(&second.stdout)
        .into_keys()
        .map(|u| (u, "unchanged".to_string()))
        .collect();
    assert_eq!(refreshed(d, "avd/aib.toml"), everything);

    // The scheduled nightly dev build finds nothing to do in the same world.
    let nightly = aib(
        d,
        &[
            "schedule",
            "avd/aib.toml",
            "--once",
            "--now",
            "2026-12-10T02:00:00Z",
            "--simulate",
        ],
    );
    assert_eq!(nightly.code, 0, "{}\n{}", nightly.stdout, nightly.stderr);
    assert!(
        nightly
            .stderr
            .contains("schedule `nightly-dev` due at 2026-12-10T02:00:00Z"),
        "{}",
        nightly.stderr
    );
    assert_eq!(
        statuses(&nightly.stdout),
        expect(&[
            ("dev/win11-avd", "unchanged"),
            ("dev/win11-avd-devtools", "unchanged"),
        ])
    );
    paste_all_but_builds(d, &nightly, 0);

    // gc finds the deployment records of the deleted templates, deletes them, and the images
    // stay: the next build is all unchanged.
    let dry = aib(d, &["gc", "avd/aib.toml", "--simulate", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout.contains(
            "would delete 0 templates, 0 staging groups, 5 deployment records, 0 gallery versions"
        ),
        "{}",
        dry.stdout
    );
    let gc = aib(d, &["gc", "avd/aib.toml", "--simulate"]);
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    assert!(
        gc.stdout
            .contains("deleted 0 templates, 0 staging groups, 5 deployment records"),
        "{}",
        gc.stdout
    );
    paste_all_but_builds(d, &gc, 0);
    let again = aib(d, &["gc", "avd/aib.toml", "--simulate"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("nothing to delete"),
        "{}",
        again.stdout
    );
    let third = aib(d, &["build", "avd/aib.toml", "--simulate"]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert!(
        statuses(&third.stdout).values().all(|s| s == "unchanged"),
        "{}",
        third.stdout
    );
}

#[test]
fn linux_fleet_demo_fails_one_matrix_row_and_rebuilds_it_with_its_dependent() {
    let dir = example("linux-fleet");
    let d = dir.path();
    let first = aib(d, &["build", "linux-fleet/aib.toml", "--simulate"]);
    assert_eq!(first.code, 1, "{}\n{}", first.stdout, first.stderr);
    let mut want: BTreeMap<String, String> = statuses(&first.stdout)
        .keys()
        .map(|u| (u.clone(), "succeeded".to_string()))
        .collect();
    assert_eq!(want.len(), 10, "{}", first.stdout);
    want.insert(
        "staging/ubuntu-docker[release=2404]".into(),
        "FAILED".into(),
    );
    want.insert(
        "production/ubuntu-docker[release=2404]".into(),
        "skipped".into(),
    );
    assert_eq!(statuses(&first.stdout), want);
    assert!(
        first.stderr.contains(
            "note: simulated: unit staging/ubuntu-docker[release=2404] is scripted to fail once, at customizer `docker`, and its dependent production/ubuntu-docker[release=2404] to be skipped; then `aib build linux-fleet/aib.toml --simulate` rebuilds only those 2\n"
        ),
        "{}",
        first.stderr
    );
    paste_all_but_builds(d, &first, 1);
    let build = hints(&first.stderr)
        .into_iter()
        .find(|h| h.starts_with("build "))
        .expect("a build hint");
    let second = paste(d, &build);
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    let rebuilt: Vec<String> = statuses(&second.stdout)
        .into_iter()
        .filter(|(_, s)| s != "unchanged")
        .map(|(u, s)| format!("{u} {s}"))
        .collect();
    assert_eq!(
        rebuilt,
        [
            "production/ubuntu-docker[release=2404] succeeded",
            "staging/ubuntu-docker[release=2404] succeeded"
        ]
    );
    paste_all_but_builds(d, &second, 0);
}

#[test]
fn a_corrupt_world_is_refused_until_deleted_as_the_message_says() {
    let dir = example("avd");
    let d = dir.path();
    let world = d.join("avd/.aib/simulate/azure");
    std::fs::create_dir_all(&world).expect("mkdir");
    std::fs::write(
        world.join("world.json"),
        "{\"format\": \"aib-sim-world\", \"version\": 99}",
    )
    .expect("write");
    for args in [
        &["build", "avd/aib.toml", "--simulate"][..],
        &["plan", "avd/aib.toml", "--refresh", "--simulate"][..],
        &["gc", "avd/aib.toml", "--simulate"][..],
    ] {
        let out = aib(d, args);
        assert_eq!(out.code, 3, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(
                "avd/.aib/simulate/azure/world.json was saved in world format 99, and this simulator reads format 1 only; delete avd/.aib/simulate/azure to start a new simulated Azure"
            ),
            "{args:?}: {}",
            out.stderr
        );
    }
    std::fs::write(world.join("world.json"), "{\"format\": \"aib-sim-wo").expect("write");
    let out = aib(d, &["build", "avd/aib.toml", "--simulate"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("is not a world this simulator can read (not JSON"),
        "{}",
        out.stderr
    );
    // Doing what it says works; the runs recorded so far stay.
    std::fs::remove_dir_all(&world).expect("rm");
    let out = aib(d, &["build", "avd/aib.toml", "--simulate"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(statuses(&out.stdout).contains_key("prod/win11-avd"));
}

#[test]
fn a_world_held_by_another_simulator_is_refused_as_locked() {
    let dir = example("avd");
    let d = dir.path();
    let world = d.join("avd/.aib/simulate/azure");
    let mut held = Command::new(env!("CARGO_BIN_EXE_aib"))
        .args(["sim", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(&world)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn aib sim");
    let mut line = String::new();
    let stdout = held.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .expect("first line");
    assert!(line.starts_with("listening on "), "{line}");
    let out = aib(d, &["build", "avd/aib.toml", "--simulate"]);
    let _ = held.kill();
    let _ = held.wait();
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("avd/.aib/simulate/azure is in use by another simulator"),
        "{}",
        out.stderr
    );
    // Nothing ran: no run was recorded as started and left behind.
    let status = aib(d, &["status", "--state", "avd/.aib/simulate"]);
    assert_eq!(
        status.code, 0,
        "no runs is not a failure: {}",
        status.stderr
    );
    assert!(status.stdout.contains("no runs yet"), "{}", status.stdout);
}

/// `aib sim --state-dir`: a simulator stopped with Ctrl-C saves its world and the next one
/// starts from it, so a build against it finds its images.
#[test]
fn aib_sim_keeps_its_world_in_a_state_dir_across_restarts() {
    let dir = super::support::manifest_dir(super::build::FLEET, &[]);
    let d = dir.path();
    let world = d.join("world");
    let world_arg = world.display().to_string();
    let scenario = "minute_ms = 5\n";
    let sim = sim_with(d, scenario, &["--state-dir", &world_arg]);
    let (code, first, err) = run(d, &sim, &["build"]);
    assert_eq!(code, 0, "{first}\n{err}");
    assert!(
        statuses(&first).values().all(|s| s == "succeeded"),
        "{first}"
    );
    stop(sim);
    assert!(world.join("world.json").is_file());
    let sim = sim_with(d, scenario, &["--state-dir", &world_arg]);
    let (code, second, err) = run(d, &sim, &["build"]);
    assert_eq!(code, 0, "{second}\n{err}");
    assert_eq!(statuses(&second).len(), 4, "{second}");
    assert!(
        statuses(&second).values().all(|s| s == "unchanged"),
        "{second}"
    );
    stop(sim);
}

/// Stops `aib sim` as Ctrl-C does and waits for it to exit 0 (having saved its world).
fn stop(mut sim: super::support::Sim) {
    let pid = sim.child.id().to_string();
    let ok = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("run kill");
    assert!(ok.success(), "kill -INT {pid}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(s) = sim.child.try_wait().expect("wait") {
            assert_eq!(s.code(), Some(0), "aib sim exits 0 after saving");
            return;
        }
        assert!(std::time::Instant::now() < deadline, "aib sim did not stop");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
