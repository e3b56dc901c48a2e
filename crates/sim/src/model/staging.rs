//! A staging resource group left behind by its template (scenario `keep_staging`).

use super::image_template::ImageTemplate;
use serde_json::{Value, json};

/// A staging resource group that outlived its template.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StagingGroup {
    pub sub: String,
    pub name: String,
    pub location: String,
    pub tags: Value,
    /// The template that owned it.
    pub template_id: String,
    /// When a DELETE started (simulated minutes).
    pub deleting_at: Option<f64>,
}

impl StagingGroup {
    /// The staging group of a template, as it is left behind.
    pub fn of(t: &ImageTemplate) -> Self {
        StagingGroup {
            sub: t.sub.clone(),
            name: t.staging_rg.clone(),
            location: t.location.clone(),
            tags: staging_tags(t),
            template_id: t.id(),
            deleting_at: None,
        }
    }

    pub fn id(&self) -> String {
        format!("/subscriptions/{}/resourceGroups/{}", self.sub, self.name)
    }
}

/// The tags AIB puts on a template's staging group.
pub fn staging_tags(t: &ImageTemplate) -> Value {
    let mut tags = t
        .properties
        .get("managedResourceTags")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    tags.insert("createdBy".into(), json!("AzureVMImageBuilder"));
    tags.insert("imageTemplateName".into(), json!(t.name));
    tags.insert("imageTemplateResourceGroupName".into(), json!(t.rg));
    Value::Object(tags)
}
