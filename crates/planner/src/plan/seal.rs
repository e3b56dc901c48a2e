//! The last phase: the graph between the selected units (edges to units left out by the
//! selection are kept as `external_depends_on`), its critical path, and the [`Plan`].

use std::collections::HashMap;

use aib_manifest::Manifest;

use super::Plan;
use super::draft::{Drafts, EnvOrder};
use super::resolve::Resolved;
use crate::graph::{GraphBuilder, SealedGraph};
use crate::unit::UnitId;

/// Seals the resolved units into a plan. `graph` is the graph of every draft (`None` if the
/// selected part had a cycle, which an acyclic whole cannot have).
pub(super) fn seal(
    manifest: &Manifest,
    envs: &EnvOrder,
    drafts: &Drafts,
    graph: &SealedGraph,
    resolved: Resolved,
) -> Option<Plan> {
    let Resolved {
        mut units,
        drafts: unit_drafts,
    } = resolved;
    // Draft → its unit, for the drafts that became units.
    let mut unit_of: Vec<Option<usize>> = vec![None; drafts.len()];
    for (k, &d) in unit_drafts.iter().enumerate() {
        if let Some(slot) = unit_of.get_mut(d) {
            *slot = Some(k);
        }
    }
    let mut sub = GraphBuilder::new(units.len());
    for (k, &d) in unit_drafts.iter().enumerate() {
        for dep in graph.dependencies(d) {
            let id = match unit_of.get(dep).copied().flatten() {
                Some(nd) => {
                    sub.add_edge(nd, k);
                    units.get(nd).map(|u| (u.id.clone(), true))
                }
                None => drafts.get(dep).map(|x| (x.id.clone(), false)),
            };
            if let (Some((id, inside)), Some(u)) = (id, units.get_mut(k)) {
                if inside {
                    u.depends_on.push(id);
                } else {
                    u.external_depends_on.push(id);
                }
            }
        }
    }
    let graph = sub.seal().ok()?;
    let critical_path = graph
        .critical_path(|i| units.get(i).map(|u| &u.id))
        .into_iter()
        .filter_map(|i| units.get(i).map(|u| u.id.clone()))
        .collect();
    let index: HashMap<UnitId, usize> = units
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.clone(), i))
        .collect();
    Some(Plan {
        pipeline: manifest.pipeline().to_string(),
        units,
        index,
        graph,
        critical_path,
        environments: envs
            .0
            .iter()
            .filter_map(|i| {
                manifest
                    .file
                    .environments
                    .get_index(*i)
                    .map(|(k, _)| k.get_ref().clone())
            })
            .collect(),
    })
}
