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

/// Whether `name` is a public region (ARM compares region names case-insensitively and
/// ignores spaces: `West Europe` is `westeurope`).
pub fn is_known_region(name: &str) -> bool {
    let n = normalize(name);
    PUBLIC_REGIONS.binary_search(&n.as_str()).is_ok()
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
        let mut sorted = PUBLIC_REGIONS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, PUBLIC_REGIONS);
        assert!(is_known_region("eastus2"));
        assert!(is_known_region("West Europe"));
        assert!(!is_known_region("westeurop"));
    }
}
