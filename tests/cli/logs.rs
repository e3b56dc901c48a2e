//! `aib logs --analyse FILE [--manifest M --unit ID] [--format json]` on customization.logs
//! written for these tests in both of AIB's formats, and the same phase and cause in
//! `--report-json` and `aib logs UNIT` after a failed build against `aib sim`.

use super::support::{aib, manifest_dir, repo_root, run, sim};

/// Packer 1.14 (no telemetry): AIB's upload, a PowerShell step, a restart, a failing
/// PowerShell step.
const NEW_FORMAT: &str = "\
[5d1e] PACKER 2026/01/10 09:00:00 ui: ==> azure-arm: Connected to WinRM!
[5d1e] PACKER 2026/01/10 09:00:01 ui: ==> azure-arm: Uploading /aib/packerInput/DeprovisioningScript.txt => c:\\DeprovisioningScript.ps1
[5d1e] PACKER 2026/01/10 09:00:02 ui: ==> azure-arm: Provisioning with Powershell...
[5d1e] PACKER 2026/01/10 09:02:00 ui: ==> azure-arm: Restarting Machine
[5d1e] PACKER 2026/01/10 09:02:00 ui error: ==> azure-arm: A system shutdown has already been scheduled.(1190)
[5d1e] PACKER 2026/01/10 09:03:00 ui: ==> azure-arm: Provisioning with Powershell...
[5d1e] PACKER 2026/01/10 09:03:30 ui: ==> azure-arm: Install-Module : No match was found for 'NotAModule'
[5d1e] PACKER 2026/01/10 09:03:31 ui: ==> azure-arm: Provisioning step had errors: Running the cleanup provisioner, if present...
[5d1e] PACKER 2026/01/10 09:04:40 ui error: Build 'azure-arm' errored after 4 minutes 40 seconds: Script exited with non-zero exit status: 1. Allowed exit codes are: [0]
";

/// The telemetry format: a Linux build whose last step (AIB's deprovisioning) is cut off by
/// the build timeout.
const OLD_FORMAT: &str = "\
[9c2a] PACKER ERR 2021/03/01 10:00:00 [INFO] (telemetry) Starting provisioner file
[9c2a] PACKER OUT ==> azure-arm: Uploading /aib/packerInput/DeprovisioningScript.txt => /tmp/DeprovisioningScript.sh
[9c2a] PACKER ERR 2021/03/01 10:00:01 [INFO] (telemetry) ending file
[9c2a] PACKER ERR 2021/03/01 10:00:01 [INFO] (telemetry) Starting provisioner shell
[9c2a] PACKER OUT ==> azure-arm: Provisioning with shell script: /tmp/script_1.sh
[9c2a] PACKER ERR 2021/03/01 10:20:00 [INFO] (telemetry) ending shell
[9c2a] PACKER ERR 2021/03/01 10:20:00 [INFO] (telemetry) Starting provisioner shell
[9c2a] PACKER OUT ==> azure-arm: Provisioning with shell script: /tmp/script_2.sh
[9c2a] PACKER OUT     azure-arm: + sudo /usr/sbin/waagent -force -deprovision+user
[9c2a] PACKER OUT Cancelling build after receiving terminated
[9c2a] PACKER ERR 2021/03/01 14:00:00 [INFO] (telemetry) ending shell
";

const MANIFEST: &str = r#"
version = 1

[pipeline]
name = "lg"

[defaults]
location = "eastus2"
resource_group = "rg-dev"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = { name = "gal_dev" }
version = "date"

[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"

[variants.win]
image_definition = "win"
source = { platform = "MicrosoftWindowsDesktop:windows-11:win11-24h2-ent:latest" }
customize = [
  { type = "powershell", name = "tools", inline = ["echo tools"] },
  { type = "windows-restart", name = "restart" },
  { type = "powershell", name = "modules", inline = ["Install-Module NotAModule"] },
]
"#;

#[test]
fn analyse_reads_the_new_format_and_names_the_customizer() {
    let dir = manifest_dir(MANIFEST, &[("customization.log", NEW_FORMAT)]);
    let out = aib(dir.path(), &["logs", "--analyse", "customization.log"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("analyse_new_format", out.stdout);
    let out = aib(
        dir.path(),
        &[
            "logs",
            "--analyse",
            "customization.log",
            "--unit",
            "dev/win",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("customizer: modules\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn analyse_reads_the_telemetry_format_as_json_per_the_schema() {
    let dir = manifest_dir(MANIFEST, &[("old.log", OLD_FORMAT)]);
    let out = aib(
        dir.path(),
        &["logs", "--analyse", "old.log", "--format", "json"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["phase"], "deprovision", "{v}");
    assert_eq!(v["cause"], "timeout");
    assert_eq!(v["step"], 3);
    assert_eq!(v["provisioner"], "shell");
    assert_eq!(v["customizer"], serde_json::Value::Null);
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("schemas/aib-log-analysis.schema.json"))
            .expect("schema"),
    )
    .expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("compile");
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn analyse_refuses_what_it_cannot_read() {
    let dir = manifest_dir(MANIFEST, &[]);
    let out = aib(dir.path(), &["logs", "--analyse", "missing.log"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("missing.log"), "{}", out.stderr);
    std::fs::write(dir.path().join("c.log"), NEW_FORMAT).expect("write");
    let out = aib(
        dir.path(),
        &["logs", "--analyse", "c.log", "--unit", "dev/nope"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = aib(dir.path(), &["logs"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    // `--unit` belongs to --analyse; a unit is named positionally otherwise.
    let out = aib(dir.path(), &["logs", "--unit", "dev/win"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

/// The log analysis schema matches the types (regenerate with
/// `AIB_UPDATE_SCHEMAS=1 cargo test --test cli log_analysis_schema`).
#[test]
fn log_analysis_schema_is_current() {
    let path = repo_root().join("schemas/aib-log-analysis.schema.json");
    let generated = aib_executor::logs::analyse::analysis_schema();
    if std::env::var_os("AIB_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is stale: run `AIB_UPDATE_SCHEMAS=1 cargo test --test cli log_analysis_schema`",
        path.display()
    );
}

/// A failed build's report and `aib logs UNIT` say where and why, from the simulator's log in
/// either format.
#[test]
fn reports_and_logs_carry_phase_and_cause() {
    for format in ["telemetry", "packer-1.14"] {
        let dir = manifest_dir(MANIFEST, &[]);
        let d = dir.path();
        let sim = sim(
            d,
            &format!(
                "minute_ms = 5
log_format = \"{format}\"\n[[outcome]]\ntemplate = \"lg-win-*\"\nresult = \"fail\"\nfailed_customizer = \"modules\"\n"
            ),
        );
        let (code, out, err) = run(d, &sim, &["build", "--report-json", "r.json"]);
        assert_eq!(code, 1, "{format}\nstdout:\n{out}\nstderr:\n{err}");
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).expect("report"))
                .expect("report json");
        let f = &r["units"][0]["failure"];
        assert_eq!(f["phase"], "customizer", "{format}: {f}");
        assert_eq!(f["cause"], "error", "{format}: {f}");
        assert_eq!(f["customizer"], "modules", "{format}: {f}");
        let m = f["message"].as_str().unwrap_or_default();
        assert!(
            m.starts_with("customizer `modules` failed (step 4, powershell)"),
            "{format}: {m}"
        );
        let (code, _, err) = run(d, &sim, &["logs", "dev/win"]);
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains("phase customizer, cause error, step 4 (powershell)"),
            "{format}: {err}"
        );
    }
}

/// Staging accounts that forbid Shared Key (or a refused `listKeys`): the log is read with an
/// Entra token; when the identity may not read it either, the failure names the role it needs.
#[test]
fn logs_are_read_without_shared_key_or_the_role_is_named() {
    let cases = [
        ("shared_key = false", true),
        ("list_keys = false", true),
        ("shared_key = false\ndata_reader = false", false),
    ];
    for (storage, readable) in cases {
        let dir = manifest_dir(MANIFEST, &[]);
        let d = dir.path();
        let sim = sim(
            d,
            &format!(
                "minute_ms = 5\n[storage]\n{storage}\n[[outcome]]\ntemplate = \"lg-win-*\"\nresult = \"fail\"\nfailed_customizer = \"modules\"\n"
            ),
        );
        let (code, out, err) = run(d, &sim, &["build", "--report-json", "r.json"]);
        assert_eq!(code, 1, "{storage}\nstdout:\n{out}\nstderr:\n{err}");
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).expect("report"))
                .expect("report json");
        let f = &r["units"][0]["failure"];
        if readable {
            assert_eq!(f["customizer"], "modules", "{storage}: {f}");
            assert!(f["log_path"].is_string(), "{storage}: {f}");
        } else {
            assert!(f["log_path"].is_null(), "{storage}: {f}");
            assert!(
                err.contains("Storage Blob Data Reader") && err.contains("IT_rg-dev_lg-win-dev-"),
                "{storage}: {err}"
            );
        }
    }
}

/// No runs is not a failure: `status` and `history` say so and exit 0 (with or without a state
/// folder); `logs UNIT` has nothing to show, a usage error (2) like any missing log.
#[test]
fn no_runs_yet_is_not_a_failure() {
    let dir = manifest_dir(super::build::FLEET, &[]);
    let d = dir.path();
    for round in ["no state folder", "an empty state folder"] {
        for cmd in ["status", "history"] {
            let out = aib(d, &[cmd]);
            assert_eq!(out.code, 0, "{round}: {cmd}: {}", out.stderr);
            assert_eq!(out.stdout, "no runs yet\n", "{round}: {cmd}");
        }
        let out = aib(d, &["logs", "dev/base"]);
        assert_eq!(out.code, 2, "{round}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("no customization.log of unit `dev/base`"),
            "{}",
            out.stderr
        );
        std::fs::create_dir_all(d.join(".aib")).expect("state folder");
    }
}
