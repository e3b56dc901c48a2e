//! Canonical JSON (object keys sorted, no whitespace), what input hashes digest.

use indexmap::IndexMap;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

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
}
