//! `aib import FILE.json [--out DIR]`: turns an AIB template a user already owns into a
//! manifest stub and a user template.
//!
//! Accepted: full ARM deployment templates (with ARM `parameters`) and bare imageTemplate
//! bodies as used with `az resource create` (also with `"type": "Microsoft.VirtualMachineImages"`),
//! with `<placeholder>` tokens as in Azure/azvmimagebuilder's quickstarts.
//!
//! Written: `DIR/aib.toml` (one environment `dev`, one variant `image`) and
//! `DIR/templates/<stem>.json.j2` (or `.json` when nothing needs templating).
//!
//! * Placeholders whose meaning is clear become settings: `<region>`/`<region1>`/`<location>` →
//!   `location`, `<imgBuilderId>` → `identity`, `<subscriptionID>` → `subscription`,
//!   `<rgName>` → `resource_group`, `<sharedImageGalName>`/`<acgName>`/`<galleryName>` →
//!   `gallery.name`, `<imageDefName>` → `image_definition`. In the template they read
//!   `{{ location }}`, `{{ identity }}`, ...
//! * Every other placeholder becomes `parameters.<name>` (`{{ parameters['<name>'] }}`).
//! * ARM parameters without a default that aib does not fill itself (`imageTemplateName`,
//!   `svclocation`/`location`, `api-version`) become `parameters.<name>`.
//! * `vmProfile.vmSize`, `vmProfile.osDiskSizeGB` and `buildTimeoutInMinutes` move to the
//!   manifest (`vm_size`, `os_disk_gb`, `build_timeout_minutes`) and the template reads them
//!   from `settings`.
//! * `source` becomes the manifest's `source` too (for aib's own use: versions, lint); the
//!   template keeps its own.
//!
//! Each placeholder keeps its original token as its value, so `aib plan` on the stub renders a
//! template whose source, customize, distribute, vmProfile and build timeout equal the
//! original's; `aib validate` warns about each (`aib::lint::placeholder`) until filled in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::lint::placeholders_in;
use crate::render::user::{is_image_template_type, parameter_ref};

/// Why a file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path} is not valid JSON (line {line}, column {column}): {message}")]
    Json {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    NotATemplate { path: String, message: String },
    #[error("{path} already exists; choose another --out directory")]
    Exists { path: String },
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

/// What an import produced.
#[derive(Clone, Debug)]
pub struct Imported {
    /// `aib.toml` text.
    pub manifest: String,
    /// File name of the template under `templates/`.
    pub template_file: String,
    /// Template text.
    pub template: String,
    /// Placeholders found: token → the manifest key it became.
    pub placeholders: IndexMap<String, String>,
    /// Whether the original was a full ARM deployment (else a bare imageTemplate body).
    pub was_deployment: bool,
}

/// Where the files went.
#[derive(Clone, Debug)]
pub struct Written {
    pub manifest_path: PathBuf,
    pub template_path: PathBuf,
}

/// Imports `file` into `out` (`aib.toml` and `templates/`).
pub fn import_file(file: &Path, out: &Path) -> Result<(Imported, Written), ImportError> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| ImportError::Read {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let stem = file
        .file_name()
        .and_then(|s| s.to_str())
        .map(|s| s.trim_end_matches(".json").to_string())
        .unwrap_or_else(|| "template".into());
    let imported = import_str(&text, &stem, &shown)?;
    let manifest_path = out.join("aib.toml");
    if manifest_path.exists() {
        return Err(ImportError::Exists {
            path: manifest_path.display().to_string(),
        });
    }
    let templates = out.join("templates");
    let template_path = templates.join(&imported.template_file);
    let write = |p: &Path, s: &str| {
        std::fs::write(p, s).map_err(|e| ImportError::Write {
            path: p.display().to_string(),
            message: e.to_string(),
        })
    };
    std::fs::create_dir_all(&templates).map_err(|e| ImportError::Write {
        path: templates.display().to_string(),
        message: e.to_string(),
    })?;
    write(&template_path, &imported.template)?;
    write(&manifest_path, &imported.manifest)?;
    Ok((
        imported,
        Written {
            manifest_path,
            template_path,
        },
    ))
}

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

const RAW: &str = "\u{0}aib-raw:";

/// A JSON string that becomes a raw `{{ expr }}` (unquoted) in the template.
fn raw(expr: &str) -> Value {
    Value::String(format!("{RAW}{expr}\u{0}"))
}

/// Imports template text. `stem` names the pipeline and the template file; `shown` is the path
/// used in errors.
pub fn import_str(text: &str, stem: &str, shown: &str) -> Result<Imported, ImportError> {
    let not = |message: &str| ImportError::NotATemplate {
        path: shown.to_string(),
        message: message.to_string(),
    };
    let doc: Value = serde_json::from_str(text).map_err(|e| ImportError::Json {
        path: shown.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let Value::Object(doc) = doc else {
        return Err(not("not a JSON object"));
    };
    let was_deployment = doc.contains_key("resources");

    // Locate the image template (a mutable path into doc).
    let idx = if was_deployment {
        let list = doc
            .get("resources")
            .and_then(Value::as_array)
            .ok_or_else(|| not("`resources` is not an array"))?;
        let found: Vec<usize> = list
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(is_image_template_type)
            })
            .map(|(i, _)| i)
            .collect();
        match found.as_slice() {
            [i] => Some(*i),
            [] => {
                return Err(not(
                    "the deployment has no Microsoft.VirtualMachineImages/imageTemplates resource",
                ));
            }
            _ => {
                return Err(not(
                    "the deployment has more than one imageTemplates resource; aib renders one per unit",
                ));
            }
        }
    } else {
        None
    };
    let resource: Value = match idx {
        Some(i) => doc
            .get("resources")
            .and_then(|r| r.get(i))
            .cloned()
            .unwrap_or(Value::Null),
        None => Value::Object(doc.clone()),
    };
    let props = resource
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            not("not an AIB image template: no `properties` with `source` and `distribute`")
        })?;
    if !props.contains_key("source") || !props.contains_key("distribute") {
        return Err(not(
            "not an AIB image template: `properties` has no `source` or `distribute`",
        ));
    }

    // Placeholders, in order of appearance.
    let mut tokens: Vec<String> = Vec::new();
    collect_tokens(&Value::Object(doc.clone()), &mut tokens);
    let mut placeholders: IndexMap<String, String> = IndexMap::new();
    let mut exprs: BTreeMap<String, String> = BTreeMap::new();
    let mut settings: IndexMap<&'static str, String> = IndexMap::new();
    let mut parameters: IndexMap<String, Value> = IndexMap::new();
    for tok in &tokens {
        let inner = &tok[1..tok.len() - 1];
        match known(inner) {
            Some((key, expr)) if !settings.contains_key(key) => {
                settings.insert(key, tok.clone());
                placeholders.insert(tok.clone(), key.to_string());
                exprs.insert(tok.clone(), expr.to_string());
            }
            _ => {
                parameters.insert(inner.to_string(), Value::String(tok.clone()));
                placeholders.insert(tok.clone(), format!("parameters.{inner}"));
                exprs.insert(
                    tok.clone(),
                    format!("parameters['{}']", inner.replace('\'', "")),
                );
            }
        }
    }

    // ARM parameters that aib does not fill itself.
    if was_deployment && let Some(ps) = doc.get("parameters").and_then(Value::as_object) {
        for (name, decl) in ps {
            let builtin = name == "imageTemplateName"
                || name.eq_ignore_ascii_case("svclocation")
                || name == "location"
                || name == "api-version"
                || name == "apiVersion";
            let name_param = resource
                .get("name")
                .and_then(Value::as_str)
                .and_then(parameter_ref)
                == Some(name.as_str());
            if builtin || name_param || decl.get("defaultValue").is_some() {
                continue;
            }
            let tok = format!("<{name}>");
            parameters.insert(name.clone(), Value::String(tok.clone()));
            placeholders.insert(tok, format!("parameters.{name}"));
        }
    }

    // Settings moved to the manifest (and read back by the template).
    let vm_size = props
        .get("vmProfile")
        .and_then(|v| v.get("vmSize"))
        .and_then(Value::as_str)
        .filter(|s| !s.starts_with('['))
        .map(str::to_string);
    let os_disk = props
        .get("vmProfile")
        .and_then(|v| v.get("osDiskSizeGB"))
        .and_then(Value::as_u64);
    let timeout = props.get("buildTimeoutInMinutes").and_then(Value::as_u64);

    // The template with placeholders turned into expressions.
    let mut tmpl_res = replace_tokens(&resource, &exprs);
    if let Some(p) = tmpl_res
        .get_mut("properties")
        .and_then(Value::as_object_mut)
    {
        if let Some(vm) = p.get_mut("vmProfile").and_then(Value::as_object_mut) {
            if vm_size.is_some() {
                vm.insert("vmSize".into(), raw_str("settings.vm_size"));
            }
            if os_disk.is_some() {
                vm.insert("osDiskSizeGB".into(), raw("settings.os_disk_gb"));
            }
        }
        if timeout.is_some() {
            p.insert(
                "buildTimeoutInMinutes".into(),
                raw("settings.build_timeout_minutes"),
            );
        }
    }
    let out_doc = match idx {
        Some(i) => {
            let mut d = replace_tokens(&Value::Object(doc.clone()), &exprs);
            if let Some(slot) = d
                .get_mut("resources")
                .and_then(Value::as_array_mut)
                .and_then(|r| r.get_mut(i))
            {
                *slot = tmpl_res;
            }
            d
        }
        None => tmpl_res,
    };
    let templated =
        !exprs.is_empty() || vm_size.is_some() || os_disk.is_some() || timeout.is_some();
    let mut template = serde_json::to_string_pretty(&out_doc).unwrap_or_default();
    template.push('\n');
    template = finish_raw(&template);
    let template_file = if templated {
        format!("{stem}.json.j2")
    } else {
        format!("{stem}.json")
    };

    // The manifest.
    let source = manifest_source(props.get("source"));
    let mut m = String::new();
    m.push_str(&format!(
        "# Imported by `aib import` from {}.\n# Values in <angle brackets> are the original template's placeholders: fill them in\n# (`aib validate` warns about each one until you do).\nversion = 1\n\n[pipeline]\nname = {}\n\n[defaults]\n",
        file_name(shown),
        q(&pipeline_name(stem))
    ));
    let get = |k: &str, default: &str| {
        settings
            .get(k)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let subscription = get("subscription", "<subscriptionID>");
    let location = match settings.get("location") {
        Some(l) => l.clone(),
        None => "<svclocation>".into(),
    };
    m.push_str(&format!("subscription = {}\n", q(&subscription)));
    m.push_str(&format!("location = {}\n", q(&location)));
    m.push_str(&format!(
        "resource_group = {}\n",
        q(&get("resource_group", "<rgName>"))
    ));
    m.push_str(&format!(
        "identity = {}\n",
        q(&get("identity", "<imgBuilderId>"))
    ));
    m.push_str(&format!("template = {}\n", q(&template_file)));
    if let Some(v) = &vm_size {
        m.push_str(&format!("vm_size = {}\n", q(v)));
    }
    if let Some(v) = os_disk {
        m.push_str(&format!("os_disk_gb = {v}\n"));
    }
    if let Some(v) = timeout {
        m.push_str(&format!("build_timeout_minutes = {v}\n"));
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
    if !parameters.is_empty() {
        m.push_str("\n[defaults.parameters]\n");
        for (k, v) in &parameters {
            m.push_str(&format!("{} = {}\n", key(k), q(v.as_str().unwrap_or(""))));
        }
    }
    m.push_str("\n[environments.dev]\n\n[variants.image]\n");
    m.push_str(&format!("source = {source}\n"));
    if !placeholders.is_empty() {
        m.push_str("\n# Placeholders found in the original template and where they went:\n");
        for (tok, k) in &placeholders {
            m.push_str(&format!("#   {tok} -> {k}\n"));
        }
    }

    Ok(Imported {
        manifest: m,
        template_file,
        template,
        placeholders,
        was_deployment,
    })
}

fn raw_str(expr: &str) -> Value {
    // Strings keep their quotes: only the content is templated.
    Value::String(format!("\u{0}aib-str:{expr}\u{0}"))
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
                    None => {
                        rest = after;
                    }
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
                add(k, out);
                collect_tokens(x, out);
            }
        }
        _ => {}
    }
}

/// Escapes template syntax already in the text, then turns tokens into `{{ expr }}` markers.
fn template_string(s: &str, exprs: &BTreeMap<String, String>) -> String {
    // Escape `{{`, `{%`, `{#` that the original contains.
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
                m.insert(template_string(k, exprs), replace_tokens(x, exprs));
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
    match kind.as_str() {
        "PlatformImage" => {
            let mut out = format!(
                "{{ platform = {}",
                q(&format!(
                    "{}:{}:{}:{}",
                    s("publisher"),
                    s("offer"),
                    s("sku"),
                    if s("version").is_empty() {
                        "latest".to_string()
                    } else {
                        s("version")
                    }
                ))
            );
            if let Some(p) = src.and_then(|v| v.get("planInfo")) {
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
        "ManagedImage" => format!(
            "{{ managed_image = {} }}",
            q(&id_or(
                s("imageId"),
                "/subscriptions/<subscriptionID>/resourceGroups/<rgName>/providers/Microsoft.Compute/images/<srcImageName>"
            ))
        ),
        _ => format!(
            "{{ gallery_image = {} }}",
            q(&id_or(
                s("imageVersionId"),
                "/subscriptions/<subscriptionID>/resourceGroups/<rgName>/providers/Microsoft.Compute/galleries/<sourceGalleryName>/images/<sourceImageDefName>/versions/<sourceVersion>"
            ))
        ),
    }
}

/// A TOML basic string.
fn q(s: &str) -> String {
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
fn key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        q(k)
    }
}

fn file_name(shown: &str) -> String {
    Path::new(shown)
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or(shown)
        .to_string()
}

/// A pipeline name from a file stem: lowercase letters, digits and `-`, 1-40.
pub fn pipeline_name(stem: &str) -> String {
    let mut out = String::new();
    let mut prev_upper = false;
    for c in stem.chars() {
        if c.is_ascii_uppercase() {
            if !prev_upper && !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
            prev_upper = true;
            continue;
        }
        prev_upper = false;
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(40).collect();
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "imported".into()
    } else {
        out
    }
}
