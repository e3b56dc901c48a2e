//! Existence checks for preflight (resource groups, galleries, image definitions,
//! identities), and listing and deleting resource groups for `aib gc`.

use super::{ArmClient, api, seg};
use crate::error::Result;
use crate::lro::{FinalStateVia, Operation};
use crate::types::GenericResource;

impl ArmClient {
    /// GET any resource by id; `Ok(None)` on 404.
    pub async fn get_resource(
        &self,
        id: &str,
        api_version: &str,
    ) -> Result<Option<GenericResource>> {
        let path = if id.starts_with('/') {
            id.to_owned()
        } else {
            format!("/{id}")
        };
        self.get_optional(&path, api_version).await
    }

    /// Does a resource group exist?
    pub async fn resource_group_exists(
        &self,
        subscription: &str,
        resource_group: &str,
    ) -> Result<bool> {
        let path = format!(
            "/subscriptions/{}/resourcegroups/{}",
            seg(subscription),
            seg(resource_group)
        );
        Ok(self
            .get_optional::<GenericResource>(&path, api::RESOURCE_GROUPS)
            .await?
            .is_some())
    }

    /// Does a gallery exist?
    pub async fn gallery_exists(
        &self,
        subscription: &str,
        resource_group: &str,
        gallery: &str,
    ) -> Result<bool> {
        let path = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/galleries/{}",
            seg(subscription),
            seg(resource_group),
            seg(gallery)
        );
        Ok(self
            .get_optional::<GenericResource>(&path, api::GALLERY)
            .await?
            .is_some())
    }

    /// Does a gallery image definition exist?
    pub async fn image_definition_exists(
        &self,
        subscription: &str,
        resource_group: &str,
        gallery: &str,
        image: &str,
    ) -> Result<bool> {
        let path = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/galleries/{}/images/{}",
            seg(subscription),
            seg(resource_group),
            seg(gallery),
            seg(image)
        );
        Ok(self
            .get_optional::<GenericResource>(&path, api::GALLERY)
            .await?
            .is_some())
    }

    /// Does a user-assigned identity (full resource id) exist?
    pub async fn identity_exists(&self, identity_id: &str) -> Result<bool> {
        Ok(self
            .get_resource(identity_id, api::MANAGED_IDENTITY)
            .await?
            .is_some())
    }

    /// The resource groups of a subscription carrying tag `name` (with value `value` when
    /// given), through ARM's `$filter=tagName eq '..' and tagValue eq '..'` (follows `nextLink`).
    pub async fn list_resource_groups_by_tag(
        &self,
        subscription: &str,
        name: &str,
        value: Option<&str>,
    ) -> Result<Vec<GenericResource>> {
        let quote = |s: &str| s.replace('\'', "''");
        let mut filter = format!("tagName eq '{}'", quote(name));
        if let Some(v) = value {
            filter.push_str(&format!(" and tagValue eq '{}'", quote(v)));
        }
        let enc =
            percent_encoding::utf8_percent_encode(&filter, percent_encoding::NON_ALPHANUMERIC);
        let path = format!(
            "/subscriptions/{}/resourcegroups?$filter={enc}",
            seg(subscription)
        );
        self.list_all(&path, api::RESOURCE_GROUPS).await
    }

    /// DELETE a resource group: 202 + `Location` (polled until 200), 200 when done at once.
    /// A group that is already gone is a not-found error.
    pub async fn delete_resource_group(
        &self,
        subscription: &str,
        resource_group: &str,
    ) -> Result<Operation> {
        let path = format!(
            "/subscriptions/{}/resourcegroups/{}",
            seg(subscription),
            seg(resource_group)
        );
        self.start_delete(&path, api::RESOURCE_GROUPS, FinalStateVia::Location)
            .await
    }
}
