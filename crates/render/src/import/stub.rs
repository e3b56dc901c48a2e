//! Writing what import produced: the user template of each variant (plain `.json` as written, or
//! `.json.j2` when `<placeholders>` or settings moved to the manifest need templating) and the
//! `aib.toml` stub.
//!
//! * Placeholders whose meaning is clear become settings: `<region>`/`<region1>`/`<location>` →
//!   `location`, `<imgBuilderId>` → `identity`, `<subscriptionID>` → `subscription`,
//!   `<rgName>` → `resource_group`, `<sharedImageGalName>`/`<acgName>`/`<galleryName>` →
//!   `gallery.name`, `<imageDefName>` → `image_definition`. In the template they read
//!   `{{ location }}`, `{{ identity }}`, ... Every other placeholder becomes
//!   `parameters.<name>`. Placeholders in `metadata` (descriptions) are text, not values.
//! * Literal `vmProfile.vmSize`, `vmProfile.osDiskSizeGB` (not 0, which means "the source's
//!   size") and `buildTimeoutInMinutes` move to the manifest (`vm_size`, `os_disk_gb`,
//!   `build_timeout_minutes`) and the template reads them from `settings`.
//! * ARM parameters without a default that aib does not fill itself become `parameters.<name>`
//!   (secure ones `secrets.<name>`, read from an environment variable); values an enclosing
//!   deployment passed become `parameters.<name>` with that value, or a placeholder when aib
//!   cannot evaluate them.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::expr::Expr;
use super::find::{Passed, ResKey, Scoped, resource};
use super::notes::{Notes, original};
use super::path::JsonPath;
use crate::lint::placeholders_in;

/// A known placeholder: the manifest setting and the template expression.
fn known(token_inner: &str) -> Option<(&'static str, &'static str)> {
    let t = token_inner.to_ascii_lowercase();
    Some(match t.as_str() {
        "region" | "region1" | "location" | "svclocation" => ("location", "location"),
        "imgbuilderid" | "identityid" | "imagebuilderid" => ("identity", "identity"),
        "subscriptionid" | "subscription" | "subid" => ("subscription", "subscription"),
        "rgname" | "resourcegroup" | "resourcegroupname" | "imageresourcegroup" => {
            ("resource_group", "resource_group")
        }
        "sharedimagegalname" | "acgname" | "galleryname" | "siggalleryname" => {
            ("gallery.name", "settings.gallery.name")
        }
        "imagedefname" | "imagedefinition" | "imagedefinitionname" => {
            ("image_definition", "settings.image_definition")
        }
        _ => return None,
    })
}

/// Settings and values a variant contributes to the manifest.
#[derive(Clone, Debug, Default)]
pub struct VariantStub {
    pub name: String,
    pub template_file: String,
    pub template: String,
    /// Shared settings found (`location`, `identity`, ...): key → value.
    pub settings: IndexMap<&'static str, String>,
    pub vm_size: Option<String>,
    pub os_disk_gb: Option<u64>,
    pub build_timeout: Option<u64>,
    /// `source = { ... }` (TOML).
    pub source: String,
    pub parameters: IndexMap<String, Value>,
    pub secrets: IndexMap<String, String>,
    /// Placeholder token → the manifest key it became.
    pub placeholders: IndexMap<String, String>,
}

/// What aib fills itself, so it needs no manifest value.
fn filled_by_aib(name: &str, name_param: &str) -> bool {
    name == name_param
        || name == "imageTemplateName"
        || name.eq_ignore_ascii_case("svclocation")
        || name == "location"
        || name == "api-version"
        || name == "apiVersion"
}

/// Builds one variant's template text and manifest contributions.
/// How a bare imageTemplate body was written, so it is written back the same way.
#[derive(Clone, Debug)]
pub struct BodyOrigin {
    pub name: Option<Value>,
    pub rtype: Option<Value>,
    pub api_version: Option<Value>,
}

#[allow(clippy::too_many_arguments)]
pub fn variant(
    s: &Scoped,
    key: &ResKey,
    name: &str,
    file_stem: &str,
    name_param: &str,
    needs_value: &[String],
    body: Option<&BodyOrigin>,
    notes: &mut Notes,
) -> VariantStub {
    let mut v = VariantStub {
        name: name.to_string(),
        ..VariantStub::default()
    };
    let res = resource(&s.template, key).cloned().unwrap_or(Value::Null);
    let props = res.get("properties").and_then(Value::as_object);
    let literal_defaults = literal_parameter_values(s);

    let exprs = placeholders(s, &mut v);
    arm_parameters(s, name_param, needs_value, &mut v, notes);

    // Where the imageTemplate goes.
    discover_settings(s, &res, &literal_defaults, &mut v);

    // Settings moved to the manifest (and read back by the template).
    let vm = props
        .and_then(|p| p.get("vmProfile"))
        .and_then(Value::as_object);
    v.vm_size = vm
        .and_then(|m| m.get("vmSize"))
        .and_then(Value::as_str)
        .filter(|x| Expr::of(x).is_none() && placeholders_in(x).is_empty())
        .map(str::to_string);
    v.os_disk_gb = vm
        .and_then(|m| m.get("osDiskSizeGB"))
        .and_then(Value::as_u64)
        .filter(|n| *n > 0);
    v.build_timeout = props
        .and_then(|p| p.get("buildTimeoutInMinutes"))
        .and_then(Value::as_u64);
    v.source = manifest_source(
        props
            .and_then(|p| p.get("source"))
            .map(|x| substitute(x, &literal_defaults))
            .as_ref(),
    );

    let templated = !exprs.is_empty()
        || v.vm_size.is_some()
        || v.os_disk_gb.is_some()
        || v.build_timeout.is_some();
    let (doc, pointer) = match body {
        Some(b) => (bare_body(&res, b), String::new()),
        None => (Value::Object(s.template.clone()), res_pointer(key)),
    };
    v.template = if templated {
        template_j2(doc, &pointer, &exprs, &v)
    } else {
        let mut t = serde_json::to_string_pretty(&doc).unwrap_or_default();
        t.push('\n');
        t
    };
    v.template_file = format!("{file_stem}.json{}", if templated { ".j2" } else { "" });
    v
}

/// Placeholders, in order of appearance (not in descriptions): settings or parameters in the
/// manifest; returns the template expression of each.
fn placeholders(s: &Scoped, v: &mut VariantStub) -> BTreeMap<String, String> {
    let mut tokens: Vec<String> = Vec::new();
    collect_tokens(&Value::Object(s.template.clone()), &mut tokens);
    let mut exprs: BTreeMap<String, String> = BTreeMap::new();
    for tok in &tokens {
        let inner = &tok[1..tok.len() - 1];
        match known(inner) {
            Some((k, expr)) if !v.settings.contains_key(k) => {
                v.settings.insert(k, tok.clone());
                v.placeholders.insert(tok.clone(), k.to_string());
                exprs.insert(tok.clone(), expr.to_string());
            }
            Some((_, expr)) => {
                exprs.insert(tok.clone(), expr.to_string());
            }
            None => {
                v.parameters
                    .insert(inner.to_string(), Value::String(tok.clone()));
                v.placeholders
                    .insert(tok.clone(), format!("parameters.{inner}"));
                exprs.insert(
                    tok.clone(),
                    format!("parameters['{}']", inner.replace('\'', "")),
                );
            }
        }
    }
    exprs
}

/// ARM parameters: values an enclosing deployment passed, and those without a default aib does
/// not fill itself (placeholders, or secrets for secure ones).
fn arm_parameters(
    s: &Scoped,
    name_param: &str,
    needs_value: &[String],
    v: &mut VariantStub,
    notes: &mut Notes,
) {
    let declared: Vec<(String, Value)> = s
        .template
        .get("parameters")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, x)| (k.clone(), x.clone())).collect())
        .unwrap_or_default();
    for (p, decl) in &declared {
        if filled_by_aib(p, name_param) {
            continue;
        }
        let secure = decl
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("secure"));
        let passed = s
            .passed
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(p))
            .map(|(_, x)| x);
        let tok = format!("<{p}>");
        match passed {
            Some(Passed::Value(x)) if !contains_null(x) && !secure => {
                v.parameters.insert(p.clone(), x.clone());
                continue;
            }
            Some(Passed::Value(_)) if secure => {}
            Some(Passed::Value(_)) | Some(Passed::Unresolved { .. }) => {
                if let Some(Passed::Unresolved { path, text }) = passed {
                    notes.add(
                        path.clone(),
                        format!("the enclosing deployment passes `{text}` for `{p}`, which aib cannot evaluate offline: set `parameters.{p}` in aib.toml (a placeholder until you do)"),
                    );
                } else {
                    notes.add(
                        original(s, &JsonPath::root().key("parameters").key(p)),
                        format!("the value passed for `{p}` holds null, which aib.toml cannot hold: set `parameters.{p}` (a placeholder until you do)"),
                    );
                }
            }
            None if crate::render::user::optional_parameter(decl)
                && !needs_value.iter().any(|n| n == p) =>
            {
                continue;
            }
            None => {}
        }
        if secure {
            let var = env_var(p);
            notes.add(
                original(s, &JsonPath::root().key("parameters").key(p)),
                format!("a secure parameter without a value: aib reads it from the environment variable `{var}` when it builds (`secrets.{p}` in aib.toml)"),
            );
            v.secrets.insert(p.clone(), format!("env:{var}"));
            continue;
        }
        v.parameters.insert(p.clone(), Value::String(tok.clone()));
        v.placeholders.insert(tok, format!("parameters.{p}"));
    }
}

/// The JSON pointer of a resource in its template.
fn res_pointer(key: &ResKey) -> String {
    match key {
        ResKey::Index(i) => format!("/resources/{i}"),
        ResKey::Symbol(s) => format!("/resources/{}", s.replace('~', "~0").replace('/', "~1")),
    }
}

/// The imageTemplate resource written back as the body it was read from.
fn bare_body(res: &Value, b: &BodyOrigin) -> Value {
    let mut r = res.clone();
    if let Some(o) = r.as_object_mut() {
        for (k, orig) in [("name", &b.name), ("type", &b.rtype)] {
            match orig {
                Some(x) => {
                    o.insert(k.into(), x.clone());
                }
                None => {
                    o.shift_remove(k);
                }
            }
        }
        if b.api_version.is_none()
            && o.get("apiVersion").and_then(Value::as_str)
                == Some(crate::render::IMAGE_TEMPLATE_API_VERSION)
        {
            o.shift_remove("apiVersion");
        }
    }
    r
}

fn contains_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.iter().any(contains_null),
        Value::Object(o) => o.values().any(contains_null),
        _ => false,
    }
}

/// `AIB_SECRET_<NAME>` for a secure parameter.
fn env_var(p: &str) -> String {
    let mut out = String::from("AIB_SECRET_");
    for c in p.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push('_');
        }
    }
    out
}

/// Literal values of the template's parameters: what the enclosing deployment passed, else the
/// default (when neither is an expression).
fn literal_parameter_values(s: &Scoped) -> IndexMap<String, Value> {
    let mut out = IndexMap::new();
    if let Some(ps) = s.template.get("parameters").and_then(Value::as_object) {
        for (k, d) in ps {
            if let Some((_, Passed::Value(x))) =
                s.passed.iter().find(|(n, _)| n.eq_ignore_ascii_case(k))
            {
                out.insert(k.clone(), x.clone());
            } else if let Some(x) = d.get("defaultValue")
                && !has_expression(x)
            {
                out.insert(k.clone(), x.clone());
            }
        }
    }
    out
}

fn has_expression(v: &Value) -> bool {
    match v {
        Value::String(s) => Expr::of(s).is_some(),
        Value::Array(a) => a.iter().any(has_expression),
        Value::Object(o) => o
            .iter()
            .any(|(k, x)| Expr::of(k).is_some() || has_expression(x)),
        _ => false,
    }
}

/// Replaces strings that are exactly `[parameters('x')]` by x's literal value.
fn substitute(v: &Value, values: &IndexMap<String, Value>) -> Value {
    crate::render::user::substitute(v, values)
}

/// location, identity, resource group, subscription, gallery and image definition, from what
/// the template says literally.
fn discover_settings(
    s: &Scoped,
    res: &Value,
    values: &IndexMap<String, Value>,
    v: &mut VariantStub,
) {
    let lit = |x: Option<&Value>| -> Option<String> {
        let x = substitute(x?, values);
        let t = x.as_str()?;
        (Expr::of(t).is_none() && placeholders_in(t).is_empty() && !t.is_empty())
            .then(|| t.to_string())
    };
    let mut set = |k: &'static str, x: Option<String>| {
        if let Some(x) = x {
            v.settings.entry(k).or_insert(x);
        }
    };
    set("location", lit(res.get("location")));
    for p in ["location", "svclocation"] {
        set("location", lit(values.get(p)));
    }
    let identity = res
        .pointer("/identity/userAssignedIdentities")
        .and_then(Value::as_object)
        .and_then(|m| m.keys().next().cloned());
    set("identity", lit(identity.map(Value::String).as_ref()));
    if let Some((_, rg)) = &s.resource_group {
        set("resource_group", lit(Some(rg)));
    }
    if let Some((_, sub)) = &s.subscription {
        set("subscription", lit(Some(sub)));
    }
    let gallery_image = res
        .pointer("/properties/distribute")
        .and_then(Value::as_array)
        .and_then(|d| {
            d.iter()
                .find(|x| x.get("type").and_then(Value::as_str) == Some("SharedImage"))
        })
        .and_then(|x| lit(x.get("galleryImageId")));
    if let Some(id) = gallery_image {
        let parts: Vec<&str> = id.split('/').collect();
        let after = |k: &str| {
            parts
                .iter()
                .position(|p| p.eq_ignore_ascii_case(k))
                .and_then(|i| parts.get(i + 1))
                .map(|x| x.to_string())
        };
        set("gallery.name", after("galleries"));
        set("image_definition", after("images"));
        set("subscription", after("subscriptions"));
        set("resource_group", after("resourceGroups"));
    }
}

const RAW: &str = "\u{0}aib-raw:";

/// A JSON string that becomes a raw `{{ expr }}` (unquoted) in the template.
fn raw(expr: &str) -> Value {
    Value::String(format!("{RAW}{expr}\u{0}"))
}

/// A JSON string whose content (inside its quotes) becomes `{{ expr }}`.
fn raw_str(expr: &str) -> Value {
    Value::String(format!("\u{0}aib-str:{expr}\u{0}"))
}

/// The `.json.j2` text: template syntax in the original escaped, placeholders and moved
/// settings turned into expressions.
fn template_j2(
    doc: Value,
    pointer: &str,
    exprs: &BTreeMap<String, String>,
    v: &VariantStub,
) -> String {
    let mut doc = replace_tokens(&doc, exprs);
    if let Some(p) = doc
        .pointer_mut(pointer)
        .and_then(|r| r.get_mut("properties"))
        .and_then(Value::as_object_mut)
    {
        if let Some(vm) = p.get_mut("vmProfile").and_then(Value::as_object_mut) {
            if v.vm_size.is_some() {
                vm.insert("vmSize".into(), raw_str("settings.vm_size"));
            }
            if v.os_disk_gb.is_some() {
                vm.insert("osDiskSizeGB".into(), raw("settings.os_disk_gb"));
            }
        }
        if v.build_timeout.is_some() {
            p.insert(
                "buildTimeoutInMinutes".into(),
                raw("settings.build_timeout_minutes"),
            );
        }
    }
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    finish_raw(&text)
}

/// Replaces the raw markers left in serialized JSON.
fn finish_raw(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let a = rest.find("\"\\u0000aib-raw:");
        let b = rest.find("\\u0000aib-str:");
        match (a, b) {
            (Some(i), bi) if bi.is_none_or(|b| i < b) => {
                out.push_str(&rest[..i]);
                let after = &rest[i + "\"\\u0000aib-raw:".len()..];
                match after.find("\\u0000\"") {
                    Some(j) => {
                        out.push_str("{{ ");
                        out.push_str(&after[..j]);
                        out.push_str(" }}");
                        rest = &after[j + "\\u0000\"".len()..];
                    }
                    None => rest = after,
                }
            }
            (_, Some(i)) => {
                out.push_str(&rest[..i]);
                let after = &rest[i + "\\u0000aib-str:".len()..];
                match after.find("\\u0000") {
                    Some(j) => {
                        out.push_str("{{ ");
                        out.push_str(&after[..j]);
                        out.push_str(" }}");
                        rest = &after[j + "\\u0000".len()..];
                    }
                    None => rest = after,
                }
            }
            _ => {
                out.push_str(rest);
                break;
            }
        }
    }
    out
}

/// Placeholder tokens in values and keys, not in `metadata` (descriptions are prose).
fn collect_tokens(v: &Value, out: &mut Vec<String>) {
    fn add(s: &str, out: &mut Vec<String>) {
        for t in placeholders_in(s) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    match v {
        Value::String(s) => add(s, out),
        Value::Array(a) => a.iter().for_each(|x| collect_tokens(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                if k == "metadata" {
                    continue;
                }
                add(k, out);
                collect_tokens(x, out);
            }
        }
        _ => {}
    }
}

/// Escapes template syntax already in the text, then turns tokens into `{{ expr }}` markers.
fn template_string(s: &str, exprs: &BTreeMap<String, String>) -> String {
    let mut escaped = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '{'
            && let Some(&n) = chars.peek()
            && (n == '{' || n == '%' || n == '#')
        {
            chars.next();
            escaped.push_str(&format!("{{{{ '{{{n}' }}}}"));
            continue;
        }
        escaped.push(c);
    }
    let mut out = escaped;
    for (tok, expr) in exprs {
        if out.contains(tok.as_str()) {
            out = out.replace(tok.as_str(), &format!("\u{0}aib-str:{expr}\u{0}"));
        }
    }
    out
}

fn replace_tokens(v: &Value, exprs: &BTreeMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(template_string(s, exprs)),
        Value::Array(a) => Value::Array(a.iter().map(|x| replace_tokens(x, exprs)).collect()),
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, x) in o {
                if k == "metadata" {
                    m.insert(k.clone(), replace_tokens(x, &BTreeMap::new()));
                } else {
                    m.insert(template_string(k, exprs), replace_tokens(x, exprs));
                }
            }
            Value::Object(m)
        }
        other => other.clone(),
    }
}

/// The manifest's `source = { ... }` for an AIB source.
fn manifest_source(src: Option<&Value>) -> String {
    let s = |k: &str| {
        src.and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .filter(|x| Expr::of(x).is_none())
            .unwrap_or("")
            .to_string()
    };
    let kind = s("type");
    let id_or = |id: String, fallback: &str| {
        if id.starts_with('/') {
            id
        } else {
            fallback.to_string()
        }
    };
    let or = |x: String, fallback: &str| {
        if x.is_empty() {
            fallback.to_string()
        } else {
            x
        }
    };
    match kind.as_str() {
        "ManagedImage" => format!(
            "{{ managed_image = {} }}",
            q(&id_or(
                s("imageId"),
                "/subscriptions/<subscriptionID>/resourceGroups/<rgName>/providers/Microsoft.Compute/images/<srcImageName>"
            ))
        ),
        "SharedImageVersion" => format!(
            "{{ gallery_image = {} }}",
            q(&id_or(
                s("imageVersionId"),
                "/subscriptions/<subscriptionID>/resourceGroups/<rgName>/providers/Microsoft.Compute/galleries/<sourceGalleryName>/images/<sourceImageDefName>/versions/<sourceVersion>"
            ))
        ),
        _ => {
            let mut out = format!(
                "{{ platform = {}",
                q(&format!(
                    "{}:{}:{}:{}",
                    or(s("publisher"), "<publisher>"),
                    or(s("offer"), "<offer>"),
                    or(s("sku"), "<sku>"),
                    or(s("version"), "latest")
                ))
            );
            if let Some(p) = src
                .and_then(|v| v.get("planInfo"))
                .filter(|p| p.is_object())
            {
                let g = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                out.push_str(&format!(
                    ", plan = {{ name = {}, product = {}, publisher = {} }}",
                    q(&g("planName")),
                    q(&g("planProduct")),
                    q(&g("planPublisher"))
                ));
            }
            out.push_str(" }");
            out
        }
    }
}

/// A TOML basic string.
pub fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key (bare when possible).
pub fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        q(k)
    }
}

/// A JSON value as an inline TOML value (no nulls: callers leave them out).
fn toml_value(v: &Value) -> String {
    match v {
        Value::String(s) => q(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => "\"\"".into(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(toml_value).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(o) => {
            if o.is_empty() {
                return "{}".into();
            }
            let items: Vec<String> = o
                .iter()
                .map(|(k, x)| format!("{} = {}", key(k), toml_value(x)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
    }
}

/// A variant's tables in the `aib.toml` text.
fn variant_table(m: &mut String, v: &VariantStub) {
    m.push_str(&format!("\n[variants.{}]\n", key(&v.name)));
    m.push_str(&format!("template = {}\n", q(&v.template_file)));
    m.push_str(&format!("source = {}\n", v.source));
    if let Some(x) = &v.vm_size {
        m.push_str(&format!("vm_size = {}\n", q(x)));
    }
    if let Some(x) = v.os_disk_gb {
        m.push_str(&format!("os_disk_gb = {x}\n"));
    }
    if let Some(x) = v.build_timeout {
        m.push_str(&format!("build_timeout_minutes = {x}\n"));
    }
    if !v.parameters.is_empty() {
        m.push_str(&format!("\n[variants.{}.parameters]\n", key(&v.name)));
        for (k, x) in &v.parameters {
            m.push_str(&format!("{} = {}\n", key(k), toml_value(x)));
        }
    }
    if !v.secrets.is_empty() {
        m.push_str(&format!("\n[variants.{}.secrets]\n", key(&v.name)));
        for (k, x) in &v.secrets {
            m.push_str(&format!("{} = {}\n", key(k), q(x)));
        }
    }
}

/// The `aib.toml` text.
pub fn manifest(variants: &[VariantStub], file: &str, pipeline: &str, notes: &Notes) -> String {
    let mut m = String::new();
    m.push_str(&format!(
        "# Imported by `aib import` from {file}.\n# Values in <angle brackets> are the original template's placeholders: fill them in\n# (`aib validate` warns about each one until you do).\nversion = 1\n\n[pipeline]\nname = {}\n\n[defaults]\n",
        q(pipeline)
    ));
    let get = |k: &str, default: &str| {
        variants
            .iter()
            .find_map(|v| v.settings.get(k).cloned())
            .unwrap_or_else(|| default.to_string())
    };
    for (k, default) in [
        ("subscription", "<subscriptionID>"),
        ("location", "<location>"),
        ("resource_group", "<rgName>"),
        ("identity", "<imgBuilderId>"),
    ] {
        m.push_str(&format!("{k} = {}\n", q(&get(k, default))));
    }
    m.push_str(&format!(
        "gallery = {{ name = {} }}\n",
        q(&get("gallery.name", "<galleryName>"))
    ));
    m.push_str(&format!(
        "image_definition = {}\n",
        q(&get("image_definition", "<imageDefName>"))
    ));
    m.push_str("version = \"auto\"\n");
    m.push_str("\n[environments.dev]\n");
    for v in variants {
        variant_table(&mut m, v);
    }
    let placeholders: IndexMap<&String, &String> = variants
        .iter()
        .flat_map(|v| v.placeholders.iter())
        .collect();
    if !placeholders.is_empty() {
        m.push_str("\n# Placeholders found in the original template and where they went:\n");
        for (tok, k) in placeholders {
            m.push_str(&format!("#   {tok} -> {k}\n"));
        }
    }
    if !notes.is_empty() {
        m.push_str("\n# Notes on the original template (paths into it):\n");
        for n in notes.iter() {
            let text = n.to_string().replace('\n', " ");
            m.push_str(&format!("# note: {text}\n"));
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn toml_values_round_trip_through_the_manifest_parser() {
        let v = json!({ "a b": [1, "x\"y", { "c": true }], "d": {} });
        let text = format!("x = {}\n", toml_value(&v));
        let back: toml::Table = toml::from_str(&text).expect("toml");
        let back: Value = serde_json::to_value(&back["x"]).expect("json");
        assert_eq!(back, v);
    }

    #[test]
    fn secure_parameters_read_an_environment_variable() {
        assert_eq!(env_var("admin-Password"), "AIB_SECRET_ADMIN_PASSWORD");
    }
}
