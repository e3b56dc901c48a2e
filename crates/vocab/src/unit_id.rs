//! A unit's id: `<env>/<variant>[matrix]`.

use std::fmt;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `<env>/<variant>` or `<env>/<variant>[axis=value,axis=value]`.
// Shared, not copied, by the plan's many references to a unit (its dependents, the index, the
// critical path): an `Arc<str>`, serialized as the string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
#[serde(transparent)]
pub struct UnitId(#[schemars(with = "String")] Arc<str>);

impl UnitId {
    /// The id of a unit from its parts (`matrix` is `axis=value,...`, empty without matrix).
    pub fn new(env: &str, variant: &str, matrix: &str) -> Self {
        if matrix.is_empty() {
            Self(Arc::from(format!("{env}/{variant}")))
        } else {
            Self(Arc::from(format!("{env}/{variant}[{matrix}]")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The environment: the part before the first `/`.
    pub fn environment(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(env, _)| env)
    }

    /// The variant: between the first `/` and the matrix part (empty if the id has no `/`).
    pub fn variant(&self) -> &str {
        let rest = self.0.split_once('/').map_or("", |(_, rest)| rest);
        rest.find('[').map_or(rest, |i| &rest[..i])
    }

    /// The `[axis=value,...]` part, empty without matrix.
    pub fn matrix_part(&self) -> &str {
        self.0.find('[').map(|i| &self.0[i..]).unwrap_or("")
    }
}

impl fmt::Display for UnitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// An id reads as the string it is wherever a `&str` is wanted (messages, maps keyed by the
// string form, log lines); only its construction and its parts are the type's own.
impl std::ops::Deref for UnitId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for UnitId {
    fn from(s: &str) -> Self {
        Self(Arc::from(s))
    }
}

impl Serialize for UnitId {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for UnitId {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        String::deserialize(de).map(|s| Self(Arc::from(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_an_id() {
        let id = UnitId::new("prod", "ubuntu", "arch=x64,sku=a/b");
        assert_eq!(id.as_str(), "prod/ubuntu[arch=x64,sku=a/b]");
        assert_eq!(id.environment(), "prod");
        assert_eq!(id.variant(), "ubuntu");
        assert_eq!(id.matrix_part(), "[arch=x64,sku=a/b]");
        let plain = UnitId::new("dev", "win", "");
        assert_eq!((plain.environment(), plain.variant()), ("dev", "win"));
        assert_eq!(plain.matrix_part(), "");
        let odd = UnitId::from("noslash");
        assert_eq!((odd.environment(), odd.variant()), ("noslash", ""));
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(json, "\"prod/ubuntu[arch=x64,sku=a/b]\"");
        assert_eq!(
            serde_json::from_str::<UnitId>(&json).expect("deserialize"),
            id
        );
    }
}
