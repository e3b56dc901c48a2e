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
