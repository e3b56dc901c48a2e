//! Where the reference tests find Azure's published material.
//!
//! Reference tests check aib against public material that is not part of this repository:
//! Azure's REST specs and examples, the ARM schemas, the Image Builder quickstart templates,
//! traffic Microsoft recorded against real Azure, and templates and `customization.log`s people
//! published. They build only with the cargo feature `reference-tests` and read that material at
//! test time from the folder named by `AIB_REFERENCE_DIR` (set by `.ci/run`). Each test
//! binary keeps them in a module named `reference`, so `cargo test -- reference::` runs exactly
//! them.

use std::path::{Path, PathBuf};

/// The environment variable naming the reference folder.
pub const REFERENCE_DIR_VAR: &str = "AIB_REFERENCE_DIR";

/// The reference folder (`$AIB_REFERENCE_DIR`). Panics with what to do when it is not set or not
/// a folder: a reference test that cannot find its material must fail, never pass vacuously.
pub fn reference_dir() -> PathBuf {
    let Some(dir) = std::env::var_os(REFERENCE_DIR_VAR) else {
        panic!(
            "{REFERENCE_DIR_VAR} is not set: reference tests read Azure's published material from \
             that folder (the one holding azure-reference/ and real-world/), e.g. \
             {REFERENCE_DIR_VAR}=/path/to/that/folder cargo test --workspace --features reference-tests -- reference::"
        );
    };
    let dir = PathBuf::from(dir);
    let dir = if dir.is_relative() {
        // Tests run in their crate's folder; a relative path is meant from the workspace root.
        workspace_root().join(dir)
    } else {
        dir
    };
    assert!(
        dir.join("azure-reference").is_dir(),
        "{REFERENCE_DIR_VAR}={} has no azure-reference/ folder",
        dir.display()
    );
    dir
}

/// A file or folder inside the reference folder; panics when it is missing.
pub fn reference_path(rel: impl AsRef<Path>) -> PathBuf {
    let p = reference_dir().join(rel.as_ref());
    assert!(
        p.exists(),
        "{} is missing from {REFERENCE_DIR_VAR}",
        rel.as_ref().display()
    );
    p
}

/// Every file under `dir` (recursively) whose name ends with `suffix`, sorted.
pub fn reference_files(rel: impl AsRef<Path>, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(&reference_path(rel), suffix, &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, suffix: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, suffix, out);
        } else if p.to_string_lossy().ends_with(suffix) {
            out.push(p);
        }
    }
}

/// The workspace root: two folders above a crate's `CARGO_MANIFEST_DIR`, or the root package's.
fn workspace_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    if manifest.join("crates").is_dir() {
        manifest
    } else {
        manifest.join("..").join("..")
    }
}
