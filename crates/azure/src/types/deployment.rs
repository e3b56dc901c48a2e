//! Microsoft.Resources/deployments.

use super::arm::ErrorDetail;
use serde::{Deserialize, Serialize};

/// PUT body of a deployment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeploymentRequest {
    /// Properties.
    pub properties: DeploymentRequestProperties,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<std::collections::BTreeMap<String, String>>,
}

/// Deployment properties (request).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentRequestProperties {
    /// `Incremental` or `Complete`.
    pub mode: String,
    /// Inline template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<serde_json::Value>,
    /// Template link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_link: Option<serde_json::Value>,
    /// Parameters `{name: {value}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Value>,
}

impl DeploymentRequest {
    /// An incremental deployment of an inline template.
    pub fn incremental(template: serde_json::Value, parameters: serde_json::Value) -> Self {
        Self {
            properties: DeploymentRequestProperties {
                mode: "Incremental".into(),
                template: Some(template),
                template_link: None,
                parameters: Some(parameters),
            },
            tags: None,
        }
    }
}

/// DeploymentExtended.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Properties.
    #[serde(default)]
    pub properties: DeploymentProperties,
}

/// DeploymentPropertiesExtended (subset).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentProperties {
    /// `Accepted`, `Running`, `Succeeded`, `Failed`, `Canceled`...
    #[serde(default)]
    pub provisioning_state: Option<String>,
    /// Correlation id.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// Timestamp.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Duration (ISO 8601).
    #[serde(default)]
    pub duration: Option<String>,
    /// Outputs.
    #[serde(default)]
    pub outputs: Option<serde_json::Value>,
    /// Resources created.
    #[serde(default)]
    pub output_resources: Vec<super::arm::IdRef>,
    /// Error of a failed deployment.
    #[serde(default)]
    pub error: Option<ErrorDetail>,
}

/// A deployment operation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentOperation {
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// Operation id.
    #[serde(default)]
    pub operation_id: Option<String>,
    /// Properties.
    #[serde(default)]
    pub properties: DeploymentOperationProperties,
}

/// Deployment operation properties.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentOperationProperties {
    /// `Create`, `Delete`...
    #[serde(default)]
    pub provisioning_operation: Option<String>,
    /// State.
    #[serde(default)]
    pub provisioning_state: Option<String>,
    /// Timestamp.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// HTTP status of the RP call.
    #[serde(default)]
    pub status_code: Option<String>,
    /// The RP's answer, often `{error:{...}}`.
    #[serde(default)]
    pub status_message: Option<serde_json::Value>,
    /// Target resource.
    #[serde(default)]
    pub target_resource: Option<TargetResource>,
}

/// Target of a deployment operation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TargetResource {
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub resource_name: Option<String>,
    /// Type.
    #[serde(default)]
    pub resource_type: Option<String>,
}
