//! The input hash (`sha256:<hex>`) of a unit: a digest of a canonical JSON (sorted keys, no
//! whitespace) of its identity, resolved settings (secret names, never references or values),
//! the digests of the local files it reads and a format version, completed with the source
//! image version by [`InputHash::finalize`].

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

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

/// Digests of local files, read once per plan.
#[derive(Debug, Default)]
pub struct FileDigests {
    cache: HashMap<PathBuf, Result<String, String>>,
}

impl FileDigests {
    /// The hex SHA-256 of a file's bytes.
    pub fn digest(&mut self, path: &std::path::Path) -> Result<String, String> {
        if let Some(r) = self.cache.get(path) {
            return r.clone();
        }
        let r = std::fs::read(path)
            .map(|bytes| hex::encode(Sha256::digest(&bytes)))
            .map_err(|e| e.to_string());
        self.cache.insert(path.to_path_buf(), r.clone());
        r
    }
}

/// What identifies a unit, for the hash.
pub struct HashIdentity<'a> {
    pub environment: &'a str,
    pub variant: &'a str,
    pub matrix: &'a aib_manifest::MatrixRow,
}

/// Computes the partial hash of a unit. Errors name the file that could not be read.
pub fn compute(
    identity: &HashIdentity<'_>,
    settings: &ResolvedSettings,
    files: &mut FileDigests,
) -> Result<InputHash, String> {
    let mut settings_json = serde_json::to_value(settings).map_err(|e| e.to_string())?;
    if let Value::Object(m) = &mut settings_json {
        let mut names: Vec<&String> = settings.secrets.keys().collect();
        names.sort();
        m.insert(
            "secrets".into(),
            Value::Array(
                names
                    .into_iter()
                    .map(|n| Value::String(n.clone()))
                    .collect(),
            ),
        );
    }
    let mut file_map = Map::new();
    for f in settings.local_files() {
        let digest = files
            .digest(&f.resolved)
            .map_err(|e| format!("cannot read `{}`: {e}", f.path))?;
        file_map.insert(f.path.clone(), Value::String(digest));
    }
    let doc = serde_json::json!({
        "format": INPUT_HASH_FORMAT,
        "environment": identity.environment,
        "variant": identity.variant,
        "matrix": identity.matrix,
        "settings": settings_json,
        "files": file_map,
    });
    let mut canonical = String::new();
    write_canonical(&doc, &mut canonical);
    let mut h = Sha256::new();
    h.update(canonical.as_bytes());
    Ok(InputHash::from_partial(h))
}

/// JSON with object keys sorted and no whitespace.
pub fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(x) = m.get(*k) {
                    write_canonical(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_keys() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"d": [1, 2], "c": "x"}}"#).unwrap_or_default();
        let mut s = String::new();
        write_canonical(&a, &mut s);
        assert_eq!(s, r#"{"a":{"c":"x","d":[1,2]},"b":1}"#);
    }

    #[test]
    fn finalize_depends_on_source_version() {
        let h = InputHash::from_partial(Sha256::new());
        assert_ne!(h.finalize("1.0.0"), h.finalize("1.0.1"));
        assert_eq!(h.preview(), h.finalize("latest"));
        assert_eq!(h.short().len(), 8);
    }
}
