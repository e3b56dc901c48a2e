//! Where local files may come from: the folder holding the manifest and the folders listed in
//! `[pipeline] allow_paths`, with every path resolved (symlinks followed) before it is
//! compared. A manifest a pull request changes cannot inline `/proc/self/environ`,
//! `../../.ssh/id_rsa` or a symlink to either into a deployment.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest local file (script or template) aib reads: ARM refuses a deployment over 4 MiB,
/// so a longer file could never be deployed.
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// The folders local files may resolve into. Cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRoots {
    roots: Arc<Vec<PathBuf>>,
}

/// A resolved local file: where it really is and how long it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfinedFile {
    /// The path with every symlink resolved.
    pub real: PathBuf,
    pub len: u64,
}

/// Resolves `p` (symlinks and `..`) when it exists; else makes it absolute as it stands.
fn real(p: &Path) -> PathBuf {
    match std::fs::canonicalize(p) {
        Ok(r) => r,
        Err(_) => std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()),
    }
}

impl FileRoots {
    /// The manifest's folder `dir` and `allow` (each relative to `dir` or absolute).
    pub fn new(dir: &Path, allow: &[&str]) -> Self {
        let mut roots = vec![real(dir)];
        roots.extend(allow.iter().map(|a| real(&dir.join(a))));
        Self {
            roots: Arc::new(roots),
        }
    }

    /// The folders, resolved; the manifest's first.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Checks the file at `path` (`shown` is how the manifest wrote it): it exists, resolves
    /// inside a root, is a regular file and is at most [`MAX_FILE_BYTES`] long.
    pub fn check(&self, path: &Path, shown: &str) -> Result<ConfinedFile, ConfineError> {
        let shown = shown.to_string();
        let real = match std::fs::canonicalize(path) {
            Ok(real) => real,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfineError::Missing { shown });
            }
            Err(e) => {
                return Err(ConfineError::Resolve {
                    shown,
                    source: Arc::new(e),
                });
            }
        };
        if !self.roots.iter().any(|r| real.starts_with(r)) {
            let home = self
                .roots
                .first()
                .map(|r| r.display().to_string())
                .unwrap_or_default();
            return Err(ConfineError::Outside {
                shown,
                real,
                home,
                allow_paths: if self.roots.len() > 1 {
                    " and the folders of `[pipeline] allow_paths`"
                } else {
                    ""
                },
            });
        }
        let meta = match std::fs::metadata(&real) {
            Ok(meta) => meta,
            Err(e) => return Err(ConfineError::read(shown, e)),
        };
        if !meta.is_file() {
            return Err(ConfineError::NotAFile { shown, real });
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(ConfineError::TooLarge {
                shown,
                len: meta.len(),
            });
        }
        Ok(ConfinedFile {
            real,
            len: meta.len(),
        })
    }
}

/// Why a file the manifest names cannot be used (`shown` is the path as the manifest wrote it).
#[derive(Clone, Debug, thiserror::Error)]
pub enum ConfineError {
    #[error("file `{shown}` does not exist")]
    Missing { shown: String },
    #[error("cannot resolve `{shown}`: {source}")]
    Resolve {
        shown: String,
        source: Arc<std::io::Error>,
    },
    #[error(
        "`{shown}` resolves to `{}`, outside the manifest's folder `{home}`{allow_paths}; list the folder under `[pipeline] allow_paths` to use it",
        real.display()
    )]
    Outside {
        shown: String,
        real: PathBuf,
        home: String,
        allow_paths: &'static str,
    },
    #[error("cannot read `{shown}`: {source}")]
    Read {
        shown: String,
        source: Arc<std::io::Error>,
    },
    #[error("`{shown}` (`{}`) is not a regular file", real.display())]
    NotAFile { shown: String, real: PathBuf },
    #[error(
        "`{shown}` is {len} bytes; an ARM deployment holds at most {MAX_FILE_BYTES} bytes, so it could never be deployed"
    )]
    TooLarge { shown: String, len: u64 },
}

impl ConfineError {
    /// The file at `shown` could not be read.
    pub fn read(shown: impl Into<String>, e: std::io::Error) -> Self {
        Self::Read {
            shown: shown.into(),
            source: Arc::new(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_stay_inside_the_roots() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("pipeline");
        let shared = tmp.path().join("common-scripts");
        std::fs::create_dir_all(dir.join("scripts"))?;
        std::fs::create_dir_all(&shared)?;
        std::fs::write(dir.join("scripts/ok.sh"), "echo ok")?;
        std::fs::write(tmp.path().join("secret.txt"), "x")?;
        std::fs::write(shared.join("common.sh"), "echo shared")?;
        let roots = FileRoots::new(&dir, &[]);
        assert!(
            roots
                .check(&dir.join("scripts/ok.sh"), "scripts/ok.sh")
                .is_ok()
        );
        // `..` out of the folder, an absolute path, a missing file.
        let e = roots
            .check(&dir.join("../secret.txt"), "../secret.txt")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("outside the manifest's folder"), "{e}");
        assert!(e.contains("secret.txt"), "{e}");
        let e = roots
            .check(Path::new("/etc/hostname"), "/etc/hostname")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("outside")));
        let e = roots
            .check(&dir.join("nope.sh"), "nope.sh")
            .err()
            .map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("file `nope.sh` does not exist"));
        // allow_paths opens exactly the folders listed.
        let e = roots
            .check(
                &dir.join("../common-scripts/common.sh"),
                "../common-scripts/common.sh",
            )
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some());
        let allowed = FileRoots::new(&dir, &["../common-scripts"]);
        assert!(
            allowed
                .check(
                    &dir.join("../common-scripts/common.sh"),
                    "../common-scripts/common.sh"
                )
                .is_ok()
        );
        assert!(
            allowed
                .check(&dir.join("../secret.txt"), "../secret.txt")
                .is_err()
        );
        // A folder is not a file.
        let e = roots
            .check(&dir.join("scripts"), "scripts")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("not a regular file")));
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_resolved_before_the_check() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("pipeline");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(tmp.path().join("outside.txt"), "x")?;
        std::os::unix::fs::symlink(tmp.path().join("outside.txt"), dir.join("link.sh"))?;
        std::os::unix::fs::symlink("/proc/self/environ", dir.join("env.sh"))?;
        let roots = FileRoots::new(&dir, &[]);
        for name in ["link.sh", "env.sh"] {
            let e = roots
                .check(&dir.join(name), name)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("outside the manifest's folder"), "{name}: {e}");
        }
        Ok(())
    }
}
