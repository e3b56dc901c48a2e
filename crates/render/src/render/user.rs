//! User templates: `*.json.j2` rendered by minijinja, `*.json` used as written.
//!
//! # Context of `*.json.j2` templates
//!
//! | name | value |
//! |---|---|
//! | `pipeline`, `env`, `variant` | names |
//! | `matrix` | the unit's matrix row (`matrix.release`) |
//! | `unit` | `{ id, template_name, deployment_name, input_hash, image_version }` (`image_version` is the version to publish, or none) |
//! | `settings` | every resolved setting (`settings.vm_size`, `settings.gallery.name`, ...; secrets as references) |
//! | `subscription`, `location`, `resource_group`, `identity` | shortcuts into `settings` |
//! | `parameters` | the unit's `parameters` |
//! | `secrets` | by name, a placeholder for each secret: printed into a string (`"{{ secrets.pw }}"`, also through `sh_quote`, `ps_quote`; `{{ secrets.pw \| tojson }}` as a whole value) it becomes a `securestring` parameter of the deployment; any other filter, test or condition on it is an error |
//! | `image` | `{ gallery_image_id, version, version_id, definition, gallery, run_output_name }` |
//! | `tags` | the manifest tags plus `aib.pipeline`, `aib.unit`, `aib.inputHash` |
//! | `source`, `customize`, `validate`, `distribute` | the built-in rendering of these properties, AIB-shaped (`{{ customize \| tojson }}`) |
//! | `builtin` | the whole built-in imageTemplates resource |
//! | `api_version` | the api-version the built-in template uses |
//!
//! Output is JSON-aware: a string printed with `{{ x }}` is escaped for use inside a JSON string
//! (`"{{ settings.location }}"`); lists, maps, numbers and booleans print as JSON; `tojson`
//! output is printed as is.
//!
//! Errors name the unit, the template file (relative to the manifest, e.g.
//! `templates/app.json.j2`) and the line: for an undefined name or a syntax error the line of the
//! template (of the `{% include %}`d file when it happened there, naming the including file and
//! line too); for output that is not JSON the line and column of the rendered output, which
//! keeps the template's line breaks, quoted. Secret values in an error are masked.

use std::path::{Path, PathBuf};

use aib_manifest::FileRoots;
use aib_planner::{LocalFile, Unit};
use indexmap::IndexMap;
use minijinja::value::Kwargs;
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value as J};
use serde_json::{Map, Value, json};

use super::builtin::BuiltinParts;
use super::{
    DEPLOYMENT_TEMPLATE_SCHEMA, IMAGE_TEMPLATE_API_VERSION, IMAGE_TEMPLATE_TYPE, RenderError,
    RenderedDeployment, Renderer, SECRET_MASK, deployment_name, parameters_file,
};

/// The minijinja environment of user templates: strict undefined, debug info, templates loaded
/// from `templates_dir`, JSON-aware output.
pub(crate) fn environment(templates_dir: &Path, roots: FileRoots) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_debug(true);
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.remove_global("debug");
    aib_planner::templating::add_secret_filters(&mut env, true);
    let dir: PathBuf = templates_dir.to_path_buf();
    // Templates and what they `{% include %}` come from the manifest's folder or
    // `allow_paths` only, symlinks resolved (an absolute name or `..` is checked the same way).
    env.set_loader(move |name| {
        let file = match roots.check(&dir.join(name), name) {
            Ok(f) => f,
            Err(_) if !dir.join(name).exists() => return Ok(None),
            Err(why) => {
                return Err(minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    why.to_string(),
                ));
            }
        };
        match std::fs::read_to_string(&file.real) {
            // A secret may only be printed (see `aib_planner::secret_use`).
            Ok(s) => match aib_planner::secret_use::check(&s) {
                Some(m) => Err(minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    m.to_string(),
                )),
                None => Ok(Some(s)),
            },
            Err(e) => Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("cannot read template `{name}`: {e}"),
            )),
        }
    });
    env.set_formatter(|out, _state, value| {
        let r = if value.is_safe() {
            write!(out, "{value}")
        } else if let Some(s) = value.as_str() {
            let quoted = serde_json::to_string(s).unwrap_or_default();
            out.write_str(quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or(""))
        } else if value.is_none() {
            out.write_str("null")
        } else {
            let kw = Kwargs::from_iter(std::iter::empty::<(&str, J)>());
            let j = minijinja::filters::tojson(value, None, kw)?;
            write!(out, "{j}")
        };
        r.map_err(|_| minijinja::Error::new(ErrorKind::WriteFailure, "cannot write output"))
    });
    env
}

/// Fuel of one user template's render (minijinja: one per instruction, one per 64 bytes
/// built, a quarter per byte serialized by `tojson`): enough to print a 4 MiB deployment.
pub const TEMPLATE_FUEL: u64 = 2_000_000;
/// Most bytes a user template may render to: ARM refuses a deployment over 4 MiB.
pub const MAX_TEMPLATE_OUTPUT: usize = 4 << 20;

/// Output that refuses to grow past [`MAX_TEMPLATE_OUTPUT`].
struct CappedOutput(Vec<u8>);

impl std::io::Write for CappedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_TEMPLATE_OUTPUT {
            return Err(std::io::Error::other("output over the cap"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders `tmpl` within the fuel and output bounds; a bound hit is an error saying which.
fn render_bounded(tmpl: &minijinja::Template<'_, '_>, ctx: J) -> Result<String, minijinja::Error> {
    let mut out = CappedOutput(Vec::new());
    match tmpl.render_captured_to(ctx, &mut out) {
        Ok(_) => Ok(String::from_utf8_lossy(&out.0).into_owned()),
        Err(e) if e.kind() == ErrorKind::WriteFailure => Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "the template renders more than {MAX_TEMPLATE_OUTPUT} bytes; ARM refuses a deployment over 4 MiB"
            ),
        )),
        Err(e) => match aib_planner::templating::bound_message(&e, TEMPLATE_FUEL) {
            Some(m) => Err(minijinja::Error::new(ErrorKind::InvalidOperation, m)),
            None => Err(e),
        },
    }
}

/// serde_json → minijinja.
pub(crate) fn to_j(v: &Value) -> J {
    match v {
        Value::Null => J::from(()),
        Value::Bool(b) => J::from(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                J::from(i)
            } else if let Some(u) = n.as_u64() {
                J::from(u)
            } else {
                J::from(n.as_f64().unwrap_or_default())
            }
        }
        Value::String(s) => J::from(s.as_str()),
        Value::Array(a) => J::from(a.iter().map(to_j).collect::<Vec<_>>()),
        Value::Object(o) => {
            let m: IndexMap<J, J> = o
                .iter()
                .map(|(k, v)| (J::from(k.as_str()), to_j(v)))
                .collect();
            J::from(m)
        }
    }
}

/// `secrets` of the context: each secret's placeholder (never its value: the deployment gets
/// it as a secure parameter, see `secure`).
fn secret_values(unit: &Unit) -> Map<String, Value> {
    unit.settings
        .secrets
        .keys()
        .map(|name| {
            (
                name.clone(),
                Value::String(aib_planner::secret_ref::placeholder(name)),
            )
        })
        .collect()
}

/// The documented context (as JSON).
pub fn context(unit: &Unit, built: &BuiltinParts) -> Value {
    let s = &unit.settings;
    let settings = serde_json::to_value(s).unwrap_or(Value::Null);
    let matrix = serde_json::to_value(&*unit.matrix).unwrap_or(Value::Null);
    json!({
        "pipeline": built.tags.get("aib.pipeline").cloned().unwrap_or(Value::Null),
        "env": unit.environment,
        "variant": unit.variant,
        "matrix": matrix,
        "unit": {
            "id": unit.id.as_str(),
            "template_name": built.template_name,
            "deployment_name": deployment_name(&built.template_name),
            "input_hash": built.input_hash,
            "image_version": built.image_version,
        },
        "settings": settings,
        "subscription": s.subscription,
        "location": s.location,
        "resource_group": s.resource_group,
        "identity": s.identity,
        "parameters": s.parameters,
        "secrets": secret_values(unit),
        "image": {
            "gallery_image_id": built.gallery_image_id,
            "version": built.image_version,
            "version_id": built.image_version_id,
            "definition": s.image_definition,
            "gallery": s.gallery.name,
            "run_output_name": built.template_name,
        },
        "tags": built.tags,
        "source": built.source,
        "customize": built.customize,
        "validate": built.validate,
        "distribute": built.distribute,
        "builtin": built.resource,
        "api_version": IMAGE_TEMPLATE_API_VERSION,
    })
}

/// Renders a unit with its template file.
pub(crate) fn render_file(
    renderer: &Renderer,
    unit: &Unit,
    built: &BuiltinParts,
    file: &LocalFile,
) -> Result<RenderedDeployment, RenderError> {
    let uid = unit.id.to_string();
    let rendered = file.path.ends_with(".j2");
    let shown = renderer.shown_template(&file.path);
    let text: String = if rendered {
        let fail = |e: minijinja::Error| jinja_error(renderer, &uid, &file.path, &e);
        let tmpl = renderer.env.get_template(&file.path).map_err(fail)?;
        let ctx = to_j(&context(unit, built));
        render_bounded(&tmpl, ctx).map_err(fail)?
    } else {
        renderer
            .read_text(unit, &file.resolved, &file.path)?
            .to_string()
    };
    // ARM reads JSON with comments; serde_json's message is kept for what is not JSON at all.
    let doc: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => crate::import::read::parse(&text).map_err(|_| RenderError::Json {
            unit: uid.clone(),
            file: shown.clone(),
            line: e.line(),
            column: e.column(),
            message: json_message(&e),
            rendered,
            excerpt: mask(&excerpt(&text, e.line())),
        })?,
    };
    finish(unit, built, doc, &shown)
}

/// serde_json's message without its ` at line L column C` suffix.
fn json_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    }
}

/// Line `line` (1-based) of `text`, trimmed and cut to 120 characters.
fn excerpt(text: &str, line: usize) -> String {
    let l = text
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .trim();
    let mut out: String = l.chars().take(120).collect();
    if l.chars().count() > 120 {
        out.push('…');
    }
    out
}

/// `text` with every secret placeholder shown as `***` (errors may quote rendered output or
/// minijinja's view of the context; secret values are never in either).
fn mask(text: &str) -> String {
    if !aib_planner::secret_ref::has_placeholder(text) {
        return text.to_string();
    }
    aib_planner::secret_ref::substitute::<()>(text, |_| Ok(SECRET_MASK.to_string()))
        .unwrap_or_default()
}

fn jinja_error(renderer: &Renderer, unit: &str, file: &str, e: &minijinja::Error) -> RenderError {
    // An error inside an `{% include %}`d template comes wrapped: report where it happened.
    let mut inner = e;
    while let Some(next) =
        std::error::Error::source(inner).and_then(|s| s.downcast_ref::<minijinja::Error>())
    {
        if next.name().is_none() && next.line().is_none() {
            break;
        }
        inner = next;
    }
    let mut message = inner.kind().to_string();
    if let Some(d) = inner.detail() {
        message.push_str(": ");
        message.push_str(d);
    }
    let mut chain = Vec::new();
    let mut outer = e;
    while !std::ptr::eq(outer, inner) {
        if let Some(name) = outer.name() {
            let at = outer
                .line()
                .map(|l| format!(" line {l}"))
                .unwrap_or_default();
            chain.push(format!("`{}`{at}", renderer.shown_template(name)));
        }
        match std::error::Error::source(outer).and_then(|s| s.downcast_ref::<minijinja::Error>()) {
            Some(next) => outer = next,
            None => break,
        }
    }
    if !chain.is_empty() {
        message.push_str(" (included from ");
        message.push_str(&chain.join(", included from "));
        message.push(')');
    }
    let mut debug = inner.display_debug_info().to_string();
    if debug.trim().is_empty() {
        debug = e.display_debug_info().to_string();
    }
    RenderError::Template {
        unit: unit.to_string(),
        file: renderer.shown_template(inner.name().unwrap_or(file)),
        line: inner.line(),
        message: mask(&message),
        debug: mask(&debug),
    }
}

/// Whether a resource `type` names an image template (some quickstarts say only
/// `Microsoft.VirtualMachineImages`).
pub fn is_image_template_type(t: &str) -> bool {
    t.eq_ignore_ascii_case(IMAGE_TEMPLATE_TYPE)
        || t.eq_ignore_ascii_case("Microsoft.VirtualMachineImages")
}

/// `[parameters('X')]` → `X`.
pub fn parameter_ref(expr: &str) -> Option<&str> {
    let inner = expr
        .trim()
        .strip_prefix("[parameters(")?
        .strip_suffix(")]")?
        .trim();
    inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\''))
}

/// Turns a parsed template (deployment or bare imageTemplate body) into the unit's deployment.
fn finish(
    unit: &Unit,
    built: &BuiltinParts,
    doc: Value,
    file: &str,
) -> Result<RenderedDeployment, RenderError> {
    let invalid = |message: String| RenderError::Invalid {
        unit: unit.id.to_string(),
        file: file.to_string(),
        message,
    };
    let name = built.template_name.as_str();
    let mut template = deployment_template(doc, name).map_err(invalid)?;
    let (resource, name_param) =
        image_template_resource(&mut template, name, &built.tags).map_err(invalid)?;
    // Values of declared ARM parameters.
    let declared: Vec<(String, Value)> = template
        .get("parameters")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let (values, secret_parameters) =
        parameter_values(unit, name, name_param.as_deref(), &declared).map_err(invalid)?;
    let image_template = inspected(&resource, &declared, &values, &secret_parameters);
    Ok(RenderedDeployment {
        unit: unit.id.to_string(),
        template_name: name.to_string(),
        deployment_name: deployment_name(name),
        template: Value::Object(template),
        parameters: parameters_file(&values),
        image_template,
        secret_parameters,
        origin: file.to_string(),
    })
}

/// A deployment template as is, or a bare imageTemplate body wrapped in one.
fn deployment_template(doc: Value, name: &str) -> Result<Map<String, Value>, String> {
    let Value::Object(mut doc) = doc else {
        return Err("is not a JSON object".into());
    };
    if doc.contains_key("resources") {
        Ok(doc)
    } else if doc.contains_key("properties") {
        // A bare imageTemplate body: wrap it.
        doc.insert("type".into(), IMAGE_TEMPLATE_TYPE.into());
        doc.insert("name".into(), name.into());
        if !doc.contains_key("apiVersion") {
            doc.insert("apiVersion".into(), IMAGE_TEMPLATE_API_VERSION.into());
        }
        let mut t = Map::new();
        t.insert("$schema".into(), DEPLOYMENT_TEMPLATE_SCHEMA.into());
        t.insert("contentVersion".into(), "1.0.0.0".into());
        t.insert("parameters".into(), json!({}));
        t.insert("resources".into(), Value::Array(vec![Value::Object(doc)]));
        Ok(t)
    } else {
        Err(
            "is neither a deployment template (`resources`) nor an imageTemplate body (`properties`)"
                .into(),
        )
    }
}

/// The one imageTemplates resource (`resources` is a list, or with languageVersion 2.0 an
/// object of symbolic names), named and tagged for the unit; and the parameter that names it,
/// when its name is `[parameters('x')]`.
fn image_template_resource(
    template: &mut Map<String, Value>,
    name: &str,
    tags: &Map<String, Value>,
) -> Result<(Value, Option<String>), String> {
    let found: Vec<&mut Value> = match template.get_mut("resources") {
        Some(Value::Array(list)) => list.iter_mut().filter(|r| is_template(r)).collect(),
        Some(Value::Object(map)) => map.values_mut().filter(|r| is_template(r)).collect(),
        _ => {
            return Err(
                "`resources` is neither a list nor (languageVersion 2.0) an object of symbolic names"
                    .into(),
            );
        }
    };
    let mut found = found.into_iter();
    let resource = match (found.next(), found.next()) {
        (Some(r), None) => r,
        (Some(_), Some(_)) => {
            return Err("declares more than one imageTemplates resource".into());
        }
        (None, _) => {
            return Err(format!("declares no `{IMAGE_TEMPLATE_TYPE}` resource"));
        }
    };
    let mut name_param: Option<String> = None;
    if let Value::Object(r) = resource {
        r.insert("type".into(), IMAGE_TEMPLATE_TYPE.into());
        match r
            .get("name")
            .and_then(Value::as_str)
            .and_then(parameter_ref)
        {
            Some(p) => name_param = Some(p.to_string()),
            None => {
                r.insert("name".into(), name.into());
            }
        }
        add_aib_tags(r, tags);
    }
    Ok((resource.clone(), name_param))
}

/// The value of each declared ARM parameter (the template name, the manifest's `parameters`,
/// a secret's placeholder, the location, the api-version), and the secret ones; every one
/// without a value or a default is an error.
fn parameter_values(
    unit: &Unit,
    name: &str,
    name_param: Option<&str>,
    declared: &[(String, Value)],
) -> Result<(IndexMap<String, Value>, Vec<String>), String> {
    let s = &unit.settings;
    let mut values: IndexMap<String, Value> = IndexMap::new();
    let mut secret_parameters = Vec::new();
    let mut missing = Vec::new();
    for (p, decl) in declared {
        let has_default = optional_parameter(decl);
        if name_param == Some(p.as_str()) || p == "imageTemplateName" {
            values.insert(p.clone(), name.into());
        } else if let Some(v) = s.parameters.get(p) {
            values.insert(p.clone(), v.clone());
        } else if s.secrets.contains_key(p) {
            // Made secure, with its value filled in only for Azure (see `secure`).
            secret_parameters.push(p.clone());
            values.insert(p.clone(), aib_planner::secret_ref::placeholder(p).into());
        } else if p.eq_ignore_ascii_case("svclocation") || p == "location" {
            values.insert(p.clone(), s.location.clone().into());
        } else if (p == "api-version" || p == "apiVersion") && !has_default {
            // A pinned api-version (a default) stays; none pinned gets the current one.
            values.insert(p.clone(), IMAGE_TEMPLATE_API_VERSION.into());
        } else if !has_default {
            missing.push(p.clone());
        }
    }
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
        return Err(format!(
            "ARM parameter(s) {} have no value; set them under `parameters` in the manifest",
            list.join(", ")
        ));
    }
    Ok((values, secret_parameters))
}

/// The resource as rendered, with `[parameters('x')]` values (or their `defaultValue`)
/// substituted for inspection and lint; secret parameters stay expressions.
fn inspected(
    resource: &Value,
    declared: &[(String, Value)],
    values: &IndexMap<String, Value>,
    secret_parameters: &[String],
) -> Value {
    let mut inspect = values.clone();
    for (p, decl) in declared {
        if !inspect.contains_key(p)
            && !secret_parameters.contains(p)
            && let Some(v) = decl.get("defaultValue")
        {
            inspect.insert(p.clone(), v.clone());
        }
    }
    for p in secret_parameters {
        inspect.shift_remove(p);
    }
    substitute(resource, &inspect)
}

/// Whether an ARM parameter needs no value: it has a `defaultValue`, or (languageVersion 2.0)
/// it is `nullable`.
pub fn optional_parameter(decl: &Value) -> bool {
    decl.get("defaultValue").is_some() || decl.get("nullable") == Some(&Value::Bool(true))
}

fn is_template(r: &Value) -> bool {
    r.get("type")
        .and_then(Value::as_str)
        .is_some_and(is_image_template_type)
}

/// The `aib.*` tags of a unit (what gc and crash recovery look for).
fn aib_tags(tags: &Map<String, Value>) -> Vec<(&String, &Value)> {
    tags.iter().filter(|(k, _)| k.starts_with("aib.")).collect()
}

/// Adds aib's tags to a user template's imageTemplate (its `tags`) and to the artifacts of its
/// distributors (`artifactTags`), as the built-in template has them; everything else stays as
/// written. Tags given as an ARM expression are merged with `union`.
fn add_aib_tags(r: &mut Map<String, Value>, tags: &Map<String, Value>) {
    let ours = aib_tags(tags);
    if ours.is_empty() {
        return;
    }
    merge_tags(r, "tags", &ours);
    if let Some(Value::Array(dist)) = r
        .get_mut("properties")
        .and_then(|p| p.get_mut("distribute"))
    {
        for d in dist.iter_mut() {
            if let Value::Object(d) = d {
                merge_tags(d, "artifactTags", &ours);
            }
        }
    }
}

fn merge_tags(o: &mut Map<String, Value>, key: &str, ours: &[(&String, &Value)]) {
    match o.get_mut(key) {
        None | Some(Value::Null) => {
            let m: Map<String, Value> = ours
                .iter()
                .map(|(k, v)| ((*k).clone(), (*v).clone()))
                .collect();
            o.insert(key.into(), Value::Object(m));
        }
        Some(Value::Object(m)) => {
            for (k, v) in ours {
                m.insert((*k).clone(), (*v).clone());
            }
        }
        Some(Value::String(s)) => {
            let t = s.trim();
            if let Some(inner) = t
                .strip_prefix('[')
                .and_then(|x| x.strip_suffix(']'))
                .filter(|_| !t.starts_with("[["))
            {
                let args: Vec<String> = ours
                    .iter()
                    .flat_map(|(k, v)| [arm_string(k), arm_string(v.as_str().unwrap_or(""))])
                    .collect();
                *s = format!(
                    "[union(coalesce({inner}, createObject()), createObject({}))]",
                    args.join(", ")
                );
            }
        }
        Some(_) => {}
    }
}

/// An ARM expression string literal.
fn arm_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Replaces strings that are exactly `[parameters('x')]` by x's value.
pub fn substitute(v: &Value, values: &IndexMap<String, Value>) -> Value {
    match v {
        Value::String(s) => match parameter_ref(s).and_then(|p| values.get(p)) {
            Some(x) => x.clone(),
            None => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, values)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let k = match parameter_ref(k)
                        .and_then(|p| values.get(p))
                        .and_then(Value::as_str)
                    {
                        Some(s) => s.to_string(),
                        None => k.clone(),
                    };
                    (k, substitute(x, values))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}
