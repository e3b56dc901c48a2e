//! All mutable simulator state, behind one lock held only for short, await-free sections.

use crate::arm::deployments::Deployment;
use crate::arm::gallery::GalleryVersion;
use crate::arm::image_templates::{self, ImageTemplate};
use crate::arm::operations::Operation;
use crate::blob::Blob;
use crate::server::Ctx;
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
    #[serde(with = "crate::persist::pair_keys")]
    pub blobs: BTreeMap<(String, String), BTreeMap<String, Blob>>,
    /// Other resources created by deployments: id (lower) -> resource body
    pub generic: BTreeMap<String, Value>,
    /// Staging resource groups that outlived their template (scenario `keep_staging`):
    /// resource group id (lower) -> group.
    pub staging_leftovers: BTreeMap<String, crate::arm::resources::StagingGroup>,
    /// `[[outcome]]` rules with `times` ([`crate::scenario::OutcomeRule::key`]) → the
    /// creations (`provision-fail`) or runs (other results) they gave their result so far.
    pub outcome_runs: BTreeMap<String, u32>,
}

impl State {
    /// Bring every time-driven resource up to `now` (simulated minutes).
    pub fn tick(&mut self, ctx: &Ctx, now: f64) {
        image_templates::tick(ctx, self, now);
        crate::arm::gallery::tick(ctx, self, now);
        crate::arm::resources::tick(ctx, self, now);
    }
}
