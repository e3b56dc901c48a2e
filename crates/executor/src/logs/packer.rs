//! Reading a Packer `customization.log` as AIB writes it, in both of its formats:
//!
//! - up to about 2023: `[<id>] PACKER OUT <text>` / `[<id>] PACKER ERR <date> <time> <text>`, with
//!   `[INFO] (telemetry) Starting provisioner <type>` and `[INFO] (telemetry) ending <type>`
//!   around each step (the failing step gets its `ending` line too, so the markers cannot tell
//!   which step failed; where Packer's error lines fall can);
//! - Packer 1.14: `[<id>] PACKER <date> <time> <text>` with no telemetry at all; a step starts at
//!   its first `ui: ==> azure-arm:` line: `Provisioning with Powershell...` (powershell),
//!   `Provisioning with shell script` (shell), `Uploading <src> => <dst>` (file),
//!   `Uploading the Windows update elevated script...` (windows-update), `Restarting Machine`
//!   (windows-restart).
//!
//! Either way AIB adds its own first step (uploading `DeprovisioningScript.txt`) and last step
//! (Sysprep on Windows, `waagent -deprovision` on Linux).

/// One line, with Packer's prefixes taken off.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// Index in the log (0-based).
    pub index: usize,
    /// The whole line.
    pub raw: &'a str,
    /// The text after `[<id>]`, `PACKER`, `OUT`/`ERR` and the timestamp.
    pub text: &'a str,
}

impl<'a> Line<'a> {
    /// A Packer UI line's message (`ui: ==> azure-arm: X`, or `==> azure-arm: X` in the old
    /// format), else `None`.
    pub fn ui(&self) -> Option<&'a str> {
        let t = self.text;
        let t = t
            .strip_prefix("ui error: ")
            .or_else(|| t.strip_prefix("ui: "))
            .unwrap_or(t);
        t.strip_prefix("==> azure-arm: ")
    }
}

/// Splits a log into lines with their prefixes removed.
pub fn lines(log: &str) -> Vec<Line<'_>> {
    log.lines()
        .enumerate()
        .map(|(index, raw)| Line {
            index,
            raw,
            text: strip_prefixes(raw),
        })
        .collect()
}

fn strip_prefixes(raw: &str) -> &str {
    let mut s = raw.trim_start();
    if s.starts_with('[')
        && let Some(i) = s.find("] ")
    {
        s = &s[i + 2..];
    }
    s = strip_word(s, "PACKER");
    s = strip_word(s, "OUT");
    s = strip_word(s, "ERR");
    s = strip_timestamp(s);
    // Old `PACKER ERR` lines repeat it: `packer: 2020/04/30 23:38:58 [INFO] ...`.
    if let Some(rest) = s.strip_prefix("packer: ") {
        s = strip_timestamp(rest);
    }
    s
}

fn strip_word<'a>(s: &'a str, word: &str) -> &'a str {
    match s.strip_prefix(word) {
        Some(rest) if rest.is_empty() => rest,
        Some(rest) if rest.starts_with(' ') => rest.trim_start(),
        _ => s,
    }
}

/// `2026/02/21 22:45:10 ` at the start.
fn strip_timestamp(s: &str) -> &str {
    let b = s.as_bytes();
    let shape = b"0000/00/00 00:00:00";
    if b.len() >= shape.len()
        && shape.iter().zip(b).all(|(want, got)| {
            if *want == b'0' {
                got.is_ascii_digit()
            } else {
                want == got
            }
        })
    {
        s[shape.len()..].trim_start()
    } else {
        s
    }
}

/// The format a log is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `(telemetry) Starting provisioner` markers.
    Telemetry,
    /// No telemetry: steps start at their first UI line.
    Ui,
}

/// A step: one provisioner that started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based among every step started (AIB's own first step included).
    pub number: usize,
    /// The provisioner type as Packer prints it (`powershell`, `shell`, `file`,
    /// `windows-restart`, `windows-update`, ...).
    pub provisioner: String,
    /// Index of its first line.
    pub start: usize,
}

const TELEMETRY_START: &str = "(telemetry) Starting provisioner ";

/// The steps of a log, in order.
pub fn steps(lines: &[Line<'_>]) -> (Format, Vec<Step>) {
    let telemetry = lines.iter().any(|l| l.text.contains(TELEMETRY_START));
    let mut out: Vec<Step> = Vec::new();
    for l in lines {
        let started = if telemetry {
            l.text
                .find(TELEMETRY_START)
                .map(|i| l.text[i + TELEMETRY_START.len()..].trim().to_string())
                .filter(|t| !t.is_empty())
        } else {
            l.ui()
                .and_then(|m| ui_step(m, out.last().map(|s| s.provisioner.as_str())))
        };
        if let Some(provisioner) = started {
            out.push(Step {
                number: out.len() + 1,
                provisioner,
                start: l.index,
            });
        }
    }
    let format = if telemetry {
        Format::Telemetry
    } else {
        Format::Ui
    };
    (format, out)
}

/// The provisioner whose first UI line this is. `current` is the step running (a Windows
/// Update step prints "Uploading ..." lines of its own).
fn ui_step(message: &str, current: Option<&str>) -> Option<String> {
    let m = message.trim_end();
    let p = if m == "Provisioning with Powershell..." {
        "powershell"
    } else if m.starts_with("Provisioning with shell script") {
        "shell"
    } else if m == "Uploading the Windows update elevated script..."
        || (m == "Running Windows update..." && current != Some("windows-update"))
    {
        "windows-update"
    } else if m == "Restarting Machine" {
        "windows-restart"
    } else if m.starts_with("Uploading ") && m.contains(" => ") {
        "file"
    } else {
        return None;
    };
    Some(p.to_string())
}

/// Lines of step `s` (its start to the next step's start).
pub fn step_lines<'a, 'b>(lines: &'b [Line<'a>], steps: &[Step], s: &Step) -> &'b [Line<'a>] {
    let end = steps
        .iter()
        .find(|x| x.number == s.number + 1)
        .map(|x| x.start)
        .unwrap_or(lines.len());
    lines.get(s.start..end).unwrap_or_default()
}

/// Whether a step is AIB's own deprovisioning: the upload of `DeprovisioningScript` (the first
/// step) or the script that runs Sysprep / `waagent -deprovision` (the last).
pub fn is_deprovision(lines: &[Line<'_>]) -> bool {
    lines.iter().any(|l| {
        let t = l.text;
        t.contains("DeprovisioningScript")
            || t.contains("Sysprep")
            || t.contains("waagent -force -deprovision")
            || t.contains("waagent-deprovision")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_of_both_formats_are_removed() {
        let l = lines(
            "[1e30] PACKER 2026/02/21 22:47:43 ui: ==> azure-arm: Provisioning with Powershell...\n\
             [864c] PACKER ERR 2023/06/13 08:28:58 [INFO] (telemetry) Starting provisioner windows-restart\n\
             [864c] PACKER OUT ==> azure-arm: A system shutdown has already been scheduled.(1190)\n\
             PACKER ERR 2020/04/30 23:38:58 packer: 2020/04/30 23:38:58 [INFO] command exited\n\
             PACKER OUT\n",
        );
        assert_eq!(l[0].ui(), Some("Provisioning with Powershell..."));
        assert_eq!(
            l[1].text,
            "[INFO] (telemetry) Starting provisioner windows-restart"
        );
        assert_eq!(
            l[2].ui(),
            Some("A system shutdown has already been scheduled.(1190)")
        );
        assert_eq!(l[3].text, "[INFO] command exited");
        assert_eq!(l[4].text, "");
    }

    #[test]
    fn ui_steps_start_at_their_first_line() {
        let log = "\
[a] PACKER 2026/02/21 22:47:43 ui: ==> azure-arm: Uploading /aib/packerInput/DeprovisioningScript.txt => c:\\DeprovisioningScript.ps1
[a] PACKER 2026/02/21 22:47:43 ui: ==> azure-arm: Provisioning with Powershell...
[a] PACKER 2026/02/21 22:47:43 ui: ==> azure-arm: Provisioning with powershell script: /tmp/powershell-provisioner1
[a] PACKER 2026/02/21 22:47:43 ui: ==> azure-arm: Restarting Machine
[a] PACKER 2026/02/21 22:47:43 ui: ==> azure-arm: Waiting for machine to restart...
[a] PACKER 2026/02/21 22:47:43 ui: ==> azure-arm: Uploading the Windows update elevated script...
[a] PACKER 2026/02/21 22:47:43 ui: ==> azure-arm: Running Windows update...
[a] PACKER 2026/02/21 22:47:43 ui: ==> azure-arm: Uploading the Windows update check for reboot required elevated script...
[a] PACKER 2026/02/21 22:47:43 ui: ==> azure-arm: Provisioning with shell script: /tmp/script.sh
";
        let (format, s) = steps(&lines(log));
        assert_eq!(format, Format::Ui);
        let kinds: Vec<&str> = s.iter().map(|s| s.provisioner.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "file",
                "powershell",
                "windows-restart",
                "windows-update",
                "shell"
            ]
        );
        assert_eq!(s[4].number, 5);
    }
}
