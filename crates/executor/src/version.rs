//! The version policy, applied once per run: the planner's preview (`2026.105.*`, `1.2.*`,
//! `auto`) becomes a concrete version whose `*` is one more than the highest matching version
//! already in the image definition (read at preflight), or than one this run already gave out.

use std::collections::HashMap;

/// Gives out versions per image definition.
#[derive(Debug, Default)]
pub struct VersionAllocator {
    /// Image definition id (lowercase) → versions that exist or were given out.
    taken: HashMap<String, Vec<String>>,
}

/// What the allocator decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allocated {
    /// AIB chooses (`auto`).
    Auto,
    /// This version.
    Version(String),
    /// A fixed version (no `*`) that already exists.
    Exists(String),
}

impl VersionAllocator {
    /// Records the versions an image definition already has.
    pub fn add_existing(
        &mut self,
        definition_id: &str,
        versions: impl IntoIterator<Item = String>,
    ) {
        self.taken
            .entry(definition_id.to_ascii_lowercase())
            .or_default()
            .extend(versions);
    }

    /// The version a unit publishes into `definition_id`, given the planner's preview.
    pub fn allocate(&mut self, definition_id: &str, preview: &str) -> Allocated {
        let taken = self
            .taken
            .entry(definition_id.to_ascii_lowercase())
            .or_default();
        let v = match next_version(preview, taken) {
            None => return Allocated::Auto,
            Some(v) => v,
        };
        if !preview.contains('*') && taken.iter().any(|t| same_version(t, &v)) {
            return Allocated::Exists(v);
        }
        taken.push(v.clone());
        Allocated::Version(v)
    }
}

fn same_version(a: &str, b: &str) -> bool {
    let pa: Vec<Option<u64>> = a.split('.').map(|p| p.parse().ok()).collect();
    let pb: Vec<Option<u64>> = b.split('.').map(|p| p.parse().ok()).collect();
    pa == pb
}

/// The next version for `preview` given the versions that exist; `None` for `auto`.
pub fn next_version(preview: &str, existing: &[String]) -> Option<String> {
    if preview.eq_ignore_ascii_case("auto") {
        return None;
    }
    let parts: Vec<&str> = preview.split('.').collect();
    let Some(star) = parts.iter().position(|p| *p == "*") else {
        return Some(preview.to_string());
    };
    let highest = existing
        .iter()
        .filter_map(|v| {
            let vp: Vec<&str> = v.split('.').collect();
            if vp.len() != parts.len() {
                return None;
            }
            let same = parts.iter().zip(&vp).enumerate().all(|(i, (p, x))| {
                i == star || *p == "*" || p.parse::<u64>().ok() == x.parse::<u64>().ok()
            });
            if !same {
                return None;
            }
            vp.get(star).and_then(|x| x.parse::<u64>().ok())
        })
        .max();
    let n = highest.map(|h| h + 1).unwrap_or(1);
    Some(
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if i == star {
                    n.to_string()
                } else {
                    (*p).to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// The image definition id a unit publishes into.
pub fn definition_id(
    subscription: &str,
    resource_group: &str,
    gallery: &str,
    image: &str,
) -> String {
    format!(
        "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.Compute/galleries/{gallery}/images/{image}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_versions_count_up_per_day() {
        let existing = vec![
            "2026.105.1".to_string(),
            "2026.105.3".to_string(),
            "2026.104.9".to_string(),
            "1.0.0".to_string(),
        ];
        assert_eq!(
            next_version("2026.105.*", &existing).as_deref(),
            Some("2026.105.4")
        );
        assert_eq!(
            next_version("2026.106.*", &existing).as_deref(),
            Some("2026.106.1")
        );
        assert_eq!(next_version("auto", &existing), None);
        assert_eq!(next_version("1.2.3", &existing).as_deref(), Some("1.2.3"));
    }

    #[test]
    fn two_units_in_one_definition_never_collide() {
        let mut a = VersionAllocator::default();
        a.add_existing("/d", vec!["2026.105.2".into()]);
        assert_eq!(
            a.allocate("/D", "2026.105.*"),
            Allocated::Version("2026.105.3".into())
        );
        assert_eq!(
            a.allocate("/d", "2026.105.*"),
            Allocated::Version("2026.105.4".into())
        );
        assert_eq!(
            a.allocate("/e", "2026.105.*"),
            Allocated::Version("2026.105.1".into())
        );
        a.add_existing("/f", vec!["1.0.0".into()]);
        assert_eq!(a.allocate("/f", "1.0.0"), Allocated::Exists("1.0.0".into()));
        assert_eq!(a.allocate("/f", "auto"), Allocated::Auto);
    }
}
