//! Compute Gallery image versions.

use super::{ArmClient, api, seg};
use crate::error::{Error, Result};
use crate::lro::{FinalStateVia, Operation};
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

    /// DELETE an image version by its full resource id (`.../images/{i}/versions/{v}`; the
    /// `imageversions` spelling of run outputs is accepted). Compute answers 202 with
    /// `Azure-AsyncOperation` and `Location`, or 200/204 when there is nothing to wait for.
    pub async fn delete_gallery_image_version_by_id(&self, id: &str) -> Result<Operation> {
        let path = version_path(id)?;
        self.start_delete(&path, api::GALLERY, FinalStateVia::AzureAsyncOperation)
            .await
    }
}

/// The request path of an image version id: leading `/`, `imageversions` as `versions`, each
/// segment percent-encoded. An id that is not an image version is a configuration error.
fn version_path(id: &str) -> Result<String> {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    let ok = segs.len() == 12
        && segs[0].eq_ignore_ascii_case("subscriptions")
        && segs[2].eq_ignore_ascii_case("resourceGroups")
        && segs[4].eq_ignore_ascii_case("providers")
        && segs[5].eq_ignore_ascii_case("Microsoft.Compute")
        && segs[6].eq_ignore_ascii_case("galleries")
        && segs[8].eq_ignore_ascii_case("images")
        && (segs[10].eq_ignore_ascii_case("versions")
            || segs[10].eq_ignore_ascii_case("imageversions"))
        && segs.iter().all(|s| !s.is_empty());
    if !ok {
        return Err(Error::Config(format!(
            "not a gallery image version id: {id}"
        )));
    }
    Ok(format!(
        "{}/versions/{}",
        image_path(segs[1], segs[3], segs[7], segs[9]),
        seg(segs[11])
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_become_paths() {
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/imageversions/1.0.0";
        assert_eq!(
            version_path(id).ok().as_deref(),
            Some(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0"
            )
        );
        assert!(version_path("/subscriptions/s/resourceGroups/rg").is_err());
        assert!(
            version_path(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i"
            )
            .is_err()
        );
    }
}
