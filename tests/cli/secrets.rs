//! Secrets never leak: a build with a `secrets` value used in a customizer, a failure (so logs
//! are collected), every report, `--log-format json -vvv` logs, `plan --render-dir`, `status`,
//! `history` and `logs`. Every channel and every file the run leaves is searched for the
//! planted secret, the client secret in the environment, bearer tokens and storage keys.
//! The test also proves the secret did reach Azure (the sim's template holds it), so it
//! cannot pass by never using the value.

use std::io::{Read, Write};
use std::path::Path;

use super::support::manifest_dir;
use super::support::{Sim, aib_cmd, sim};

const SECRET: &str = "Planted-Secret-9f3c2d7e";
const CLIENT_SECRET: &str = "Planted-Client-Secret-41ab";

const MANIFEST: &str = r#"
version = 1

[pipeline]
name = "sec"

[defaults]
location = "eastus2"
resource_group = "rg-{{ env }}"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = { name = "gal_{{ env }}" }
version = "date"

[defaults.secrets]
admin_password = "env:AIB_TEST_ADMIN_PASSWORD"

[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"

[variants.base]
image_definition = "base"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [
  { type = "shell", name = "password", inline = ["echo 'admin:{{ secrets.admin_password }}' | chpasswd"] },
  { type = "shell", name = "install", inline = ["apt-get install -y x"] },
]

[variants.other]
image_definition = "other"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [
  { type = "shell", name = "password", inline = ["echo 'root:{{ secrets.admin_password }}' | chpasswd"] },
]
"#;

const SCENARIO: &str = r#"
minute_ms = 5
[[outcome]]
template = "sec-base-dev-*"
result = "fail"
failed_customizer = "install"
"#;

fn run_with_secrets(dir: &Path, sim: &Sim, args: &[&str]) -> (i32, String, String) {
    let out = aib_cmd(dir, sim, args)
        .env("AIB_TEST_ADMIN_PASSWORD", SECRET)
        .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
        .env("AZURE_STORAGE_KEY", CLIENT_SECRET)
        .output()
        .expect("run aib");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Raw HTTP/1.0 GET against the sim (no client crate of ours in the loop).
fn http_get(sim: &Sim, path: &str, headers: &[(&str, &str)]) -> String {
    let addr = sim.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let mut req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body.split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// Every leak found in `text`: the planted values, a sim bearer token (`sim.<hex>`) or an
/// 88-character base64 storage account key.
fn leaks(what: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for planted in [SECRET, CLIENT_SECRET] {
        if text.contains(planted) {
            found.push(format!("{what}: contains `{planted}`"));
        }
    }
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices("sim.") {
        let hex = bytes[i + 4..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if hex >= 16 {
            found.push(format!("{what}: contains a bearer token at byte {i}"));
        }
    }
    let is_b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    let mut run = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        if is_b64(b) {
            run += 1;
        } else {
            if run == 86 && b == b'=' && bytes.get(i + 1) == Some(&b'=') {
                found.push(format!(
                    "{what}: contains a storage key at byte {}",
                    i - run
                ));
            }
            run = 0;
        }
    }
    found
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn no_channel_or_file_shows_a_secret_token_or_key() {
    let dir = manifest_dir(MANIFEST, &[]);
    let sim = sim(dir.path(), SCENARIO);
    let mut channels: Vec<(String, String)> = Vec::new();

    let (code, out, err) = run_with_secrets(
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
            "--time-scale",
            "0.0001",
            "--log-format",
            "json",
            "-vvv",
        ],
    );
    assert_eq!(code, 1, "the scripted failure fails the run:\n{out}\n{err}");
    assert!(
        err.contains("\"event\""),
        "events on stderr as JSON:\n{err}"
    );
    channels.push(("build stdout".into(), out));
    channels.push(("build stderr (json, trace)".into(), err));

    let (code, out, err) = run_with_secrets(
        dir.path(),
        &sim,
        &["build", "--time-scale", "0.0001", "-vv"],
    );
    assert_eq!(code, 1);
    channels.push(("second build stdout".into(), out));
    channels.push(("second build stderr (text, debug)".into(), err));

    for args in [
        &["plan", "--format", "json", "--render-dir", "rendered"][..],
        &["plan"][..],
        &["status"][..],
        &["history"][..],
        &["logs", "dev/base"][..],
    ] {
        let (_, out, err) = run_with_secrets(dir.path(), &sim, args);
        channels.push((format!("aib {} stdout", args.join(" ")), out));
        channels.push((format!("aib {} stderr", args.join(" ")), err));
    }

    let mut all_files = Vec::new();
    files(dir.path(), &mut all_files);
    let state_files = all_files
        .iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == ".aib"))
        .count();
    assert!(state_files >= 3, "the run left state: {all_files:?}");
    assert!(
        all_files.iter().any(|p| p.ends_with("customization.log")),
        "the failure's log was collected: {all_files:?}"
    );
    assert!(
        all_files
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".parameters.json")),
        "plan --render-dir wrote files: {all_files:?}"
    );
    for p in &all_files {
        if let Ok(text) = std::fs::read_to_string(p) {
            channels.push((p.display().to_string(), text));
        }
    }

    let found: Vec<String> = channels
        .iter()
        .flat_map(|(what, text)| leaks(what, text))
        .collect();
    assert!(found.is_empty(), "leaks:\n{}", found.join("\n"));

    // Not vacuous: the value did go to Azure, in the failed template the run kept.
    let token: serde_json::Value = serde_json::from_str(&http_get(
        &sim,
        "/msi/token?resource=https://management.azure.com&api-version=2019-08-01",
        &[("X-IDENTITY-HEADER", "test")],
    ))
    .expect("token JSON");
    let bearer = format!("Bearer {}", token["access_token"].as_str().expect("token"));
    let listed = http_get(
        &sim,
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-dev/providers/Microsoft.VirtualMachineImages/imageTemplates?api-version=2024-02-01",
        &[("Authorization", &bearer)],
    );
    assert!(
        listed.contains(SECRET),
        "the failed template in the sim carries the secret: {listed}"
    );
}

#[test]
fn the_leak_detector_finds_what_it_looks_for() {
    let key = format!("{}==", "A".repeat(86));
    assert_eq!(leaks("x", &format!("k={key};")).len(), 1);
    assert_eq!(leaks("x", "Bearer sim.0123456789abcdef01").len(), 1);
    assert_eq!(leaks("x", SECRET).len(), 1);
    assert!(leaks("x", "sim.stats fine ***").is_empty());
}
