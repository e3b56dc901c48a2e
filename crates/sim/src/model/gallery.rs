//! A Compute Gallery image version.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One image version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GalleryVersion {
    pub sub: String,
    pub rg: String,
    pub gallery: String,
    pub image: String,
    pub name: String,
    pub location: String,
    /// (region, replica count, storage account type)
    pub regions: Vec<(String, u64, String)>,
    pub exclude_from_latest: bool,
    pub created: f64,
    /// Replication time in simulated minutes when not the scenario's `replicate_minutes`.
    pub replicate_minutes: Option<f64>,
    pub source_id: String,
    pub os_disk_gb: u64,
    pub tags: Value,
    /// When a DELETE started (simulated minutes).
    pub deleting_at: Option<f64>,
}

/// The id of an image definition.
pub fn image_def_id(sub: &str, rg: &str, gallery: &str, image: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/galleries/{gallery}/images/{image}"
    )
}

impl GalleryVersion {
    pub fn id(&self) -> String {
        format!(
            "{}/versions/{}",
            image_def_id(&self.sub, &self.rg, &self.gallery, &self.image),
            self.name
        )
    }
}
