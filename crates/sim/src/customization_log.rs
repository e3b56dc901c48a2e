//! Packer-style `customization.log` written by failing builds into
//! `packerlogs/{guid}/customization.log` of the staging storage account.
//!
//! Each customizer runs between `(telemetry) Starting provisioner <type>` and
//! `(telemetry) ending provisioner <type>` lines; the failing one prints its script output and
//! the exit-status error, then packer's `Build 'azure-arm' errored after ...` lines follow and
//! there is no ending marker for it. A timeout ends with packer being interrupted.

use crate::arm::image_templates::{ImageTemplate, Run};
use crate::server::Ctx;
use serde_json::Value;
use std::fmt::Write;

/// How the log ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogEnd {
    Failed,
    Timeout,
}

/// Packer's provisioner name for an AIB customizer type.
pub fn packer_type(aib_type: &str) -> &'static str {
    match aib_type.to_ascii_lowercase().as_str() {
        "shell" => "shell",
        "powershell" => "powershell",
        "windowsrestart" => "windows-restart",
        "windowsupdate" => "windows-update",
        "file" => "file",
        _ => "shell-local",
    }
}

fn is_windows(t: &ImageTemplate) -> bool {
    let cs = t
        .properties
        .get("customize")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if cs.iter().any(|c| {
        let ty = c
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        ty == "powershell" || ty.starts_with("windows")
    }) {
        return true;
    }
    let src = t
        .properties
        .get("source")
        .map(|s| s.to_string().to_ascii_lowercase())
        .unwrap_or_default();
    src.contains("windows")
}

fn elapsed_words(minutes: f64) -> String {
    let secs = (minutes * 60.0).max(0.0) as u64;
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h} hours {m} minutes")
    } else if m > 0 {
        format!("{m} minutes {s} seconds")
    } else {
        format!("{s} seconds")
    }
}

/// Whether the scenario's `echo` globs match this template.
pub fn echoes(ctx: &Ctx, t: &ImageTemplate) -> bool {
    ctx.scenario.echo.iter().any(|g| {
        globset::Glob::new(g)
            .map(|g| g.compile_matcher().is_match(&t.name))
            .unwrap_or(false)
    })
}

/// The template's customizers.
fn customizers(t: &ImageTemplate) -> Vec<Value> {
    t.properties
        .get("customize")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Which customizer a failing run fails at: the scenario's `failed_customizer`, else the last.
fn failing_index(customizers: &[Value], run: &Run) -> usize {
    run.failed_customizer
        .as_ref()
        .and_then(|n| {
            customizers
                .iter()
                .position(|c| c.get("name").and_then(Value::as_str) == Some(n))
        })
        .unwrap_or(customizers.len().saturating_sub(1))
}

/// The inline commands of the step a failing run fails at.
pub fn failing_commands(t: &ImageTemplate, run: &Run) -> Vec<String> {
    let customizers = customizers(t);
    customizers
        .get(failing_index(&customizers, run))
        .and_then(|c| c.get("inline"))
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Render the log for a failed or timed-out run ending at `end` (simulated minutes).
pub fn render(ctx: &Ctx, t: &ImageTemplate, run: &Run, kind: LogEnd, end: f64) -> String {
    let windows = is_windows(t);
    let customizers = customizers(t);
    let failing_idx = failing_index(&customizers, run);
    let start = run.start + run.build_minutes * 0.3;
    let span = (end - start).max(0.1);
    let n = (failing_idx + 1) as f64;
    let ts = |m: f64| ctx.clock.utc(m).format("%Y/%m/%d %H:%M:%S").to_string();
    let mut o = String::new();
    let err = |o: &mut String, at: f64, msg: &str| {
        let _ = writeln!(o, "PACKER ERR {} {}", ts(at), msg);
    };
    let out = |o: &mut String, msg: &str| {
        let _ = writeln!(o, "PACKER OUT {msg}");
    };
    let b = run.start;
    let _ = writeln!(
        o,
        "[{}] Packer version: 1.11.2 [go1.22.8 linux amd64]",
        ts(b)
    );
    err(
        &mut o,
        b,
        "[INFO] Packer version: 1.11.2 [go1.22.8 linux amd64]",
    );
    err(
        &mut o,
        b,
        "[INFO] PACKER_CONFIG env var not set; checking the default config file path",
    );
    err(
        &mut o,
        b,
        "[INFO] Setting cache directory: /root/.cache/packer",
    );
    err(&mut o, b, "[INFO] (telemetry) Starting builder azure-arm");
    out(&mut o, "azure-arm: output will be in this color.");
    out(&mut o, "");
    out(&mut o, "==> azure-arm: Running builder ...");
    out(
        &mut o,
        "==> azure-arm: Getting tokens using Managed Identity for Azure Resources",
    );
    out(&mut o, "==> azure-arm: Using existing resource group ...");
    out(
        &mut o,
        &format!("==> azure-arm:  -> ResourceGroupName : '{}'", t.staging_rg),
    );
    out(
        &mut o,
        &format!("==> azure-arm:  -> Location          : '{}'", t.location),
    );
    out(&mut o, "==> azure-arm: Validating deployment template ...");
    out(&mut o, "==> azure-arm: Deploying deployment template ...");
    out(&mut o, "==> azure-arm: Getting the VM's IP address ...");
    if windows {
        out(
            &mut o,
            "==> azure-arm: Waiting for WinRM to become available...",
        );
        out(&mut o, "==> azure-arm: WinRM connected.");
    } else {
        out(
            &mut o,
            "==> azure-arm: Waiting for SSH to become available...",
        );
        out(&mut o, "==> azure-arm: Connected to SSH!");
    }
    for (i, c) in customizers.iter().enumerate().take(failing_idx + 1) {
        let ty = packer_type(c.get("type").and_then(Value::as_str).unwrap_or(""));
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        let at = start + span * (i as f64) / n;
        err(
            &mut o,
            at,
            &format!("[INFO] (telemetry) Starting provisioner {ty}"),
        );
        let last = i == failing_idx;
        if last && kind == LogEnd::Failed && echoes(ctx, t) {
            for line in failing_commands(t, run) {
                out(&mut o, &format!("    azure-arm: [{name}] + {line}"));
            }
        }
        match ty {
            "shell" => {
                out(
                    &mut o,
                    &format!(
                        "==> azure-arm: Provisioning with shell script: /tmp/packer-shell{}",
                        100000 + i * 7919
                    ),
                );
                out(&mut o, &format!("    azure-arm: [{name}] starting"));
                if last && kind == LogEnd::Failed {
                    out(
                        &mut o,
                        &format!(
                            "    azure-arm: [{name}] E: Unable to locate package example-package"
                        ),
                    );
                    out(
                        &mut o,
                        &format!("    azure-arm: [{name}] error: command returned 1"),
                    );
                    out(
                        &mut o,
                        "==> azure-arm: Script exited with non-zero exit status: 1. Allowed exit codes are: [0]",
                    );
                } else {
                    out(&mut o, &format!("    azure-arm: [{name}] done"));
                }
            }
            "powershell" => {
                out(
                    &mut o,
                    &format!(
                        "==> azure-arm: Provisioning with powershell script: C:/Windows/Temp/script-{:08x}.ps1",
                        0x6543_0000u32 + i as u32
                    ),
                );
                out(&mut o, &format!("    azure-arm: [{name}] starting"));
                if last && kind == LogEnd::Failed {
                    out(
                        &mut o,
                        &format!(
                            "    azure-arm: [{name}] Write-Error: installation failed with exit code 1603"
                        ),
                    );
                    out(
                        &mut o,
                        "    azure-arm:     + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorException",
                    );
                    out(
                        &mut o,
                        "    azure-arm:     + FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorException",
                    );
                    out(
                        &mut o,
                        "==> azure-arm: Script exited with non-zero exit status: 1. Allowed exit codes are: [0]",
                    );
                } else {
                    out(&mut o, &format!("    azure-arm: [{name}] done"));
                }
            }
            "windows-restart" => {
                out(&mut o, "==> azure-arm: Restarting Machine");
                out(&mut o, "==> azure-arm: Waiting for machine to restart...");
                if last && kind == LogEnd::Failed {
                    out(
                        &mut o,
                        "==> azure-arm: Timeout waiting for machine to restart.",
                    );
                } else {
                    out(
                        &mut o,
                        "    azure-arm: A restart is in progress. Machine restarted.",
                    );
                }
            }
            "windows-update" => {
                out(
                    &mut o,
                    "==> azure-arm: Uploading the Windows update elevated script...",
                );
                out(
                    &mut o,
                    "==> azure-arm: Uploading the Windows update check for reboot required elevated script...",
                );
                out(&mut o, "==> azure-arm: Running Windows update...");
                out(&mut o, "    azure-arm: Searching for Windows updates...");
                if last && kind == LogEnd::Failed {
                    out(
                        &mut o,
                        "    azure-arm: Failed to install updates: 0x80240438",
                    );
                    out(
                        &mut o,
                        "==> azure-arm: Windows update script exited with non-zero exit status: 1. Allowed exit codes are: [0]",
                    );
                } else {
                    out(&mut o, "    azure-arm: Found 0 updates.");
                }
            }
            _ => {
                let dest = c
                    .get("destination")
                    .and_then(Value::as_str)
                    .unwrap_or("/tmp/file");
                out(
                    &mut o,
                    &format!("==> azure-arm: Uploading {dest} => {dest}"),
                );
                if last && kind == LogEnd::Failed {
                    out(
                        &mut o,
                        "==> azure-arm: Upload failed: Process exited with status 1",
                    );
                }
            }
        }
        if !last {
            err(
                &mut o,
                at + span / n * 0.9,
                &format!("[INFO] (telemetry) ending provisioner {ty}"),
            );
        }
    }
    let elapsed = elapsed_words(end - run.start);
    match kind {
        LogEnd::Failed => {
            let msg = match customizers
                .get(failing_idx)
                .and_then(|c| c.get("type"))
                .and_then(Value::as_str)
                .map(packer_type)
            {
                Some("windows-restart") => "Timeout waiting for machine to restart.".to_string(),
                Some("file") => "Upload failed: Process exited with status 1".to_string(),
                _ => "Script exited with non-zero exit status: 1. Allowed exit codes are: [0]"
                    .to_string(),
            };
            err(&mut o, end, "[INFO] (telemetry) ending azure-arm");
            out(
                &mut o,
                "==> azure-arm: Provisioning step had errors: Running the cleanup provisioner, if present...",
            );
            out(&mut o, "==> azure-arm: Deleting the temporary OS disk ...");
            out(
                &mut o,
                &format!("Build 'azure-arm' errored after {elapsed}: {msg}"),
            );
            out(&mut o, "");
            out(&mut o, &format!("==> Wait completed after {elapsed}"));
            out(&mut o, "");
            out(
                &mut o,
                "==> Some builds didn't complete successfully and had errors:",
            );
            out(&mut o, &format!("--> azure-arm: {msg}"));
            out(&mut o, "");
            out(&mut o, "==> Builds finished but no artifacts were created.");
            err(&mut o, end, "[INFO] (telemetry) Finalizing.");
            out(&mut o, "");
            let _ = writeln!(o, "[{}] packer build exited with exit status 1", ts(end));
        }
        LogEnd::Timeout => {
            err(
                &mut o,
                end,
                &format!(
                    "Cancelling build after receiving terminated (build timeout of {} minutes exceeded)",
                    run.timeout_minutes
                ),
            );
            out(&mut o, "==> azure-arm: Build was cancelled.");
            out(
                &mut o,
                &format!("Build 'azure-arm' errored after {elapsed}: Build was cancelled."),
            );
            let _ = writeln!(
                o,
                "[{}] Image build timed out: the build did not complete within buildTimeoutInMinutes ({} minutes); context deadline exceeded",
                ts(end),
                run.timeout_minutes
            );
        }
    }
    o
}
