//! The `customization.log` a failing build writes into `packerlogs/{guid}/customization.log` of
//! the staging storage account, in one of the two formats AIB writes (scenario `log_format`):
//!
//! - `telemetry` (AIB's logs up to about 2023): `[<op id>] PACKER OUT <ui line>` and
//!   `[<op id>] PACKER ERR <date> <time> <log line>`, each step between
//!   `[INFO] (telemetry) Starting provisioner <type>` and `[INFO] (telemetry) ending <type>` —
//!   the failing step gets its `ending` line too;
//! - `packer-1.14`: `[<op id>] PACKER <date> <time> ui: ==> azure-arm: …` with no telemetry; a
//!   step starts at its first UI line (`Provisioning with Powershell...`,
//!   `Provisioning with shell script: …`, `Uploading <src> => <dst>`,
//!   `Uploading the Windows update elevated script...`, `Restarting Machine`).
//!
//! AIB's own first step uploads `DeprovisioningScript.txt`. A failure prints the step's error
//! output, `Provisioning step had errors`, then `Build 'azure-arm' errored after …: <reason>`;
//! a build timeout prints only `Cancelling build after receiving terminated`.

use crate::context::Ctx;
use crate::model::image_template::{ImageTemplate, Run};
use crate::scenario::LogFormat;
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

/// Writes lines in one format.
struct Writer<'a> {
    ctx: &'a Ctx,
    format: LogFormat,
    op: String,
    out: String,
}

impl Writer<'_> {
    fn ts(&self, m: f64) -> String {
        self.ctx
            .clock
            .utc(m)
            .format("%Y/%m/%d %H:%M:%S")
            .to_string()
    }

    /// A UI line (`==> azure-arm: …` or `    azure-arm: …`), as an error when `error`.
    fn ui(&mut self, at: f64, text: &str, error: bool) {
        let line = match self.format {
            LogFormat::Telemetry => format!("[{}] PACKER OUT {text}", self.op),
            LogFormat::Packer114 => {
                let kind = if error { "ui error" } else { "ui" };
                format!("[{}] PACKER {} {kind}: {text}", self.op, self.ts(at))
            }
        };
        self.line(&line);
    }

    /// A log line of Packer or a plugin.
    fn log(&mut self, at: f64, text: &str) {
        let line = match self.format {
            LogFormat::Telemetry => format!("[{}] PACKER ERR {} {text}", self.op, self.ts(at)),
            LogFormat::Packer114 => format!("[{}] PACKER {} {text}", self.op, self.ts(at)),
        };
        self.line(&line);
    }

    /// A telemetry marker (only the old format has them).
    fn telemetry(&mut self, at: f64, text: &str) {
        if self.format == LogFormat::Telemetry {
            self.log(at, &format!("[INFO] (telemetry) {text}"));
        }
    }

    fn line(&mut self, line: &str) {
        let _ = writeln!(self.out, "{line}");
    }
}

/// What a customizer's failure says.
fn failure_reason(ty: &str) -> &'static str {
    match ty {
        "windows-restart" => "Timeout waiting for machine to restart.",
        "file" => "Upload failed: Process exited with status 1",
        _ => "Script exited with non-zero exit status: 1. Allowed exit codes are: [0]",
    }
}

/// The first UI line of a step, and its output.
fn step_body(w: &mut Writer<'_>, at: f64, c: &Value, i: usize, fail: bool) {
    let ty = packer_type(c.get("type").and_then(Value::as_str).unwrap_or(""));
    let name = c.get("name").and_then(Value::as_str).unwrap_or("");
    match ty {
        "shell" => shell_step(w, at, name, i, fail),
        "powershell" => powershell_step(w, at, name, i, fail),
        "windows-restart" => restart_step(w, at, fail),
        "windows-update" => update_step(w, at, fail),
        _ => {
            let dest = c
                .get("destination")
                .and_then(Value::as_str)
                .unwrap_or("/tmp/file");
            w.ui(
                at,
                &format!("==> azure-arm: Uploading {dest} => {dest}"),
                false,
            );
        }
    }
}

/// A `shell` step (the `i`th customizer, named `name`): its script, and apt's failure.
fn shell_step(w: &mut Writer<'_>, at: f64, name: &str, i: usize, fail: bool) {
    w.ui(
        at,
        &format!(
            "==> azure-arm: Provisioning with shell script: /tmp/packer-shell{}",
            100_000 + i * 7919
        ),
        false,
    );
    w.ui(at, &format!("    azure-arm: [{name}] starting"), false);
    if fail {
        w.ui(
            at,
            &format!("    azure-arm: [{name}] E: Unable to locate package example-package"),
            false,
        );
        w.ui(
            at,
            &format!("    azure-arm: [{name}] error: command returned 1"),
            false,
        );
    }
}

/// A `powershell` step: its script, and an installer's failure as PowerShell reports it.
fn powershell_step(w: &mut Writer<'_>, at: f64, name: &str, i: usize, fail: bool) {
    w.ui(at, "==> azure-arm: Provisioning with Powershell...", false);
    w.ui(
        at,
        &format!(
            "==> azure-arm: Provisioning with powershell script: /tmp/powershell-provisioner{}",
            2_812_540_757u64 + i as u64
        ),
        false,
    );
    w.ui(at, &format!("    azure-arm: [{name}] starting"), false);
    if fail {
        w.ui(
            at,
            &format!(
                "==> azure-arm: [{name}] Write-Error: installation failed with exit code 1603"
            ),
            true,
        );
        w.ui(at, "==> azure-arm:     + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorException", true);
        w.log(at, "packer-provisioner-powershell plugin: c:/Windows/Temp/script.ps1 returned with exit code 1");
    }
}

/// A `windows-restart` step: the machine comes back unless it fails.
fn restart_step(w: &mut Writer<'_>, at: f64, fail: bool) {
    w.ui(at, "==> azure-arm: Restarting Machine", false);
    w.ui(
        at,
        "==> azure-arm: Waiting for machine to restart...",
        false,
    );
    if !fail {
        w.ui(
            at,
            "    azure-arm: A restart is in progress. Machine restarted.",
            false,
        );
    }
}

/// A `windows-update` step: no updates found, or the update agent's failure.
fn update_step(w: &mut Writer<'_>, at: f64, fail: bool) {
    w.ui(
        at,
        "==> azure-arm: Uploading the Windows update elevated script...",
        false,
    );
    w.ui(
        at,
        "==> azure-arm: Uploading the Windows update check for reboot required elevated script...",
        false,
    );
    w.ui(at, "==> azure-arm: Running Windows update...", false);
    w.ui(at, "    azure-arm: Searching for Windows updates...", false);
    w.ui(
        at,
        if fail {
            "    azure-arm: Failed to install updates: 0x80240438"
        } else {
            "    azure-arm: Found 0 updates."
        },
        false,
    );
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

/// Packer's start, up to connecting to the build VM; returns where the deprovisioning script
/// goes on it.
fn preamble(w: &mut Writer<'_>, t: &ImageTemplate, b: f64, windows: bool) -> &'static str {
    let version = match w.format {
        LogFormat::Telemetry => "1.8.5 [go1.19.4 linux amd64]",
        LogFormat::Packer114 => "1.14.3 [go1.24.0 linux amd64]",
    };
    w.log(b, &format!("[INFO] Packer version: {version}"));
    w.log(
        b,
        "[INFO] PACKER_CONFIG env var not set; checking the default config file path",
    );
    w.telemetry(b, "Starting builder azure-arm");
    w.ui(b, "==> azure-arm: Running builder ...", false);
    w.ui(b, "==> azure-arm: Using existing resource group ...", false);
    w.ui(
        b,
        &format!("==> azure-arm:  -> ResourceGroupName : '{}'", t.staging_rg),
        false,
    );
    w.ui(b, "==> azure-arm: Deploying deployment template ...", false);
    let (wait, connected, deprov) = if windows {
        (
            "Waiting for WinRM to become available...",
            "Connected to WinRM!",
            "c:\\DeprovisioningScript.ps1",
        )
    } else {
        (
            "Waiting for SSH to become available...",
            "Connected to SSH!",
            "/tmp/DeprovisioningScript.sh",
        )
    };
    w.ui(b, &format!("==> azure-arm: {wait}"), false);
    w.ui(b, &format!("==> azure-arm: {connected}"), false);
    deprov
}

/// How the log ends: Packer's provisioner error, or AIB cancelling it at the timeout.
fn ending(w: &mut Writer<'_>, kind: LogEnd, failing_type: &str, end: f64, elapsed: &str) {
    match kind {
        LogEnd::Failed => {
            let reason = failure_reason(failing_type);
            w.ui(end, "==> azure-arm: Provisioning step had errors: Running the cleanup provisioner, if present...", false);
            // The failing step gets its `ending` line too.
            w.telemetry(end, &format!("ending {failing_type}"));
            w.ui(
                end,
                "==> azure-arm: Deleting Virtual Machine deployment and its attached resources...",
                false,
            );
            w.ui(
                end,
                &format!("Build 'azure-arm' errored after {elapsed}: {reason}"),
                true,
            );
            w.ui(
                end,
                "==> Some builds didn't complete successfully and had errors:",
                true,
            );
            w.ui(end, &format!("--> azure-arm: {reason}"), true);
            w.ui(
                end,
                "==> Builds finished but no artifacts were created.",
                false,
            );
            w.telemetry(end, "Finalizing.");
        }
        LogEnd::Timeout => {
            // AIB stops Packer at the build timeout: no provisioner error.
            w.ui(end, "Cancelling build after receiving terminated", true);
            w.log(
                end,
                "Cancelling builder after context cancellation context canceled",
            );
            w.telemetry(end, &format!("ending {failing_type}"));
            w.ui(end, "==> azure-arm: The resource group was not created by Packer, deleting individual resources ...", false);
        }
    }
}

/// Render the log for a failed or timed-out run ending at `end` (simulated minutes).
pub fn render(ctx: &Ctx, t: &ImageTemplate, run: &Run, kind: LogEnd, end: f64) -> String {
    let windows = is_windows(t);
    let customizers = customizers(t);
    let failing_idx = failing_index(&customizers, run);
    let mut w = Writer {
        ctx,
        format: ctx.scenario.log_format,
        op: run.op_id.to_ascii_lowercase(),
        out: String::new(),
    };
    let deprov = preamble(&mut w, t, run.start, windows);
    let start = run.start + run.build_minutes * 0.3;
    let span = (end - start).max(0.1);
    let n = (failing_idx + 2) as f64;
    // AIB's own first step.
    w.telemetry(start, "Starting provisioner file");
    w.ui(
        start,
        &format!("==> azure-arm: Uploading /aib/packerInput/DeprovisioningScript.txt => {deprov}"),
        false,
    );
    w.telemetry(start, "ending file");
    let mut failing_type = "shell";
    for (i, c) in customizers.iter().enumerate().take(failing_idx + 1) {
        let ty = packer_type(c.get("type").and_then(Value::as_str).unwrap_or(""));
        let at = start + span * ((i + 1) as f64) / n;
        let last = i == failing_idx;
        w.telemetry(at, &format!("Starting provisioner {ty}"));
        if last && kind == LogEnd::Failed && echoes(ctx, t) {
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            for line in failing_commands(t, run) {
                w.ui(at, &format!("    azure-arm: [{name}] + {line}"), false);
            }
        }
        step_body(&mut w, at, c, i, last && kind == LogEnd::Failed);
        if last {
            failing_type = ty;
            break;
        }
        w.telemetry(at + span / n * 0.9, &format!("ending {ty}"));
    }
    let elapsed = elapsed_words(end - run.start);
    ending(&mut w, kind, failing_type, end, &elapsed);
    w.line(&format!(
        "[{}] PACKER Done exporting Packer logs to Azure Storage.",
        w.op
    ));
    w.out
}
