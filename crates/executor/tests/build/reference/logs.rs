//! The log analyser on `customization.log`s people published (`real-world/logs/`, read at test
//! time): Packer 1.14 logs without telemetry (01–08) and excerpts of older ones with it (09–13,
//! from Microsoft's troubleshooting article). The expected answers were written down by reading
//! each log:
//!
//! - 01, 02: the first customizer (PowerShell, step 2 after AIB's upload of
//!   `DeprovisioningScript.txt`) fails to parse; `Script exited with non-zero exit status: 1`.
//! - 03: upload, PowerShell, restart (its "shutdown already scheduled (1190)" is not fatal),
//!   PowerShell step 4 fails downloading a file.
//! - 04, 05: the same with two PowerShell steps after the restart; step 5 fails (npm writes to
//!   stderr; an explicit `exit 1`).
//! - 06: three PowerShell steps after the restart; step 6 fails.
//! - 07, 08: step 2 (PowerShell) runs for two hours until AIB stops Packer: `Cancelling build
//!   after receiving terminated`, no provisioner error — a build timeout inside a customizer.
//! - 09: telemetry; the `windows-restart` step (the excerpt's first) never sees the VM again:
//!   `Timeout waiting for machine to restart`.
//! - 10: an excerpt inside Windows Update (no step start in it): `Build 'azure-arm' errored:
//!   unexpected EOF`.
//! - 11: an excerpt of AIB's deprovisioning (Sysprep loops on IMAGE_STATE_UNDEPLOYABLE) until
//!   the build is terminated.
//! - 12: only the termination: a timeout, nothing says where.
//! - 13: `Failed to prepare build` (a client JWT too close to expiry): before any step.

use aib_executor::logs::{Cause, Phase, StepNames, analyse};

struct Expect {
    file: &'static str,
    phase: Phase,
    cause: Cause,
    step: Option<usize>,
    provisioner: Option<&'static str>,
    signature: Option<&'static str>,
}

const fn e(
    file: &'static str,
    phase: Phase,
    cause: Cause,
    step: Option<usize>,
    provisioner: Option<&'static str>,
    signature: Option<&'static str>,
) -> Expect {
    Expect {
        file,
        phase,
        cause,
        step,
        provisioner,
        signature,
    }
}

const PS: Option<&str> = Some("powershell");

const EXPECTED: &[Expect] = &[
    e(
        "01-w365-ps-parse-error.log",
        Phase::Customizer,
        Cause::Error,
        Some(2),
        PS,
        Some("script-exit"),
    ),
    e(
        "02-w365-ps-parse-error-2.log",
        Phase::Customizer,
        Cause::Error,
        Some(2),
        PS,
        Some("script-exit"),
    ),
    e(
        "03-w365-ps-download-not-found.log",
        Phase::Customizer,
        Cause::Error,
        Some(4),
        PS,
        Some("script-exit"),
    ),
    e(
        "04-w365-ps-npm-stderr.log",
        Phase::Customizer,
        Cause::Error,
        Some(5),
        PS,
        Some("script-exit"),
    ),
    e(
        "05-w365-ps-explicit-exit1.log",
        Phase::Customizer,
        Cause::Error,
        Some(5),
        PS,
        Some("script-exit"),
    ),
    e(
        "06-w365-ps-npm-warn-step6.log",
        Phase::Customizer,
        Cause::Error,
        Some(6),
        PS,
        Some("script-exit"),
    ),
    e(
        "07-foundry-build-timeout.log",
        Phase::Customizer,
        Cause::Timeout,
        Some(2),
        PS,
        Some("build-timeout"),
    ),
    e(
        "08-foundry-build-timeout-2.log",
        Phase::Customizer,
        Cause::Timeout,
        Some(2),
        PS,
        Some("build-timeout"),
    ),
    e(
        "09-docs-windows-restart-1190-timeout.log",
        Phase::Customizer,
        Cause::Timeout,
        Some(1),
        Some("windows-restart"),
        Some("reboot-loop"),
    ),
    e(
        "10-docs-windows-update-unexpected-eof.log",
        Phase::Customizer,
        Cause::Error,
        None,
        Some("windows-update"),
        Some("windows-update-eof"),
    ),
    e(
        "11-docs-sysprep-deprovision-undeployable.log",
        Phase::Deprovision,
        Cause::Timeout,
        None,
        PS,
        Some("sysprep-undeployable"),
    ),
    e(
        "12-docs-context-cancel-disconnect.log",
        Phase::Unknown,
        Cause::Timeout,
        None,
        None,
        Some("build-timeout"),
    ),
    e(
        "13-docs-jwt-prepare-failure.log",
        Phase::Unknown,
        Cause::Error,
        None,
        None,
        Some("prepare-failed"),
    ),
];

#[test]
fn published_logs_are_read_right() {
    let files = aib_testkit::reference_files("real-world/logs", ".log");
    assert_eq!(files.len(), EXPECTED.len(), "{files:?}");
    let mut wrong = Vec::new();
    for want in EXPECTED {
        let path = aib_testkit::reference_path(format!("real-world/logs/{}", want.file));
        let bytes = std::fs::read(&path).expect("read log");
        let a = analyse(&String::from_utf8_lossy(&bytes), &StepNames::default());
        let got = (a.phase, a.cause, a.step, a.provisioner.as_deref());
        let exp = (want.phase, want.cause, want.step, want.provisioner);
        if got != exp {
            wrong.push(format!("{}: got {got:?}, expected {exp:?}", want.file));
        }
        let sig = a.signature.as_ref().map(|s| s.id.as_str());
        if sig != want.signature {
            wrong.push(format!(
                "{}: signature {sig:?}, expected {:?}",
                want.file, want.signature
            ));
        }
        if a.cause != Cause::Unknown && a.error_lines.is_empty() {
            wrong.push(format!("{}: no error lines", want.file));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// With the manifest's customizers, the W365 build's steps map back to them: AIB's upload is
/// not a customizer, the restart is, and step 6 of log 06 is its fifth customizer.
#[test]
fn steps_map_to_the_manifest_customizers() {
    use aib_executor::logs::StepName;
    let c = |n: &str, t: &str| StepName {
        name: n.into(),
        packer_type: t.into(),
    };
    let names = StepNames {
        customize: vec![
            c("runtimes", "powershell"),
            c("restart", "windows-restart"),
            c("openclaw", "powershell"),
            c("tools", "powershell"),
            c("verify", "powershell"),
        ],
        validate: vec![],
        validation_log: false,
    };
    let path = aib_testkit::reference_path("real-world/logs/06-w365-ps-npm-warn-step6.log");
    let log = String::from_utf8_lossy(&std::fs::read(path).expect("read")).into_owned();
    let a = analyse(&log, &names);
    assert_eq!(a.customizer.as_deref(), Some("verify"));
    assert_eq!(a.phase, Phase::Customizer);
}
