//! Public Azure regions (ARM `name` form), for checking `replicate_to` offline.

/// Region names of the public Azure cloud, sorted (including the EUAP canary regions and
/// the regions available only by request).
pub const PUBLIC_REGIONS: &[&str] = &[
    "australiacentral",
    "australiacentral2",
    "australiaeast",
    "australiasoutheast",
    "austriaeast",
    "belgiumcentral",
    "brazilsouth",
    "brazilsoutheast",
    "canadacentral",
    "canadaeast",
    "centralindia",
    "centralus",
    "centraluseuap",
    "chilecentral",
    "eastasia",
    "eastus",
    "eastus2",
    "eastus2euap",
    "francecentral",
    "francesouth",
    "germanynorth",
    "germanywestcentral",
    "indonesiacentral",
    "israelcentral",
    "italynorth",
    "japaneast",
    "japanwest",
    "jioindiacentral",
    "jioindiawest",
    "koreacentral",
    "koreasouth",
    "malaysiawest",
    "mexicocentral",
    "newzealandnorth",
    "northcentralus",
    "northeurope",
    "norwayeast",
    "norwaywest",
    "polandcentral",
    "qatarcentral",
    "southafricanorth",
    "southafricawest",
    "southcentralus",
    "southeastasia",
    "southindia",
    "spaincentral",
    "swedencentral",
    "swedensouth",
    "switzerlandnorth",
    "switzerlandwest",
    "uaecentral",
    "uaenorth",
    "uksouth",
    "ukwest",
    "westcentralus",
    "westeurope",
    "westindia",
    "westus",
    "westus2",
    "westus3",
];

/// Region names of Azure US Government, sorted.
pub const USGOV_REGIONS: &[&str] = &[
    "usdodcentral",
    "usdodeast",
    "usgovarizona",
    "usgoviowa",
    "usgovtexas",
    "usgovvirginia",
];

/// Region names of Azure operated by 21Vianet (China), sorted.
pub const CHINA_REGIONS: &[&str] = &[
    "chinaeast",
    "chinaeast2",
    "chinaeast3",
    "chinanorth",
    "chinanorth2",
    "chinanorth3",
];

/// The regions of a cloud; `None` for a custom cloud (Azure Stack names its own).
pub fn regions_of(cloud: aib_manifest::Cloud) -> Option<&'static [&'static str]> {
    match cloud {
        aib_manifest::Cloud::Public => Some(PUBLIC_REGIONS),
        aib_manifest::Cloud::Usgov => Some(USGOV_REGIONS),
        aib_manifest::Cloud::China => Some(CHINA_REGIONS),
        aib_manifest::Cloud::Custom => None,
    }
}

/// Whether `name` is a public region (ARM compares region names case-insensitively and
/// ignores spaces: `West Europe` is `westeurope`).
pub fn is_known_region(name: &str) -> bool {
    is_region_of(PUBLIC_REGIONS, name)
}

/// Whether `name` is one of `regions` (sorted), as ARM compares them.
pub fn is_region_of(regions: &[&str], name: &str) -> bool {
    let n = normalize(name);
    regions.binary_search(&n.as_str()).is_ok()
}

/// `West Europe` → `westeurope`.
pub fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_known() {
        for list in [PUBLIC_REGIONS, USGOV_REGIONS, CHINA_REGIONS] {
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            assert_eq!(sorted, list);
        }
        assert!(is_region_of(USGOV_REGIONS, "USGov Virginia"));
        assert!(!is_region_of(USGOV_REGIONS, "eastus"));
        assert!(is_known_region("eastus2"));
        assert!(is_known_region("West Europe"));
        assert!(!is_known_region("westeurop"));
    }
}
