//! Secrets reach Azure as `securestring` parameters of the deployment, never in its template
//! body: ARM keeps every deployment's template (aib keeps the deployment record on purpose as
//! the history of what it deployed) but never shows a secure parameter's value.
//!
//! The planner leaves a placeholder for each use of a secret (its name and the filters applied,
//! see [`aib_planner::secret_ref`]). Here, in the deployment template, every string holding
//! placeholders becomes an ARM expression over one `securestring` parameter per secret and
//! filters (`"echo '{pw}' | chpasswd"` → `"[concat('echo ''', parameters('aibSecret_pw'),
//! ''' | chpasswd')]"`), declared in the template. The parameters' values (the secret with
//! its filters applied) are filled in only when the values are given, i.e. for what is sent to
//! Azure; a parameters file written for people (`plan --render-dir`) leaves them out, and
//! `az deployment group create` asks for them. An ARM parameter of a user template whose value
//! holds a secret is made secure the same way. The inspection copy of the imageTemplate shows
//! `***`.

use aib_planner::{Unit, secret_ref};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::{RenderError, RenderedDeployment, SECRET_MASK, SecretValues};

/// One secure parameter: the secret and the filters its value goes through.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Use {
    secret: String,
    filters: Vec<String>,
}

/// Parameter name → use, in the order met.
type Uses = IndexMap<String, Use>;

/// The parameter carrying `u` (`aibSecret_pw`, `aibSecret_pw_sh_quote`), unique in `uses`.
fn parameter_for(uses: &mut Uses, u: Use) -> String {
    if let Some((p, _)) = uses.iter().find(|(_, x)| **x == u) {
        return p.clone();
    }
    let mut base = format!("aibSecret_{}", u.secret);
    for f in &u.filters {
        base.push('_');
        base.push_str(f);
    }
    let mut name = base.clone();
    let mut n = 2;
    while uses.contains_key(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    uses.insert(name.clone(), u);
    name
}

fn use_of(body: &str) -> Use {
    let (name, filters) = secret_ref::parse_use(body);
    Use {
        secret: name.to_string(),
        filters: filters.into_iter().map(str::to_string).collect(),
    }
}

/// An ARM string literal: `'it''s'`.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Where the rendering is (the unit, the template it came from), for errors.
struct At<'a> {
    unit: &'a Unit,
    origin: &'a str,
}

/// `s` (holding placeholders) as an ARM expression over the secure parameters.
fn expression(s: &str, uses: &mut Uses, at: &At<'_>) -> Result<String, RenderError> {
    if s.starts_with('[') && !s.starts_with("[[") {
        return Err(RenderError::Invalid {
            unit: at.unit.id.to_string(),
            file: at.origin.to_string(),
            message: format!(
                "a secret is used inside the ARM expression `{}`; use it in a plain string (aib turns that into an expression over a secure parameter)",
                secret_ref::substitute::<()>(s, |_| Ok(SECRET_MASK.to_string()))
                    .unwrap_or_default()
            ),
        });
    }
    // `[[...` is a literal starting with `[`.
    let text = s
        .strip_prefix('[')
        .filter(|t| t.starts_with('['))
        .unwrap_or(s);
    let parts: Vec<String> = secret_ref::pieces(text)
        .into_iter()
        .map(|piece| match piece {
            secret_ref::Piece::Text(t) => literal(t),
            secret_ref::Piece::Secret(body) => {
                format!("parameters('{}')", parameter_for(uses, use_of(body)))
            }
        })
        .collect();
    Ok(match parts.as_slice() {
        [one] if one.starts_with("parameters(") => format!("[{one}]"),
        _ => format!("[concat({})]", parts.join(", ")),
    })
}

/// Rewrites every string of `v` holding placeholders into an expression (keys are masked).
fn rewrite(v: &mut Value, uses: &mut Uses, at: &At<'_>) -> Result<(), RenderError> {
    match v {
        Value::String(s) if secret_ref::has_placeholder(s) => {
            *s = expression(s, uses, at)?;
        }
        Value::Array(items) => {
            for i in items {
                rewrite(i, uses, at)?;
            }
        }
        Value::Object(map) => {
            if map.keys().any(|k| secret_ref::has_placeholder(k)) {
                let masked: Map<String, Value> = std::mem::take(map)
                    .into_iter()
                    .map(|(k, x)| (mask(&k), x))
                    .collect();
                *map = masked;
            }
            for (_, i) in map.iter_mut() {
                rewrite(i, uses, at)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `s` with every placeholder shown as `***`.
fn mask(s: &str) -> String {
    if !secret_ref::has_placeholder(s) {
        return s.to_string();
    }
    secret_ref::substitute::<()>(s, |_| Ok(SECRET_MASK.to_string())).unwrap_or_default()
}

fn mask_all(v: &mut Value) {
    match v {
        Value::String(s) => *s = mask(s),
        Value::Array(items) => items.iter_mut().for_each(mask_all),
        Value::Object(map) => map.values_mut().for_each(mask_all),
        _ => {}
    }
}

/// The value of `u`: the secret with its filters applied.
fn value_of(u: &Use, secrets: &SecretValues, unit: &Unit) -> Result<String, RenderError> {
    let raw = secrets
        .get(&u.secret)
        .ok_or_else(|| RenderError::MissingSecret {
            unit: unit.id.to_string(),
            name: u.secret.clone(),
        })?;
    let filters: Vec<&str> = u.filters.iter().map(String::as_str).collect();
    secret_ref::apply_filters(raw, &filters).map_err(|e| RenderError::Invalid {
        unit: unit.id.to_string(),
        file: format!("secret `{}`", u.secret),
        message: e.to_string(),
    })
}

/// `v` with every placeholder replaced by the value of its use.
fn fill(v: &mut Value, secrets: &SecretValues, unit: &Unit) -> Result<(), RenderError> {
    match v {
        Value::String(s) if secret_ref::has_placeholder(s) => {
            *s = secret_ref::substitute(s, |body| value_of(&use_of(body), secrets, unit))?;
        }
        Value::Array(items) => {
            for i in items {
                fill(i, secrets, unit)?;
            }
        }
        Value::Object(map) => {
            for (_, i) in map.iter_mut() {
                fill(i, secrets, unit)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn holds_placeholder(v: &Value) -> bool {
    match v {
        Value::String(s) => secret_ref::has_placeholder(s),
        Value::Array(a) => a.iter().any(holds_placeholder),
        Value::Object(o) => o.values().any(holds_placeholder),
        _ => false,
    }
}

/// Declares `name` secure in the template's `parameters` (keeping what else it said).
fn declare_secure(template: &mut Value, name: &str, object: bool) {
    let Some(t) = template.as_object_mut() else {
        return;
    };
    let params = t
        .entry("parameters")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(params) = params.as_object_mut() {
        let decl = params.entry(name).or_insert_with(|| json!({}));
        if let Some(d) = decl.as_object_mut() {
            let secure_already = d
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.to_ascii_lowercase().starts_with("secure"));
            if !secure_already {
                d.insert(
                    "type".into(),
                    (if object {
                        "secureObject"
                    } else {
                        "securestring"
                    })
                    .into(),
                );
                d.remove("defaultValue");
            }
        }
    }
}

/// Moves every secret of `d` into secure parameters (see the module); with `secrets`, their
/// values are filled in.
pub(crate) fn secure(
    d: &mut RenderedDeployment,
    unit: &Unit,
    secrets: Option<&SecretValues>,
) -> Result<(), RenderError> {
    let mut uses = Uses::new();
    let origin = d.origin.clone();
    let at = At {
        unit,
        origin: &origin,
    };
    rewrite_template(&mut d.template, &mut uses, &at)?;
    let mut made_secure = secure_passed_values(d, unit, secrets)?;
    for p in &d.secret_parameters {
        if !made_secure.iter().any(|(m, _)| m == p) {
            made_secure.push((p.clone(), false));
        }
    }
    for (p, object) in &made_secure {
        declare_secure(&mut d.template, p, *object);
        if !d.secret_parameters.contains(p) {
            d.secret_parameters.push(p.clone());
        }
    }
    // The parameters this rendering introduced.
    for (p, u) in &uses {
        declare_secure(&mut d.template, p, false);
        d.secret_parameters.push(p.clone());
        if let Some(s) = secrets {
            let value = value_of(u, s, unit)?;
            if let Some(values) = d
                .parameters
                .get_mut("parameters")
                .and_then(Value::as_object_mut)
            {
                values.insert(p.clone(), json!({ "value": value }));
            }
        }
    }
    mask_all(&mut d.image_template);
    Ok(())
}

/// Rewrites the template body's secrets into parameter references. A declaration's
/// `defaultValue` is template body too, and the parameter it gives a secret to is made secure
/// (ARM shows plain parameters' values).
fn rewrite_template(template: &mut Value, uses: &mut Uses, at: &At<'_>) -> Result<(), RenderError> {
    let Some(t) = template.as_object_mut() else {
        return Ok(());
    };
    for (k, v) in t.iter_mut() {
        if k != "parameters" {
            rewrite(v, uses, at)?;
            continue;
        }
        let Some(decls) = v.as_object_mut() else {
            continue;
        };
        for decl in decls.values_mut() {
            let Some(dv) = decl.get_mut("defaultValue") else {
                continue;
            };
            if !holds_placeholder(dv) {
                continue;
            }
            let object = dv.is_object();
            rewrite(dv, uses, at)?;
            let secure_already = decl
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.to_ascii_lowercase().starts_with("secure"));
            if !secure_already && let Some(o) = decl.as_object_mut() {
                let kind = if object {
                    "secureObject"
                } else {
                    "securestring"
                };
                o.insert("type".into(), kind.into());
            }
        }
    }
    Ok(())
}

/// ARM parameters the template declares whose value holds a secret, and those named after a
/// secret (filled from it by the template's rendering): filled in with `secrets`, left out
/// without. Each with whether its value is an object.
fn secure_passed_values(
    d: &mut RenderedDeployment,
    unit: &Unit,
    secrets: Option<&SecretValues>,
) -> Result<Vec<(String, bool)>, RenderError> {
    let mut made_secure: Vec<(String, bool)> = Vec::new();
    let Some(values) = d
        .parameters
        .get_mut("parameters")
        .and_then(Value::as_object_mut)
    else {
        return Ok(made_secure);
    };
    let names: Vec<String> = values.keys().cloned().collect();
    for p in names {
        let Some(entry) = values.get_mut(&p) else {
            continue;
        };
        let named = d.secret_parameters.contains(&p);
        let holds = entry.get("value").is_some_and(holds_placeholder);
        if !(named || holds) {
            continue;
        }
        let object = entry.get("value").is_some_and(Value::is_object);
        made_secure.push((p.clone(), object));
        match secrets {
            Some(s) => {
                if let Some(v) = entry.get_mut("value") {
                    fill(v, s, unit)?;
                }
            }
            None => {
                values.shift_remove(&p);
            }
        }
    }
    Ok(made_secure)
}
