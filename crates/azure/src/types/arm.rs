//! Shapes common to every ARM API: errors, pages, operation status.

use serde::{Deserialize, Serialize};

/// `{"error": {...}}` (common-types v5 ErrorResponse).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ErrorResponse {
    /// The error.
    #[serde(default)]
    pub error: Option<ErrorDetail>,
}

/// An ARM error detail.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Error code, e.g. `ResourceNotFound`.
    #[serde(default)]
    pub code: Option<String>,
    /// Message.
    #[serde(default)]
    pub message: Option<String>,
    /// Target.
    #[serde(default)]
    pub target: Option<String>,
    /// Nested details.
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
    /// Additional info blobs.
    #[serde(default)]
    pub additional_info: Vec<serde_json::Value>,
}

impl ErrorDetail {
    /// The message followed by every nested detail message (ARM hides the real cause there).
    pub fn full_message(&self) -> String {
        let mut s = self.message.clone().unwrap_or_default();
        for d in &self.details {
            let inner = d.full_message();
            if !inner.is_empty() {
                if !s.is_empty() {
                    s.push_str(" / ");
                }
                if let Some(c) = &d.code {
                    s.push_str(c);
                    s.push_str(": ");
                }
                s.push_str(&inner);
            }
        }
        s
    }
}

/// A page of a list: `{value, nextLink}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// Items.
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    /// Absolute URL of the next page.
    #[serde(default)]
    pub next_link: Option<String>,
}

/// The body behind an `Azure-AsyncOperation` URL.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OperationStatusBody {
    /// Operation id.
    #[serde(default)]
    pub id: Option<String>,
    /// Operation name.
    #[serde(default)]
    pub name: Option<String>,
    /// `Succeeded | Failed | Canceled` or any running value.
    #[serde(default)]
    pub status: Option<String>,
    /// Start.
    #[serde(default)]
    pub start_time: Option<String>,
    /// End.
    #[serde(default)]
    pub end_time: Option<String>,
    /// 0..100.
    #[serde(default)]
    pub percent_complete: Option<f64>,
    /// RP-defined result.
    #[serde(default)]
    pub properties: Option<serde_json::Value>,
    /// Error when Failed/Canceled.
    #[serde(default)]
    pub error: Option<ErrorDetail>,
}

/// `{"id": ...}` reference.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IdRef {
    /// Resource id.
    #[serde(default)]
    pub id: Option<String>,
}
