//! The api-versions each resource type the simulator serves is answered at, as Azure serves
//! them. This is the simulator's own copy of the client's table (`aib_azure::api_versions`:
//! the simulator shares no code with the client); a test in the client's suite checks that
//! the two agree, type by type. Sources: the specs in `azure-reference/`, the recordings,
//! and Microsoft's release notes (the Image Builder previews `2018-02-01-preview` and
//! `2019-02-01-preview` are retired; `2019-05-01-preview` is still served).

/// What one resource provider area serves.
struct Row {
    /// Resource types (`Provider/type[/child]`), as ARM spells them.
    types: &'static [&'static str],
    /// Every api-version served, oldest first.
    served: &'static [&'static str],
}

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
    },
    Row {
        types: &["Microsoft.ManagedIdentity/userAssignedIdentities"],
        served: &[
            "2018-11-30",
            "2023-01-31",
            "2024-11-30",
            "2025-01-31-preview",
        ],
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
    },
];

fn row(resource_type: &str) -> Option<&'static Row> {
    let wanted = resource_type.trim_matches('/');
    ROWS.iter()
        .find(|r| r.types.iter().any(|t| t.eq_ignore_ascii_case(wanted)))
}

/// Every api-version `resource_type` is served at; `None` for a type the table does not know.
pub fn served(resource_type: &str) -> Option<&'static [&'static str]> {
    row(resource_type).map(|r| r.served)
}

/// Whether `resource_type` is served at `api_version` (both case-insensitive).
pub fn is_served(resource_type: &str, api_version: &str) -> bool {
    served(resource_type).is_some_and(|s| s.iter().any(|v| v.eq_ignore_ascii_case(api_version)))
}

/// Every resource type the table knows.
pub fn known_types() -> impl Iterator<Item = &'static str> {
    ROWS.iter().flat_map(|r| r.types.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_retired_and_future_versions() {
        let t = "Microsoft.VirtualMachineImages/imageTemplates";
        assert!(is_served(t, "2022-07-01"));
        assert!(is_served(t, "2019-05-01-preview"));
        assert!(!is_served(t, "2019-02-01-preview"));
        assert!(!is_served(t, "2099-01-01"));
        assert!(is_served(
            "microsoft.resources/RESOURCEGROUPS",
            "2021-04-01"
        ));
        assert_eq!(served("Microsoft.Web/sites"), None);
    }
}
