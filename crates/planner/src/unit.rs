//! A unit (one image build: environment × variant × matrix row) and its id.

use std::sync::Arc;

use aib_manifest::MatrixRow;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::input_hash::InputHash;
use crate::resolved::ResolvedSettings;
pub use aib_vocab::UnitId;

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
