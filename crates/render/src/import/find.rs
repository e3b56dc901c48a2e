//! Finding the imageTemplates of a deployment template, wherever ARM would find them: in
//! `resources` as an array or, with `languageVersion` 2.0, as an object of symbolic names; inside
//! nested deployments (`Microsoft.Resources/deployments` with an inline `properties.template`,
//! at resource group or subscription scope, evaluated in the inner or the outer scope); inside
//! linked templates given by `templateLink.relativePath` (read from beside the file and
//! inlined by `links` first).
//!
//! [`scope_template`] then lifts the template that holds one imageTemplate out of the
//! deployments around it, as aib deploys it: into the unit's resource group, on its own.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::error::NotATemplate;
use super::expr::Expr;
use super::path::JsonPath;
use crate::render::{DEPLOYMENT_TEMPLATE_SCHEMA, user::is_image_template_type};

/// The resource type of nested deployments.
pub const DEPLOYMENTS_TYPE: &str = "Microsoft.Resources/deployments";

/// How deep linked and nested templates are followed.
pub const MAX_NESTING: usize = 16;

/// A resource's key in its template's `resources`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResKey {
    Index(usize),
    Symbol(String),
}

impl ResKey {
    pub fn path(&self, template: &JsonPath) -> JsonPath {
        let p = template.key("resources");
        match self {
            ResKey::Index(i) => p.index(*i),
            ResKey::Symbol(s) => p.key(s),
        }
    }

    /// The symbolic name (languageVersion 2.0), if any.
    pub fn symbol(&self) -> Option<&str> {
        match self {
            ResKey::Symbol(s) => Some(s),
            ResKey::Index(_) => None,
        }
    }
}

/// The resources of a template, keyed.
pub fn resources(t: &Map<String, Value>) -> Vec<(ResKey, &Value)> {
    match t.get("resources") {
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, r)| (ResKey::Index(i), r))
            .collect(),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, r)| (ResKey::Symbol(k.clone()), r))
            .collect(),
        _ => Vec::new(),
    }
}

pub fn resource<'a>(t: &'a Map<String, Value>, k: &ResKey) -> Option<&'a Value> {
    match (t.get("resources")?, k) {
        (Value::Array(a), ResKey::Index(i)) => a.get(*i),
        (Value::Object(o), ResKey::Symbol(s)) => o.get(s),
        _ => None,
    }
}

pub fn resource_mut<'a>(t: &'a mut Map<String, Value>, k: &ResKey) -> Option<&'a mut Value> {
    match (t.get_mut("resources")?, k) {
        (Value::Array(a), ResKey::Index(i)) => a.get_mut(*i),
        (Value::Object(o), ResKey::Symbol(s)) => o.get_mut(s),
        _ => None,
    }
}

/// Removes resources; array indexes refer to the list before removal.
pub fn remove_resources(t: &mut Map<String, Value>, keys: &[ResKey]) {
    match t.get_mut("resources") {
        Some(Value::Array(a)) => {
            let mut i = 0;
            a.retain(|_| {
                let keep = !keys.contains(&ResKey::Index(i));
                i += 1;
                keep
            });
        }
        Some(Value::Object(o)) => o.retain(|k, _| !keys.contains(&ResKey::Symbol(k.clone()))),
        _ => {}
    }
}

pub fn type_of(r: &Value) -> &str {
    r.get("type").and_then(Value::as_str).unwrap_or("")
}

pub fn is_deployment(r: &Value) -> bool {
    type_of(r).eq_ignore_ascii_case(DEPLOYMENTS_TYPE)
}

/// Whether a nested deployment evaluates its template in its own (inner) scope.
pub fn inner_scope(dep: &Value) -> bool {
    dep.pointer("/properties/expressionEvaluationOptions/scope")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("inner"))
}

/// One nested deployment on the way to an imageTemplate.
#[derive(Clone, Debug)]
pub struct Hop {
    pub key: ResKey,
}

/// One imageTemplate of the file: the nested deployments leading to the template that holds
/// it, and its key there.
#[derive(Clone, Debug)]
pub struct Found {
    pub chain: Vec<Hop>,
    pub key: ResKey,
}

impl Found {
    /// Path of the template holding the imageTemplate, in the original file.
    pub fn template_path(&self) -> JsonPath {
        let mut p = JsonPath::root();
        for h in &self.chain {
            p = h.key.path(&p).key("properties").key("template");
        }
        p
    }

    pub fn resource_path(&self) -> JsonPath {
        self.key.path(&self.template_path())
    }
}

/// Every imageTemplate of a deployment template, in document order.
pub fn image_templates(t: &Map<String, Value>) -> Vec<Found> {
    let mut out = Vec::new();
    walk(t, &mut Vec::new(), &mut out, 0);
    out
}

fn walk(t: &Map<String, Value>, chain: &mut Vec<Hop>, out: &mut Vec<Found>, depth: usize) {
    for (k, r) in resources(t) {
        if is_image_template_type(type_of(r)) {
            out.push(Found {
                chain: chain.clone(),
                key: k,
            });
        } else if is_deployment(r)
            && depth < MAX_NESTING
            && let Some(Value::Object(inner)) = r.pointer("/properties/template")
        {
            chain.push(Hop { key: k });
            walk(inner, chain, out, depth + 1);
            chain.pop();
        }
    }
}

/// A value the enclosing deployment passed for a parameter of the lifted template.
#[derive(Clone, Debug, PartialEq)]
pub enum Passed {
    /// A value aib can write into the manifest as it is.
    Value(Value),
    /// An expression of the enclosing template aib cannot evaluate offline.
    Unresolved { path: JsonPath, text: String },
}

/// The template that holds one imageTemplate, lifted out of the deployments around it.
#[derive(Clone, Debug)]
pub struct Scoped {
    pub template: Map<String, Value>,
    pub key: ResKey,
    /// Path of `template`'s resources and outputs in the original file.
    pub resources_at: JsonPath,
    /// Path of the template whose `parameters` and `variables` `template` carries.
    pub parameters_at: JsonPath,
    /// Values the enclosing deployments passed for parameters (inner scope).
    pub passed: IndexMap<String, Passed>,
    /// Resource group and subscription the innermost deployment targeted, as written.
    pub resource_group: Option<(JsonPath, Value)>,
    pub subscription: Option<(JsonPath, Value)>,
    /// How many resources of the enclosing templates aib does not deploy.
    pub left_behind: usize,
    /// For `resources` as a list: the original index of each resource still there.
    pub positions: Vec<usize>,
}

impl Scoped {
    /// The key a resource of the original now has.
    pub fn current(&self, original: &ResKey) -> ResKey {
        match original {
            ResKey::Index(i) => {
                ResKey::Index(self.positions.iter().position(|p| p == i).unwrap_or(*i))
            }
            other => other.clone(),
        }
    }

    /// A path inside the lifted template, as a path into the original file.
    pub fn original(&self, p: &JsonPath) -> JsonPath {
        use super::path::Step;
        let mut steps = p.steps().to_vec();
        if let [Step::Key(r), Step::Index(i), ..] = steps.as_mut_slice()
            && r == "resources"
        {
            *i = self.positions.get(*i).copied().unwrap_or(*i);
        }
        let p = JsonPath::root().join_steps(&steps);
        match p.first_key() {
            Some("parameters" | "variables" | "functions" | "definitions") => {
                self.parameters_at.join(&p)
            }
            _ => self.resources_at.join(&p),
        }
    }
}

/// What a template's own parameters and variables resolve to, for the values it passes on.
struct Context<'a> {
    template: &'a Map<String, Value>,
    passed: &'a IndexMap<String, Passed>,
}

impl Context<'_> {
    fn parameter(&self, name: &str, depth: usize) -> Option<Value> {
        if let Some((_, p)) = self
            .passed
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            return match p {
                Passed::Value(v) => Some(v.clone()),
                Passed::Unresolved { .. } => None,
            };
        }
        let decl = self
            .template
            .get("parameters")
            .and_then(Value::as_object)?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))?
            .1;
        self.resolve(decl.get("defaultValue")?, depth + 1)
    }

    fn variable(&self, name: &str, depth: usize) -> Option<Value> {
        let v = self
            .template
            .get("variables")
            .and_then(Value::as_object)?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))?
            .1;
        self.resolve(v, depth + 1)
    }

    /// A literal value: strings that are `parameters('x')` or `variables('x')` of literals
    /// resolved, any other expression unresolved (`None`).
    fn resolve(&self, v: &Value, depth: usize) -> Option<Value> {
        if depth > 32 {
            return None;
        }
        match v {
            Value::String(s) => {
                if let Some(lit) = s.trim_start().strip_prefix("[[") {
                    return Some(Value::String(format!("[{lit}")));
                }
                match Expr::of(s) {
                    None => Some(v.clone()),
                    Some(e) => {
                        if let Some(p) = e.reference_to("parameters") {
                            self.parameter(p, depth)
                        } else if let Some(x) = e.reference_to("variables") {
                            self.variable(x, depth)
                        } else {
                            None
                        }
                    }
                }
            }
            Value::Array(a) => a
                .iter()
                .map(|x| self.resolve(x, depth + 1))
                .collect::<Option<Vec<_>>>()
                .map(Value::Array),
            Value::Object(o) => {
                if o.contains_key("copy") {
                    return None;
                }
                o.iter()
                    .map(|(k, x)| {
                        if Expr::of(k).is_some() {
                            return None;
                        }
                        Some((k.clone(), self.resolve(x, depth + 1)?))
                    })
                    .collect::<Option<Map<_, _>>>()
                    .map(Value::Object)
            }
            other => Some(other.clone()),
        }
    }
}

/// A deployment's target (`resourceGroup`, `subscriptionId`), where it is written and its value.
type Target = Option<(JsonPath, Value)>;

/// Resolves the targets' values in `ctx`, where they resolve.
fn resolve_targets(ctx: &Context<'_>, targets: [&mut Target; 2]) {
    for slot in targets {
        if let Some((p, v)) = slot.take() {
            *slot = Some((p, ctx.resolve(&v, 0).unwrap_or(v)));
        }
    }
}

/// A template lifted out of deployments becomes a deployment template of its own; lifted out of
/// an outer-scope deployment, it keeps only the parameters and variables it uses.
fn lifted(cur: &mut Map<String, Value>, doc: &Map<String, Value>, found: &Found) {
    cur.insert("$schema".into(), DEPLOYMENT_TEMPLATE_SCHEMA.into());
    if found
        .chain
        .iter()
        .any(|h| resource(doc, &h.key).is_some_and(|d| !inner_scope(d)))
    {
        prune_unused(cur);
    }
}

/// Lifts the template holding `found` out of its enclosing deployments.
pub fn scope_template(doc: &Map<String, Value>, found: &Found) -> Result<Scoped, NotATemplate> {
    let mut cur = doc.clone();
    let mut at = JsonPath::root();
    let mut params_at = JsonPath::root();
    let mut passed: IndexMap<String, Passed> = IndexMap::new();
    let mut resource_group = None;
    let mut subscription = None;
    let mut left_behind = 0;
    for hop in &found.chain {
        let dep_path = hop.key.path(&at);
        let dep =
            resource(&cur, &hop.key)
                .cloned()
                .ok_or_else(|| NotATemplate::DeploymentGone {
                    at: dep_path.clone(),
                })?;
        if dep.get("copy").is_some() {
            return Err(NotATemplate::DeploymentCopyLoop { at: dep_path });
        }
        left_behind += resources(&cur).len().saturating_sub(1);
        let Some(Value::Object(inner)) = dep.pointer("/properties/template").cloned() else {
            return Err(NotATemplate::NoInlineTemplate { at: dep_path });
        };
        for (k, slot) in [
            ("resourceGroup", &mut resource_group),
            ("subscriptionId", &mut subscription),
        ] {
            if let Some(v) = dep.get(k) {
                *slot = Some((dep_path.key(k), v.clone()));
            }
        }
        let inner_at = dep_path.key("properties").key("template");
        if inner_scope(&dep) {
            let ctx = Context {
                template: &cur,
                passed: &passed,
            };
            let next = passed_values(&dep, &dep_path, &ctx);
            // Values passed to the enclosing template resolve the deployment's target too.
            resolve_targets(&ctx, [&mut resource_group, &mut subscription]);
            passed = next;
            cur = inner;
            params_at = inner_at.clone();
        } else {
            let ctx = Context {
                template: &cur,
                passed: &passed,
            };
            resolve_targets(&ctx, [&mut resource_group, &mut subscription]);
            cur = with_outer_scope(inner, &cur);
        }
        at = inner_at;
    }
    if !found.chain.is_empty() {
        lifted(&mut cur, doc, found);
    }
    let positions = match cur.get("resources") {
        Some(Value::Array(a)) => (0..a.len()).collect(),
        _ => Vec::new(),
    };
    Ok(Scoped {
        positions,
        template: cur,
        key: found.key.clone(),
        resources_at: at,
        parameters_at: params_at,
        passed,
        resource_group,
        subscription,
        left_behind,
    })
}

/// What a nested deployment evaluated in its inner scope passes for each parameter.
fn passed_values(dep: &Value, dep_path: &JsonPath, ctx: &Context) -> IndexMap<String, Passed> {
    let mut out = IndexMap::new();
    if let Some(Value::Object(ps)) = dep.pointer("/properties/parameters") {
        for (name, given) in ps {
            let value = match given.get("value") {
                Some(v) if given.as_object().is_some_and(|o| o.len() == 1) => ctx.resolve(v, 0),
                _ => None,
            };
            let passed = match value {
                Some(v) => Passed::Value(v),
                None => Passed::Unresolved {
                    path: dep_path.key("properties").key("parameters").key(name),
                    text: compact(given),
                },
            };
            out.insert(name.clone(), passed);
        }
    }
    out
}

/// A nested template evaluated in the outer scope, with the outer template's parameters,
/// variables and functions (which its expressions read).
fn with_outer_scope(
    mut inner: Map<String, Value>,
    outer: &Map<String, Value>,
) -> Map<String, Value> {
    for k in ["parameters", "variables", "functions", "definitions"] {
        match outer.get(k) {
            Some(v) => {
                inner.insert(k.into(), v.clone());
            }
            None => {
                inner.shift_remove(k);
            }
        }
    }
    if let Some(lv) = outer.get("languageVersion") {
        inner.entry("languageVersion").or_insert(lv.clone());
    }
    inner
}

/// JSON text of a value, one line, cut to 200 characters.
pub fn compact(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    if s.chars().count() > 200 {
        let mut t: String = s.chars().take(200).collect();
        t.push('…');
        t
    } else {
        s
    }
}

/// Names that `call(...)` reads in the strings of `v`: `parameters('x')` → x.
pub fn referenced(v: &Value, function: &str, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(e) = Expr::of(s) {
                e.walk(&mut |x| {
                    if let Some(n) = x.reference_to(function)
                        && !out.iter().any(|o| o.eq_ignore_ascii_case(n))
                    {
                        out.push(n.to_string());
                    }
                });
            }
        }
        Value::Array(a) => a.iter().for_each(|x| referenced(x, function, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            referenced(&Value::String(k.clone()), function, out);
            referenced(x, function, out);
        }),
        _ => {}
    }
}

/// Drops the parameters and variables a template lifted from an outer-scope deployment took
/// along but does not use.
fn prune_unused(t: &mut Map<String, Value>) {
    let mut body = Map::new();
    for k in ["resources", "outputs", "functions"] {
        if let Some(v) = t.get(k) {
            body.insert(k.into(), v.clone());
        }
    }
    let vars = t
        .get("variables")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut used_vars = Vec::new();
    referenced(&Value::Object(body.clone()), "variables", &mut used_vars);
    let mut i = 0;
    while i < used_vars.len() {
        if let Some((_, v)) = vars
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&used_vars[i]))
        {
            referenced(v, "variables", &mut used_vars);
        }
        i += 1;
    }
    let kept_vars: Map<String, Value> = vars
        .into_iter()
        .filter(|(k, _)| k == "copy" || used_vars.iter().any(|u| u.eq_ignore_ascii_case(k)))
        .collect();
    let mut used_params = Vec::new();
    referenced(&Value::Object(body), "parameters", &mut used_params);
    referenced(
        &Value::Object(kept_vars.clone()),
        "parameters",
        &mut used_params,
    );
    if let Some(Value::Object(ps)) = t.get("parameters") {
        let mut i = 0;
        while i < used_params.len() {
            if let Some((_, d)) = ps
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&used_params[i]))
            {
                referenced(d, "parameters", &mut used_params);
            }
            i += 1;
        }
    }
    if let Some(Value::Object(ps)) = t.get_mut("parameters") {
        ps.retain(|k, _| used_params.iter().any(|u| u.eq_ignore_ascii_case(k)));
    }
    if t.contains_key("variables") {
        t.insert("variables".into(), Value::Object(kept_vars));
    }
}
