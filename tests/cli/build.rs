//! `aib build`, `status`, `history` and `logs` end to end against `aib sim` (a child process);
//! `--simulate` is in `demo.rs`.

use std::process::{Command, Stdio};

use super::support::{Sim, aib_cmd, manifest_dir, repo_root, run, sim};

pub(crate) const FLEET: &str = r#"
version = 1

[pipeline]
name = "fleet"

[defaults]
location = "eastus2"
resource_group = "rg-{{ env }}"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = { name = "gal_{{ env }}" }
version = "date"

[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"

[environments.prod]
subscription = "00000000-0000-0000-0000-000000000002"
after = ["dev"]

[variants.base]
image_definition = "base"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [
  { type = "shell", name = "harden", inline = ["echo harden"] },
  { type = "shell", name = "install", inline = ["apt-get install -y x"] },
]

[variants.app]
image_definition = "app"
source = { variant = "base" }
customize = [ { type = "shell", name = "app", inline = ["echo app"] } ]
"#;

pub(crate) fn stats(sim: &Sim) -> serde_json::Value {
    // A tiny HTTP/1.0 GET without a client crate.
    use std::io::{Read, Write};
    let addr = sim.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let _ = write!(s, "GET /_sim/stats HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    let json = body.split("\r\n\r\n").nth(1).unwrap_or("{}");
    serde_json::from_str(json).unwrap_or_default()
}

const FAIL_INSTALL: &str = r#"
minute_ms = 5
[[outcome]]
template = "fleet-base-dev-*"
result = "fail"
failed_customizer = "install"
[faults]
throttle = 0.05
server_error = 0.02
seed = 7
"#;

#[test]
fn a_failing_unit_names_its_customizer_dependents_are_skipped_and_reports_validate() {
    let dir = manifest_dir(FLEET, &[]);
    let sim = sim(dir.path(), FAIL_INSTALL);
    let (code, stdout, stderr) = run(
        dir.path(),
        &sim,
        &[
            "build",
            "--report-json",
            "report.json",
            "--report-junit",
            "junit.xml",
            "--report-markdown",
            "summary.md",
        ],
    );
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("dev/base"), "{stdout}");
    assert!(stdout.contains("customizer: install"), "{stdout}");
    assert!(stdout.contains("log excerpt:"), "{stdout}");
    assert!(stdout.contains("dependency `dev/base` failed"), "{stdout}");
    assert!(stderr.contains("dev/base: build FAILED"), "{stderr}");

    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report.json")).expect("report"),
    )
    .expect("json");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("schemas/aib-report.schema.json"))
            .expect("schema"),
    )
    .expect("schema json");
    let v = jsonschema::validator_for(&schema).expect("compile schema");
    let errors: Vec<String> = v.iter_errors(&report).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let units = report["units"].as_array().expect("units");
    let by = |id: &str| {
        units
            .iter()
            .find(|u| u["id"] == id)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(by("dev/base")["status"], "failed");
    assert_eq!(by("dev/base")["failure"]["customizer"], "install");
    assert_eq!(by("dev/app")["status"], "skipped");
    assert_eq!(by("prod/base")["status"], "skipped");
    assert!(
        std::fs::read_to_string(dir.path().join("junit.xml"))
            .expect("junit")
            .contains("<testsuites")
    );
    assert!(
        std::fs::read_to_string(dir.path().join("summary.md"))
            .expect("md")
            .contains("gantt")
    );

    // The log stays in the state; status, history and logs read it back.
    let (code, out, err) = run(dir.path(), &sim, &["logs", "dev/base"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("(telemetry) Starting provisioner shell"),
        "{out}"
    );
    let (code, out, _) = run(dir.path(), &sim, &["status"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("failed") && out.contains("customizer: install"),
        "{out}"
    );
    let (code, out, _) = run(dir.path(), &sim, &["history"]);
    assert_eq!(code, 0);
    assert!(out.contains("0 ok, 1 failed, 3 skipped"), "{out}");
}

#[test]
fn ctrl_c_cancels_running_builds_and_exits_130() {
    let dir = manifest_dir(FLEET, &[]);
    let sim = sim(dir.path(), "minute_ms = 5\nbuild_minutes = 100000\n");
    let child = aib_cmd(dir.path(), &sim, &["build"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn build");
    // Wait until both dev builds run (the sim counts run POSTs).
    let start = std::time::Instant::now();
    loop {
        let st = stats(&sim);
        let runs = st["runs"].as_object().map(|m| m.len()).unwrap_or(0);
        if runs >= 1 || start.elapsed() > std::time::Duration::from_secs(30) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let st = stats(&sim);
    assert!(
        st["requests"]["imageTemplates.cancel"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "{st}"
    );
    let (_, status, _) = run(dir.path(), &sim, &["status"]);
    assert!(status.contains("cancelled"), "{status}");
}

/// The checked-in report schema matches the types (regenerate with
/// `AIB_UPDATE_SCHEMAS=1 cargo test --test cli report_schema`).
#[test]
fn report_schema_is_current() {
    let path = repo_root().join("schemas/aib-report.schema.json");
    let generated = aib_executor::report::report_schema();
    if std::env::var_os("AIB_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is stale: run `AIB_UPDATE_SCHEMAS=1 cargo test --test cli report_schema` and commit the result",
        path.display()
    );
}

/// Plain http to a host that is not loopback is refused (tokens would cross the network in
/// clear text) unless `--insecure` says this is a test rig.
#[test]
fn plain_http_to_a_remote_host_needs_insecure() {
    let dir = manifest_dir(FLEET, &[]);
    let run = |extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_aib"));
        c.arg("build")
            .args(extra)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env("AIB_ARM_ENDPOINT", "http://arm.example.invalid:8080")
            .env("AIB_CREDENTIAL", "env")
            .env_remove("AZURE_TENANT_ID")
            .env_remove("AZURE_CLIENT_ID")
            .env_remove("AZURE_CLIENT_SECRET");
        let out = c.output().expect("run aib");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("refusing plain http"), "{err}");
    // With --insecure the endpoint is accepted and aib goes on to authenticate, which fails at
    // once here (the `env` credential is not configured).
    let (code, err) = run(&["--insecure"]);
    assert_eq!(code, 3, "{err}");
    assert!(!err.contains("refusing plain http"), "{err}");
    assert!(err.contains("env: not configured"), "{err}");
}

/// The most `build` stages running at once in the events of the state's runs (in the order
/// the recorder wrote them), per run.
fn peak_builds(dir: &std::path::Path) -> Vec<usize> {
    super::fleet::run_dirs(dir)
        .iter()
        .map(|d| {
            let text = std::fs::read_to_string(d.join("events.ndjson")).unwrap_or_default();
            let (mut now, mut peak) = (0usize, 0usize);
            for e in text
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            {
                if e["stage"] != "build" {
                    continue;
                }
                match e["event"].as_str() {
                    Some("stage.started") => now += 1,
                    Some("stage.finished") => now = now.saturating_sub(1),
                    _ => {}
                }
                peak = peak.max(now);
            }
            peak
        })
        .collect()
}

/// `[pipeline] max_parallel` caps the whole run (an environment's larger cap is said once at
/// plan time and does not lift it); `--max-parallel` overrides it for one run.
#[test]
fn the_manifest_caps_the_run_and_the_flag_overrides_it() {
    let manifest = r#"
version = 1

[pipeline]
name = "caps"
max_parallel = 2

[defaults]
location = "eastus2"
resource_group = "rg-{{ env }}"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = { name = "gal_{{ env }}" }
version = "date"

[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"
max_parallel = 5

[variants.v]
image_definition = "v{{ matrix.n }}"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
matrix = { n = [1, 2, 3, 4, 5, 6] }
customize = [ { type = "shell", name = "s", inline = ["echo s"] } ]
"#;
    let dir = manifest_dir(manifest, &[]);
    let d = dir.path();
    let sim = sim(d, "minute_ms = 10\n");
    let out = super::support::aib(d, &["plan"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stderr
            .matches("environment `dev` allows 5 units at once")
            .count(),
        1,
        "{}",
        out.stderr
    );
    let (code, _, err) = run(d, &sim, &["build"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(d, &sim, &["build", "--force", "--max-parallel", "3"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(peak_builds(d), [2, 3]);
}
