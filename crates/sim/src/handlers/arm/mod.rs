//! ARM resource providers served by the simulator.

pub mod deployments;
pub mod gallery;
pub mod image_templates;
pub mod operations;
pub mod platform_images;
pub mod resources;
pub mod storage;
pub mod template_eval;

pub use crate::model::ArmErr;
use sha2::{Digest, Sha256};

/// A deterministic GUID derived from a string.
pub fn stable_guid(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

/// `^[A-Za-z0-9-_.]{1,64}$`
pub fn valid_aib_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// Region display name ("eastus2" -> "East US 2").
pub fn region_display(name: &str) -> String {
    let n = name.to_ascii_lowercase().replace(' ', "");
    let known: &[(&str, &str)] = &[
        ("eastus", "East US"),
        ("eastus2", "East US 2"),
        ("eastus3", "East US 3"),
        ("westus", "West US"),
        ("westus2", "West US 2"),
        ("westus3", "West US 3"),
        ("centralus", "Central US"),
        ("northcentralus", "North Central US"),
        ("southcentralus", "South Central US"),
        ("westcentralus", "West Central US"),
        ("northeurope", "North Europe"),
        ("westeurope", "West Europe"),
        ("uksouth", "UK South"),
        ("ukwest", "UK West"),
        ("francecentral", "France Central"),
        ("germanywestcentral", "Germany West Central"),
        ("swedencentral", "Sweden Central"),
        ("switzerlandnorth", "Switzerland North"),
        ("norwayeast", "Norway East"),
        ("eastasia", "East Asia"),
        ("southeastasia", "Southeast Asia"),
        ("japaneast", "Japan East"),
        ("japanwest", "Japan West"),
        ("australiaeast", "Australia East"),
        ("australiasoutheast", "Australia Southeast"),
        ("centralindia", "Central India"),
        ("southindia", "South India"),
        ("canadacentral", "Canada Central"),
        ("canadaeast", "Canada East"),
        ("brazilsouth", "Brazil South"),
        ("koreacentral", "Korea Central"),
        ("uaenorth", "UAE North"),
        ("southafricanorth", "South Africa North"),
        ("usgovvirginia", "USGov Virginia"),
        ("usgovarizona", "USGov Arizona"),
    ];
    for (k, v) in known {
        if *k == n {
            return v.to_string();
        }
    }
    if known.iter().any(|(_, v)| v.eq_ignore_ascii_case(name)) {
        return name.to_string();
    }
    let mut out = name.to_string();
    if let Some(first) = out.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    out
}

/// Region name normalised ("East US 2" -> "eastus2").
pub fn region_name(display: &str) -> String {
    display.to_ascii_lowercase().replace(' ', "")
}

/// Parse a numeric version `x.y.z`.
pub fn parse_version(v: &str) -> Option<Vec<u64>> {
    let parts: Option<Vec<u64>> = v.split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| !p.is_empty())
}
