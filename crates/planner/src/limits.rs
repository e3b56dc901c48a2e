//! Bounds a plan checks before doing the work they bound.
//!
//! Units: a matrix is a product, so five axes of thirty values are 24 million rows; expanding
//! them first and counting after runs out of memory. The count here comes from the axis
//! lengths alone (plus the `include` entries, before `exclude`, which can only remove rows),
//! times the environments each variant builds in, and is compared with `[pipeline] max_units`.

use aib_manifest::{Manifest, VariantEnvironments};

/// `[pipeline] max_units` when the manifest does not set it.
pub const DEFAULT_MAX_UNITS: u64 = 100_000;

/// The most units a plan of `manifest` can have, and the variant contributing most (with its
/// own count and how it is made of, e.g. `30 × 30 × 30 rows × 2 environments`).
pub fn unit_bound(manifest: &Manifest) -> (u64, Option<(String, u64, String)>) {
    let file = &manifest.file;
    let all_envs = file.environments.len() as u64;
    let mut total: u64 = 0;
    let mut largest: Option<(String, u64, String)> = None;
    for (name, variant) in &file.variants {
        let envs = match &variant.environments {
            Some(VariantEnvironments::Only(list)) => list
                .iter()
                .filter(|e| file.environments.contains_key(e.as_str()))
                .count() as u64,
            _ => all_envs,
        };
        let (rows, how) = match variant.matrix.as_ref().filter(|m| !m.is_empty()) {
            None => (1u64, "1 row".to_string()),
            Some(m) => {
                let axes = m.axes();
                let lengths: Vec<u64> = axes.iter().map(|(_, v)| v.len() as u64).collect();
                let product = if lengths.is_empty() {
                    0
                } else {
                    lengths.iter().fold(1u64, |a, b| a.saturating_mul(*b))
                };
                let include = m.include().len() as u64;
                let mut how: Vec<String> = lengths.iter().map(u64::to_string).collect();
                if how.is_empty() {
                    how.push("0".into());
                }
                let mut how = format!("{} rows", how.join(" × "));
                if include > 0 {
                    how.push_str(&format!(" + {include} included"));
                }
                (product.saturating_add(include), how)
            }
        };
        let units = rows.saturating_mul(envs);
        total = total.saturating_add(units);
        if largest.as_ref().is_none_or(|(_, n, _)| units > *n) {
            largest = Some((
                name.get_ref().clone(),
                units,
                format!("{how} × {envs} environment(s)"),
            ));
        }
    }
    (total, largest)
}

/// The cap of a manifest: `[pipeline] max_units`, else [`DEFAULT_MAX_UNITS`].
pub fn max_units(manifest: &Manifest) -> u64 {
    manifest
        .file
        .pipeline
        .max_units
        .as_ref()
        .map(|m| *m.get_ref())
        .unwrap_or(DEFAULT_MAX_UNITS)
}

/// Thousands separated by commas: `24,300,000`.
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(100_000), "100,000");
        assert_eq!(grouped(24_300_000), "24,300,000");
    }
}
