//! Compute Gallery image versions.

use super::{ArmClient, api};
use crate::error::Result;
use crate::lro::{FinalStateVia, Operation};
use crate::resource_id::ResourceId;
use crate::types::GalleryImageVersion;

impl ArmClient {
    /// GET an image version, optionally with `$expand=ReplicationStatus`.
    pub async fn get_gallery_image_version(
        &self,
        version: &ResourceId,
        with_replication_status: bool,
    ) -> Result<GalleryImageVersion> {
        let mut path = version.path();
        if with_replication_status {
            path.push_str("?$expand=ReplicationStatus");
        }
        self.get_json(&path, api::GALLERY).await
    }

    /// GET an image version by its full resource id as Azure gave it (a run output's
    /// `artifactId`), sent as it is.
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
        image: &ResourceId,
    ) -> Result<Vec<GalleryImageVersion>> {
        let path = format!("{}/versions", image.path());
        self.list_all(&path, api::GALLERY).await
    }

    /// DELETE an image version (`.../images/{i}/versions/{v}`; one parsed from the
    /// `imageversions` spelling of run outputs is sent under `versions`). Compute answers 202
    /// with `Azure-AsyncOperation` and `Location`, or 200/204 when there is nothing to wait for.
    pub async fn delete_gallery_image_version(&self, version: &ResourceId) -> Result<Operation> {
        self.start_delete(
            &version.path(),
            api::GALLERY,
            FinalStateVia::AzureAsyncOperation,
        )
        .await
    }
}
