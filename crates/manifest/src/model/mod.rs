//! The typed manifest, mirroring `aib.toml` format 1 table by table. Every name and reference
//! keeps its span so that validation and planning errors point at `file:line:col`.

mod cron;
mod customizer;
mod matrix;
mod schedule;
mod settings;
mod source;

pub use cron::{Cron, CronError};
pub use customizer::{Customizer, CustomizerKind, RawCustomizer, Script, Step, Validate};
pub use matrix::{Matrix, MatrixRow};
pub use schedule::{Rebuild, Schedule};
pub use settings::{
    CleanupPolicy, Environment, ErrorHandling, ErrorPolicy, GallerySettings, Merge, Optimize,
    Retain, SETTING_KEYS, Settings, StorageAccountType, Variant, VariantEnvironments, VnetConfig,
};
pub use source::{PlanInfo, Source, SourceKind};

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Spanned;

/// The manifest file (`aib.toml`), format version 1.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "aib manifest")]
pub struct ManifestFile {
    /// Manifest format version; must be 1.
    pub version: Spanned<u32>,
    /// The pipeline's name and where its templates live.
    pub pipeline: Pipeline,
    /// Which Azure cloud to talk to.
    #[serde(default)]
    pub azure: Azure,
    /// Settings every unit starts from (lowest layer after the built-in defaults).
    #[serde(default)]
    pub defaults: Settings,
    /// Environments (dev, test, prod, ...): each unit is built in one of them.
    #[serde(default)]
    pub environments: IndexMap<Spanned<String>, Environment>,
    /// Image variants: each is built in every environment it selects, once per matrix row.
    #[serde(default)]
    pub variants: IndexMap<Spanned<String>, Variant>,
    /// Scheduled rebuilds run by `aib schedule`.
    #[serde(default)]
    pub schedules: IndexMap<Spanned<String>, Schedule>,
}

/// `[pipeline] max_parallel` when the manifest does not set it.
pub const DEFAULT_MAX_PARALLEL: u32 = 20;

impl ManifestFile {
    /// Most units building at once over the whole run: `[pipeline] max_parallel`, else
    /// [`DEFAULT_MAX_PARALLEL`] (`aib build --max-parallel` overrides it for one run).
    pub fn max_parallel(&self) -> u32 {
        self.pipeline
            .max_parallel
            .as_ref()
            .map(|m| *m.get_ref())
            .unwrap_or(DEFAULT_MAX_PARALLEL)
            .max(1)
    }

    /// `[azure] cloud` (public when not set).
    pub fn cloud(&self) -> Cloud {
        self.azure
            .cloud
            .as_ref()
            .map(|c| *c.get_ref())
            .unwrap_or_default()
    }
}

/// `[pipeline]`
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Pipeline {
    /// Lowercase letters, digits and `-`; used in template names and tags.
    pub name: Spanned<String>,
    /// Directory of user templates, relative to the manifest (default `templates`).
    #[serde(default)]
    pub templates_dir: Option<Spanned<String>>,
    /// Folders outside the manifest's folder that scripts and templates may come from
    /// (relative to the manifest, or absolute). Every local file must resolve, symlinks
    /// followed, inside the manifest's folder or one of these.
    #[serde(default)]
    pub allow_paths: Vec<Spanned<String>>,
    /// Most units a plan may have (default 100,000), counted from the matrix sizes before
    /// `exclude`, so a matrix too large to expand is refused before it is expanded.
    #[serde(default)]
    pub max_units: Option<Spanned<u64>>,
    /// Most units building at once over the whole run (default 20); an environment's own
    /// `max_parallel` caps its units within it. `aib build --max-parallel` overrides it.
    #[serde(default)]
    pub max_parallel: Option<Spanned<u32>>,
}

/// `[azure]`
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Azure {
    /// public | usgov | china | custom
    #[serde(default)]
    pub cloud: Option<Spanned<Cloud>>,
    /// ARM endpoint for `cloud = "custom"`; `AIB_ARM_ENDPOINT` overrides it.
    #[serde(default)]
    pub arm_endpoint: Option<Spanned<String>>,
}

/// The Azure cloud.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    #[default]
    Public,
    Usgov,
    China,
    Custom,
}
