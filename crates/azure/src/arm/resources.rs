//! Existence checks for preflight: resource groups, galleries, image definitions, identities.

use super::{ArmClient, api, seg};
use crate::error::Result;
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
}
