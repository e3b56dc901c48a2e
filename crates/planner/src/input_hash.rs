//! The input hash (`sha256:<hex>`) of a unit: a digest of a canonical JSON (sorted keys, no
//! whitespace) of its identity, resolved settings (secret names, never references or values),
//! the digests of the local files it reads and a format version, completed with the source
//! image version by [`InputHash::finalize`].

use std::path::PathBuf;

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;
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

/// Digests of local files, each checked (inside the manifest's folder or `allow_paths`,
/// symlinks resolved; a regular file of at most 4 MiB) and read once per plan.
#[derive(Debug)]
pub struct FileDigests {
    roots: aib_manifest::FileRoots,
    /// Path as joined → (hex SHA-256, real path), or why it may not be read.
    cache: foldhash::HashMap<PathBuf, Result<(String, PathBuf), String>>,
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
    ) -> Result<(String, PathBuf), String> {
        if let Some(r) = self.cache.get(path) {
            return r.clone();
        }
        let r = self.roots.check(path, shown).and_then(|f| {
            std::fs::read(&f.real)
                .map(|bytes| (hex::encode(Sha256::digest(&bytes)), f.real))
                .map_err(|e| format!("cannot read `{shown}`: {e}"))
        });
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

/// Computes the partial hash of a unit. Errors name the file that could not be read.
pub fn compute(
    identity: &HashIdentity<'_>,
    settings: &ResolvedSettings,
    files: &mut FileDigests,
) -> Result<InputHash, String> {
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
        serde_json::to_writer(&mut *buf, &doc).map_err(|e| e.to_string())?;
        let mut h = Sha256::new();
        h.update(buf.as_slice());
        Ok(InputHash::from_partial(h))
    })
}

thread_local! {
    /// The canonical document of the unit being hashed.
    static HASH_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Serializes a map with its keys sorted (and nested JSON objects sorted too).
pub fn sorted_map<K, V, S>(map: &IndexMap<K, V>, ser: S) -> Result<S::Ok, S::Error>
where
    K: Serialize + Ord,
    V: HashForm,
    S: Serializer,
{
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut m = ser.serialize_map(Some(entries.len()))?;
    for (k, v) in entries {
        m.serialize_entry(k, &Canonical(v))?;
    }
    m.end()
}

/// Serializes only the keys of a map, sorted (secret names without their references).
pub fn sorted_keys<V, S: Serializer>(map: &IndexMap<String, V>, ser: S) -> Result<S::Ok, S::Error> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let mut seq = ser.serialize_seq(Some(keys.len()))?;
    for k in keys {
        seq.serialize_element(k)?;
    }
    seq.end()
}

/// Values whose hashed form may differ from their plain serialization.
pub trait HashForm {
    fn serialize_hashed<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error>;
}

impl HashForm for String {
    fn serialize_hashed<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(self)
    }
}

impl HashForm for Value {
    fn serialize_hashed<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        canonical_value(self, ser)
    }
}

struct Canonical<'a, T>(&'a T);

impl<T: HashForm> Serialize for Canonical<'_, T> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_hashed(ser)
    }
}

fn canonical_value<S: Serializer>(v: &Value, ser: S) -> Result<S::Ok, S::Error> {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let mut m = ser.serialize_map(Some(keys.len()))?;
            for k in keys {
                if let Some(x) = o.get(k) {
                    m.serialize_entry(k, &CanonicalValue(x))?;
                }
            }
            m.end()
        }
        Value::Array(a) => {
            let mut seq = ser.serialize_seq(Some(a.len()))?;
            for x in a {
                seq.serialize_element(&CanonicalValue(x))?;
            }
            seq.end()
        }
        other => other.serialize(ser),
    }
}

struct CanonicalValue<'a>(&'a Value);

impl Serialize for CanonicalValue<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        canonical_value(self.0, ser)
    }
}

/// JSON with object keys sorted and no whitespace.
pub fn write_canonical(v: &Value, out: &mut String) {
    if let Ok(s) = serde_json::to_string(&CanonicalValue(v)) {
        out.push_str(&s);
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
