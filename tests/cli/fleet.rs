//! A generated fleet of at least 20 units and the checks the fault-matrix and crash tests share:
//! the simulator's counters, the report's statuses, failure logs on disk, templates left in the
//! simulator and state files that must always parse.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::support::Sim;

/// Platform-sourced variants `v00`..`v19`.
pub const PARENTS: usize = 20;
/// Variants built from a parent: `c00` from `v00`, `c01` from `v01`.
pub const CHILDREN: usize = 2;
pub const SUB: &str = "00000000-0000-0000-0000-000000000001";
pub const RG: &str = "rg-dev";

/// The manifest: 20 platform units and 2 units built from two of them, one environment.
pub fn manifest() -> String {
    let mut m = format!(
        r#"
version = 1

[pipeline]
name = "flt"

[defaults]
location = "eastus2"
resource_group = "{RG}"
identity = "/subscriptions/{{{{ subscription }}}}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = {{ name = "gal_dev" }}
version = "date"
build_timeout_minutes = 90

[environments.dev]
subscription = "{SUB}"
max_parallel = 30
"#
    );
    for i in 0..PARENTS {
        m.push_str(&format!(
            r#"
[variants.v{i:02}]
image_definition = "def-v{i:02}"
source = {{ platform = "Canonical:ubuntu-24_04-lts:server:latest" }}
customize = [
  {{ type = "shell", name = "prepare", inline = ["echo prepare {i}"] }},
  {{ type = "shell", name = "harden", inline = ["echo harden {i}"] }},
]
"#
        ));
    }
    for i in 0..CHILDREN {
        m.push_str(&format!(
            r#"
[variants.c{i:02}]
image_definition = "def-c{i:02}"
source = {{ variant = "v{i:02}" }}
customize = [ {{ type = "shell", name = "app", inline = ["echo app {i}"] }} ]
"#
        ));
    }
    m
}

/// Every unit id of [`manifest`].
pub fn units() -> Vec<String> {
    (0..PARENTS)
        .map(|i| format!("dev/v{i:02}"))
        .chain((0..CHILDREN).map(|i| format!("dev/c{i:02}")))
        .collect()
}

/// The glob the simulator's `[[outcome]]` uses for a variant's template.
pub fn template_glob(variant: &str) -> String {
    format!("flt-{variant}-dev-*")
}

/// The variant of a template name (`flt-v03-dev-1a2b3c4d` → `v03`).
pub fn variant_of(template: &str) -> String {
    template
        .strip_prefix("flt-")
        .and_then(|r| r.split('-').next())
        .unwrap_or(template)
        .to_string()
}

/// One HTTP/1.0 request to the simulator: status and JSON body.
pub fn http(
    sim: &Sim,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    request(sim, method, path, headers, "")
}

/// A request with a JSON body (`/_sim/control`, `/_sim/publish`).
pub fn http_json(sim: &Sim, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    request(
        sim,
        method,
        path,
        &[("Content-Type", "application/json")],
        body,
    )
}

fn request(
    sim: &Sim,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, serde_json::Value) {
    let addr = sim.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the sim");
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("send request");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or_default())
}

pub fn stats(sim: &Sim) -> serde_json::Value {
    http(sim, "GET", "/_sim/stats", &[]).1
}

/// Requests the simulator received for an operation.
pub fn req(stats: &serde_json::Value, op: &str) -> u64 {
    stats["requests"][op].as_u64().unwrap_or(0)
}

/// `run` POSTs that started a build, per template name.
pub fn runs(stats: &serde_json::Value) -> BTreeMap<String, u64> {
    stats["runs"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

/// The imageTemplates in the fleet's resource group, as the simulator lists them (ARM, with a
/// token from its managed-identity endpoint).
pub fn templates(sim: &Sim) -> Vec<serde_json::Value> {
    let (code, tok) = http(
        sim,
        "GET",
        "/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com%2F",
        &[("X-IDENTITY-HEADER", "test")],
    );
    assert_eq!(code, 200, "token: {tok}");
    let bearer = format!("Bearer {}", tok["access_token"].as_str().expect("token"));
    let mut out = Vec::new();
    let mut path = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.VirtualMachineImages/imageTemplates?api-version=2022-07-01"
    );
    loop {
        // The scenario's faults apply to the test's reads too: retry them.
        let mut tries = 0;
        let (code, page) = loop {
            let (code, page) = http(sim, "GET", &path, &[("Authorization", &bearer)]);
            tries += 1;
            // A body cut mid-way parses as nothing: that is a failed read too.
            if (code == 200 && page["value"].is_array()) || tries >= 100 {
                break (code, page);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(
            code == 200 && page["value"].is_array(),
            "list templates: {code} {page}"
        );
        out.extend(page["value"].as_array().cloned().unwrap_or_default());
        match page["nextLink"].as_str() {
            Some(next) => path = next.trim_start_matches(&sim.url).to_string(),
            None => break,
        }
    }
    out
}

/// Polls `cond` every 5 ms until it holds; panics naming `what` after 60 s.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The one run directory of a fresh state (`.aib/runs/<id>`), once it exists.
pub fn run_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join(".aib/runs"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The events of every run so far (lines that parse; [`assert_state_parses`] checks the rest).
pub fn events(dir: &Path) -> Vec<serde_json::Value> {
    run_dirs(dir)
        .iter()
        .filter_map(|d| std::fs::read_to_string(d.join("events.ndjson")).ok())
        .flat_map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every JSON file of the state parses, and every complete line of every `events.ndjson`
/// (temporary files of atomic writes, named `.<file>.tmp-…`, are never read and are skipped).
pub fn assert_state_parses(dir: &Path) {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
    }
    let mut files = Vec::new();
    walk(&dir.join(".aib"), &mut files);
    let mut checked = 0;
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let text = || std::fs::read_to_string(&f).expect("read state file");
        if name.ends_with(".ndjson") {
            for (i, line) in text().lines().enumerate() {
                assert!(
                    serde_json::from_str::<serde_json::Value>(line).is_ok(),
                    "{}: line {} does not parse: {line:?}",
                    f.display(),
                    i + 1
                );
            }
            checked += 1;
        } else if name.ends_with(".json") || name == "lock" {
            let t = text();
            assert!(
                serde_json::from_str::<serde_json::Value>(&t).is_ok(),
                "{} does not parse: {t:?}",
                f.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no state files under {}", dir.display());
}

/// The JSON report.
pub fn report(dir: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("report {name} not written: {e}"));
    serde_json::from_str(&text).expect("report json")
}

/// `unit → status` of a report.
pub fn statuses(report: &serde_json::Value) -> BTreeMap<String, String> {
    report["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap_or_default().to_string(),
                u["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Each failed unit of the report has its `customization.log` in the run's state, whole (it
/// ends with the line AIB ends its logs with), and the report points at it.
pub fn assert_failure_logs(dir: &Path, report: &serde_json::Value, context: &str) {
    let run_id = report["run_id"].as_str().expect("run id");
    for u in report["units"].as_array().expect("units") {
        if u["status"] != "failed" {
            continue;
        }
        let id = u["id"].as_str().unwrap_or_default();
        let enc = id.replace('/', "~");
        let path = dir
            .join(".aib/runs")
            .join(run_id)
            .join("logs")
            .join(&enc)
            .join("customization.log");
        let log = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{context}: failed unit {id} has no {}: {e}\nreport: {u}",
                path.display()
            )
        });
        let last = log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        assert!(
            last.contains("Done exporting Packer logs to Azure Storage."),
            "{context}: {id}'s log is cut short; last line {last:?}"
        );
        assert!(
            u["failure"]["log_path"].as_str().is_some(),
            "{context}: {id}'s failure names no log: {u}"
        );
    }
}

/// What must hold after any run against the simulator: no template was ever refused as an
/// update of a different one (in the simulator, on stderr or in the events) and every state
/// file parses.
pub fn assert_common(dir: &Path, sim: &Sim, stderr: &str, context: &str) {
    let s = stats(sim);
    assert_eq!(
        s["update_conflicts"].as_u64(),
        Some(0),
        "{context}: the sim refused template updates: {s}"
    );
    const CONFLICT: &str = "Update/Upgrade of image templates";
    assert!(!stderr.contains(CONFLICT), "{context}: {stderr}");
    for d in run_dirs(dir) {
        let ev = std::fs::read_to_string(d.join("events.ndjson")).unwrap_or_default();
        assert!(!ev.contains(CONFLICT), "{context}: {}", d.display());
    }
    assert_state_parses(dir);
}
