//! A unit (one image build: environment × variant × matrix row) and its id.

use std::fmt;

use aib_manifest::MatrixRow;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::input_hash::InputHash;
use crate::resolved::ResolvedSettings;

/// `<env>/<variant>` or `<env>/<variant>[axis=value,axis=value]`.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct UnitId(String);

impl UnitId {
    /// The id of a unit from its parts (`matrix` is `axis=value,...`, empty without matrix).
    pub fn new(env: &str, variant: &str, matrix: &str) -> Self {
        if matrix.is_empty() {
            Self(format!("{env}/{variant}"))
        } else {
            Self(format!("{env}/{variant}[{matrix}]"))
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
        Self(s.to_string())
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
    /// Every value of the matrix row (axes and included keys).
    pub matrix: MatrixRow,
    /// Settings after layering and templating.
    pub settings: ResolvedSettings,
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
}
