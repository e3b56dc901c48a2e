//! Marketplace image versions and `latest` resolution.

use super::{ArmClient, api, seg};
use crate::error::{Error, Result};
use crate::types::{VirtualMachineImageResource, highest_version};
use reqwest::Method;

impl ArmClient {
    /// Versions of `publisher:offer:sku` in `location`.
    pub async fn list_platform_image_versions(
        &self,
        subscription: &str,
        location: &str,
        publisher: &str,
        offer: &str,
        sku: &str,
    ) -> Result<Vec<VirtualMachineImageResource>> {
        let path = format!(
            "/subscriptions/{}/providers/Microsoft.Compute/locations/{}/publishers/{}/artifacttypes/vmimage/offers/{}/skus/{}/versions",
            seg(subscription),
            seg(location),
            seg(publisher),
            seg(offer),
            seg(sku)
        );
        let url = self.url(&path, api::COMPUTE)?;
        let resp = self.send(Method::GET, url, None).await?;
        // ARM answers a bare array; accept a `{value: [...]}` page too.
        let v: serde_json::Value = resp.json()?;
        let items = match v {
            serde_json::Value::Array(_) => v,
            serde_json::Value::Object(mut o) => o.remove("value").unwrap_or_default(),
            _ => serde_json::Value::Null,
        };
        serde_json::from_value(items).map_err(|e| Error::Decode {
            url: resp.url.clone(),
            message: e.to_string(),
        })
    }

    /// Resolve `version` (`latest` → the highest version by numeric components; anything else
    /// is returned as is).
    pub async fn resolve_platform_image_version(
        &self,
        subscription: &str,
        location: &str,
        publisher: &str,
        offer: &str,
        sku: &str,
        version: &str,
    ) -> Result<String> {
        if !version.eq_ignore_ascii_case("latest") {
            return Ok(version.to_owned());
        }
        let versions = self
            .list_platform_image_versions(subscription, location, publisher, offer, sku)
            .await?;
        highest_version(versions.iter().map(|v| v.name.as_str()))
            .map(str::to_owned)
            .ok_or_else(|| Error::Api {
                method: "GET".into(),
                url: format!("{publisher}:{offer}:{sku} in {location}"),
                status: 404,
                code: Some("NoImageVersions".into()),
                message: "no versions of this platform image".into(),
                ids: Default::default(),
            })
    }
}
