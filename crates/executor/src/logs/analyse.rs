//! What a `customization.log` says about a failure: where it failed (`phase`: a customizer,
//! validation, AIB's own deprovisioning steps, distribution, or unknown), why (`cause`: an
//! error, a timeout, a lost connection to the build VM), which step (`step`, 1-based among
//! every provisioner that started, AIB's first step included, and its `provisioner` type), the
//! manifest's customizer when the unit's customizers are known, Packer's error lines, an
//! excerpt and a known signature.
//!
//! The failing step is the last one that started before Packer's first error line (`Build
//! 'azure-arm' errored`, `Provisioning step had errors`, `Script exited with non-zero exit
//! status`, `Cancelling build after receiving terminated`, …). Neither format marks it
//! otherwise: the old telemetry format ends the failing step like the others, and the
//! Packer 1.14 format has no markers at all (see [`super::packer`]).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::packer::{self, Line, Step};

/// Where the build failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// One of the manifest's customizers.
    Customizer,
    /// An in-VM validation.
    Validate,
    /// AIB's own steps: uploading the deprovisioning script first, running it (Sysprep,
    /// `waagent -deprovision`) last.
    Deprovision,
    /// After Packer finished: publishing and replicating the image.
    Distribute,
    /// The log does not say.
    Unknown,
}

/// Why the build failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Cause {
    /// A step failed (a script's exit status, a provisioner error).
    Error,
    /// A timeout: the build's (`build_timeout_minutes`), a restart's, a deadline.
    Timeout,
    /// Packer could not reach the build VM (WinRM/SSH).
    Connect,
    /// The log does not say.
    Unknown,
}

impl Phase {
    const ALL: [Phase; 5] = [
        Phase::Customizer,
        Phase::Validate,
        Phase::Deprovision,
        Phase::Distribute,
        Phase::Unknown,
    ];

    /// The phase of its name (as [`Phase::as_str`] spells it).
    pub fn parse(s: &str) -> Option<Phase> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Customizer => "customizer",
            Phase::Validate => "validate",
            Phase::Deprovision => "deprovision",
            Phase::Distribute => "distribute",
            Phase::Unknown => "unknown",
        }
    }
}

impl Cause {
    const ALL: [Cause; 4] = [Cause::Error, Cause::Timeout, Cause::Connect, Cause::Unknown];

    /// The cause of its name (as [`Cause::as_str`] spells it).
    pub fn parse(s: &str) -> Option<Cause> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Error => "error",
            Cause::Timeout => "timeout",
            Cause::Connect => "connect",
            Cause::Unknown => "unknown",
        }
    }
}

/// A known failure pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Signature {
    /// Stable id (`windows-update-0x80240016`, `reboot-loop`, `build-timeout`, ...).
    pub id: String,
    /// What it means and what to do.
    pub hint: String,
}

/// What the log says about a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogAnalysis {
    pub phase: Phase,
    pub cause: Cause,
    /// The failing step's provisioner type as Packer prints it.
    pub provisioner: Option<String>,
    /// The failing step, 1-based among every step started (AIB's first step counts).
    pub step: Option<usize>,
    /// The manifest's customizer (or validation) name, when known.
    pub customizer: Option<String>,
    /// Packer's error lines, in order.
    pub error_lines: Vec<String>,
    /// The relevant lines (at most [`EXCERPT_LINES`]).
    pub excerpt: String,
    /// A known failure, explained.
    pub signature: Option<Signature>,
}

/// Most lines in an excerpt.
pub const EXCERPT_LINES: usize = 20;
/// Most error lines reported.
pub const MAX_ERROR_LINES: usize = 12;

/// A customizer as the manifest declares it: its name and its packer provisioner type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepName {
    pub name: String,
    /// Packer's provisioner type (`shell`, `powershell`, `windows-restart`, `windows-update`,
    /// `file`).
    pub packer_type: String,
}

/// The unit's steps in manifest order, when known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepNames {
    pub customize: Vec<StepName>,
    pub validate: Vec<StepName>,
    /// The log is a `validation.log`: its steps are the validations.
    pub validation_log: bool,
}

/// A Packer error line and what it says about the cause.
const FATAL: &[(&str, Cause)] = &[
    (
        "Cancelling build after receiving terminated",
        Cause::Timeout,
    ),
    ("Timeout waiting for machine to restart", Cause::Timeout),
    ("context deadline exceeded", Cause::Timeout),
    ("Timeout waiting for WinRM", Cause::Connect),
    ("Timeout waiting for SSH", Cause::Connect),
    ("Provisioning step had errors", Cause::Error),
    ("Script exited with non-zero exit status", Cause::Error),
    ("Build 'azure-arm' errored", Cause::Error),
    ("Some builds didn't complete successfully", Cause::Error),
    ("Failed to prepare build", Cause::Error),
    ("Erroneous exit code", Cause::Error),
];

/// Packer finished and made an image: a failure came after it.
const FINISHED: &[&str] = &[
    "Build 'azure-arm' finished",
    "Builds finished. The artifacts of successful builds are",
];

fn fatal(text: &str) -> Option<Cause> {
    FATAL
        .iter()
        .find(|(m, _)| text.contains(m))
        .map(|(_, c)| *c)
}

/// Analyse a log against the unit's steps (empty when unknown).
pub fn analyse(log: &str, names: &StepNames) -> LogAnalysis {
    let lines = packer::lines(log);
    let (_, steps) = packer::steps(&lines);
    let first_fatal = lines.iter().position(|l| fatal(l.text).is_some());
    let failing = first_fatal.and_then(|f| steps.iter().rev().find(|s| s.start < f).cloned());
    let cause = cause(&lines);
    let finished = first_fatal.is_none()
        && lines
            .iter()
            .any(|l| FINISHED.iter().any(|m| l.text.contains(m)));
    let (phase, customizer) = match (&failing, finished) {
        (_, true) => (Phase::Distribute, None),
        (Some(s), _) => place(&lines, &steps, s, names),
        (None, _) => (unplaced_phase(&lines, first_fatal), None),
    };
    let provisioner = failing
        .as_ref()
        .map(|s| s.provisioner.clone())
        .or_else(|| running_plugin(&lines, first_fatal))
        .or_else(|| {
            (phase == Phase::Deprovision)
                .then(|| deprovision_type(&lines))
                .flatten()
        });
    let error_lines = error_lines(&lines, failing.as_ref());
    let excerpt = excerpt(&lines, failing.as_ref().map(|s| s.start), first_fatal);
    let mut a = LogAnalysis {
        phase,
        cause: if finished { Cause::Unknown } else { cause },
        provisioner,
        step: failing.as_ref().map(|s| s.number),
        customizer,
        error_lines,
        excerpt,
        signature: None,
    };
    a.signature = signature(log, &a);
    a
}

/// The cause the error lines name, the most telling first: a timeout (AIB stopping Packer, a
/// restart that never ended), a lost connection, then any error.
fn cause(lines: &[Line<'_>]) -> Cause {
    let causes: Vec<Cause> = lines.iter().filter_map(|l| fatal(l.text)).collect();
    [Cause::Timeout, Cause::Connect, Cause::Error]
        .into_iter()
        .find(|c| causes.contains(c))
        .unwrap_or(Cause::Unknown)
}

/// The phase and customizer of the failing step.
fn place(
    lines: &[Line<'_>],
    steps: &[Step],
    s: &Step,
    names: &StepNames,
) -> (Phase, Option<String>) {
    let first = steps.first();
    let aib_first =
        first.is_some_and(|f| packer::is_deprovision(packer::step_lines(lines, steps, f)));
    if aib_first && s.number == 1 {
        return (Phase::Deprovision, None);
    }
    let last = steps.last().is_some_and(|l| l.number == s.number);
    if last && s.number > 1 && packer::is_deprovision(packer::step_lines(lines, steps, s)) {
        return (Phase::Deprovision, None);
    }
    let index = s.number - 1 - usize::from(aib_first);
    if names.validation_log {
        let name = names.validate.get(index).map(|v| label(v, &s.provisioner));
        return (Phase::Validate, name);
    }
    if names.customize.is_empty() && names.validate.is_empty() {
        return (Phase::Customizer, None);
    }
    if let Some(c) = names.customize.get(index) {
        return (Phase::Customizer, Some(label(c, &s.provisioner)));
    }
    match names.validate.get(index - names.customize.len()) {
        Some(v) => (Phase::Validate, Some(label(v, &s.provisioner))),
        // Past every customizer and validation: AIB's last step.
        None => (Phase::Deprovision, None),
    }
}

fn label(n: &StepName, provisioner: &str) -> String {
    if n.packer_type == provisioner {
        n.name.clone()
    } else {
        format!("{} (log shows a `{provisioner}` step)", n.name)
    }
}

/// The phase of a failure no step of the log covers (an excerpt, a failure before the first
/// step): AIB's deprovisioning when the log shows it running, a customizer when a customizer's
/// provisioner was running, else unknown.
fn unplaced_phase(lines: &[Line<'_>], first_fatal: Option<usize>) -> Phase {
    let before = &lines[..first_fatal.unwrap_or(lines.len()).min(lines.len())];
    if packer::is_deprovision(before) {
        Phase::Deprovision
    } else if running_plugin(lines, first_fatal).is_some() {
        Phase::Customizer
    } else {
        Phase::Unknown
    }
}

/// The provisioner whose plugin logged last before the first error (`packer-provisioner-X`).
fn running_plugin(lines: &[Line<'_>], first_fatal: Option<usize>) -> Option<String> {
    let end = first_fatal.unwrap_or(lines.len()).min(lines.len());
    lines[..end].iter().rev().find_map(|l| {
        let i = l.text.find("packer-provisioner-")?;
        let rest = &l.text[i + "packer-provisioner-".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        (!name.is_empty()).then_some(name)
    })
}

/// The provisioner of AIB's deprovisioning step: PowerShell on Windows, shell on Linux.
fn deprovision_type(lines: &[Line<'_>]) -> Option<String> {
    let has = |s: &str| lines.iter().any(|l| l.text.contains(s));
    if has("DeprovisioningScript.ps1") || has("Sysprep") {
        Some("powershell".into())
    } else if has("DeprovisioningScript.sh") || has("waagent") {
        Some("shell".into())
    } else {
        None
    }
}

/// Packer's error lines: every fatal line, and the failing step's `ui error:` lines.
fn error_lines(lines: &[Line<'_>], failing: Option<&Step>) -> Vec<String> {
    let from = failing.map(|s| s.start).unwrap_or(0);
    let mut out: Vec<String> = Vec::new();
    for l in lines {
        let step_error = l.index >= from && l.text.starts_with("ui error:");
        if fatal(l.text).is_none() && !step_error {
            continue;
        }
        let t = l
            .text
            .trim_start_matches("ui error:")
            .trim_start_matches("ui:")
            .trim();
        if t.is_empty() || out.iter().any(|o| o == t) {
            continue;
        }
        out.push(t.to_string());
        if out.len() == MAX_ERROR_LINES {
            break;
        }
    }
    out
}

fn interesting(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    [
        "error",
        "fail",
        "exit status",
        "exited",
        "timeout",
        "timed out",
        "deadline",
        "cancel",
        "0x8",
    ]
    .iter()
    .any(|k| l.contains(k))
}

/// Lines that never say what went wrong: Packer's plumbing.
const NOISE: &[&str] = &[
    "bytes written for",
    "Communicator ended with",
    "plugin process exited",
    "[DEBUG]",
    "Found command:",
    "machine readable:",
    "waiting for all plugin processes",
];

/// A plugin's own log line (it echoes the script it runs, its uploads and wrappers) that does
/// not report an exit or an error.
fn plugin_chatter(t: &str) -> bool {
    (t.contains("packer-provisioner-") || t.contains("packer-plugin-"))
        && !["exit code", "exited with", "Retryable error", "error:"]
            .iter()
            .any(|k| t.contains(k))
}

/// The failing step's lines up to Packer's first error, then Packer's error lines (or the
/// last lines of the log when no step is known); at most [`EXCERPT_LINES`] lines, without
/// Packer's plumbing or repeats, favouring the ones that say what went wrong.
fn excerpt(lines: &[Line<'_>], start: Option<usize>, first_fatal: Option<usize>) -> String {
    let end = first_fatal.unwrap_or(lines.len());
    let from = start.unwrap_or_else(|| end.saturating_sub(EXCERPT_LINES));
    let mut section: Vec<&Line<'_>> = Vec::new();
    for l in lines.get(from..).unwrap_or_default() {
        let t = l.text.trim();
        if t.is_empty() || (l.index >= end && fatal(t).is_none()) {
            continue;
        }
        if NOISE.iter().any(|n| t.contains(n)) || plugin_chatter(t) {
            continue;
        }
        if section.last().is_some_and(|p| p.text.trim() == t) {
            continue;
        }
        section.push(l);
    }
    let section: Vec<&str> = section.iter().map(|l| l.raw).collect();
    if section.len() <= EXCERPT_LINES {
        return section.join("\n");
    }
    // Keep the first line (which step), then the interesting lines, then fill from the end.
    let mut keep: Vec<usize> = vec![0];
    for (i, l) in section.iter().enumerate().skip(1) {
        if interesting(l) {
            keep.push(i);
        }
    }
    let mut i = section.len();
    while keep.len() < EXCERPT_LINES && i > 1 {
        i -= 1;
        if !keep.contains(&i) {
            keep.push(i);
        }
    }
    keep.sort_unstable();
    keep.dedup();
    // Too many interesting lines: keep the first and the last ones.
    if keep.len() > EXCERPT_LINES {
        let tail = keep.split_off(keep.len() - (EXCERPT_LINES - 1));
        keep.truncate(1);
        keep.extend(tail);
    }
    keep.iter()
        .filter_map(|i| section.get(*i).copied())
        .collect::<Vec<_>>()
        .join("\n")
}

fn sig(id: &str, hint: String) -> Option<Signature> {
    Some(Signature {
        id: id.to_string(),
        hint,
    })
}

/// Failures a log names in so many words (lower case): the words, the signature, the hint.
const NAMED: [(&str, &str, &str); 3] = [
    (
        "0x80240016",
        "windows-update-0x80240016",
        "Windows Update refused to install (0x80240016: another installation or a pending reboot is in progress); put a `windows-restart` step before `windows-update`, or retry",
    ),
    (
        "failed to prepare build",
        "prepare-failed",
        "Packer could not prepare the build (before any VM existed); the lines below say what it refused",
    ),
    (
        "image_state_undeployable",
        "sysprep-undeployable",
        "Sysprep left the image undeployable (IMAGE_STATE_UNDEPLOYABLE) in AIB's deprovisioning step: a customizer broke the Azure guest agent or Sysprep (removed services, pending reboots); run a `windows-restart` last and check the agent services",
    ),
];

/// Known failures, most specific first.
fn signature(log: &str, a: &LogAnalysis) -> Option<Signature> {
    let l = log.to_ascii_lowercase();
    if let Some((_, id, hint)) = NAMED.iter().find(|(words, ..)| l.contains(words)) {
        return sig(id, hint.to_string());
    }
    let restarts = l.matches("restarting machine").count();
    if l.contains("timeout waiting for machine to restart") || restarts >= 4 {
        return sig(
            "reboot-loop",
            format!(
                "the build VM did not come back from a restart{} (reboot loop or a slow restart); raise `restart_timeout` or check the step before the restart",
                if restarts >= 4 {
                    format!(" ({restarts} restarts)")
                } else {
                    String::new()
                }
            ),
        );
    }
    if a.cause == Cause::Connect {
        return sig(
            "communicator-timeout",
            "packer lost its WinRM/SSH connection to the build VM (communicator timeout); check NSG rules, proxy/vnet settings and the VM size".into(),
        );
    }
    if l.contains("cancelling build after receiving terminated") {
        let during = match (&a.step, &a.provisioner) {
            (Some(n), Some(p)) => format!(" while step {n} (`{p}`) ran"),
            _ => String::new(),
        };
        return sig(
            "build-timeout",
            format!(
                "AIB stopped the build at `build_timeout_minutes`{during}; raise it or shorten that step"
            ),
        );
    }
    if l.contains("context deadline exceeded") {
        return sig(
            "publish-deadline",
            "publishing to the gallery timed out (context deadline exceeded); replication to many regions can outlast the build timeout — check whether the version replicated, raise `build_timeout_minutes` or replicate to fewer regions".into(),
        );
    }
    if a.provisioner.as_deref() == Some("windows-update")
        && let Some(s) = windows_update_signature(&l)
    {
        return Some(s);
    }
    script_exit(&l)
}

/// How the Windows Update provisioner failed.
fn windows_update_signature(l: &str) -> Option<Signature> {
    if let Some(code) = hresult(l) {
        return sig(
            "windows-update-failed",
            format!("Windows Update failed with {code}"),
        );
    }
    if l.contains("unexpected eof") {
        return sig(
            "windows-update-eof",
            "Packer lost the Windows Update provisioner while the VM restarted (unexpected EOF); retry, or split the updates with a `windows-restart` step before `windows-update`".into(),
        );
    }
    None
}

/// A script's non-zero exit status.
fn script_exit(l: &str) -> Option<Signature> {
    let pos = l.find("non-zero exit status: ")?;
    let code: String = l[pos + "non-zero exit status: ".len()..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    if code.is_empty() {
        return None;
    }
    sig(
        "script-exit",
        format!(
            "the script exited with status {code}; add it to `valid_exit_codes` if it is expected"
        ),
    )
}

fn hresult(l: &str) -> Option<String> {
    let pos = l.find("0x8")?;
    let code: String = l[pos..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == 'x')
        .collect();
    (code.len() == 10).then_some(code)
}

/// Signatures in ARM's own error message (when there is no log).
pub fn message_signature(message: &str) -> Option<Signature> {
    analyse(message, &StepNames::default()).signature
}

/// `aib logs --analyse --format json`: `{phase, cause, provisioner, step, customizer,
/// error_lines, signature}` (schema: `schemas/aib-log-analysis.schema.json`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[schemars(title = "aib log analysis", deny_unknown_fields)]
pub struct AnalysisReport {
    /// Where it failed.
    pub phase: Phase,
    /// Why.
    pub cause: Cause,
    /// The failing step's provisioner type as Packer prints it.
    pub provisioner: Option<String>,
    /// The failing step, 1-based among every provisioner that started (AIB's first counts).
    pub step: Option<usize>,
    /// The manifest's customizer, with `--manifest` and `--unit`.
    pub customizer: Option<String>,
    /// Packer's error lines.
    pub error_lines: Vec<String>,
    /// A known failure pattern and what to do.
    pub signature: Option<Signature>,
}

impl From<&LogAnalysis> for AnalysisReport {
    fn from(a: &LogAnalysis) -> Self {
        AnalysisReport {
            phase: a.phase,
            cause: a.cause,
            provisioner: a.provisioner.clone(),
            step: a.step,
            customizer: a.customizer.clone(),
            error_lines: a.error_lines.clone(),
            signature: a.signature.clone(),
        }
    }
}

/// The JSON Schema of [`AnalysisReport`].
pub fn analysis_schema() -> String {
    let schema = schemars::schema_for!(AnalysisReport);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests;
