//! `aib import FILE.json [--out DIR] [--keep-deployment-scripts]`: turns AIB templates a user
//! already deploys into a manifest stub and user templates, keeping what they mean.
//!
//! Read ([`read`], [`find`]): full ARM deployment templates — `resources` as an array or, with
//! `languageVersion` 2.0, an object of symbolic names; imageTemplates inside nested deployments
//! (inline `properties.template`, inner or outer evaluation scope, resource group or
//! subscription scope) and inside linked templates given by a `relativePath` beside the file;
//! JSON with `//` and `/* */` comments as ARM accepts it — and bare imageTemplate bodies as used
//! with `az resource create` (also with `"type": "Microsoft.VirtualMachineImages"`), with
//! `<placeholder>` tokens as in Azure/azvmimagebuilder's quickstarts.
//!
//! Each imageTemplate of the file becomes one variant: the template that holds it, lifted out
//! of the deployments around it (aib deploys it into the unit's resource group), without the
//! other imageTemplates. Then:
//!
//! * [`rename`]: the imageTemplate's name becomes an ARM parameter aib fills, and every
//!   reference to it follows (or the file is refused, naming the reference that would not);
//! * [`notes`]: locks on the template and deploymentScripts that start the build are left out,
//!   `templateLink` uses, breaks with the current API and retired api-versions are noted, each
//!   at its JSON path in the original file;
//! * [`stub`]: `DIR/aib.toml` (environment `dev`, one variant per imageTemplate) and
//!   `DIR/templates/<stem>.json` — the template exactly as written apart from the above — or
//!   `.json.j2` when placeholders or settings moved to the manifest need templating.
//!
//! Each placeholder keeps its original token as its value, so `aib plan` on the stub renders a
//! template whose properties, resources and parameter defaults equal the original's; `aib
//! validate` warns about each (`aib::lint::placeholder`) until filled in.

mod error;
mod expr;
pub mod find;
pub mod links;
pub mod notes;
pub mod path;
pub mod read;
mod refs;
pub mod rename;
mod stub;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::render::user::is_image_template_type;
pub use error::{ImportError, NotATemplate, ReadError};
use find::{Found, ResKey, Scoped};
pub use notes::{Note, Notes};
use path::JsonPath;
use refs::Target;

/// How to import.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImportOptions {
    /// Keep deploymentScripts that start the build on deploy (left out by default).
    pub keep_deployment_scripts: bool,
}

/// One imageTemplate of the file, imported as a variant.
#[derive(Clone, Debug)]
pub struct ImportedVariant {
    /// The variant's name in the manifest.
    pub name: String,
    /// Where the imageTemplate is in the original file.
    pub source_path: String,
    /// File name of the template under `templates/`.
    pub template_file: String,
    /// Template text.
    pub template: String,
    /// The ARM parameter aib fills with the template's name.
    pub name_parameter: String,
}

/// What an import produced.
#[derive(Clone, Debug)]
pub struct Imported {
    /// `aib.toml` text.
    pub manifest: String,
    pub variants: Vec<ImportedVariant>,
    /// Placeholders found: token → the manifest key it became.
    pub placeholders: IndexMap<String, String>,
    /// What a real deployment would trip on, and what was left out.
    pub notes: Notes,
    /// Whether the original was a full ARM deployment (else a bare imageTemplate body).
    pub was_deployment: bool,
}

/// Where the files went.
#[derive(Clone, Debug)]
pub struct Written {
    pub manifest_path: PathBuf,
    pub template_paths: Vec<PathBuf>,
}

/// Imports `file` into `out` (`aib.toml` and `templates/`).
pub fn import_file(
    file: &Path,
    out: &Path,
    options: &ImportOptions,
) -> Result<(Imported, Written), ImportError> {
    let shown = file.display().to_string();
    let text = read::read_bounded(file).map_err(|reason| ImportError::Read {
        path: shown.clone(),
        reason,
    })?;
    let stem = file
        .file_name()
        .and_then(|s| s.to_str())
        .map(|s| {
            s.trim_end_matches(".json")
                .trim_end_matches(".jsonc")
                .to_string()
        })
        .unwrap_or_else(|| "template".into());
    let imported = import_text(&text, &stem, &shown, file.parent(), options)?;
    let manifest_path = out.join("aib.toml");
    if manifest_path.exists() {
        return Err(ImportError::Exists {
            path: manifest_path.display().to_string(),
        });
    }
    let templates = out.join("templates");
    let write_err = |p: &Path, e: std::io::Error| ImportError::Write {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(&templates).map_err(|e| write_err(&templates, e))?;
    let mut template_paths = Vec::new();
    for v in &imported.variants {
        let p = templates.join(&v.template_file);
        if p.exists() {
            return Err(ImportError::Exists {
                path: p.display().to_string(),
            });
        }
        std::fs::write(&p, &v.template).map_err(|e| write_err(&p, e))?;
        template_paths.push(p);
    }
    std::fs::write(&manifest_path, &imported.manifest).map_err(|e| write_err(&manifest_path, e))?;
    Ok((
        imported,
        Written {
            manifest_path,
            template_paths,
        },
    ))
}

/// Imports template text. `stem` names the pipeline and the template files; `shown` is the
/// path used in messages; `dir` is where linked templates' `relativePath`s start (none: linked
/// templates are not read).
pub fn import_str(text: &str, stem: &str, shown: &str) -> Result<Imported, ImportError> {
    import_text(text, stem, shown, None, &ImportOptions::default())
}

fn import_text(
    text: &str,
    stem: &str,
    shown: &str,
    dir: Option<&Path>,
    options: &ImportOptions,
) -> Result<Imported, ImportError> {
    let mut notes = Notes::default();
    let Document {
        template: doc,
        found,
        body,
    } = deployment_of(text, shown, dir, &mut notes)?;
    let was_deployment = body.is_none();
    let names = variant_names(&doc, &found);
    let pipeline = pipeline_name(stem);
    let mut stubs = Vec::new();
    let mut variants = Vec::new();
    for (f, name) in found.iter().zip(&names) {
        let file_stem = if found.len() == 1 {
            stem.to_string()
        } else {
            format!("{stem}-{name}")
        };
        let (stub, param) = import_one(
            &doc,
            f,
            name,
            &file_stem,
            shown,
            options,
            &mut notes,
            body.as_ref(),
        )?;
        variants.push(ImportedVariant {
            name: name.clone(),
            source_path: if body.is_none() {
                f.resource_path().to_string()
            } else {
                JsonPath::root().to_string()
            },
            template_file: stub.template_file.clone(),
            template: stub.template.clone(),
            name_parameter: param,
        });
        stubs.push(stub);
    }
    let placeholders = stubs
        .iter()
        .flat_map(|s| s.placeholders.iter().map(|(a, b)| (a.clone(), b.clone())))
        .collect();
    if !was_deployment {
        // Paths into a bare body start at the body, not at the deployment it was wrapped in.
        for n in &mut notes.0 {
            if n.path.steps().len() >= 2 && n.path.first_key() == Some("resources") {
                n.path = JsonPath::root().join_steps(&n.path.steps()[2..]);
            }
        }
    }
    let manifest = stub::manifest(&stubs, &file_name(shown), &pipeline, &notes);
    Ok(Imported {
        manifest,
        variants,
        placeholders,
        notes,
        was_deployment,
    })
}

/// A file read for import: a deployment template holding at least one imageTemplate.
struct Document {
    /// The deployment template, linked templates inlined.
    template: Map<String, Value>,
    /// Its imageTemplates.
    found: Vec<Found>,
    /// Where a bare imageTemplate body came from (`None`: the file was a deployment).
    body: Option<stub::BodyOrigin>,
}

/// Reads the text as a [`Document`].
fn deployment_of(
    text: &str,
    shown: &str,
    dir: Option<&Path>,
    notes: &mut Notes,
) -> Result<Document, ImportError> {
    let not = |reason: NotATemplate| ImportError::NotATemplate {
        path: shown.to_string(),
        reason,
    };
    let doc = read::parse(text).map_err(|e| ImportError::Json {
        path: shown.to_string(),
        line: e.line,
        column: e.column,
        message: e.message,
    })?;
    let Value::Object(doc) = doc else {
        return Err(not(NotATemplate::NotAnObject));
    };
    if read::has_comments(text) {
        notes.add(
            JsonPath::root(),
            "the file has comments; ARM ignores them and so does the imported template (they are not carried over)",
        );
    }
    let was_deployment = doc.contains_key("resources");
    let body = (!was_deployment).then(|| stub::BodyOrigin {
        name: doc.get("name").cloned(),
        rtype: doc.get("type").cloned(),
        api_version: doc.get("apiVersion").cloned(),
    });
    let mut doc = if was_deployment {
        doc
    } else {
        wrap_body(doc, &not)?
    };
    links::inline_relative_links(&mut doc, dir, &JsonPath::root(), 0, notes).map_err(not)?;
    let found = find::image_templates(&doc);
    if found.is_empty() {
        return Err(not(no_image_template(&doc)));
    }
    Ok(Document {
        template: doc,
        found,
        body,
    })
}

/// A bare imageTemplate body wrapped into a deployment template, as the renderer does.
fn wrap_body(
    mut body: Map<String, Value>,
    not: &dyn Fn(NotATemplate) -> ImportError,
) -> Result<Map<String, Value>, ImportError> {
    let props = body.get("properties").and_then(Value::as_object);
    let is_template =
        props.is_some_and(|p| p.contains_key("source") || p.contains_key("distribute"));
    if !is_template {
        return Err(not(if props.is_some_and(|p| p.contains_key("kind")) {
            NotATemplate::TriggerBody
        } else {
            NotATemplate::NoTemplateShape
        }));
    }
    if body
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| !is_image_template_type(t))
    {
        return Err(not(NotATemplate::OtherResource {
            rtype: body
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
        }));
    }
    body.insert("type".into(), crate::render::IMAGE_TEMPLATE_TYPE.into());
    if !body.contains_key("name") {
        body.insert("name".into(), "[parameters('imageTemplateName')]".into());
    }
    if !body.contains_key("apiVersion") {
        body.insert(
            "apiVersion".into(),
            crate::render::IMAGE_TEMPLATE_API_VERSION.into(),
        );
    }
    let mut t = Map::new();
    t.insert(
        "$schema".into(),
        crate::render::DEPLOYMENT_TEMPLATE_SCHEMA.into(),
    );
    t.insert("contentVersion".into(), "1.0.0.0".into());
    t.insert(
        "parameters".into(),
        serde_json::json!({ "imageTemplateName": { "type": "string" } }),
    );
    t.insert("resources".into(), Value::Array(vec![Value::Object(body)]));
    Ok(t)
}

/// Why a deployment template has no imageTemplate, as precisely as can be told.
fn no_image_template(doc: &Map<String, Value>) -> NotATemplate {
    if !matches!(
        doc.get("resources"),
        Some(Value::Array(_) | Value::Object(_))
    ) {
        return NotATemplate::ResourcesMalformed;
    }
    let linked = find::resources(doc)
        .iter()
        .any(|(_, r)| find::is_deployment(r) && r.pointer("/properties/templateLink").is_some());
    if linked {
        NotATemplate::OnlyLinked
    } else {
        NotATemplate::NoImageTemplate
    }
}

/// Imports one imageTemplate: lift, prune the others, rename, notes, stub.
#[allow(clippy::too_many_arguments)]
fn import_one(
    doc: &Map<String, Value>,
    f: &Found,
    name: &str,
    file_stem: &str,
    shown: &str,
    options: &ImportOptions,
    notes: &mut Notes,
    body: Option<&stub::BodyOrigin>,
) -> Result<(stub::VariantStub, String), ImportError> {
    let refused = |at: JsonPath, message: String| ImportError::Refused {
        path: shown.to_string(),
        at: at.to_string(),
        message,
    };
    let mut s: Scoped =
        find::scope_template(doc, f).map_err(|reason| ImportError::NotATemplate {
            path: shown.to_string(),
            reason,
        })?;
    note_lifting(&s, f, notes);
    drop_other_image_templates(&mut s, &f.key, name, notes);
    let key = s.current(&f.key);
    let renamed = rename::follow(&mut s.template, &key, &JsonPath::root())
        .map_err(|u| refused(notes::original(&s, &u.path), u.message))?;
    if let Some(orig) = &renamed.original
        && body.is_none()
    {
        let at = notes::original(&s, &key.path(&JsonPath::root()).key("name"));
        notes.add(
            at,
            format!(
                "the name `{orig}` becomes the parameter `{}`, which aib fills with the unit's template name; {} reference(s) to it follow",
                renamed.parameter, renamed.rewritten
            ),
        );
    }
    notes::locks(&mut s, notes);
    notes::deployment_scripts(&mut s, options.keep_deployment_scripts, notes);
    let needs_value = notes::template_link(&mut s, notes);
    notes::api_model(&s, &key, notes).map_err(|reason| ImportError::NotATemplate {
        path: shown.to_string(),
        reason,
    })?;
    notes::api_version(&mut s, &key, notes);
    let v = stub::variant(
        &s,
        &key,
        name,
        file_stem,
        &renamed.parameter,
        &needs_value,
        body,
        notes,
    );
    Ok((v, renamed.parameter))
}

/// Notes what lifting the template out of its deployments changed.
fn note_lifting(s: &Scoped, f: &Found, notes: &mut Notes) {
    let Some(last) = f.chain.last() else {
        return;
    };
    let mut dep = JsonPath::root();
    for h in &f.chain[..f.chain.len() - 1] {
        dep = h.key.path(&dep).key("properties").key("template");
    }
    let dep = last.key.path(&dep);
    notes.add(
        dep.clone(),
        format!(
            "the imageTemplate is deployed by this nested deployment; aib imports the template it deploys and deploys it into each unit's resource group on its own{}",
            if s.left_behind > 0 {
                format!(
                    ": the {} other resource(s) around it (resource groups, identities, galleries, ...) are not part of the import and must exist before a build",
                    s.left_behind
                )
            } else {
                String::new()
            }
        ),
    );
    for (what, slot, key) in [
        ("resource group", &s.resource_group, "resource_group"),
        ("subscription", &s.subscription, "subscription"),
    ] {
        if let Some((p, v)) = slot {
            notes.add(
                p.clone(),
                format!(
                    "the deployment targets the {what} {}; aib uses the unit's `{key}` (set in aib.toml)",
                    find::compact(v)
                ),
            );
        }
    }
}

/// Leaves out the file's other imageTemplates (each is a variant of its own) and what names
/// them; nested deployments that hold one go too.
fn drop_other_image_templates(s: &mut Scoped, keep: &ResKey, variant: &str, notes: &mut Notes) {
    let mut out = Vec::new();
    for (k, r) in find::resources(&s.template) {
        if k == *keep {
            continue;
        }
        let holds_one = is_image_template_type(find::type_of(r))
            || (find::is_deployment(r)
                && r.pointer("/properties/template")
                    .and_then(Value::as_object)
                    .is_some_and(|t| !find::image_templates(t).is_empty()));
        if holds_one {
            out.push(Target::of(&k, r));
        }
    }
    if out.is_empty() {
        return;
    }
    // Extension resources of a template left out (its locks, role assignments) go with it.
    let removed_templates: Vec<Target> = out
        .iter()
        .filter(|t| is_image_template_type(&t.rtype))
        .cloned()
        .collect();
    for (k, r) in find::resources(&s.template) {
        let scope = r.get("scope").and_then(Value::as_str).unwrap_or("");
        if k != *keep
            && !out.iter().any(|t| t.key == k)
            && removed_templates
                .iter()
                .any(|t| refs::names_target(scope, t) || refs::mentions(scope, t))
        {
            out.push(Target::of(&k, r));
        }
    }
    for p in s.remove(&out) {
        notes.add(
            p,
            format!("names another imageTemplate of the file, so variant `{variant}`'s template leaves it out"),
        );
    }
}

/// One variant name per imageTemplate: `image` when there is one, else from symbolic names,
/// literal names or parameter defaults, made unique.
fn variant_names(doc: &Map<String, Value>, found: &[Found]) -> Vec<String> {
    if found.len() == 1 {
        return vec!["image".into()];
    }
    let mut out: Vec<String> = Vec::new();
    for (i, f) in found.iter().enumerate() {
        let base = candidate_name(doc, f)
            .map(|n| pipeline_name(&n))
            .filter(|n| n != "imported")
            .unwrap_or_else(|| format!("image-{}", i + 1));
        let mut n = base.clone();
        let mut j = 2;
        while out.contains(&n) {
            n = format!("{base}-{j}");
            j += 1;
        }
        out.push(n);
    }
    out
}

fn candidate_name(doc: &Map<String, Value>, f: &Found) -> Option<String> {
    if let ResKey::Symbol(s) = &f.key {
        return Some(s.clone());
    }
    let s = find::scope_template(doc, f).ok()?;
    let name = find::resource(&s.template, &f.key)?.get("name")?.as_str()?;
    if expr::Expr::of(name).is_none() {
        return Some(name.to_string());
    }
    let p = crate::render::user::parameter_ref(name)?;
    s.template
        .get("parameters")?
        .get(p)?
        .get("defaultValue")?
        .as_str()
        .filter(|d| expr::Expr::of(d).is_none())
        .map(str::to_string)
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
