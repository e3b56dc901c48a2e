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

    let (code, out, err) = run_with_secrets(dir.path(), &sim, &["build", "-vv"]);
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

const KV_SECRET: &str = "Planted-KeyVault-Secret-7d21";
const KV_REF: &str = "keyvault:https://kv-aib.vault.azure.net/secrets/admin";

fn stats(sim: &Sim) -> serde_json::Value {
    serde_json::from_str(&http_get(sim, "/_sim/stats", &[])).expect("stats JSON")
}

/// Raw HTTP/1.0 `POST /_sim/control` with a JSON body.
fn control(sim: &Sim, body: &str) {
    let addr = sim.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let req = format!(
        "POST /_sim/control HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
        "{answer}"
    );
}

/// `Bearer <token>` from the sim's managed-identity endpoint.
fn sim_bearer(sim: &Sim) -> String {
    let token: serde_json::Value = serde_json::from_str(&http_get(
        sim,
        "/msi/token?resource=https://management.azure.com&api-version=2019-08-01",
        &[("X-IDENTITY-HEADER", "test")],
    ))
    .expect("token JSON");
    format!("Bearer {}", token["access_token"].as_str().expect("token"))
}

/// A `keyvault:` secret is read from the simulator's Key Vault (the vault URL is sent to the
/// custom ARM endpoint), used in a customizer, and appears on no channel and in no file.
#[test]
fn key_vault_secret_builds_and_never_shows() {
    let manifest = MANIFEST.replace("env:AIB_TEST_ADMIN_PASSWORD", KV_REF);
    let dir = manifest_dir(&manifest, &[]);
    let sim = sim(
        dir.path(),
        &format!("minute_ms = 5\n[key_vault]\n\"kv-aib/admin\" = \"{KV_SECRET}\"\n"),
    );
    // Hold the answers of the runs, so the templates (deleted after a success) can be read
    // while the build waits.
    control(&sim, r#"{"hold": ["imageTemplates.run"]}"#);
    let child = aib_cmd(
        dir.path(),
        &sim,
        &[
            "build",
            "--report-json",
            "report.json",
            "--report-markdown",
            "summary.md",
            "--log-format",
            "json",
            "-vvv",
        ],
    )
    .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn aib build");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while stats(&sim)["held"].as_u64() < Some(2) {
        assert!(
            std::time::Instant::now() < deadline,
            "both runs started: {}",
            stats(&sim)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Not vacuous: the value from the sim's vault reached Azure in both templates.
    let listed = http_get(
        &sim,
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-dev/providers/Microsoft.VirtualMachineImages/imageTemplates?api-version=2024-02-01",
        &[("Authorization", &sim_bearer(&sim))],
    );
    assert_eq!(
        listed.matches(KV_SECRET).count(),
        2,
        "both templates carry the Key Vault value: {listed}"
    );
    control(&sim, r#"{"release": ["*"]}"#);
    let done = child.wait_with_output().expect("aib build");
    let (code, out, err) = (
        done.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&done.stdout).into_owned(),
        String::from_utf8_lossy(&done.stderr).into_owned(),
    );
    assert_eq!(code, 0, "the build succeeds:\n{out}\n{err}");
    let s = stats(&sim);
    assert!(
        s["requests"]["keyVault.secrets.get"].as_u64() >= Some(1),
        "Key Vault was asked: {s}"
    );
    assert!(
        s["requests"]["deployments.put"].as_u64() >= Some(2),
        "both units deployed: {s}"
    );

    let mut channels = vec![
        ("build stdout".to_string(), out),
        ("build stderr".into(), err),
    ];
    let mut all_files = Vec::new();
    files(dir.path(), &mut all_files);
    assert!(
        all_files.iter().any(|p| p.ends_with("report.json"))
            && all_files
                .iter()
                .any(|p| p.components().any(|c| c.as_os_str() == ".aib")),
        "the run left reports and state: {all_files:?}"
    );
    // The sim's own scenario holds the value (it is the vault); every other file is aib's.
    for p in all_files.iter().filter(|p| !p.ends_with("scenario.toml")) {
        if let Ok(text) = std::fs::read_to_string(p) {
            channels.push((p.display().to_string(), text));
        }
    }
    let mut found: Vec<String> = channels
        .iter()
        .flat_map(|(what, text)| leaks(what, text))
        .collect();
    found.extend(
        channels
            .iter()
            .filter(|(_, text)| text.contains(KV_SECRET))
            .map(|(what, _)| format!("{what}: contains the Key Vault secret")),
    );
    assert!(found.is_empty(), "leaks:\n{}", found.join("\n"));
}

/// A missing Key Vault secret and a missing environment secret are both reported, with exit 2,
/// before anything is deployed.
#[test]
fn missing_key_vault_and_env_secrets_are_named_before_deploying() {
    let manifest = MANIFEST
        .replace(
            "env:AIB_TEST_ADMIN_PASSWORD",
            "keyvault:https://kv-aib.vault.azure.net/secrets/absent-admin",
        )
        .replace(
            "[environments.dev]",
            "api_token = \"env:AIB_TEST_UNSET_TOKEN\"\n\n[environments.dev]",
        )
        .replace(
            "\"apt-get install -y x\"",
            "\"apt-get install -y x --token {{ secrets.api_token }}\"",
        );
    let dir = manifest_dir(&manifest, &[]);
    let sim = sim(
        dir.path(),
        &format!("minute_ms = 5\n[key_vault]\n\"kv-aib/admin\" = \"{KV_SECRET}\"\n"),
    );
    let out = aib_cmd(dir.path(), &sim, &["build"])
        .env_remove("AIB_TEST_UNSET_TOKEN")
        .output()
        .expect("run aib");
    let code = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        code, 2,
        "missing secrets are invalid input:\n{stdout}\n{stderr}"
    );
    for expected in [
        "2 secret(s) could not be resolved",
        "secret `admin_password` (keyvault:https://kv-aib.vault.azure.net/secrets/absent-admin)",
        "SecretNotFound",
        "secret `api_token` (env:AIB_TEST_UNSET_TOKEN)",
        "`AIB_TEST_UNSET_TOKEN` is not set",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in:\n{stderr}");
    }
    let s = stats(&sim);
    assert!(
        s["requests"]["keyVault.secrets.get"].as_u64() >= Some(1),
        "Key Vault was asked: {s}"
    );
    assert!(
        s["requests"].get("deployments.put").is_none(),
        "nothing deployed: {s}"
    );
}

#[test]
fn unchanged_units_need_no_secrets_and_forced_ones_do() {
    let dir = manifest_dir(MANIFEST, &[]);
    let d = dir.path();
    let sim = sim(d, "minute_ms = 5\n");
    let build = |args: &[&str], with_secret: bool| {
        let mut all = vec!["build"];
        all.extend_from_slice(args);
        let mut cmd = aib_cmd(d, &sim, &all);
        if with_secret {
            cmd.env("AIB_TEST_ADMIN_PASSWORD", SECRET);
        } else {
            cmd.env_remove("AIB_TEST_ADMIN_PASSWORD");
        }
        let out = cmd.output().expect("run aib");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = build(&[], true);
    assert_eq!(code, 0, "{err}");
    // Nothing changed and the secret is gone: nothing builds, so nothing needs it.
    let (code, err) = build(&[], false);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("could not be resolved"), "{err}");
    // Rebuilding needs it again: named, before anything is deployed.
    let puts = stats(&sim)["requests"]["deployments.put"].as_u64();
    let (code, err) = build(&["--force"], false);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("secret `admin_password`"), "{err}");
    assert_eq!(stats(&sim)["requests"]["deployments.put"].as_u64(), puts);
}

/// Attack: filters on a secret (`| replace("'", "''")`, `| upper`, `| length`), tests and
/// conditions acted on an internal placeholder, so a wrong value went to Azure and quoting
/// meant to protect a script did nothing; `{{ debug() }}` dumped the context. Each is now an
/// error at `validate` naming the secret and what was applied; `sh_quote`, `ps_quote` and
/// `tojson` are allowed.
#[test]
fn only_quoting_filters_may_touch_a_secret() {
    let with_line = |line: &str| {
        MANIFEST.replace(
            "\"echo 'admin:{{ secrets.admin_password }}' | chpasswd\"",
            &format!("{line:?}"),
        )
    };
    for (line, says) in [
        (
            r#"echo {{ secrets.admin_password | replace("'", "''") }}"#,
            "filter `replace`",
        ),
        (
            "echo {{ secrets.admin_password | upper }}",
            "filter `upper`",
        ),
        (
            "echo {{ secrets.admin_password | length }}",
            "filter `length`",
        ),
        (
            "{% if secrets.admin_password %}echo set{% endif %}",
            "an `{% if %}` condition",
        ),
        (
            "echo {{ secrets.admin_password is defined }}",
            "test `defined`",
        ),
    ] {
        let dir = manifest_dir(&with_line(line), &[]);
        let out = super::support::aib(dir.path(), &["validate"]);
        assert_eq!(out.code, 2, "{line}: {}", out.stderr);
        assert!(
            out.stderr.contains("secret `admin_password`") && out.stderr.contains(says),
            "{line}: {}",
            out.stderr
        );
    }
    let dir = manifest_dir(&with_line("echo {{ debug() }}"), &[]);
    let out = super::support::aib(dir.path(), &["validate"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("debug"), "{}", out.stderr);
    for ok in [
        "echo {{ secrets.admin_password | sh_quote }} | chpasswd",
        "Set-Password {{ secrets.admin_password | ps_quote }}",
        "echo {{ secrets.admin_password | tojson }}",
    ] {
        let dir = manifest_dir(&with_line(ok), &[]);
        let out = super::support::aib(dir.path(), &["validate"]);
        assert_eq!(out.code, 0, "{ok}: {}", out.stderr);
    }
}

/// Attack: Azure sends the secret back. The failing step's commands are echoed into
/// customization.log (Packer shows what an inline script runs; here also in `sh_quote`d and
/// JSON-quoted form) and the failure message quotes the last command. Before, the secret was
/// stored and printed verbatim: stdout, every report, run.json, events.ndjson, the saved log,
/// `aib logs`. Now every channel shows `***`; and the secret reached Azure as a secure
/// parameter of the deployment, which shows no value.
#[test]
fn a_secret_azure_echoes_back_is_masked_everywhere() {
    let manifest = MANIFEST.replace(
        "inline = [\"echo 'admin:{{ secrets.admin_password }}' | chpasswd\"]",
        "inline = [\"echo 'admin:{{ secrets.admin_password }}' | chpasswd\", \"login --password {{ secrets.admin_password | sh_quote }}\", \"configure --json {{ secrets.admin_password | tojson }}\"]",
    );
    assert_ne!(manifest, MANIFEST);
    let dir = manifest_dir(&manifest, &[]);
    let sim = sim(
        dir.path(),
        "minute_ms = 5\necho = [\"sec-base-dev-*\"]\n[[outcome]]\ntemplate = \"sec-base-dev-*\"\nresult = \"fail\"\nfailed_customizer = \"password\"\n",
    );
    // A secret with characters every quoting form changes.
    let secret = "Planted-'Echo' \"Secret\" 5e1f";
    let run = |args: &[&str]| {
        let out = aib_cmd(dir.path(), &sim, args)
            .env("AIB_TEST_ADMIN_PASSWORD", secret)
            .output()
            .expect("run aib");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let mut channels = Vec::new();
    let (code, out, err) = run(&[
        "build",
        "--report-json",
        "report.json",
        "--report-junit",
        "junit.xml",
        "--report-markdown",
        "summary.md",
        "-vvv",
    ]);
    assert_eq!(code, 1, "the scripted failure fails the run:\n{out}\n{err}");
    channels.push(("build stdout".to_string(), out));
    channels.push(("build stderr".to_string(), err));
    let (code, out, err) = run(&["build", "--log-format", "json", "--unit", "dev/base"]);
    assert_eq!(code, 1, "{out}\n{err}");
    channels.push(("second build stdout".to_string(), out));
    channels.push(("second build stderr (json)".to_string(), err));
    for args in [&["status"][..], &["logs", "dev/base"][..]] {
        let (_, out, err) = run(args);
        channels.push((format!("aib {} stdout", args.join(" ")), out));
        channels.push((format!("aib {} stderr", args.join(" ")), err));
    }
    let (_, logs, _) = run(&["logs", "dev/base"]);
    assert!(
        logs.contains("+ echo 'admin:***' | chpasswd"),
        "the echoed command is in the saved log, masked:\n{logs}"
    );
    let mut all_files = Vec::new();
    files(dir.path(), &mut all_files);
    for p in all_files.iter().filter(|p| !p.ends_with("scenario.toml")) {
        if let Ok(text) = std::fs::read_to_string(p) {
            channels.push((p.display().to_string(), text));
        }
    }
    // Azure's failure message, with the command it quoted, is kept, masked (in the events).
    assert!(
        channels
            .iter()
            .any(|(_, t)| t.contains("The failing command was: configure --json ***")),
        "the quoted command is recorded, masked"
    );

    // Every form Azure sent back: as is, sh_quote'd, tojson'd, JSON-escaped inside a body.
    let sh_quoted = "'Planted-'\"'\"'Echo'\"'\"' \"Secret\" 5e1f'";
    let forms = [
        secret.to_string(),
        serde_json::Value::String(secret.into()).to_string(),
        "Planted-'Echo' \\\"Secret\\\" 5e1f".to_string(),
        "Planted-\\u0027Echo\\u0027".to_string(),
        "Echo' \"Secret".to_string(),
        sh_quoted.to_string(),
    ];
    let found: Vec<String> = channels
        .iter()
        .flat_map(|(what, text)| {
            forms
                .iter()
                .filter(|f| text.contains(f.as_str()))
                .map(move |f| format!("{what}: contains {f}"))
        })
        .collect();
    assert!(found.is_empty(), "leaks:\n{}", found.join("\n"));

    // Not vacuous: Azure did send it back, in the failed template's message...
    let listed = http_get(
        &sim,
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-dev/providers/Microsoft.VirtualMachineImages/imageTemplates?api-version=2025-10-01",
        &[("Authorization", &sim_bearer(&sim))],
    );
    assert!(
        listed.contains("The failing command was: configure --json"),
        "{listed}"
    );
    assert!(
        listed.contains("5e1f"),
        "the template carries the value: {listed}"
    );
    // ...and it went as a secure parameter, which the deployment record shows without value.
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            all_files
                .iter()
                .find(|p| p.ends_with("run.json"))
                .expect("a run record"),
        )
        .expect("run.json"),
    )
    .expect("json");
    let deployment = rec["units"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["id"] == "dev/base"))
        .and_then(|u| u["deployment_name"].as_str())
        .expect("deployment name")
        .to_string();
    let d = http_get(
        &sim,
        &format!(
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-dev/providers/Microsoft.Resources/deployments/{deployment}?api-version=2025-04-01"
        ),
        &[("Authorization", &sim_bearer(&sim))],
    );
    assert!(d.contains("aibSecret_admin_password"), "{d}");
    assert!(d.contains("SecureString"), "{d}");
    assert!(!d.contains("5e1f"), "{d}");
}

/// Attack: the input hash leaves secret values out, so after a secret is rotated the template
/// name is the same and the existing template (created with the old value) was reused. A
/// template that carries a secret is now deleted and deployed again.
#[test]
fn a_template_with_a_secret_is_deployed_again_with_the_current_value() {
    let manifest = MANIFEST.replace(
        "version = \"date\"",
        "version = \"date\"\ncleanup = \"never\"",
    );
    let dir = manifest_dir(&manifest, &[]);
    let sim = sim(dir.path(), "minute_ms = 5\n");
    let build = |secret: &str, extra: &[&str]| {
        let mut args = vec!["build"];
        args.extend_from_slice(extra);
        let out = aib_cmd(dir.path(), &sim, &args)
            .env("AIB_TEST_ADMIN_PASSWORD", secret)
            .output()
            .expect("run aib");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{err}");
        err
    };
    let templates = || {
        http_get(
            &sim,
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-dev/providers/Microsoft.VirtualMachineImages/imageTemplates?api-version=2025-10-01",
            &[("Authorization", &sim_bearer(&sim))],
        )
    };
    build("Old-Secret-Value-1", &[]);
    assert_eq!(templates().matches("Old-Secret-Value-1").count(), 2);
    let err = build("New-Secret-Value-2", &["--force"]);
    let listed = templates();
    assert!(!listed.contains("Old-Secret-Value-1"), "{listed}");
    assert_eq!(listed.matches("New-Secret-Value-2").count(), 2, "{listed}");
    assert!(err.contains("carries secrets"), "{err}");
    let s = stats(&sim);
    assert_eq!(
        s["requests"]["imageTemplates.delete"].as_u64(),
        Some(2),
        "{s}"
    );
    assert_eq!(s["requests"]["deployments.put"].as_u64(), Some(4), "{s}");
}

/// `--simulate` never reads a secret: the simulated Azure, which keeps what it is sent in
/// `.aib/simulate/azure`, gets placeholders, so no file of the simulated state holds the value
/// in the environment, nor a token or key.
#[test]
fn simulate_sends_placeholders_and_keeps_no_secret_on_disk() {
    let dir = manifest_dir(MANIFEST, &[]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aib"))
        .args(["build", "--simulate"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("AIB_ARM_ENDPOINT")
        .env("AIB_TEST_ADMIN_PASSWORD", SECRET)
        .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
        .output()
        .expect("run aib");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The scripted failure (a unit fails once) makes it exit 1; it ran.
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("simulated: placeholder values for secrets `admin_password`"),
        "{stderr}"
    );
    let mut found = leaks("stdout", &stdout);
    found.extend(leaks("stderr", &stderr));
    let mut all = Vec::new();
    files(&dir.path().join(".aib/simulate"), &mut all);
    let world = dir.path().join(".aib/simulate/azure/world.json");
    assert!(all.contains(&world), "{all:?}");
    for f in &all {
        let bytes = std::fs::read(f).expect("read");
        found.extend(leaks(
            &f.display().to_string(),
            &String::from_utf8_lossy(&bytes),
        ));
    }
    assert!(found.is_empty(), "{found:#?}");
    // The placeholder did reach the simulated Azure (the failed template it keeps).
    let text = std::fs::read_to_string(&world).expect("world");
    assert!(
        text.contains("root:simulated-secret-value"),
        "the world holds the placeholder"
    );
}
