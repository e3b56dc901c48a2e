//! A unit (one image build: environment × variant × matrix row) and its id.

use std::fmt;
use std::sync::Arc;

use aib_manifest::MatrixRow;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::input_hash::InputHash;
use crate::resolved::ResolvedSettings;

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

/// Whether a unit is built by the next run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[default]
    Build,
    Unchanged,
}

/// One image build, resolved.
#[derive(Clone, Debug)]
pub struct Unit {
    pub id: UnitId,
    pub environment: String,
    pub variant: String,
    /// Every value of the matrix row (axes and included keys), shared by the row's units.
    pub matrix: Arc<MatrixRow>,
    /// Settings after layering and templating (boxed: a unit is moved and kept by the
    /// hundred thousand, and most of its size is here).
    pub settings: Box<ResolvedSettings>,
    /// `<pipeline>-<variant>-<env>-<hash8>`, sanitised to AIB's name rule.
    pub template_name: String,
    /// Preview of the version this build publishes (`2026.105.*`, `auto`, `1.2.*`).
    pub image_version: String,
    pub input_hash: InputHash,
    /// Units of the plan this one waits for (plan order).
    pub depends_on: Vec<UnitId>,
    /// Dependencies left out by the selection.
    pub external_depends_on: Vec<UnitId>,
    pub action: Action,
    /// The template name and input hash depend on a source version known only at build time
    /// (a `latest` platform image, or the version a parent unit publishes); `plan --refresh`
    /// resolves what Azure already knows.
    pub provisional: bool,
}
