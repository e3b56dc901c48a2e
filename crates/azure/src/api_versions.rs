//! The api-versions each Azure resource type aib talks to is served at, and the one aib pins.
//!
//! One table for the whole client (the simulator keeps its own copy; a test checks they agree).
//! Sources, newest evidence first:
//!
//! - **Image Builder** (`Microsoft.VirtualMachineImages`): the stable folders of
//!   azure-rest-api-specs `specification/imagebuilder/.../ImageBuilder/stable/` (2020-02-14,
//!   2021-10-01, 2022-02-14, 2022-07-01, 2023-07-01, 2024-02-01, 2025-10-01; the last one is the
//!   spec in `azure-reference/imagebuilder/`), and the recordings, which show 2020-02-14,
//!   2022-02-14, 2022-07-01 and 2024-02-01 answered by real Azure. Of the three preview
//!   versions the specs still carry, Microsoft's release notes ("What's new in Azure VM Image
//!   Builder", MicrosoftDocs/azure-compute-docs
//!   `articles/virtual-machines/image-builder-api-update-release-notes.md`, section
//!   "Preview API") list only `2019-05-01-preview` as "deprecated but still supported":
//!   `2018-02-01-preview` and `2019-02-01-preview` are retired and left out.
//! - **Compute Gallery**: the GalleryRP stable versions of the compute spec (2025-03-03 is the
//!   one in `azure-reference/compute-gallery/`; real-world templates use 2020-09-30 and
//!   2024-03-03).
//! - **Compute** (platform images, managed images): the ComputeRP versions the ARM template
//!   reference's change log tracks (2020-12-01 on) and the newer stable ones in the spec.
//! - **Resources** (deployments, resource groups): the `package-resources-*` stable versions of
//!   the Microsoft.Resources spec, 2024-03-01 (used by published Bicep output) and 2026-09-01
//!   (the newest folder in `azure-reference/resources/`).
//! - **Managed Identity** and **Storage** have no spec in the reference material: the versions
//!   the client pins plus those seen in published templates.

/// What one resource provider area serves.
struct Row {
    /// Resource types (`Provider/type[/child]`), as ARM spells them.
    types: &'static [&'static str],
    /// Every api-version served, oldest first.
    served: &'static [&'static str],
    /// The one aib pins.
    current: &'static str,
}

/// The Image Builder version aib pins.
pub const IMAGE_BUILDER: &str = "2025-10-01";
/// The Compute Gallery version aib pins.
pub const GALLERY: &str = "2025-03-03";
/// The Microsoft.Resources version aib pins (deployments, resource groups).
pub const RESOURCES: &str = "2025-04-01";
/// The Compute version aib pins (platform images).
pub const COMPUTE: &str = "2024-07-01";
/// The Managed Identity version aib pins.
pub const MANAGED_IDENTITY: &str = "2023-01-31";
/// The Storage version aib pins.
pub const STORAGE: &str = "2023-05-01";

const ROWS: &[Row] = &[
    Row {
        types: &[
            "Microsoft.VirtualMachineImages/imageTemplates",
            "Microsoft.VirtualMachineImages/imageTemplates/runOutputs",
            "Microsoft.VirtualMachineImages/imageTemplates/triggers",
            "Microsoft.VirtualMachineImages/locations/operations",
            "Microsoft.VirtualMachineImages/operations",
        ],
        served: &[
            "2019-05-01-preview",
            "2020-02-14",
            "2021-10-01",
            "2022-02-14",
            "2022-07-01",
            "2023-07-01",
            "2024-02-01",
            "2025-10-01",
        ],
        current: IMAGE_BUILDER,
    },
    Row {
        types: &[
            "Microsoft.Compute/galleries",
            "Microsoft.Compute/galleries/images",
            "Microsoft.Compute/galleries/images/versions",
        ],
        served: &[
            "2018-06-01",
            "2019-03-01",
            "2019-07-01",
            "2019-12-01",
            "2020-09-30",
            "2021-07-01",
            "2021-10-01",
            "2022-01-03",
            "2022-03-03",
            "2022-08-03",
            "2023-07-03",
            "2024-03-03",
            "2025-03-03",
        ],
        current: GALLERY,
    },
    Row {
        types: &[
            "Microsoft.Compute/locations/publishers",
            "Microsoft.Compute/images",
        ],
        served: &[
            "2020-12-01",
            "2021-03-01",
            "2021-04-01",
            "2021-07-01",
            "2021-11-01",
            "2022-03-01",
            "2022-08-01",
            "2022-11-01",
            "2023-03-01",
            "2023-07-01",
            "2023-09-01",
            "2024-03-01",
            "2024-07-01",
            "2024-11-01",
            "2025-04-01",
        ],
        current: COMPUTE,
    },
    Row {
        types: &[
            "Microsoft.Resources/deployments",
            "Microsoft.Resources/deployments/operations",
            "Microsoft.Resources/resourceGroups",
        ],
        served: &[
            "2016-02-01",
            "2016-09-01",
            "2017-05-10",
            "2018-02-01",
            "2018-05-01",
            "2019-03-01",
            "2019-05-01",
            "2019-05-10",
            "2019-07-01",
            "2019-08-01",
            "2019-10-01",
            "2020-06-01",
            "2020-10-01",
            "2021-01-01",
            "2021-04-01",
            "2022-09-01",
            "2024-03-01",
            "2024-07-01",
            "2024-11-01",
            "2025-03-01",
            "2025-04-01",
            "2026-09-01",
        ],
        current: RESOURCES,
    },
    Row {
        types: &["Microsoft.ManagedIdentity/userAssignedIdentities"],
        served: &[
            "2018-11-30",
            "2023-01-31",
            "2024-11-30",
            "2025-01-31-preview",
        ],
        current: MANAGED_IDENTITY,
    },
    Row {
        types: &["Microsoft.Storage/storageAccounts"],
        served: &[
            "2021-09-01",
            "2022-05-01",
            "2022-09-01",
            "2023-01-01",
            "2023-04-01",
            "2023-05-01",
            "2024-01-01",
            "2025-01-01",
        ],
        current: STORAGE,
    },
];

fn row(resource_type: &str) -> Option<&'static Row> {
    let wanted = resource_type.trim_matches('/');
    ROWS.iter()
        .find(|r| r.types.iter().any(|t| t.eq_ignore_ascii_case(wanted)))
}

/// Every api-version `resource_type` is served at (oldest first); `None` when the table does
/// not know the type. The type is matched case-insensitively, as ARM does.
pub fn served(resource_type: &str) -> Option<&'static [&'static str]> {
    row(resource_type).map(|r| r.served)
}

/// Whether Azure serves `resource_type` at `api_version` (both case-insensitive). `false` for a
/// type the table does not know.
pub fn is_served(resource_type: &str, api_version: &str) -> bool {
    served(resource_type)
        .is_some_and(|s| s.iter().any(|v| v.eq_ignore_ascii_case(api_version.trim())))
}

/// The api-version aib pins for `resource_type`; `None` when the table does not know the type.
pub fn current(resource_type: &str) -> Option<&'static str> {
    row(resource_type).map(|r| r.current)
}

/// Every resource type the table knows, as ARM spells them.
pub fn known_types() -> impl Iterator<Item = &'static str> {
    ROWS.iter().flat_map(|r| r.types.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_templates_are_served_at_stable_versions_and_the_last_preview() {
        let t = "Microsoft.VirtualMachineImages/imageTemplates";
        assert_eq!(current(t), Some("2025-10-01"));
        for v in ["2020-02-14", "2022-07-01", "2024-02-01", "2025-10-01"] {
            assert!(is_served(t, v), "{v}");
        }
        assert!(is_served(t, "2019-05-01-preview"));
        assert!(!is_served(t, "2019-02-01-preview"), "retired preview");
        assert!(!is_served(t, "2018-02-01-preview"), "retired preview");
        assert!(!is_served(t, "2099-01-01"));
        assert!(!is_served(t, ""));
    }

    #[test]
    fn types_and_versions_match_case_insensitively() {
        assert!(is_served(
            "microsoft.virtualmachineimages/IMAGETEMPLATES",
            "2019-05-01-PREVIEW"
        ));
        assert_eq!(
            served("MICROSOFT.RESOURCES/DEPLOYMENTS"),
            served("Microsoft.Resources/deployments")
        );
    }

    #[test]
    fn unknown_types_are_none_and_never_served() {
        assert_eq!(served("Microsoft.Web/sites"), None);
        assert_eq!(current("Microsoft.Web/sites"), None);
        assert!(!is_served("Microsoft.Web/sites", "2023-01-01"));
        assert_eq!(served(""), None);
    }

    #[test]
    fn every_pinned_version_is_served_and_lists_are_sorted_without_duplicates() {
        for r in ROWS {
            assert!(r.served.contains(&r.current), "{:?}", r.types);
            let mut sorted = r.served.to_vec();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted, r.served, "{:?}", r.types);
        }
        let mut types: Vec<String> = known_types().map(str::to_ascii_lowercase).collect();
        let n = types.len();
        types.sort();
        types.dedup();
        assert_eq!(types.len(), n, "a type is in two rows");
    }

    #[test]
    fn the_client_pins_what_the_table_says() {
        use crate::arm::api;
        let pairs = [
            (
                "Microsoft.VirtualMachineImages/imageTemplates",
                api::IMAGE_TEMPLATES,
            ),
            ("Microsoft.Compute/galleries/images/versions", api::GALLERY),
            ("Microsoft.Resources/deployments", api::DEPLOYMENTS),
            ("Microsoft.Resources/resourceGroups", api::RESOURCE_GROUPS),
            ("Microsoft.Compute/locations/publishers", api::COMPUTE),
            (
                "Microsoft.ManagedIdentity/userAssignedIdentities",
                api::MANAGED_IDENTITY,
            ),
            ("Microsoft.Storage/storageAccounts", api::STORAGE),
        ];
        for (t, pinned) in pairs {
            assert_eq!(current(t), Some(pinned), "{t}");
        }
    }
}
