//! `source = { ... }`: where a variant's build starts from.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Spanned;

/// The image a variant is built from. Exactly one of `platform`, `gallery_image`,
/// `managed_image` or `variant`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Source {
    /// A marketplace image `Publisher:Offer:Sku:Version` (version may be `latest`).
    #[serde(default)]
    pub platform: Option<Spanned<String>>,
    /// Marketplace plan of a platform image that needs one.
    #[serde(default)]
    pub plan: Option<PlanInfo>,
    /// A Compute Gallery image version id, or `<image definition id>/versions/latest`.
    #[serde(default)]
    pub gallery_image: Option<Spanned<String>>,
    /// A managed image resource id.
    #[serde(default)]
    pub managed_image: Option<Spanned<String>>,
    /// Another variant of this manifest: build from the exact version it publishes.
    #[serde(default)]
    pub variant: Option<Spanned<String>>,
    /// With `variant`: pin the parent's matrix axes that this variant does not share.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, serde_json::Value>")]
    pub matrix: IndexMap<Spanned<String>, Spanned<serde_json::Value>>,
}

/// Marketplace plan information (`planInfo`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PlanInfo {
    pub name: Spanned<String>,
    pub product: Spanned<String>,
    pub publisher: Spanned<String>,
}

/// Which kind of source a [`Source`] names (after validation, exactly one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Platform,
    GalleryImage,
    ManagedImage,
    Variant,
}

impl Source {
    /// The kinds this source sets (valid sources set exactly one).
    pub fn kinds(&self) -> Vec<SourceKind> {
        let mut kinds = Vec::new();
        if self.platform.is_some() {
            kinds.push(SourceKind::Platform);
        }
        if self.gallery_image.is_some() {
            kinds.push(SourceKind::GalleryImage);
        }
        if self.managed_image.is_some() {
            kinds.push(SourceKind::ManagedImage);
        }
        if self.variant.is_some() {
            kinds.push(SourceKind::Variant);
        }
        kinds
    }
}
