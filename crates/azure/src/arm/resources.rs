//! Existence checks for preflight (resource groups, galleries, image definitions,
//! identities), and listing and deleting resource groups for `aib gc`.

use super::{ArmClient, api, seg};
use crate::error::Result;
use crate::lro::{FinalStateVia, Operation};
use crate::resource_id::{ResourceGroupId, ResourceId};
use crate::types::GenericResource;

/// The tag AIB puts on the staging groups it makes, with [`STAGING_CREATED_BY_AIB`].
pub const STAGING_TAG_CREATED_BY: &str = "createdBy";
/// The value of [`STAGING_TAG_CREATED_BY`] on AIB's staging groups.
pub const STAGING_CREATED_BY_AIB: &str = "AzureVMImageBuilder";
/// The tag naming the template a staging group belongs to.
pub const STAGING_TAG_TEMPLATE: &str = "imageTemplateName";
/// The tag naming that template's resource group.
pub const STAGING_TAG_TEMPLATE_RG: &str = "imageTemplateResourceGroupName";

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
    pub async fn resource_group_exists(&self, group: &ResourceGroupId) -> Result<bool> {
        Ok(self
            .get_optional::<GenericResource>(&group.resources_path(), api::RESOURCE_GROUPS)
            .await?
            .is_some())
    }

    /// Does a gallery exist?
    pub async fn gallery_exists(&self, gallery: &ResourceId) -> Result<bool> {
        Ok(self
            .get_optional::<GenericResource>(&gallery.path(), api::GALLERY)
            .await?
            .is_some())
    }

    /// Does a gallery image definition exist?
    pub async fn image_definition_exists(&self, image: &ResourceId) -> Result<bool> {
        Ok(self
            .get_optional::<GenericResource>(&image.path(), api::GALLERY)
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

    /// The id of the staging resource group AIB made for a template, found by the tags AIB puts
    /// on it ([`STAGING_TAG_CREATED_BY`] = [`STAGING_CREATED_BY_AIB`],
    /// [`STAGING_TAG_TEMPLATE`], [`STAGING_TAG_TEMPLATE_RG`]), never by its name: AIB names
    /// it `IT_<rg>_<template>_<guid>` cut to 80 characters, so the name may not even hold the
    /// template's. Names are compared case-insensitively, as ARM does. `None`: there is none.
    pub async fn find_staging_group(&self, template: &ResourceId) -> Result<Option<String>> {
        let resource_group = template.resource_group();
        let name = template.name();
        let groups = self
            .list_resource_groups_by_tag(template.subscription(), STAGING_TAG_TEMPLATE, Some(name))
            .await?;
        let tag = |g: &GenericResource, k: &str| -> Option<String> {
            g.tags
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        Ok(groups
            .iter()
            .find(|g| {
                tag(g, STAGING_TAG_CREATED_BY).as_deref() == Some(STAGING_CREATED_BY_AIB)
                    && tag(g, STAGING_TAG_TEMPLATE).is_some_and(|t| t.eq_ignore_ascii_case(name))
                    && tag(g, STAGING_TAG_TEMPLATE_RG)
                        .is_some_and(|r| r.eq_ignore_ascii_case(resource_group))
            })
            .and_then(|g| g.id.clone()))
    }

    /// DELETE a resource group: 202 + `Location` (polled until 200), 200 when done at once.
    /// A group that is already gone is a not-found error.
    pub async fn delete_resource_group(&self, group: &ResourceGroupId) -> Result<Operation> {
        self.start_delete(
            &group.resources_path(),
            api::RESOURCE_GROUPS,
            FinalStateVia::Location,
        )
        .await
    }
}
