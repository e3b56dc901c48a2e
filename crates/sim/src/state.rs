//! All mutable simulator state, behind one lock held only for short, await-free sections.
//! Plain data: time moves it on in `handlers::tick`, requests change it in `handlers`.

use crate::model::blob::Blob;
use crate::model::deployment::Deployment;
use crate::model::gallery::GalleryVersion;
use crate::model::image_template::ImageTemplate;
use crate::model::operation::Operation;
use crate::model::staging::StagingGroup;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Simulator state. Map keys are lower-cased resource ids. All of it is the world
/// [`crate::persist`] saves.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub deployments: BTreeMap<String, Deployment>,
    pub templates: BTreeMap<String, ImageTemplate>,
    pub operations: HashMap<String, Operation>,
    /// image definition id (lower) -> versions
    pub versions: BTreeMap<String, Vec<GalleryVersion>>,
    /// "publisher:offer:sku" (lower) -> versions published through `/_sim/publish`
    pub published: HashMap<String, Vec<String>>,
    /// (account, container) -> blob name -> blob
    #[serde(with = "crate::model::serde_with::pair_keys")]
    pub blobs: BTreeMap<(String, String), BTreeMap<String, Blob>>,
    /// Other resources created by deployments: id (lower) -> resource body
    pub generic: BTreeMap<String, Value>,
    /// Staging resource groups that outlived their template (scenario `keep_staging`):
    /// resource group id (lower) -> group.
    pub staging_leftovers: BTreeMap<String, StagingGroup>,
    /// `[[outcome]]` rules with `times` ([`crate::scenario::OutcomeRule::key`]) → the
    /// creations (`provision-fail`) or runs (other results) they gave their result so far.
    pub outcome_runs: BTreeMap<String, u32>,
}
