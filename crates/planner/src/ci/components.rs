//! Shards that respect the plan graph: whole connected components.
//!
//! Two units are in one component when one waits for the other (`source = { variant }`,
//! `after`), directly or through others, so a shard never holds a unit without what it is
//! built from or promoted after, and aib's own scheduler orders the units inside it.
//!
//! Each shard keeps its state under its own prefix, `shards/<key>`, so shards never wait for
//! each other's run lock. A component's key comes from its smallest unit id (a slug of it and
//! 8 hex digits of its SHA-256), so a component keeps its key — and its prefix and lock —
//! while units are added to it or the rest of the plan changes.
//!
//! GitHub runs at most [`MAX_MATRIX`] jobs per matrix. With more components than that, the
//! components are packed into [`MAX_MATRIX`] shards (`bin-000` .. `bin-255`) that hold about
//! as many units each — largest component first, each into the shard with the fewest units
//! so far — so no job runs much longer than the others. Packing depends on the whole plan, so
//! a component may land in another shard when the plan changes; `aib build` reads the last
//! builds of every shard of a state (`read_family_index`), so that never rebuilds a unit,
//! but two runs of different plans at once no longer share that component's lock (give the
//! workflow a concurrency group).

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use crate::Plan;

/// Most entries GitHub accepts in one job matrix.
pub const MAX_MATRIX: usize = 256;

/// One shard: one connected component, or several packed together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentShard {
    /// Its key: the state prefix is `shards/<key>`.
    pub key: String,
    /// Unit ids in plan order.
    pub units: Vec<String>,
    /// Its environments, in plan order.
    pub environments: Vec<String>,
    /// How many components it holds (1 unless the plan has more than [`MAX_MATRIX`]).
    pub components: usize,
}

impl ComponentShard {
    /// The state prefix of the shard, relative to the shared state.
    pub fn state_prefix(&self) -> String {
        format!("shards/{}", self.key)
    }
}

/// Index of a unit's component representative (union-find with path halving).
fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// The plan's connected components, each as unit indexes in plan order; components ordered by
/// their first unit.
pub fn components(plan: &Plan) -> Vec<Vec<usize>> {
    let units = plan.units();
    let index: BTreeMap<&str, usize> = units
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.as_str(), i))
        .collect();
    let mut parent: Vec<usize> = (0..units.len()).collect();
    for (i, u) in units.iter().enumerate() {
        for dep in &u.depends_on {
            if let Some(&j) = index.get(dep.as_str()) {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..units.len() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().push(i);
    }
    let mut out: Vec<Vec<usize>> = groups.into_values().collect();
    out.sort_by_key(|c| c.first().copied().unwrap_or(usize::MAX));
    out
}

/// A key for a component named by its smallest unit id: `dev-ubuntu-release-2204-1a2b3c4d`.
pub fn component_key(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 48 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let hash = hex::encode(&Sha256::digest(name.as_bytes())[..4]);
    if slug.is_empty() {
        hash
    } else {
        format!("{slug}-{hash}")
    }
}

/// Packs components (`(key, size)`, any order) into at most `bins` bins, balancing the sizes:
/// largest first (ties by key), each into the bin with the smallest total (ties: lowest
/// index). Returns each component's bin, in input order.
fn pack(sizes: &[(String, usize)], bins: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| {
        sizes[b]
            .1
            .cmp(&sizes[a].1)
            .then(sizes[a].0.cmp(&sizes[b].0))
    });
    let mut load: std::collections::BinaryHeap<std::cmp::Reverse<(usize, usize)>> = (0..bins
        .max(1))
        .map(|b| std::cmp::Reverse((0, b)))
        .collect();
    let mut out = vec![0; sizes.len()];
    for i in order {
        if let Some(std::cmp::Reverse((total, bin))) = load.pop() {
            out[i] = bin;
            load.push(std::cmp::Reverse((total + sizes[i].1, bin)));
        }
    }
    out
}

/// The plan's shards: one per connected component, or at most [`MAX_MATRIX`] when there are
/// more components (see the module documentation). In plan order of their first unit.
pub fn component_shards(plan: &Plan) -> Vec<ComponentShard> {
    let units = plan.units();
    let comps = components(plan);
    let keyed: Vec<(String, Vec<usize>)> = comps
        .into_iter()
        .map(|c| {
            let name = c
                .iter()
                .map(|&i| units[i].id.as_str())
                .min()
                .unwrap_or_default();
            (component_key(name), c)
        })
        .collect();
    let bins = (keyed.len() > MAX_MATRIX).then(|| {
        let sizes: Vec<(String, usize)> = keyed.iter().map(|(k, c)| (k.clone(), c.len())).collect();
        pack(&sizes, MAX_MATRIX)
    });
    let mut shards: BTreeMap<String, (Vec<usize>, usize)> = BTreeMap::new();
    for (n, (key, members)) in keyed.into_iter().enumerate() {
        let key = match &bins {
            Some(b) => format!("bin-{:03}", b[n]),
            None => key,
        };
        let entry = shards.entry(key).or_default();
        entry.0.extend(members);
        entry.1 += 1;
    }
    let mut out: Vec<ComponentShard> = shards
        .into_iter()
        .map(|(key, (mut members, components))| {
            members.sort_unstable();
            let mut environments: Vec<String> = Vec::new();
            for &i in &members {
                if !environments.contains(&units[i].environment) {
                    environments.push(units[i].environment.clone());
                }
            }
            ComponentShard {
                key,
                units: members.iter().map(|&i| units[i].id.to_string()).collect(),
                environments,
                components,
            }
        })
        .collect();
    out.sort_by_key(|s| {
        s.units
            .first()
            .and_then(|id| units.iter().position(|u| u.id.as_str() == id))
            .unwrap_or(usize::MAX)
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_slugs_with_a_hash_and_stable() {
        assert_eq!(
            component_key("dev/ubuntu[release=2204]"),
            format!(
                "dev-ubuntu-release-2204-{}",
                hex::encode(&Sha256::digest(b"dev/ubuntu[release=2204]")[..4])
            )
        );
        // Ids that slug alike still get different keys.
        assert_ne!(component_key("dev/a[x=1]"), component_key("dev/a[x-1]"));
        let long = "e/".to_string() + &"v".repeat(300);
        assert!(component_key(&long).len() <= 48 + 9);
        assert!(crate_key_ok(&component_key(&long)));
        assert!(crate_key_ok(&component_key("Ünïcode/ß")));
    }

    /// What aib-state accepts as a shard key.
    fn crate_key_ok(k: &str) -> bool {
        (1..=100).contains(&k.len())
            && !k.starts_with('.')
            && k.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"-_.".contains(&c))
    }

    #[test]
    fn packing_balances_units() {
        // 300 components of 1..=5 units into 256 bins: every bin used, loads within the
        // largest component of each other.
        let sizes: Vec<(String, usize)> =
            (0..300).map(|i| (format!("c{i:03}"), 1 + i % 5)).collect();
        let bins = pack(&sizes, MAX_MATRIX);
        let mut load = [0usize; MAX_MATRIX];
        for (i, b) in bins.iter().enumerate() {
            load[*b] += sizes[i].1;
        }
        assert!(load.iter().all(|&l| l > 0));
        let (min, max) = (load.iter().min().copied(), load.iter().max().copied());
        assert!(max.unwrap_or(0) - min.unwrap_or(0) <= 5, "{min:?}..{max:?}");
        // Deterministic.
        assert_eq!(bins, pack(&sizes, MAX_MATRIX));
    }
}
