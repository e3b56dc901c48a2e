//! Azure resource ids compared the way ARM compares them: case-insensitively. Azure itself
//! spells one id several ways — imageTemplate and runOutput ids come back with
//! `/resourcegroups/` in lower case, `exactStagingResourceGroup` and artifact ids with
//! `/resourceGroups/`, run outputs name gallery versions under `/imageversions/` — so ids are
//! never compared as plain strings.

/// An id in one spelling for comparisons: ASCII lower case, no trailing `/`, gallery versions
/// under `/versions/`.
pub fn normalize(id: &str) -> String {
    id.trim()
        .trim_end_matches('/')
        .to_ascii_lowercase()
        .replace("/imageversions/", "/versions/")
}

/// Whether two ids name the same resource.
pub fn same(a: &str, b: &str) -> bool {
    normalize(a) == normalize(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_as_arm_compares_them() {
        // As the recordings spell one template's id and its staging group's.
        assert!(same(
            "/subscriptions/S/resourcegroups/azps-test/providers/Microsoft.VirtualMachineImages/imageTemplates/T",
            "/subscriptions/s/resourceGroups/AZPS-TEST/providers/microsoft.virtualmachineimages/imagetemplates/t/"
        ));
        assert!(same(
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/galleries/g/images/i/imageversions/1.0.0",
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0"
        ));
        assert!(!same(
            "/subscriptions/s/resourceGroups/r1/providers/P/t/n",
            "/subscriptions/s/resourceGroups/r2/providers/P/t/n"
        ));
    }
}
