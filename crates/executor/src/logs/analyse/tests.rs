//! Logs written for these tests in both of AIB's formats (not copies of anyone's log).

use super::*;

fn names(customize: &[(&str, &str)], validate: &[(&str, &str)]) -> StepNames {
    let list = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(n, t)| StepName {
                name: (*n).into(),
                packer_type: (*t).into(),
            })
            .collect()
    };
    StepNames {
        customize: list(customize),
        validate: list(validate),
        validation_log: false,
    }
}

fn windows() -> StepNames {
    names(
        &[
            ("install-fslogix", "powershell"),
            ("restart", "windows-restart"),
            ("updates", "windows-update"),
        ],
        &[],
    )
}

/// The telemetry format: every step gets its `ending` line, the failing one too.
const TELEMETRY_UPDATE_FAILS: &str = "\
[0a1b] PACKER OUT ==> azure-arm: Waiting for WinRM to become available...
[0a1b] PACKER OUT ==> azure-arm: Connected to WinRM!
[0a1b] PACKER ERR 2022/10/01 10:00:00 [INFO] (telemetry) Starting provisioner file
[0a1b] PACKER OUT ==> azure-arm: Uploading /aib/packerInput/DeprovisioningScript.txt => c:\\DeprovisioningScript.ps1
[0a1b] PACKER ERR 2022/10/01 10:00:01 [INFO] (telemetry) ending file
[0a1b] PACKER ERR 2022/10/01 10:00:01 [INFO] (telemetry) Starting provisioner powershell
[0a1b] PACKER OUT ==> azure-arm: Provisioning with Powershell...
[0a1b] PACKER OUT     azure-arm: fslogix installed
[0a1b] PACKER ERR 2022/10/01 10:02:00 [INFO] (telemetry) ending powershell
[0a1b] PACKER ERR 2022/10/01 10:02:00 [INFO] (telemetry) Starting provisioner windows-restart
[0a1b] PACKER OUT ==> azure-arm: Restarting Machine
[0a1b] PACKER OUT ==> azure-arm: A system shutdown has already been scheduled.(1190)
[0a1b] PACKER ERR 2022/10/01 10:04:00 [INFO] (telemetry) ending windows-restart
[0a1b] PACKER ERR 2022/10/01 10:04:00 [INFO] (telemetry) Starting provisioner windows-update
[0a1b] PACKER OUT ==> azure-arm: Uploading the Windows update elevated script...
[0a1b] PACKER OUT     azure-arm: Failed to install updates: 0x80240016
[0a1b] PACKER OUT ==> azure-arm: Provisioning step had errors: Running the cleanup provisioner, if present...
[0a1b] PACKER ERR 2022/10/01 10:09:00 [INFO] (telemetry) ending windows-update
[0a1b] PACKER ERR ==> azure-arm: Deleting individual resources ...
[0a1b] PACKER OUT Build 'azure-arm' errored after 9 minutes: Windows update script exited with non-zero exit status: 1
[0a1b] PACKER ERR 2022/10/01 10:10:00 [INFO] (telemetry) Finalizing.
";

#[test]
fn telemetry_format_names_the_step_before_packers_error() {
    let a = analyse(TELEMETRY_UPDATE_FAILS, &windows());
    assert_eq!(a.step, Some(4), "AIB's upload is step 1");
    assert_eq!(a.provisioner.as_deref(), Some("windows-update"));
    assert_eq!(a.customizer.as_deref(), Some("updates"));
    assert_eq!((a.phase, a.cause), (Phase::Customizer, Cause::Error));
    assert_eq!(
        a.signature.map(|s| s.id).as_deref(),
        Some("windows-update-0x80240016")
    );
    assert!(a.excerpt.contains("0x80240016"), "{}", a.excerpt);
    assert_eq!(
        a.error_lines,
        [
            "==> azure-arm: Provisioning step had errors: Running the cleanup provisioner, if present...",
            "Build 'azure-arm' errored after 9 minutes: Windows update script exited with non-zero exit status: 1"
        ]
    );
}

/// Packer 1.14: no telemetry; steps start at their first UI line.
const UI_SCRIPT_FAILS: &str = "\
[7f3c] PACKER 2026/01/10 09:00:00 ui: ==> azure-arm: Connected to WinRM!
[7f3c] PACKER 2026/01/10 09:00:01 ui: ==> azure-arm: Uploading /aib/packerInput/DeprovisioningScript.txt => c:\\DeprovisioningScript.ps1
[7f3c] PACKER 2026/01/10 09:00:02 ui: ==> azure-arm: Provisioning with Powershell...
[7f3c] PACKER 2026/01/10 09:00:02 ui: ==> azure-arm: Provisioning with powershell script: /tmp/powershell-provisioner11
[7f3c] PACKER 2026/01/10 09:03:00 packer-provisioner-powershell plugin: script returned with exit code 0
[7f3c] PACKER 2026/01/10 09:03:01 ui: ==> azure-arm: Restarting Machine
[7f3c] PACKER 2026/01/10 09:03:01 ui: ==> azure-arm: Waiting for machine to restart...
[7f3c] PACKER 2026/01/10 09:03:01 ui error: ==> azure-arm: A system shutdown has already been scheduled.(1190)
[7f3c] PACKER 2026/01/10 09:04:00 ui: ==> azure-arm: Provisioning with Powershell...
[7f3c] PACKER 2026/01/10 09:04:00 ui: ==> azure-arm: Provisioning with powershell script: /tmp/powershell-provisioner12
[7f3c] PACKER 2026/01/10 09:04:30 ui error: ==> azure-arm: choco: package not found
[7f3c] PACKER 2026/01/10 09:04:31 packer-provisioner-powershell plugin: script returned with exit code 1
[7f3c] PACKER 2026/01/10 09:04:31 ui: ==> azure-arm: Provisioning step had errors: Running the cleanup provisioner, if present...
[7f3c] PACKER 2026/01/10 09:05:40 ui error: Build 'azure-arm' errored after 5 minutes 40 seconds: Script exited with non-zero exit status: 1. Allowed exit codes are: [0]
[7f3c] PACKER 2026/01/10 09:05:40 ui error: --> azure-arm: Script exited with non-zero exit status: 1. Allowed exit codes are: [0]
";

#[test]
fn ui_format_steps_start_at_their_first_line() {
    let steps = names(
        &[
            ("tools", "powershell"),
            ("restart", "windows-restart"),
            ("devtools", "powershell"),
        ],
        &[],
    );
    let a = analyse(UI_SCRIPT_FAILS, &steps);
    assert_eq!(a.step, Some(4));
    assert_eq!(a.provisioner.as_deref(), Some("powershell"));
    assert_eq!(a.customizer.as_deref(), Some("devtools"));
    assert_eq!((a.phase, a.cause), (Phase::Customizer, Cause::Error));
    assert_eq!(a.signature.map(|s| s.id).as_deref(), Some("script-exit"));
    // The restart's 1190 was not the error; the failing step's own error line is reported.
    assert!(
        !a.error_lines.iter().any(|l| l.contains("1190")),
        "{:?}",
        a.error_lines
    );
    assert!(
        a.error_lines[0].contains("choco: package not found"),
        "{:?}",
        a.error_lines
    );
    // Without the manifest the step is still named by number and type.
    let b = analyse(UI_SCRIPT_FAILS, &StepNames::default());
    assert_eq!((b.step, b.customizer), (Some(4), None));
    assert_eq!(b.phase, Phase::Customizer);
}

#[test]
fn a_build_timeout_inside_a_customizer_is_a_customizer_timeout() {
    let log = "\
[aa] PACKER 2026/01/10 09:00:01 ui: ==> azure-arm: Uploading /aib/packerInput/DeprovisioningScript.txt => c:\\DeprovisioningScript.ps1
[aa] PACKER 2026/01/10 09:00:02 ui: ==> azure-arm: Provisioning with Powershell...
[aa] PACKER 2026/01/10 09:00:02 ui: ==> azure-arm: Provisioning with powershell script: /tmp/powershell-provisioner1
[aa] PACKER 2026/01/10 11:00:00 ui error: Cancelling build after receiving terminated
[aa] PACKER 2026/01/10 11:00:00 Cancelling builder after context cancellation context canceled
[aa] PACKER 2026/01/10 11:00:00 ui: ==> azure-arm: 
";
    let a = analyse(log, &StepNames::default());
    assert_eq!((a.phase, a.cause), (Phase::Customizer, Cause::Timeout));
    assert_eq!(
        (a.step, a.provisioner.as_deref()),
        (Some(2), Some("powershell"))
    );
    let s = a.signature.expect("signature");
    assert_eq!(s.id, "build-timeout");
    assert!(s.hint.contains("step 2 (`powershell`)"), "{}", s.hint);
}

#[test]
fn failures_after_the_customizers_are_not_blamed_on_the_last_one() {
    // Old format: every customizer ended; AIB's deprovision step is the last one started.
    let log = "\
PACKER ERR 2021/05/05 10:00:00 [INFO] (telemetry) Starting provisioner file
PACKER OUT ==> azure-arm: Uploading /aib/packerInput/DeprovisioningScript.txt => /tmp/DeprovisioningScript.sh
PACKER ERR 2021/05/05 10:00:01 [INFO] (telemetry) ending file
PACKER ERR 2021/05/05 10:00:01 [INFO] (telemetry) Starting provisioner shell
PACKER OUT ==> azure-arm: Provisioning with shell script: /tmp/script_1.sh
PACKER ERR 2021/05/05 10:01:00 [INFO] (telemetry) ending shell
PACKER ERR 2021/05/05 10:01:00 [INFO] (telemetry) Starting provisioner shell
PACKER OUT ==> azure-arm: Provisioning with shell script: /tmp/script_2.sh
PACKER OUT     azure-arm: + sudo /usr/sbin/waagent -force -deprovision+user
PACKER OUT     azure-arm: waagent: deprovision failed
PACKER ERR 2021/05/05 10:02:00 [INFO] (telemetry) ending shell
PACKER OUT Build 'azure-arm' errored: Script exited with non-zero exit status: 1
";
    let a = analyse(log, &names(&[("harden", "shell")], &[]));
    assert_eq!((a.phase, a.cause), (Phase::Deprovision, Cause::Error));
    assert_eq!(a.step, Some(3));
    assert_eq!(a.customizer, None, "not the customizer `harden`");
    // With validations declared, a step past the customizers is a validation.
    let log = log.replace("waagent -force -deprovision+user", "test -f /etc/app.conf");
    let a = analyse(&log, &names(&[("harden", "shell")], &[("check", "shell")]));
    assert_eq!(
        (a.phase, a.customizer.as_deref()),
        (Phase::Validate, Some("check"))
    );
}

#[test]
fn aibs_own_first_step_and_connection_timeouts() {
    let upload_fails = "\
[b] PACKER 2026/01/10 09:00:01 ui: ==> azure-arm: Uploading /aib/packerInput/DeprovisioningScript.txt => c:\\DeprovisioningScript.ps1
[b] PACKER 2026/01/10 09:00:09 ui error: Build 'azure-arm' errored after 9 seconds: Error uploading file: http response error: 401
";
    let a = analyse(upload_fails, &windows());
    assert_eq!(
        (a.phase, a.step, a.customizer),
        (Phase::Deprovision, Some(1), None)
    );
    assert_eq!(a.provisioner.as_deref(), Some("file"));
    let winrm = "\
[c] PACKER 2026/01/10 09:00:00 ui: ==> azure-arm: Waiting for WinRM to become available...
[c] PACKER 2026/01/10 09:20:00 ui error: Timeout waiting for WinRM.
[c] PACKER 2026/01/10 09:20:30 ui error: Build 'azure-arm' errored after 20 minutes 30 seconds: Timeout waiting for WinRM.
";
    let a = analyse(winrm, &windows());
    assert_eq!(
        (a.phase, a.cause, a.step),
        (Phase::Unknown, Cause::Connect, None)
    );
    assert_eq!(
        a.signature.map(|s| s.id).as_deref(),
        Some("communicator-timeout")
    );
}

#[test]
fn a_log_of_a_finished_packer_build_points_at_distribution() {
    let log = "\
[d] PACKER 2026/01/10 09:00:02 ui: ==> azure-arm: Provisioning with shell script: /tmp/script.sh
[d] PACKER 2026/01/10 09:30:00 ui: Build 'azure-arm' finished after 30 minutes.
[d] PACKER 2026/01/10 09:30:00 ui: ==> Builds finished. The artifacts of successful builds are:
";
    let a = analyse(log, &StepNames::default());
    assert_eq!(
        (a.phase, a.cause, a.step),
        (Phase::Distribute, Cause::Unknown, None)
    );
}

#[test]
fn anything_else_is_unknown_without_panicking() {
    for log in [
        "",
        "\n\n",
        "PACKER",
        "[",
        "[x] PACKER 2026/01/10",
        "garbage\u{0}\u{7f}",
    ] {
        let a = analyse(log, &windows());
        assert_eq!(
            (a.phase, a.cause, a.step),
            (Phase::Unknown, Cause::Unknown, None),
            "{log:?}"
        );
    }
    let a = analyse("a\nb\nc: context deadline exceeded\n", &windows());
    assert_eq!(
        a.signature.map(|s| s.id).as_deref(),
        Some("publish-deadline")
    );
    assert_eq!(
        message_signature("Timeout waiting for WinRM")
            .map(|s| s.id)
            .as_deref(),
        Some("communicator-timeout")
    );
}

#[test]
fn long_sections_are_cut_to_the_interesting_lines() {
    let mut log = String::from("x (telemetry) Starting provisioner shell\n");
    for i in 0..200 {
        log.push_str(&format!("line {i}\n"));
    }
    log.push_str("ERROR: something broke\nScript exited with non-zero exit status: 2\n");
    let a = analyse(&log, &StepNames::default());
    let n = a.excerpt.lines().count();
    assert!(n <= EXCERPT_LINES, "{n}");
    assert!(a.excerpt.contains("something broke"));
    assert!(a.excerpt.contains("Starting provisioner"));
}

#[test]
fn the_json_report_has_the_documented_fields() {
    let a = analyse(UI_SCRIPT_FAILS, &StepNames::default());
    let v = serde_json::to_value(AnalysisReport::from(&a)).unwrap_or_default();
    let keys: Vec<&str> = v
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "phase",
            "cause",
            "provisioner",
            "step",
            "customizer",
            "error_lines",
            "signature"
        ]
    );
    assert_eq!(v["phase"], "customizer");
    assert_eq!(v["cause"], "error");
}
