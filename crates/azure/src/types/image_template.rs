//! Microsoft.VirtualMachineImages/imageTemplates (api-version 2025-10-01).

use serde::{Deserialize, Serialize};

/// An imageTemplate as returned by GET / list.
pub type ImageTemplate = super::ArmResource<ImageTemplateProperties>;

/// imageTemplate properties. Source/customize/distribute are kept as raw JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageTemplateProperties {
    /// Source block.
    #[serde(default)]
    pub source: Option<serde_json::Value>,
    /// Customizers.
    #[serde(default)]
    pub customize: Option<Vec<serde_json::Value>>,
    /// Distribution targets.
    #[serde(default)]
    pub distribute: Option<Vec<serde_json::Value>>,
    /// Validation block.
    #[serde(default)]
    pub validate: Option<serde_json::Value>,
    /// `Creating|Updating|Succeeded|Failed|Deleting|Canceled`.
    #[serde(default)]
    pub provisioning_state: Option<String>,
    /// Why provisioning failed.
    #[serde(default)]
    pub provisioning_error: Option<ProvisioningError>,
    /// Result of the last run.
    #[serde(default)]
    pub last_run_status: Option<LastRunStatus>,
    /// Build timeout.
    #[serde(default)]
    pub build_timeout_in_minutes: Option<u32>,
    /// VM profile.
    #[serde(default)]
    pub vm_profile: Option<serde_json::Value>,
    /// Requested staging RG id (`None` when unset; Azure shows `""`).
    #[serde(default, deserialize_with = "empty_as_none")]
    pub staging_resource_group: Option<String>,
    /// The staging RG id actually used (where the build logs live). `None` until AIB made
    /// it (Azure shows `""` while the template is being created, and after a failed creation).
    #[serde(default, deserialize_with = "empty_as_none")]
    pub exact_staging_resource_group: Option<String>,
}

/// `provisioningError`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningError {
    /// E.g. `BadSourceType`.
    #[serde(default)]
    pub provisioning_error_code: Option<String>,
    /// Message.
    #[serde(default)]
    pub message: Option<String>,
}

/// `lastRunStatus`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LastRunStatus {
    /// `Running|Canceling|Succeeded|PartiallySucceeded|Failed|Canceled`.
    #[serde(default)]
    pub run_state: Option<String>,
    /// `Queued|Building|Customizing|Optimizing|Validating|Distributing`.
    #[serde(default)]
    pub run_sub_state: Option<String>,
    /// Message (the failure reason).
    #[serde(default)]
    pub message: Option<String>,
    /// RFC 3339 start.
    #[serde(default)]
    pub start_time: Option<String>,
    /// RFC 3339 end.
    #[serde(default)]
    pub end_time: Option<String>,
}

impl LastRunStatus {
    /// Parsed `startTime`.
    pub fn started(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.start_time
            .as_deref()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&chrono::Utc))
    }

    /// True while `runState` is `Running` or `Canceling` (case-insensitive).
    pub fn is_active(&self) -> bool {
        self.run_state.as_deref().is_some_and(|s| {
            s.eq_ignore_ascii_case("running") || s.eq_ignore_ascii_case("canceling")
        })
    }
}

/// A run output (`.../runOutputs/{name}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunOutput {
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name (= runOutputName).
    #[serde(default)]
    pub name: Option<String>,
    /// Properties.
    #[serde(default)]
    pub properties: RunOutputProperties,
}

/// Run output properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunOutputProperties {
    /// Artifact id (a gallery image version id for SharedImage).
    #[serde(default)]
    pub artifact_id: Option<String>,
    /// Artifact URI (VHD).
    #[serde(default)]
    pub artifact_uri: Option<String>,
    /// Provisioning state.
    #[serde(default)]
    pub provisioning_state: Option<String>,
}

/// `""` (and `null`) as `None`.
fn empty_as_none<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.filter(|s| !s.trim().is_empty()))
}
