//! A deployment and the resources it created.

use super::ArmErr;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A resource a deployment created (or failed to).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployedResource {
    pub id: String,
    pub name: String,
    pub rtype: String,
    pub op_id: String,
    pub error: Option<ArmErr>,
    /// Inner details of the error (a provisioning failure's `provisioningError`).
    pub details: Vec<Value>,
}

/// A deployment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployment {
    pub sub: String,
    pub rg: String,
    pub name: String,
    pub mode: String,
    pub parameters: Value,
    pub outputs: Value,
    pub start: f64,
    pub correlation_id: String,
    pub op_id: String,
    pub template_hash: String,
    pub resources: Vec<DeployedResource>,
}

impl Deployment {
    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Resources/deployments/{}",
            self.sub, self.rg, self.name
        )
    }
}
