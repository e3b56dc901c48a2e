//! The first phases: what was asked (`--set`, the selection), the environments in plan order,
//! and the draft units: one per environment × variant × matrix row, with layered settings.

use std::collections::HashMap;
use std::sync::Arc;

use aib_manifest::{Manifest, MatrixRow, Merge, Settings, VariantEnvironments};

use super::PlanOptions;
use crate::error::Problems;
use crate::graph::GraphBuilder;
use crate::layering;
use crate::matrix::{self, ExpandedRow};
use crate::selection::SelectionMatcher;
use crate::unit::UnitId;

/// The request, checked: the `--set` layer and the compiled selection (`None` when invalid;
/// the problem is reported).
pub(super) struct Request<'a> {
    pub set: Option<Settings>,
    pub matcher: Option<SelectionMatcher<'a>>,
    pub options: &'a PlanOptions,
}

impl<'a> Request<'a> {
    pub fn read(manifest: &Manifest, options: &'a PlanOptions, problems: &mut Problems) -> Self {
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
        check_env_names(manifest, options, problems);
        Self {
            set,
            matcher,
            options,
        }
    }
}

/// Every `--env` must name an environment.
fn check_env_names(manifest: &Manifest, options: &PlanOptions, problems: &mut Problems) {
    let env_names: Vec<String> = manifest
        .file
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
}

/// Environment indices in plan order: manifest order, each after the environments it is
/// `after`.
pub(super) struct EnvOrder(pub Vec<usize>);

/// The environments in plan order; a cycle of `after` between them is reported.
pub(super) fn order_environments(manifest: &Manifest, problems: &mut Problems) -> EnvOrder {
    let envs = &manifest.file.environments;
    let mut graph = GraphBuilder::new(envs.len());
    for (i, (_, env)) in envs.iter().enumerate() {
        for a in &env.after {
            if let Some(j) = envs.get_index_of(a.as_str()) {
                graph.add_edge(j, i);
            }
        }
    }
    for cycle in graph.cycles() {
        let names: Vec<String> = cycle
            .iter()
            .filter_map(|i| envs.get_index(*i).map(|(k, _)| format!("`{}`", k.as_str())))
            .collect();
        let span = cycle
            .first()
            .and_then(|i| envs.get_index(*i))
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
    EnvOrder(environment_order(manifest))
}

/// Refuses a matrix too large to expand before it is expanded (`[pipeline] max_units`);
/// whether the manifest is within the bound.
pub fn within_unit_bound(manifest: &Manifest, problems: &mut Problems) -> bool {
    let (bound, largest) = crate::limits::unit_bound(manifest);
    let cap = crate::limits::max_units(manifest);
    if bound <= cap {
        return true;
    }
    let (why, span) = match &largest {
        Some((v, n, how)) => (
            format!(
                "; variant `{v}` alone gives {} ({how})",
                crate::limits::grouped(*n)
            ),
            manifest
                .file
                .variants
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
    false
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

/// A unit before resolution.
pub(super) struct Draft {
    pub id: UnitId,
    pub env: usize,
    pub variant: usize,
    /// The matrix row, shared by the drafts of the row in every environment.
    pub row: Arc<Row>,
    pub settings: Arc<Settings>,
}

/// One matrix row of a variant.
pub(super) struct Row {
    pub expanded: ExpandedRow,
    /// `axis=value,...` of its ids.
    pub suffix: String,
    /// Its values, as its units hold them.
    pub values: Arc<MatrixRow>,
    /// Each key's value as a plain string (how rows are matched to their parents).
    plain: Vec<(String, String)>,
}

impl Row {
    fn new(expanded: ExpandedRow) -> Self {
        Self {
            suffix: expanded.id_suffix(),
            values: Arc::new(expanded.values.clone()),
            plain: expanded
                .values
                .iter()
                .map(|(k, v)| (k.clone(), matrix::plain(v)))
                .collect(),
            expanded,
        }
    }

    /// The plain value of a key.
    pub fn plain(&self, key: &str) -> Option<&str> {
        self.plain
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every unit of the manifest, drafted, in plan order.
pub(super) struct Drafts {
    pub units: Vec<Draft>,
    /// (environment, variant) → its units.
    pub by_pair: HashMap<(usize, usize), Vec<usize>>,
    pub index: HashMap<UnitId, usize>,
    /// Each variant's matrix axes (for an include-only matrix: the keys of its entries).
    pub axes: Vec<Vec<String>>,
}

impl Drafts {
    pub fn get(&self, i: usize) -> Option<&Draft> {
        self.units.get(i)
    }

    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// The names of a draft's environment and variant.
    pub fn names<'m>(&self, manifest: &'m Manifest, d: &Draft) -> (&'m str, &'m str) {
        let file = &manifest.file;
        (
            file.environments
                .get_index(d.env)
                .map(|(k, _)| k.as_str())
                .unwrap_or(""),
            file.variants
                .get_index(d.variant)
                .map(|(k, _)| k.as_str())
                .unwrap_or(""),
        )
    }
}

/// Drafts every unit: environments in plan order × variants built there × matrix rows, each
/// with its settings layered (rows without setting keys share one `Arc`).
pub(super) fn draft_units(
    manifest: &Manifest,
    envs: &EnvOrder,
    set: Option<&Settings>,
    problems: &mut Problems,
) -> Drafts {
    let file = &manifest.file;
    let expanded: Vec<Vec<Arc<Row>>> = file
        .variants
        .values()
        .map(|v| {
            matrix::expand_matrix(v.matrix.as_ref())
                .into_iter()
                .map(|expanded| Arc::new(Row::new(expanded)))
                .collect()
        })
        .collect();
    let rows: usize = expanded.iter().map(Vec::len).sum();
    let mut drafts = Drafts {
        units: Vec::with_capacity(rows.saturating_mul(envs.0.len())),
        by_pair: HashMap::new(),
        index: HashMap::new(),
        axes: file.variants.values().map(variant_axes).collect(),
    };
    for &ei in &envs.0 {
        for vi in 0..file.variants.len() {
            let rows = expanded.get(vi).map(Vec::as_slice).unwrap_or_default();
            draft_pair(manifest, (ei, vi), rows, set, &mut drafts, problems);
        }
    }
    drafts
}

/// Drafts the rows of one variant in one environment (none when it is not built there).
fn draft_pair(
    manifest: &Manifest,
    (ei, vi): (usize, usize),
    rows: &[Arc<Row>],
    set: Option<&Settings>,
    drafts: &mut Drafts,
    problems: &mut Problems,
) {
    let file = &manifest.file;
    let (Some((env_name, env)), Some((var_name, variant))) =
        (file.environments.get_index(ei), file.variants.get_index(vi))
    else {
        return;
    };
    if let Some(VariantEnvironments::Only(list)) = &variant.environments
        && !list.iter().any(|e| e.as_str() == env_name.as_str())
    {
        return;
    }
    let base = layering::base_layers(file, env, env_name, variant);
    let include_span = variant
        .matrix
        .as_ref()
        .and_then(|m| m.value_span("include"))
        .unwrap_or_else(|| var_name.span());
    let mut shared: Option<Arc<Settings>> = None;
    for row in rows {
        let id = UnitId::new(env_name, var_name, &row.suffix);
        let settings = match row_settings(&base, &row.expanded, set, &mut shared) {
            Ok(s) => s,
            Err(why) => {
                problems.error(
                    "aib::matrix",
                    format!("unit `{id}`: matrix values do not fit the settings they name: {why}"),
                    Some((include_span.clone(), "in this `include`".into())),
                    None,
                );
                continue;
            }
        };
        if drafts.index.contains_key(&id) {
            problems.error(
                "aib::duplicate-unit",
                format!("two matrix rows give the same unit id `{id}`"),
                Some((
                    include_span.clone(),
                    "values are compared as plain strings".into(),
                )),
                None,
            );
            continue;
        }
        let i = drafts.units.len();
        drafts.index.insert(id.clone(), i);
        drafts.by_pair.entry((ei, vi)).or_default().push(i);
        drafts.units.push(Draft {
            id,
            env: ei,
            variant: vi,
            row: row.clone(),
            settings,
        });
    }
}

/// A row's settings: the pair's layers, the row's setting keys, `--set`. Rows without setting
/// keys share one `Arc` (`shared`).
fn row_settings(
    base: &Settings,
    row: &ExpandedRow,
    set: Option<&Settings>,
    shared: &mut Option<Arc<Settings>>,
) -> Result<Arc<Settings>, serde::de::value::Error> {
    let layered = |layer: Option<&Settings>| {
        let mut s = base.clone();
        if let Some(layer) = layer {
            s.merge(layer);
        }
        if let Some(set) = set {
            s.merge(set);
        }
        Arc::new(s)
    };
    match layering::matrix_layer(&row.values) {
        Some(Ok(layer)) => Ok(layered(Some(&layer))),
        Some(Err(why)) => Err(why),
        None => Ok(shared.get_or_insert_with(|| layered(None)).clone()),
    }
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
