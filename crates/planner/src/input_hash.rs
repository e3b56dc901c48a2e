//! The input hash (`sha256:<hex>`) of a unit: a digest of a canonical JSON (sorted keys, no
//! whitespace) of its identity, resolved settings (secret names, never references or values),
//! the digests of the local files it reads and a format version, completed with the source
//! image version by [`InputHash::finalize`].

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::canonical::sorted_map;
use crate::file_digests::FileDigests;
use crate::resolved::ResolvedSettings;

/// Bumped whenever what goes into the hash changes.
pub const INPUT_HASH_FORMAT: u32 = 1;

/// The source version used until the real one is known.
pub const UNRESOLVED_SOURCE: &str = "latest";

/// A unit's hash, computed up to the source image version.
#[derive(Clone)]
pub struct InputHash {
    partial: Sha256,
    preview: String,
}

impl std::fmt::Debug for InputHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.preview)
    }
}

impl PartialEq for InputHash {
    fn eq(&self, other: &Self) -> bool {
        self.preview == other.preview
    }
}

impl InputHash {
    /// The hash with the source image version (`latest` until resolved, or the parent's
    /// published version id for `source = { variant }`).
    pub fn finalize(&self, source_version: &str) -> String {
        let mut h = self.partial.clone();
        h.update(b"\nsource_version=");
        h.update(source_version.as_bytes());
        format!("sha256:{}", hex::encode(h.finalize()))
    }

    /// Shows `full` (a [`InputHash::finalize`] result) as the hash from now on; finalizing
    /// again still starts from the planned inputs, so this is safe to repeat.
    pub fn show_final(&mut self, full: String) {
        self.preview = full;
    }

    /// The hash as planned offline (`finalize("latest")`).
    pub fn preview(&self) -> &str {
        &self.preview
    }

    /// First eight hex digits of the preview, for names.
    pub fn short(&self) -> &str {
        self.preview
            .strip_prefix("sha256:")
            .and_then(|h| h.get(..8))
            .unwrap_or("00000000")
    }

    fn from_partial(partial: Sha256) -> Self {
        let mut me = Self {
            partial,
            preview: String::new(),
        };
        me.preview = me.finalize(UNRESOLVED_SOURCE);
        me
    }
}

/// What identifies a unit, for the hash.
pub struct HashIdentity<'a> {
    pub environment: &'a str,
    pub variant: &'a str,
    pub matrix: &'a aib_manifest::MatrixRow,
}

/// The document hashed, serialized as compact JSON: struct fields in
/// declaration order (fixed by this code and by [`INPUT_HASH_FORMAT`]), every map sorted by key.
#[derive(Serialize)]
struct HashDoc<'a> {
    format: u32,
    environment: &'a str,
    variant: &'a str,
    #[serde(serialize_with = "sorted_map")]
    matrix: &'a aib_manifest::MatrixRow,
    settings: &'a ResolvedSettings,
    /// Path as written → hex SHA-256 of the bytes, sorted by path.
    files: BTreeMap<&'a str, String>,
}

/// Why a unit's input hash could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// A local file it reads (named).
    #[error(transparent)]
    File(#[from] aib_manifest::ConfineError),
    #[error("{0}")]
    Serialize(serde_json::Error),
}

/// Computes the partial hash of a unit. Errors name the file that could not be read.
pub fn compute(
    identity: &HashIdentity<'_>,
    settings: &ResolvedSettings,
    files: &mut FileDigests,
) -> Result<InputHash, HashError> {
    let mut file_map = BTreeMap::new();
    for f in settings.local_files() {
        let (digest, _) = files.digest(&f.resolved, &f.path)?;
        file_map.insert(f.path.as_str(), digest);
    }
    let doc = HashDoc {
        format: INPUT_HASH_FORMAT,
        environment: identity.environment,
        variant: identity.variant,
        matrix: identity.matrix,
        settings,
        files: file_map,
    };
    // Serialized into one buffer (reused by the thread) and hashed in one call: many tiny
    // digest updates cost more than the JSON itself.
    HASH_BUFFER.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        serde_json::to_writer(&mut *buf, &doc).map_err(HashError::Serialize)?;
        let mut h = Sha256::new();
        h.update(buf.as_slice());
        Ok(InputHash::from_partial(h))
    })
}

thread_local! {
    /// The canonical document of the unit being hashed.
    static HASH_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finalize_depends_on_source_version() {
        let h = InputHash::from_partial(Sha256::new());
        assert_ne!(h.finalize("1.0.0"), h.finalize("1.0.1"));
        assert_eq!(h.preview(), h.finalize("latest"));
        assert_eq!(h.short().len(), 8);
    }
}
