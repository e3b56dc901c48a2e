//! Planning a manifest, one named phase after the other, each handing the next a typed result:
//! read the request (`--set`, the selection), order the environments, draft the units (one per
//! environment × variant × matrix row, settings layered), link their sources and their `after`,
//! check the graph for cycles, select, resolve the selected units (settings, version preview,
//! hash, template name), check the names, and seal the result into a [`Plan`].

mod draft;
mod link;
mod resolve;
mod seal;

use std::collections::HashMap;

use aib_manifest::Manifest;

use crate::error::{PlanError, Problems};
use crate::graph::SealedGraph;
use crate::naming::Date;
use crate::selection::Selection;
use crate::unit::{Action, Unit, UnitId};

/// What `aib plan` was asked for.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    pub selection: Selection,
    /// Raw `--set key=value` arguments, in order (later ones win).
    pub set: Vec<String>,
    /// The UTC date of the run (for `date` version previews); never read from the clock here.
    pub today: Date,
}

/// A sealed plan: the selected units in a stable order and the graph between them.
#[derive(Debug, Clone)]
pub struct Plan {
    pipeline: String,
    units: Vec<Unit>,
    index: HashMap<UnitId, usize>,
    graph: SealedGraph,
    critical_path: Vec<UnitId>,
    environments: Vec<String>,
}

/// Plans a manifest: every problem of a phase is collected before planning stops.
pub fn plan(manifest: &Manifest, options: &PlanOptions) -> Result<Plan, PlanError> {
    let mut problems = Problems::new(&manifest.source);
    let request = draft::Request::read(manifest, options, &mut problems);
    let envs = draft::order_environments(manifest, &mut problems);
    if !draft::within_unit_bound(manifest, &mut problems) {
        return Err(problems.into_error());
    }
    let drafts = draft::draft_units(manifest, &envs, request.set.as_ref(), &mut problems);
    let sources = link::link_sources(manifest, &drafts, &mut problems);
    let after = link::link_after(manifest, &drafts);
    let graph = link::check_cycles(manifest, &drafts, &sources, &after, &mut problems);
    let graph = match graph {
        Some(g) if !problems.has_errors() => g,
        _ => return Err(problems.into_error()),
    };
    let Some(selected) = resolve::select(manifest, &drafts, &request, &mut problems) else {
        return Err(problems.into_error());
    };
    let resolved = resolve::resolve(
        manifest,
        options,
        &drafts,
        &sources,
        &selected,
        &mut problems,
    );
    resolve::check_names(manifest, &drafts, &resolved, &mut problems);
    if problems.has_errors() {
        return Err(problems.into_error());
    }
    seal::seal(manifest, &envs, &drafts, &graph, resolved).ok_or_else(|| problems.into_error())
}

impl Plan {
    pub fn pipeline(&self) -> &str {
        &self.pipeline
    }

    /// Units in plan order: environments (by `after`, then manifest order), variants in
    /// manifest order, matrix rows.
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    pub fn unit(&self, id: &UnitId) -> Option<&Unit> {
        self.index.get(id).and_then(|i| self.units.get(*i))
    }

    /// Environments of the manifest in plan order.
    pub fn environments(&self) -> &[String] {
        &self.environments
    }

    /// Units in a topological order (every unit after the units it waits for).
    pub fn topological(&self) -> impl Iterator<Item = &Unit> {
        self.graph
            .topological()
            .iter()
            .filter_map(|i| self.units.get(*i))
    }

    /// The units of the plan that wait for `id`.
    pub fn dependents(&self, id: &UnitId) -> Vec<&Unit> {
        self.index
            .get(id)
            .map(|i| {
                self.graph
                    .dependents(*i)
                    .into_iter()
                    .filter_map(|d| self.units.get(d))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Edges `(dependency, dependent)` inside the plan, in plan order.
    pub fn edges(&self) -> Vec<(&UnitId, &UnitId)> {
        self.graph
            .edges()
            .into_iter()
            .filter_map(|(a, b)| Some((&self.units.get(a)?.id, &self.units.get(b)?.id)))
            .collect()
    }

    /// The longest chain of dependent units.
    pub fn critical_path(&self) -> &[UnitId] {
        &self.critical_path
    }

    /// Shows a unit's input hash and template name as a run resolves them (`latest` sources
    /// pinned; `aib plan --refresh`): `pinned` when its source version is known now (the name
    /// is no longer provisional); `false` when the plan has no such unit.
    pub fn set_resolved(
        &mut self,
        id: &UnitId,
        input_hash: String,
        template_name: String,
        pinned: bool,
    ) -> bool {
        match self.index.get(id).and_then(|i| self.units.get_mut(*i)) {
            Some(u) => {
                u.input_hash.show_final(input_hash);
                u.template_name = template_name;
                u.provisional &= !pinned;
                true
            }
            None => false,
        }
    }

    /// Sets what the next run does with a unit; `false` when the plan has no such unit.
    pub fn set_action(&mut self, id: &UnitId, action: Action) -> bool {
        match self.index.get(id).and_then(|i| self.units.get_mut(*i)) {
            Some(u) => {
                u.action = action;
                true
            }
            None => false,
        }
    }
}
