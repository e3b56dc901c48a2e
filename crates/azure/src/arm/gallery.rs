//! Compute Gallery image versions.

use super::{ArmClient, api, seg};
use crate::error::Result;
use crate::types::GalleryImageVersion;

fn image_path(subscription: &str, resource_group: &str, gallery: &str, image: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/galleries/{}/images/{}",
        seg(subscription),
        seg(resource_group),
        seg(gallery),
        seg(image)
    )
}

impl ArmClient {
    /// GET an image version, optionally with `$expand=ReplicationStatus`.
    pub async fn get_gallery_image_version(
        &self,
        subscription: &str,
        resource_group: &str,
        gallery: &str,
        image: &str,
        version: &str,
        with_replication_status: bool,
    ) -> Result<GalleryImageVersion> {
        let mut path = format!(
            "{}/versions/{}",
            image_path(subscription, resource_group, gallery, image),
            seg(version)
        );
        if with_replication_status {
            path.push_str("?$expand=ReplicationStatus");
        }
        self.get_json(&path, api::GALLERY).await
    }

    /// GET an image version by its full resource id (as a run output's `artifactId`).
    pub async fn get_gallery_image_version_by_id(
        &self,
        id: &str,
        with_replication_status: bool,
    ) -> Result<GalleryImageVersion> {
        let mut path = id.to_owned();
        if with_replication_status {
            path.push_str("?$expand=ReplicationStatus");
        }
        self.get_json(&path, api::GALLERY).await
    }

    /// Every version of an image definition (follows `nextLink`).
    pub async fn list_gallery_image_versions(
        &self,
        subscription: &str,
        resource_group: &str,
        gallery: &str,
        image: &str,
    ) -> Result<Vec<GalleryImageVersion>> {
        let path = format!(
            "{}/versions",
            image_path(subscription, resource_group, gallery, image)
        );
        self.list_all(&path, api::GALLERY).await
    }
}
