//! The digests of the local files units read (scripts, files to copy), for their input hashes.

use std::path::PathBuf;

use aib_manifest::ConfineError;
use sha2::{Digest, Sha256};

/// Digests of local files, each checked (inside the manifest's folder or `allow_paths`,
/// symlinks resolved; a regular file of at most 4 MiB) and read once per plan.
#[derive(Debug)]
pub struct FileDigests {
    roots: aib_manifest::FileRoots,
    /// Path as joined → (hex SHA-256, real path), or why it may not be read.
    cache: foldhash::HashMap<PathBuf, Result<(String, PathBuf), ConfineError>>,
}

impl FileDigests {
    /// Files may come from `roots` only.
    pub fn new(roots: aib_manifest::FileRoots) -> Self {
        Self {
            roots,
            cache: foldhash::HashMap::default(),
        }
    }

    /// The hex SHA-256 of a file's bytes and where the file really is; `shown` is the path as
    /// the manifest wrote it (for messages).
    pub fn digest(
        &mut self,
        path: &std::path::Path,
        shown: &str,
    ) -> Result<(String, PathBuf), ConfineError> {
        if let Some(r) = self.cache.get(path) {
            return r.clone();
        }
        let r = self.roots.check(path, shown).and_then(|f| {
            std::fs::read(&f.real)
                .map(|bytes| (hex::encode(Sha256::digest(&bytes)), f.real))
                .map_err(|e| ConfineError::read(shown, e))
        });
        self.cache.insert(path.to_path_buf(), r.clone());
        r
    }
}
