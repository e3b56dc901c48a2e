//! Shapes common to every ARM API: errors, pages, operation status.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The envelope every typed ARM resource comes in: id, name, type, location, tags and
/// identity around its type's `properties`. A field a response omits is empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ArmResource<P> {
    /// Resource id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Type (`Microsoft.Compute/galleries/images/versions`).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Location.
    #[serde(default)]
    pub location: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Managed identity block, for the resources that have one (imageTemplates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<serde_json::Value>,
    /// The type's own properties.
    #[serde(default)]
    pub properties: P,
}

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
    /// A message that is itself an error body as JSON text (ARM passes a resource provider's
    /// error on that way: `"message": "{\"code\": \"Conflict\", \"message\": …}"`) is shown
    /// as its `code: message`, however deep.
    pub fn full_message(&self) -> String {
        self.render(0)
    }

    fn render(&self, depth: usize) -> String {
        let mut s = self
            .message
            .as_deref()
            .map(|m| readable(m, depth))
            .unwrap_or_default();
        for d in &self.details {
            let inner = d.render(depth + 1);
            if inner.is_empty() {
                continue;
            }
            if !s.is_empty() {
                s.push_str(" / ");
            }
            // A detail that only repeats its code in JSON already starts with it.
            if let Some(c) = &d.code
                && !inner.starts_with(c.as_str())
            {
                s.push_str(c);
                s.push_str(": ");
            }
            s.push_str(&inner);
        }
        s
    }
}

/// Nesting beyond which JSON inside messages is left as it is.
const MAX_NESTING: usize = 8;

/// `message` with an ARM error body inside it (the whole message, or a JSON object after some
/// words, as in "… failed with message '{…}'") replaced by its readable `code: message`.
fn readable(message: &str, depth: usize) -> String {
    if depth > MAX_NESTING {
        return message.to_string();
    }
    let t = message.trim();
    let (Some(a), Some(b)) = (t.find('{'), t.rfind('}')) else {
        return message.to_string();
    };
    if a >= b {
        return message.to_string();
    }
    let Some(inner) = error_in_json(&t[a..=b]) else {
        return message.to_string();
    };
    let mut text = inner.render(depth + 1);
    if let Some(c) = &inner.code
        && !text.starts_with(c.as_str())
    {
        text = if text.is_empty() {
            c.clone()
        } else {
            format!("{c}: {text}")
        };
    }
    let before = t[..a].trim_end_matches(['\'', '"', ' ', ':']);
    let after = t[b + 1..].trim_start_matches(['\'', '"', '.']).trim();
    let mut out = String::new();
    if !before.is_empty() {
        out.push_str(before);
        out.push_str(": ");
    }
    out.push_str(&text);
    if !after.is_empty() {
        out.push(' ');
        out.push_str(after);
    }
    out
}

/// An error in a JSON text: `{"error": {...}}`, `{"status": …, "error": {...}}` or a bare
/// `{"code", "message", …}`.
fn error_in_json(text: &str) -> Option<ErrorDetail> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let e = v.get("error").filter(|e| e.is_object()).unwrap_or(&v);
    if e.get("code").is_none() && e.get("message").is_none() {
        return None;
    }
    serde_json::from_value(e.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_in_details_messages_is_shown_as_text() {
        // The shape ARM gives a deployment whose imageTemplate was refused.
        let body = serde_json::json!({
            "code": "DeploymentFailed",
            "message": "At least one resource deployment operation failed.",
            "details": [
                {"code": "Conflict", "message": "{\r\n  \"code\": \"Conflict\",\r\n  \"message\": \"Update/Upgrade of image templates is currently not supported.\"\r\n}"},
                {"code": "BadRequest", "message": "{\r\n  \"error\": {\r\n    \"code\": \"RoleAssignmentUpdateNotPermitted\",\r\n    \"message\": \"Tenant ID, application ID, principal ID, and scope are not allowed to be updated.\"\r\n  }\r\n}"}
            ]
        });
        let e: ErrorDetail = match serde_json::from_value(body) {
            Ok(e) => e,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            e.full_message(),
            "At least one resource deployment operation failed. / Conflict: Update/Upgrade of image templates is currently not supported. / BadRequest: RoleAssignmentUpdateNotPermitted: Tenant ID, application ID, principal ID, and scope are not allowed to be updated."
        );
    }

    #[test]
    fn json_after_words_is_shown_as_text() {
        let e = ErrorDetail {
            message: Some("Microsoft.VirtualMachineImages/imageTemplates 'x' failed with message '{ \"status\": \"Failed\", \"error\": { \"code\": \"ResourceDeploymentFailure\", \"message\": \"The resource operation completed with terminal provisioning state 'Failed'.\", \"details\": [ { \"code\": \"InternalOperationError\", \"message\": \"Internal error occurred.\" } ] } }'".into()),
            ..ErrorDetail::default()
        };
        assert_eq!(
            e.full_message(),
            "Microsoft.VirtualMachineImages/imageTemplates 'x' failed with message: ResourceDeploymentFailure: The resource operation completed with terminal provisioning state 'Failed'. / InternalOperationError: Internal error occurred."
        );
    }

    #[test]
    fn plain_and_odd_messages_are_kept() {
        for m in [
            "plain text",
            "a {brace} that is not JSON",
            "{}",
            "{\"x\": 1}",
            "}{",
        ] {
            let e = ErrorDetail {
                message: Some(m.into()),
                ..ErrorDetail::default()
            };
            assert_eq!(e.full_message(), m);
        }
        // Deeply nested JSON stops at a bound instead of recursing without end.
        let mut m = String::from("\"innermost\"");
        for _ in 0..12 {
            m = format!(
                "{{\"code\": \"C\", \"message\": {}}}",
                serde_json::Value::String(m)
            );
        }
        let e = ErrorDetail {
            message: Some(m),
            ..ErrorDetail::default()
        };
        assert!(!e.full_message().is_empty());
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
