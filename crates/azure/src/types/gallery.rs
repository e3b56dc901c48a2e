//! Microsoft.Compute galleries (api-version 2025-03-03).

use serde::{Deserialize, Serialize};

/// A gallery image version.
pub type GalleryImageVersion = super::ArmResource<GalleryImageVersionProperties>;

/// Version properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GalleryImageVersionProperties {
    /// Publishing profile.
    #[serde(default)]
    pub publishing_profile: Option<PublishingProfile>,
    /// `Creating|Updating|Succeeded|Failed|Deleting|Migrating`.
    #[serde(default)]
    pub provisioning_state: Option<String>,
    /// Present with `$expand=ReplicationStatus`.
    #[serde(default)]
    pub replication_status: Option<ReplicationStatus>,
    /// Storage profile (raw).
    #[serde(default)]
    pub storage_profile: Option<serde_json::Value>,
}

/// Publishing profile.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PublishingProfile {
    /// Target regions.
    #[serde(default)]
    pub target_regions: Vec<TargetRegion>,
    /// Default replica count.
    #[serde(default)]
    pub replica_count: Option<u32>,
    /// Published date.
    #[serde(default)]
    pub published_date: Option<String>,
    /// Excluded from latest.
    #[serde(default)]
    pub exclude_from_latest: Option<bool>,
}

/// A target region.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TargetRegion {
    /// Region (often display form, "West US").
    #[serde(default)]
    pub name: String,
    /// Replicas.
    #[serde(default)]
    pub regional_replica_count: Option<u32>,
    /// Storage type.
    #[serde(default)]
    pub storage_account_type: Option<String>,
}

/// `replicationStatus`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationStatus {
    /// `Unknown|InProgress|Completed|Failed`.
    #[serde(default)]
    pub aggregated_state: Option<String>,
    /// Per region.
    #[serde(default)]
    pub summary: Vec<RegionalReplicationStatus>,
}

/// One region's replication.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegionalReplicationStatus {
    /// Region.
    #[serde(default)]
    pub region: String,
    /// `Unknown|Replicating|Completed|Failed`.
    #[serde(default)]
    pub state: Option<String>,
    /// Details.
    #[serde(default)]
    pub details: Option<String>,
    /// Percent.
    #[serde(default)]
    pub progress: Option<f64>,
}

/// Normalise a region name for comparison: "West US" == "westus".
pub fn normalize_region(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

impl GalleryImageVersion {
    /// Regions (normalised) whose replication is not `Completed`, of `wanted` regions.
    pub fn regions_not_replicated<'a>(&self, wanted: &'a [String]) -> Vec<&'a str> {
        let summary = self
            .properties
            .replication_status
            .as_ref()
            .map(|r| r.summary.as_slice())
            .unwrap_or_default();
        wanted
            .iter()
            .filter(|w| {
                !summary.iter().any(|s| {
                    normalize_region(&s.region) == normalize_region(w)
                        && s.state
                            .as_deref()
                            .is_some_and(|st| st.eq_ignore_ascii_case("completed"))
                })
            })
            .map(String::as_str)
            .collect()
    }
}
