//! Linking the drafts: `source = { variant }` to the parent unit each row is built from,
//! `after` to the same unit of the environments waited for; then the graph of both, checked
//! for cycles and sealed.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use aib_manifest::{Manifest, Settings, Source};

use super::draft::{Draft, Drafts, Row};
use crate::error::Problems;
use crate::graph::{GraphBuilder, SealedGraph};
use crate::matrix::same_value;
use crate::unit::UnitId;

/// Each draft's parent (`source = { variant }`), as edges `(parent, child)` in draft order.
pub(super) struct SourceLinks {
    pub edges: Vec<(usize, usize)>,
    /// Draft → its parent draft.
    pub parent_of: Vec<Option<usize>>,
}

/// Edges `(waited for, waiting)` of `after`, in draft order.
pub(super) struct AfterLinks {
    pub edges: Vec<(usize, usize)>,
}

/// The units of a parent variant one variant's rows may be built from, in one environment.
struct ParentIndex<'d> {
    /// Axes both variants have that `source.matrix` does not pin.
    shared: Vec<String>,
    /// Candidates that fit the pins, in plan order.
    pinned: Vec<usize>,
    /// Pinned candidates with every shared axis, by their plain values of them.
    by_values: HashMap<Vec<&'d str>, Vec<usize>>,
}

/// The parent candidates of rows built from the same layered settings are the same: found
/// once per (environment, variant, parent, settings).
type ParentKey = (usize, usize, usize, *const Settings);

/// Finds the parent of every draft built from a variant; a row that matches no parent unit, or
/// several, is reported.
pub(super) fn link_sources(
    manifest: &Manifest,
    drafts: &Drafts,
    problems: &mut Problems,
) -> SourceLinks {
    let mut links = SourceLinks {
        edges: Vec::new(),
        parent_of: vec![None; drafts.len()],
    };
    let mut indexes: HashMap<ParentKey, ParentIndex> = HashMap::new();
    let mut values: Vec<&str> = Vec::new();
    for (i, d) in drafts.units.iter().enumerate() {
        let Some(src) = d.settings.source.as_ref() else {
            continue;
        };
        let Some(parent_name) = src.variant.as_ref() else {
            continue;
        };
        let Some(pi) = manifest.file.variants.get_index_of(parent_name.as_str()) else {
            continue; // reported by the manifest checks
        };
        let Some(candidates) = drafts.by_pair.get(&(d.env, pi)) else {
            report_parent_not_built(manifest, drafts, d, problems);
            continue;
        };
        let key = (d.env, d.variant, pi, Arc::as_ptr(&d.settings));
        let parents = indexes
            .entry(key)
            .or_insert_with(|| parent_index(drafts, d, pi, src, candidates));
        match matching_parents(drafts, parents, &d.row, &mut values).as_ref() {
            [one] => {
                links.edges.push((*one, i));
                links.parent_of[i] = Some(*one);
            }
            matching => report_parent_mismatch(drafts, d, src, candidates, matching, problems),
        }
    }
    links
}

/// The pinned candidates of a parent variant, indexed by their values of the shared axes.
fn parent_index<'d>(
    drafts: &'d Drafts,
    d: &Draft,
    pi: usize,
    src: &Source,
    candidates: &[usize],
) -> ParentIndex<'d> {
    let no_axes: Vec<String> = Vec::new();
    let own_axes = drafts.axes.get(d.variant).unwrap_or(&no_axes);
    let parent_axes = drafts.axes.get(pi).unwrap_or(&no_axes);
    let shared: Vec<String> = own_axes
        .iter()
        .filter(|a| parent_axes.contains(a) && !src.matrix.contains_key(a.as_str()))
        .cloned()
        .collect();
    let pinned: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&c| {
            drafts.get(c).is_some_and(|cand| {
                src.matrix.iter().all(|(k, v)| {
                    cand.row
                        .expanded
                        .values
                        .get(k.as_str())
                        .is_some_and(|pv| same_value(pv, v))
                })
            })
        })
        .collect();
    let mut by_values: HashMap<Vec<&str>, Vec<usize>> = HashMap::new();
    for &c in &pinned {
        let mut values = Vec::with_capacity(shared.len());
        if let Some(cand) = drafts.get(c)
            && plain_values(&cand.row, &shared, &mut values)
        {
            by_values.entry(values).or_default().push(c);
        }
    }
    ParentIndex {
        shared,
        pinned,
        by_values,
    }
}

/// A row with every shared axis matches the candidates with the same plain values
/// (`same_value`); otherwise only the axes it has are compared. `values` is scratch space.
fn matching_parents<'p, 'd>(
    drafts: &'d Drafts,
    parents: &'p ParentIndex<'d>,
    row: &'d Row,
    values: &mut Vec<&'d str>,
) -> Cow<'p, [usize]> {
    if plain_values(row, &parents.shared, values) {
        return match parents.by_values.get(values.as_slice()) {
            Some(found) => Cow::Borrowed(found.as_slice()),
            None => Cow::Borrowed(&[]),
        };
    }
    let row = &row.expanded;
    Cow::Owned(
        parents
            .pinned
            .iter()
            .copied()
            .filter(|&c| {
                drafts.get(c).is_some_and(|cand| {
                    parents.shared.iter().all(|a| match row.values.get(a) {
                        Some(mine) => cand
                            .row
                            .expanded
                            .values
                            .get(a)
                            .is_some_and(|pv| same_value(pv, mine)),
                        None => true,
                    })
                })
            })
            .collect(),
    )
}

/// A row's plain values of `axes` into `out`, `true` when it has every one.
fn plain_values<'r>(row: &'r Row, axes: &[String], out: &mut Vec<&'r str>) -> bool {
    out.clear();
    for a in axes {
        match row.plain(a) {
            Some(v) => out.push(v),
            None => return false,
        }
    }
    true
}

fn report_parent_not_built(
    manifest: &Manifest,
    drafts: &Drafts,
    d: &Draft,
    problems: &mut Problems,
) {
    let Some(parent_name) = d.settings.source.as_ref().and_then(|s| s.variant.as_ref()) else {
        return;
    };
    let (env_name, _) = drafts.names(manifest, d);
    problems.error(
        "aib::source",
        format!(
            "unit `{}` is built from variant `{}`, which is not built in environment `{env_name}`",
            d.id,
            parent_name.as_str()
        ),
        Some((parent_name.span(), "not built in this environment".into())),
        Some(format!(
            "add `{env_name}` to the `environments` of variant `{}`",
            parent_name.as_str()
        )),
    );
}

fn report_parent_mismatch(
    drafts: &Drafts,
    d: &Draft,
    src: &Source,
    candidates: &[usize],
    matching: &[usize],
    problems: &mut Problems,
) {
    let Some(parent_name) = src.variant.as_ref() else {
        return;
    };
    let listed: Vec<String> = if matching.is_empty() {
        candidates
    } else {
        matching
    }
    .iter()
    .filter_map(|c| drafts.get(*c).map(|d| format!("`{}`", d.id)))
    .collect();
    let (what, help) = if matching.is_empty() {
        (
            "matches none of",
            "the parent unit must share the values of the axes both variants have; pin the others with `source.matrix`",
        )
    } else {
        (
            "matches several of",
            "pin the parent's other axes with `source = { variant = \"...\", matrix = { axis = \"value\" } }`",
        )
    };
    problems.error(
        "aib::source",
        format!(
            "unit `{}` {what} the units of variant `{}`: {}",
            d.id,
            parent_name.as_str(),
            listed.join(", ")
        ),
        Some((parent_name.span(), "parent variant".into())),
        Some(help.into()),
    );
}

/// `after = ["dev"]`: each unit waits for the unit with the same variant and matrix values in
/// every environment it is after (when that unit exists).
pub(super) fn link_after(manifest: &Manifest, drafts: &Drafts) -> AfterLinks {
    let mut edges = Vec::new();
    for (i, d) in drafts.units.iter().enumerate() {
        let Some((_, env)) = manifest.file.environments.get_index(d.env) else {
            continue;
        };
        let (_, var_name) = drafts.names(manifest, d);
        for a in &env.after {
            if let Some(&j) = drafts.index.get(&UnitId::new(a, var_name, &d.row.suffix)) {
                edges.push((j, i));
            }
        }
    }
    AfterLinks { edges }
}

/// The graph of every draft, sealed; `None` when it has a cycle (each one is reported with
/// all its units).
pub(super) fn check_cycles(
    manifest: &Manifest,
    drafts: &Drafts,
    sources: &SourceLinks,
    after: &AfterLinks,
    problems: &mut Problems,
) -> Option<SealedGraph> {
    let mut builder = GraphBuilder::new(drafts.len());
    for &(a, b) in sources.edges.iter().chain(&after.edges) {
        builder.add_edge(a, b);
    }
    let cycles = match builder.seal() {
        Ok(graph) => return Some(graph),
        Err(cycles) => cycles,
    };
    for cycle in &cycles {
        let ids: Vec<String> = cycle
            .iter()
            .filter_map(|i| drafts.get(*i).map(|d| format!("`{}`", d.id)))
            .collect();
        let span = cycle.first().and_then(|i| drafts.get(*i)).and_then(|d| {
            d.settings
                .source
                .as_ref()
                .and_then(|s| s.variant.as_ref().map(|v| v.span()))
                .or_else(|| {
                    manifest
                        .file
                        .environments
                        .get_index(d.env)
                        .and_then(|(_, e)| e.after.first().map(|a| a.span()))
                })
        });
        problems.error(
            "aib::cycle",
            format!(
                "dependency cycle between {} units: {}",
                cycle.len(),
                ids.join(", ")
            ),
            span.map(|s| (s, "part of the cycle".to_string())),
            Some("`source = { variant }` and `after` must not lead back to a unit".into()),
        );
    }
    None
}
