//! Marketplace (platform) image versions.

use serde::{Deserialize, Serialize};

/// One entry of `.../publishers/{p}/artifacttypes/vmimage/offers/{o}/skus/{s}/versions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineImageResource {
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// The version (`x.y.z`).
    #[serde(default)]
    pub name: String,
    /// Location.
    #[serde(default)]
    pub location: Option<String>,
}

/// Numeric components of a version, for ordering (`"1.10.2"` > `"1.9.30"`).
/// Non-numeric components compare as 0 after the numeric ones.
pub fn version_key(v: &str) -> Vec<u64> {
    v.split('.')
        .map(|p| p.trim().parse::<u64>().unwrap_or(0))
        .collect()
}

/// The highest version by numeric components (what `latest` means).
pub fn highest_version<'a, I: IntoIterator<Item = &'a str>>(versions: I) -> Option<&'a str> {
    versions
        .into_iter()
        .max_by(|a, b| version_key(a).cmp(&version_key(b)).then_with(|| a.cmp(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_is_numeric() {
        let v = ["1.9.30", "1.10.2", "1.10.10", "0.99.0"];
        assert_eq!(highest_version(v.iter().copied()), Some("1.10.10"));
        assert_eq!(
            highest_version(["2022.01.05", "2022.1.4"]),
            Some("2022.01.05")
        );
        assert_eq!(highest_version(std::iter::empty()), None);
    }
}
