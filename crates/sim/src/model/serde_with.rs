//! Serde helpers for the simulator's data (the world file `persist` writes).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A word the simulator keeps as `&'static str` (an alias, so serde's derive does not take it
/// for a string borrowed from the input).
pub type Word = &'static str;

/// Words the simulator keeps as `&'static str` (run states, sub-states, operation statuses),
/// read back from a world file; another word makes the file corrupt.
pub(crate) fn word<'de, D: Deserializer<'de>>(d: D) -> Result<Word, D::Error> {
    const WORDS: &[&str] = &[
        "Queued",
        "Building",
        "Customizing",
        "Validating",
        "Distributing",
        "Running",
        "InProgress",
        "Succeeded",
        "Failed",
        "Canceling",
        "Canceled",
    ];
    let s = String::deserialize(d)?;
    WORDS
        .iter()
        .find(|w| **w == s)
        .copied()
        .ok_or_else(|| serde::de::Error::custom(format!("unknown state {s:?}")))
}

/// HTTP status codes as numbers.
pub(crate) mod status_code {
    use super::*;
    use axum::http::StatusCode;

    pub fn serialize<S: Serializer>(c: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(c.as_u16())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<StatusCode, D::Error> {
        let n = u16::deserialize(d)?;
        StatusCode::from_u16(n).map_err(serde::de::Error::custom)
    }
}

/// Bytes as standard base64.
pub(crate) mod base64_bytes {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use bytes::Bytes;

    pub fn serialize<S: Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map(Bytes::from)
            .map_err(serde::de::Error::custom)
    }
}

/// A map keyed by pairs (JSON objects have string keys) as a list of `[a, b, value]`.
pub(crate) mod pair_keys {
    use super::*;
    use std::collections::BTreeMap;

    type Map<V> = BTreeMap<(String, String), V>;

    pub fn serialize<S: Serializer, V: Serialize>(m: &Map<V>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter().map(|((a, b), v)| (a, b, v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
        d: D,
    ) -> Result<Map<V>, D::Error> {
        let list = Vec::<(String, String, V)>::deserialize(d)?;
        Ok(list.into_iter().map(|(a, b, v)| ((a, b), v)).collect())
    }
}
