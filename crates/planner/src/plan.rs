//! Planning a manifest: expand units, layer their settings, find their edges, check the graph
//! for cycles, select, resolve and hash the selected units, and seal the result into a [`Plan`].

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use aib_manifest::{Manifest, Merge, Settings, VariantEnvironments};
use minijinja::Value as Ctx;

use crate::error::{PlanError, Problems};
use crate::graph::{GraphBuilder, SealedGraph};
use crate::input_hash::{self, FileDigests, HashIdentity};
use crate::layering;
use crate::matrix::{self, ExpandedRow, same_value};
use crate::naming::{self, Date};
use crate::resolved::{Resolver, UnitScope, VersionPolicy, unit_context};
use crate::selection::Selection;
use crate::templating::Renderer;
use crate::unit::{Action, Unit, UnitId};

/// Plans with at least this many selected units resolve them on every core.
const PARALLEL_FROM: usize = 1024;

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
    /// pinned; `aib plan --refresh`); `false` when the plan has no such unit.
    pub fn set_resolved(&mut self, id: &UnitId, input_hash: String, template_name: String) -> bool {
        match self.index.get(id).and_then(|i| self.units.get_mut(*i)) {
            Some(u) => {
                u.input_hash.show_final(input_hash);
                u.template_name = template_name;
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

/// A unit before resolution.
struct Draft {
    id: UnitId,
    env: usize,
    variant: usize,
    row: ExpandedRow,
    /// `axis=value,...` of the id.
    suffix: String,
    settings: Arc<Settings>,
}

/// The units of a parent variant one variant's rows may be built from, in one environment.
struct ParentIndex {
    /// Axes both variants have that `source.matrix` does not pin.
    shared: Vec<String>,
    /// Candidates that fit the pins, in plan order.
    pinned: Vec<usize>,
    /// Pinned candidates with every shared axis, by their plain values of them.
    by_values: HashMap<Vec<String>, Vec<usize>>,
}

/// A row's plain values of `axes`, when it has every one.
fn plain_values(row: &ExpandedRow, axes: &[String]) -> Option<Vec<String>> {
    axes.iter()
        .map(|a| row.values.get(a).map(matrix::plain))
        .collect()
}

/// Plans a manifest.
pub fn plan(manifest: &Manifest, options: &PlanOptions) -> Result<Plan, PlanError> {
    let file = &manifest.file;
    let mut problems = Problems::new(&manifest.source);
    let pipeline = manifest.pipeline().to_string();

    let set = match layering::set_layer(&options.set) {
        Ok(s) => s,
        Err(errors) => {
            for (_, msg, help) in errors {
                problems.error("aib::set", msg, None, help);
            }
            None
        }
    };
    let matcher = match options.selection.compile() {
        Ok(m) => Some(m),
        Err(errors) => {
            for e in errors {
                problems.error("aib::selection", e, None, None);
            }
            None
        }
    };
    let env_names: Vec<String> = file
        .environments
        .keys()
        .map(|k| k.get_ref().clone())
        .collect();
    for e in &options.selection.environments {
        if !env_names.contains(e) {
            let help = aib_manifest::did_you_mean(e, &env_names)
                .map(|b| format!("did you mean `{b}`?"))
                .or_else(|| Some(format!("environments are: {}", env_names.join(", "))));
            problems.error(
                "aib::selection",
                format!("`--env {e}`: no such environment"),
                None,
                help,
            );
        }
    }

    // Environments in manifest order, topologically by `after`.
    let env_order = environment_order(manifest);
    let mut env_graph = GraphBuilder::new(file.environments.len());
    for (i, (_, env)) in file.environments.iter().enumerate() {
        for a in &env.after {
            if let Some(j) = file.environments.get_index_of(a.as_str()) {
                env_graph.add_edge(j, i);
            }
        }
    }
    for cycle in env_graph.cycles() {
        let names: Vec<String> = cycle
            .iter()
            .filter_map(|i| {
                file.environments
                    .get_index(*i)
                    .map(|(k, _)| format!("`{}`", k.as_str()))
            })
            .collect();
        let span = cycle
            .first()
            .and_then(|i| file.environments.get_index(*i))
            .and_then(|(_, e)| e.after.first().map(|a| a.span()));
        problems.error(
            "aib::cycle",
            format!(
                "environments {} wait for each other through `after`",
                names.join(", ")
            ),
            span.map(|s| (s, "part of the cycle".to_string())),
            None,
        );
    }

    // A matrix too large to expand is refused before it is expanded.
    let (bound, largest) = crate::limits::unit_bound(manifest);
    let cap = crate::limits::max_units(manifest);
    if bound > cap {
        let (why, span) = match &largest {
            Some((v, n, how)) => (
                format!(
                    "; variant `{v}` alone gives {} ({how})",
                    crate::limits::grouped(*n)
                ),
                file.variants
                    .get_key_value(v.as_str())
                    .map(|(k, _)| (k.span(), "counted before `exclude`".to_string())),
            ),
            None => (String::new(), None),
        };
        problems.error(
            "aib::too-many-units",
            format!(
                "the manifest plans up to {} units, more than the {} allowed{why}",
                crate::limits::grouped(bound),
                crate::limits::grouped(cap)
            ),
            span,
            Some("shrink the matrix, or raise `max_units` under `[pipeline]`".into()),
        );
        return Err(problems.into_error());
    }

    // Units and their layered settings.
    let mut drafts: Vec<Draft> = Vec::new();
    let mut by_pair: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
    let mut index: HashMap<UnitId, usize> = HashMap::new();
    let axis_names: Vec<Vec<String>> = file.variants.values().map(variant_axes).collect();
    let expanded: Vec<Vec<ExpandedRow>> = file
        .variants
        .values()
        .map(|v| matrix::expand_matrix(v.matrix.as_ref()))
        .collect();
    for &ei in &env_order {
        let Some((env_name, env)) = file.environments.get_index(ei) else {
            continue;
        };
        for (vi, (var_name, variant)) in file.variants.iter().enumerate() {
            if let Some(VariantEnvironments::Only(list)) = &variant.environments
                && !list.iter().any(|e| e.as_str() == env_name.as_str())
            {
                continue;
            }
            let base = layering::base_layers(file, env, env_name, variant);
            let include_span = variant
                .matrix
                .as_ref()
                .and_then(|m| m.value_span("include"))
                .unwrap_or_else(|| var_name.span());
            let mut shared: Option<Arc<Settings>> = None;
            for row in expanded.get(vi).map(Vec::as_slice).unwrap_or_default() {
                let suffix = row.id_suffix();
                let id = UnitId::new(env_name, var_name, &suffix);
                let settings = match layering::matrix_layer(&row.values) {
                    Some(Ok(layer)) => {
                        let mut s = base.clone();
                        s.merge(&layer);
                        if let Some(set) = &set {
                            s.merge(set);
                        }
                        Arc::new(s)
                    }
                    Some(Err(why)) => {
                        problems.error(
                            "aib::matrix",
                            format!("unit `{id}`: matrix values do not fit the settings they name: {why}"),
                            Some((include_span.clone(), "in this `include`".into())),
                            None,
                        );
                        continue;
                    }
                    None => shared
                        .get_or_insert_with(|| {
                            let mut s = base.clone();
                            if let Some(set) = &set {
                                s.merge(set);
                            }
                            Arc::new(s)
                        })
                        .clone(),
                };
                if index.contains_key(&id) {
                    problems.error(
                        "aib::duplicate-unit",
                        format!("two matrix rows give the same unit id `{id}`"),
                        Some((
                            variant
                                .matrix
                                .as_ref()
                                .and_then(|m| m.value_span("include"))
                                .unwrap_or_else(|| var_name.span()),
                            "values are compared as plain strings".into(),
                        )),
                        None,
                    );
                    continue;
                }
                index.insert(id.clone(), drafts.len());
                by_pair.entry((ei, vi)).or_default().push(drafts.len());
                drafts.push(Draft {
                    id,
                    env: ei,
                    variant: vi,
                    row: row.clone(),
                    suffix,
                    settings,
                });
            }
        }
    }

    // Edges.
    let mut builder = GraphBuilder::new(drafts.len());
    let mut parent_index: HashMap<(usize, usize, usize, *const Settings), ParentIndex> =
        HashMap::new();
    let mut parent_of: Vec<Option<usize>> = vec![None; drafts.len()];
    for (i, d) in drafts.iter().enumerate() {
        let Some(src) = d.settings.source.as_ref() else {
            continue;
        };
        let Some(parent_name) = src.variant.as_ref() else {
            continue;
        };
        let Some(pi) = file.variants.get_index_of(parent_name.as_str()) else {
            continue; // reported by the manifest checks
        };
        let env_name = file
            .environments
            .get_index(d.env)
            .map(|(k, _)| k.as_str())
            .unwrap_or("");
        let Some(candidates) = by_pair.get(&(d.env, pi)) else {
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
            continue;
        };
        // The parent candidates that fit the pins, and the axes both variants share, are the
        // same for every row built from the same layered settings: found once, with the
        // candidates indexed by their values of the shared axes.
        let key = (d.env, d.variant, pi, Arc::as_ptr(&d.settings));
        let parents = parent_index.entry(key).or_insert_with(|| {
            let no_axes: Vec<String> = Vec::new();
            let own_axes = axis_names.get(d.variant).unwrap_or(&no_axes);
            let parent_axes = axis_names.get(pi).unwrap_or(&no_axes);
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
                                .values
                                .get(k.as_str())
                                .is_some_and(|pv| same_value(pv, v))
                        })
                    })
                })
                .collect();
            let mut by_values: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
            for &c in &pinned {
                if let Some(values) = drafts
                    .get(c)
                    .and_then(|cand| plain_values(&cand.row, &shared))
                {
                    by_values.entry(values).or_default().push(c);
                }
            }
            ParentIndex {
                shared,
                pinned,
                by_values,
            }
        });
        // A row with every shared axis matches the candidates with the same plain values
        // (`same_value`); otherwise only the axes it has are compared.
        let matching: Vec<usize> = match plain_values(&d.row, &parents.shared) {
            Some(values) => parents.by_values.get(&values).cloned().unwrap_or_default(),
            None => parents
                .pinned
                .iter()
                .copied()
                .filter(|&c| {
                    drafts.get(c).is_some_and(|cand| {
                        parents.shared.iter().all(|a| match d.row.values.get(a) {
                            Some(mine) => cand
                                .row
                                .values
                                .get(a)
                                .is_some_and(|pv| same_value(pv, mine)),
                            None => true,
                        })
                    })
                })
                .collect(),
        };
        match matching.as_slice() {
            [one] => {
                builder.add_edge(*one, i);
                parent_of[i] = Some(*one);
            }
            _ => {
                let listed: Vec<String> = if matching.is_empty() {
                    candidates.iter()
                } else {
                    matching.iter()
                }
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
        }
    }
    for (i, d) in drafts.iter().enumerate() {
        let Some((_, env)) = file.environments.get_index(d.env) else {
            continue;
        };
        let var_name = file
            .variants
            .get_index(d.variant)
            .map(|(k, _)| k.as_str())
            .unwrap_or("");
        for a in &env.after {
            if let Some(&j) = index.get(&UnitId::new(a, var_name, &d.suffix)) {
                builder.add_edge(j, i);
            }
        }
    }
    let cycles = builder.cycles();
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
                    file.environments
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
    if problems.has_errors() {
        return Err(problems.into_error());
    }

    // Selection.
    let selected: Vec<usize> = match &matcher {
        Some(m) => drafts
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                let env = file
                    .environments
                    .get_index(d.env)
                    .map(|(k, _)| k.as_str())
                    .unwrap_or("");
                let var = file
                    .variants
                    .get_index(d.variant)
                    .map(|(k, _)| k.as_str())
                    .unwrap_or("");
                m.matches(env, var, d.id.as_str())
            })
            .map(|(i, _)| i)
            .collect(),
        None => Vec::new(),
    };
    if selected.is_empty() {
        problems.error(
            "aib::selection",
            if options.selection.is_all() {
                "the manifest gives no unit to build".to_string()
            } else {
                "the selection matches no unit".to_string()
            },
            None,
            Some("`aib plan` lists every unit".into()),
        );
        return Err(problems.into_error());
    }

    // Resolve, hash and name the selected units: each on its own, so a large plan is split
    // over the cores (each thread with its own template and file-digest caches and its own
    // problems, joined in plan order, so the result is the same as one pass).
    let templates_dir: PathBuf = manifest.templates_dir();
    let run_date = options.today.iso();
    let date_prefix = options.today.version_prefix();
    let resolve_one = |i: usize,
                       renderer: &mut Renderer,
                       digests: &mut FileDigests,
                       problems: &mut Problems|
     -> Option<(usize, Unit, Range<usize>)> {
        let d = drafts.get(i)?;
        let (env_name, var_name, anchor) = match (
            file.environments.get_index(d.env),
            file.variants.get_index(d.variant),
        ) {
            (Some((e, _)), Some((v, _))) => (e.as_str(), v.as_str(), v.span()),
            _ => return None,
        };
        let mut scope = UnitScope {
            id: &d.id,
            env: env_name,
            variant: var_name,
            pipeline: &pipeline,
            matrix: matrix_value(&d.row),
            ctx: Ctx::UNDEFINED,
            dir: &manifest.dir,
            templates_dir: &templates_dir,
            anchor: anchor.clone(),
            parent: parent_of
                .get(i)
                .copied()
                .flatten()
                .and_then(|p| drafts.get(p))
                .map(|p| p.id.clone()),
            cloud: file.cloud(),
        };
        scope.ctx = unit_context(&scope, None, None);
        let ctx = scope.ctx.clone();
        let resolver = Resolver {
            renderer: &mut *renderer,
            files: &mut *digests,
            problems: &mut *problems,
            scope,
            failed: false,
            secrets_in_scope: false,
        };
        let settings = resolver.resolve(&d.settings)?;
        let image_version = match &settings.version {
            VersionPolicy::Date => format!("{date_prefix}.*"),
            VersionPolicy::Auto => "auto".to_string(),
            VersionPolicy::Template(t) => {
                let vctx =
                    version_context(&ctx, &settings.subscription, &settings.location, &run_date);
                let span = d
                    .settings
                    .version
                    .as_ref()
                    .map(|v| v.span())
                    .unwrap_or(0..0);
                match renderer.render(t, &vctx) {
                    Ok(v) if naming::is_version_preview(&v) => v,
                    Ok(v) => {
                        problems.error(
                            "aib::version-policy",
                            format!(
                                "unit `{}`: version `{t}` gives `{v}`, not `Major.Minor.Patch`",
                                d.id
                            ),
                            Some((span, format!("gives `{v}`"))),
                            Some("e.g. `1.2.{{ run.seq }}`".into()),
                        );
                        return None;
                    }
                    Err(e) => {
                        problems.error(
                            "aib::template-render",
                            format!("unit `{}`: cannot render `version`: {e}", d.id),
                            Some((span, e.to_string())),
                            Some("available: env, variant, pipeline, matrix.<key>, subscription, location, run.seq, run.date".into()),
                        );
                        return None;
                    }
                }
            }
        };
        let hash = match input_hash::compute(
            &HashIdentity {
                environment: env_name,
                variant: var_name,
                matrix: &d.row.values,
            },
            &settings,
            digests,
        ) {
            Ok(h) => h,
            Err(why) => {
                problems.error(
                    "aib::missing-file",
                    format!("unit `{}`: {why}", d.id),
                    Some((anchor, "in this variant".into())),
                    None,
                );
                return None;
            }
        };
        let template_name = naming::template_name(&pipeline, var_name, env_name, hash.short());
        Some((
            i,
            Unit {
                id: d.id.clone(),
                environment: env_name.to_string(),
                variant: var_name.to_string(),
                matrix: d.row.values.clone(),
                settings,
                template_name,
                image_version,
                input_hash: hash,
                depends_on: Vec::new(),
                external_depends_on: Vec::new(),
                action: Action::Build,
            },
            anchor,
        ))
    };
    let resolve_all = |part: &[usize], problems: &mut Problems| {
        let mut renderer = Renderer::new();
        let mut digests = FileDigests::new(manifest.file_roots.clone());
        part.iter()
            .filter_map(|&i| resolve_one(i, &mut renderer, &mut digests, problems))
            .collect::<Vec<_>>()
    };
    let threads = std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1)
        .clamp(1, 8);
    let resolved: Vec<(usize, Unit, Range<usize>)> =
        if threads == 1 || selected.len() < PARALLEL_FROM {
            resolve_all(&selected, &mut problems)
        } else {
            let chunk = selected.len().div_ceil(threads);
            let parts: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = selected
                    .chunks(chunk)
                    .map(|part| {
                        let mut mine = Problems::new(&manifest.source);
                        s.spawn(move || {
                            let r = resolve_all(part, &mut mine);
                            (r, mine)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| match h.join() {
                        Ok(v) => v,
                        Err(panic) => std::panic::resume_unwind(panic),
                    })
                    .collect()
            });
            let mut all = Vec::with_capacity(selected.len());
            for (r, mine) in parts {
                problems.out.extend(mine.out.items);
                all.extend(r);
            }
            all
        };
    let mut units: Vec<Unit> = Vec::with_capacity(resolved.len());
    let mut new_index: HashMap<usize, usize> = HashMap::with_capacity(resolved.len());
    let mut names: HashMap<String, UnitId> = HashMap::with_capacity(resolved.len());
    for (i, unit, anchor) in resolved {
        let template_name = &unit.template_name;
        if let Some(other) = names.insert(template_name.clone(), unit.id.clone()) {
            problems.error(
                "aib::duplicate-name",
                format!(
                    "units `{other}` and `{}` get the same template name `{template_name}`",
                    unit.id
                ),
                Some((anchor, "in this variant".into())),
                Some("make their settings differ, or rename the variant".into()),
            );
        }
        new_index.insert(i, units.len());
        units.push(unit);
    }
    if problems.has_errors() {
        return Err(problems.into_error());
    }

    // The selected graph.
    let full = match builder.seal() {
        Ok(g) => g,
        Err(_) => return Err(problems.into_error()),
    };
    let mut sub = GraphBuilder::new(units.len());
    for &i in &selected {
        let Some(&ni) = new_index.get(&i) else {
            continue;
        };
        for dep in full.dependencies(i) {
            match new_index.get(&dep) {
                Some(&nd) => {
                    sub.add_edge(nd, ni);
                    if let (Some(dep_id), Some(u)) =
                        (units.get(nd).map(|u| u.id.clone()), units.get_mut(ni))
                    {
                        u.depends_on.push(dep_id);
                    }
                }
                None => {
                    if let (Some(dep_id), Some(u)) =
                        (drafts.get(dep).map(|d| d.id.clone()), units.get_mut(ni))
                    {
                        u.external_depends_on.push(dep_id);
                    }
                }
            }
        }
    }
    let graph = match sub.seal() {
        Ok(g) => g,
        Err(_) => return Err(problems.into_error()),
    };
    let critical_path = graph
        .critical_path(|i| units.get(i).map(|u| u.id.clone()))
        .into_iter()
        .filter_map(|i| units.get(i).map(|u| u.id.clone()))
        .collect();
    let index = units
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.clone(), i))
        .collect();
    Ok(Plan {
        pipeline,
        units,
        index,
        graph,
        critical_path,
        environments: env_order
            .iter()
            .filter_map(|i| {
                file.environments
                    .get_index(*i)
                    .map(|(k, _)| k.get_ref().clone())
            })
            .collect(),
    })
}

/// Axes of a variant's matrix (for an include-only matrix: the keys of its entries).
fn variant_axes(v: &aib_manifest::Variant) -> Vec<String> {
    let Some(m) = &v.matrix else {
        return Vec::new();
    };
    let axes: Vec<String> = m.axes().iter().map(|(k, _)| k.get_ref().clone()).collect();
    if !axes.is_empty() {
        return axes;
    }
    let mut keys: Vec<String> = Vec::new();
    for row in m.include() {
        for k in row.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

/// Environment indices: manifest order, each after the environments it is `after`.
fn environment_order(manifest: &Manifest) -> Vec<usize> {
    let envs = &manifest.file.environments;
    let n = envs.len();
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let next = (0..n).find(|&i| {
            !placed[i]
                && envs.get_index(i).is_some_and(|(_, e)| {
                    e.after.iter().all(|a| {
                        envs.get_index_of(a.as_str())
                            .is_none_or(|j| placed[j] || j == i)
                    })
                })
        });
        // A cycle between environments: take the first left (unit cycles are reported).
        let Some(i) = next.or_else(|| (0..n).find(|&i| !placed[i])) else {
            break;
        };
        placed[i] = true;
        order.push(i);
    }
    order
}

fn matrix_value(row: &ExpandedRow) -> Ctx {
    Ctx::from_pairs(
        row.values
            .iter()
            .map(|(k, v)| (k.as_str(), crate::templating::json_to_value(v))),
    )
}

fn version_context(base: &Ctx, subscription: &str, location: &str, run_date: &str) -> Ctx {
    minijinja::context! {
        run => minijinja::context! { seq => "*", date => run_date },
        subscription => subscription,
        location => location,
        ..base.clone()
    }
}
