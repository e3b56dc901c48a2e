//! An asynchronous operation (Image Builder, Compute, ARM) and its final status.

use serde_json::Value;

/// What an operation tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OpKind {
    Create,
    Delete,
    Run,
    /// A gallery image version deletion (Compute `capsOperations`).
    GalleryVersionDelete,
    /// A resource group deletion (ARM `operationresults`).
    ResourceGroupDelete,
    /// A deployment record deletion (ARM `operationresults`).
    DeploymentDelete,
}

/// A final status set when the tracked thing finishes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OpFinal {
    #[serde(deserialize_with = "crate::model::serde_with::word")]
    pub status: crate::model::serde_with::Word,
    pub end: f64,
    pub error: Option<Value>,
}

/// One operation.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Operation {
    pub id: String,
    pub sub: String,
    pub location: String,
    pub kind: OpKind,
    pub template_key: String,
    pub start: f64,
    /// For Create/Delete: the time it completes.
    pub done_at: Option<f64>,
    pub fin: Option<OpFinal>,
    pub polls: u32,
}

impl Operation {
    /// The operation's path (its `id` in the status body).
    pub fn path(&self) -> String {
        match self.kind {
            OpKind::GalleryVersionDelete => format!(
                "/subscriptions/{}/providers/Microsoft.Compute/locations/{}/capsOperations/{}",
                self.sub, self.location, self.id
            ),
            OpKind::ResourceGroupDelete | OpKind::DeploymentDelete => {
                format!("/subscriptions/{}/operationresults/{}", self.sub, self.id)
            }
            _ => format!(
                "/subscriptions/{}/providers/Microsoft.VirtualMachineImages/locations/{}/operations/{}",
                self.sub, self.location, self.id
            ),
        }
    }
}
