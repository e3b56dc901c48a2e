//! Reading a packer `customization.log`: which provisioner failed (from the `(telemetry)
//! Starting provisioner` / `ending provisioner` markers, mapped back to the manifest's
//! customizer by order), an excerpt of the relevant lines, and known failure signatures.

/// What the log says about a failure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogAnalysis {
    /// 0-based index of the failing provisioner among the `Starting provisioner` markers.
    pub failing_index: Option<usize>,
    /// Packer's type of the failing provisioner (`powershell`, `windows-update`, ...).
    pub failing_type: Option<String>,
    /// The manifest's customizer name, when the index maps to one.
    pub customizer: Option<String>,
    /// The relevant lines (at most [`EXCERPT_LINES`]).
    pub excerpt: String,
    /// A known failure, explained.
    pub signature: Option<Signature>,
}

/// Most lines in an excerpt.
pub const EXCERPT_LINES: usize = 20;

/// A known failure pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Stable id (`windows-update-0x80240016`, `reboot-loop`, ...).
    pub id: &'static str,
    /// What it means and what to do.
    pub hint: String,
}

/// A customizer as the manifest declares it: its name and its packer provisioner type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepName {
    pub name: String,
    /// Packer's provisioner type (`shell`, `powershell`, `windows-restart`, `windows-update`,
    /// `file`).
    pub packer_type: String,
}

const START: &str = "(telemetry) Starting provisioner";
const END: &str = "(telemetry) ending provisioner";

/// Analyse a log against the unit's customizers, in manifest order.
pub fn analyse(log: &str, steps: &[StepName]) -> LogAnalysis {
    let lines: Vec<&str> = log.lines().collect();
    // (line index of the start marker, type), and whether it ended.
    let mut provisioners: Vec<(usize, String, bool)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(pos) = line.find(START) {
            let ty = line[pos + START.len()..].trim().to_string();
            provisioners.push((i, ty, false));
        } else if let Some(pos) = line.find(END) {
            let ty = line[pos + END.len()..].trim();
            if let Some(p) = provisioners
                .iter_mut()
                .rev()
                .find(|(_, t, ended)| !ended && t == ty)
            {
                p.2 = true;
            }
        }
    }
    let failing = provisioners
        .iter()
        .enumerate()
        .rev()
        .find(|(_, (_, _, ended))| !ended)
        .map(|(k, (line, ty, _))| (k, *line, ty.clone()));
    let (failing_index, failing_type, customizer, section_start) = match &failing {
        Some((k, line, ty)) => {
            let name = steps.get(*k).map(|s| {
                if s.packer_type == *ty {
                    s.name.clone()
                } else {
                    format!("{} (log shows a `{ty}` step)", s.name)
                }
            });
            (Some(*k), Some(ty.clone()), name, *line)
        }
        None => (None, None, None, 0),
    };
    let excerpt = excerpt(&lines, section_start, failing.is_some());
    let signature = signature(log, failing_type.as_deref());
    LogAnalysis {
        failing_index,
        failing_type,
        customizer,
        excerpt,
        signature,
    }
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

/// The failing section (from its start marker), or the last lines of the log; at most
/// [`EXCERPT_LINES`] lines, favouring the ones that say what went wrong.
fn excerpt(lines: &[&str], start: usize, has_section: bool) -> String {
    let section: Vec<&str> = if has_section {
        lines.get(start..).unwrap_or_default().to_vec()
    } else {
        let from = lines.len().saturating_sub(EXCERPT_LINES);
        lines.get(from..).unwrap_or_default().to_vec()
    };
    let section: Vec<&str> = section
        .into_iter()
        .filter(|l| !l.trim().is_empty() && l.trim() != "PACKER OUT")
        .collect();
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

/// Known failures, most specific first.
pub fn signature(log: &str, failing_type: Option<&str>) -> Option<Signature> {
    let l = log.to_ascii_lowercase();
    if l.contains("0x80240016") {
        return Some(Signature {
            id: "windows-update-0x80240016",
            hint: "Windows Update refused to install (0x80240016: another installation or a pending reboot is in progress); put a `windows-restart` step before `windows-update`, or retry".into(),
        });
    }
    let restarts = l.matches("restarting machine").count();
    if l.contains("timeout waiting for machine to restart") || restarts >= 4 {
        return Some(Signature {
            id: "reboot-loop",
            hint: format!(
                "the build VM did not come back from a restart{} (reboot loop or a slow restart); raise `restart_timeout` or check the step before the restart",
                if restarts >= 4 {
                    format!(" ({restarts} restarts)")
                } else {
                    String::new()
                }
            ),
        });
    }
    if l.contains("timeout waiting for winrm")
        || l.contains("timeout waiting for ssh")
        || l.contains("communicator") && (l.contains("timeout") || l.contains("timed out"))
    {
        return Some(Signature {
            id: "communicator-timeout",
            hint: "packer lost its WinRM/SSH connection to the build VM (communicator timeout); check NSG rules, proxy/vnet settings and the VM size".into(),
        });
    }
    if l.contains("build timeout") || l.contains("buildtimeoutinminutes") {
        return Some(Signature {
            id: "build-timeout",
            hint: "the build ran longer than `build_timeout_minutes`; raise it or shorten the customization".into(),
        });
    }
    if l.contains("context deadline exceeded") {
        return Some(Signature {
            id: "publish-deadline",
            hint: "publishing to the gallery timed out (context deadline exceeded); replication to many regions can outlast the build timeout — check whether the version replicated, raise `build_timeout_minutes` or replicate to fewer regions".into(),
        });
    }
    if failing_type == Some("windows-update")
        && let Some(code) = hresult(&l)
    {
        return Some(Signature {
            id: "windows-update-failed",
            hint: format!("Windows Update failed with {code}"),
        });
    }
    if let Some(pos) = l.find("non-zero exit status: ") {
        let code: String = l[pos + "non-zero exit status: ".len()..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        if !code.is_empty() {
            return Some(Signature {
                id: "script-exit",
                hint: format!(
                    "the script exited with status {code}; add it to `valid_exit_codes` if it is expected"
                ),
            });
        }
    }
    None
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
    signature(message, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps() -> Vec<StepName> {
        [
            ("install-fslogix", "powershell"),
            ("restart", "windows-restart"),
            ("updates", "windows-update"),
        ]
        .iter()
        .map(|(n, t)| StepName {
            name: (*n).into(),
            packer_type: (*t).into(),
        })
        .collect()
    }

    #[test]
    fn finds_the_failing_step_by_markers() {
        let log = "\
PACKER ERR 2026/01/01 10:00:00 [INFO] (telemetry) Starting provisioner powershell
PACKER OUT     azure-arm: [install-fslogix] done
PACKER ERR 2026/01/01 10:01:00 [INFO] (telemetry) ending provisioner powershell
PACKER ERR 2026/01/01 10:01:00 [INFO] (telemetry) Starting provisioner windows-restart
PACKER OUT ==> azure-arm: Restarting Machine
PACKER ERR 2026/01/01 10:02:00 [INFO] (telemetry) ending provisioner windows-restart
PACKER ERR 2026/01/01 10:02:00 [INFO] (telemetry) Starting provisioner windows-update
PACKER OUT     azure-arm: Failed to install updates: 0x80240016
PACKER OUT ==> azure-arm: Windows update script exited with non-zero exit status: 1.
";
        let a = analyse(log, &steps());
        assert_eq!(a.failing_index, Some(2));
        assert_eq!(a.customizer.as_deref(), Some("updates"));
        assert!(a.excerpt.contains("0x80240016"), "{}", a.excerpt);
        assert!(a.excerpt.starts_with("PACKER ERR"), "{}", a.excerpt);
        assert_eq!(a.signature.map(|s| s.id), Some("windows-update-0x80240016"));
    }

    #[test]
    fn no_markers_gives_the_tail_and_message_signatures() {
        let a = analyse("a\nb\nc: context deadline exceeded\n", &steps());
        assert_eq!(a.customizer, None);
        assert!(a.excerpt.ends_with("context deadline exceeded"));
        assert_eq!(a.signature.map(|s| s.id), Some("publish-deadline"));
        assert_eq!(
            message_signature("Timeout waiting for WinRM").map(|s| s.id),
            Some("communicator-timeout")
        );
    }

    #[test]
    fn long_sections_are_cut_to_the_interesting_lines() {
        let mut log = String::from("x (telemetry) Starting provisioner shell\n");
        for i in 0..200 {
            log.push_str(&format!("line {i}\n"));
        }
        log.push_str("ERROR: something broke\nexit status 2\n");
        let a = analyse(&log, &[]);
        let n = a.excerpt.lines().count();
        assert!(n <= EXCERPT_LINES, "{n}");
        assert!(a.excerpt.contains("something broke"));
        assert!(a.excerpt.contains("Starting provisioner"));
    }
}
