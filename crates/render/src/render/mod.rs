//! Rendering units into ARM deployments, synchronously (no tokio), so `aib plan` can call it.
//!
//! A unit renders into a [`RenderedDeployment`]: an ARM deployment template (`$schema`,
//! `contentVersion`, `parameters`, `resources`) whose single
//! `Microsoft.VirtualMachineImages/imageTemplates` resource builds the unit's image, and the body
//! of the matching ARM parameters file.
//!
//! * `template = "builtin:image-template"` (the default) renders everything from the unit's
//!   settings at api-version [`IMAGE_TEMPLATE_API_VERSION`]; see [`builtin`].
//! * `template = "<file>.json.j2"` is rendered by minijinja (strict undefined, debug info) with the
//!   context documented in [`user`], then parsed as JSON.
//! * `template = "<file>.json"` is a plain ARM template used as written.
//!
//! Either file may be a full deployment template (`resources` a list, or with `languageVersion`
//! 2.0 an object of symbolic names; JSON with comments is read as ARM reads it) or a bare
//! imageTemplate body (as used with `az resource create`); bare bodies are wrapped into a
//! deployment. The ARM `parameters` a deployment declares get their values from the unit's
//! `parameters` (then its secrets, then the well-known names `imageTemplateName`,
//! `svclocation`/`location`, and `api-version` when it pins no default); a declared parameter
//! with neither a value nor a `defaultValue` (nor `nullable`) is an error.
//!
//! The imageTemplate resource is always named [`final_template_name`] (the planned
//! `template_name`, or with `source_version` the name from the finalized input hash), and
//! carries aib's `aib.pipeline`, `aib.unit` and `aib.inputHash` tags on itself and on its
//! distributors' `artifactTags`, as the built-in template does (tags given as an ARM
//! expression are merged with `union`).
//!
//! Secrets go to ARM as `securestring` parameters, never in the template body (see
//! [`secure`]): with [`RenderInputs::secrets`] `None` their values are left out of the
//! parameters file; only the executor, sending the deployment to Azure, passes values. The
//! inspection copy of the imageTemplate shows `***`.
//!
//! Context: [`Renderer::new`] takes the loaded [`aib_manifest::Manifest`] for the pipeline name
//! and `templates_dir` (user templates may `{% include %}` other files of that directory).
//! One renderer caches compiled templates and read files for every unit of a run; it is `Sync`.

pub mod builtin;
mod secure;
pub mod user;
mod write;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aib_manifest::Manifest;
use aib_planner::{Plan, ResolvedSource, TemplateRef, Unit};
use indexmap::IndexMap;
use serde_json::{Value, json};

pub use write::{RenderDirSummary, write_render_dir};

/// api-version of `Microsoft.VirtualMachineImages/imageTemplates` the built-in template uses
/// (newest stable in the reference).
pub const IMAGE_TEMPLATE_API_VERSION: &str = "2025-10-01";
/// `$schema` of rendered deployment templates.
pub const DEPLOYMENT_TEMPLATE_SCHEMA: &str =
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#";
/// `$schema` of rendered parameters files.
pub const DEPLOYMENT_PARAMETERS_SCHEMA: &str =
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#";
/// The resource type of an image template.
pub const IMAGE_TEMPLATE_TYPE: &str = "Microsoft.VirtualMachineImages/imageTemplates";
/// What a secret renders as outside what is sent to Azure.
pub const SECRET_MASK: &str = "***";
/// ARM refuses a deployment request over 4 MiB; a larger rendering is an error at `validate`.
pub const MAX_DEPLOYMENT_BYTES: u64 = 4 << 20;
/// A built-in unit whose inlined scripts total less than this cannot reach
/// [`MAX_DEPLOYMENT_BYTES`] (JSON escaping at most sextuples a byte, the rest of the template
/// is a few KiB), so its size is only measured above it.
const SCRIPTS_SURELY_FIT: u64 = (MAX_DEPLOYMENT_BYTES - (256 << 10)) / 6;

/// Per-run inputs of a rendering.
#[derive(Clone, Copy, Debug, Default)]
pub struct RenderInputs<'a> {
    /// Concrete source version: the resolved platform version for `latest`, or for
    /// `source = { variant }` the parent's published image version id. None = as planned
    /// (`latest` / parent unknown).
    pub source_version: Option<&'a str>,
    /// Gallery image version to publish, e.g. "2026.1128.1"; None = let AIB choose (policy
    /// `auto`) or the plan preview.
    pub image_version: Option<&'a str>,
    /// Secret values by name; None leaves them out of the parameters (plan, --render-dir).
    pub secrets: Option<&'a SecretValues>,
}

/// Secret values by name. `Debug` prints the names only.
#[derive(Clone, Default)]
pub struct SecretValues {
    values: IndexMap<String, String>,
}

impl SecretValues {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// The values (for the redactor).
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.values.values().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl FromIterator<(String, String)> for SecretValues {
    fn from_iter<T: IntoIterator<Item = (String, String)>>(iter: T) -> Self {
        Self {
            values: iter.into_iter().collect(),
        }
    }
}

impl fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

/// One unit, rendered.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedDeployment {
    /// The unit's id.
    pub unit: String,
    /// The imageTemplate name.
    pub template_name: String,
    /// ARM deployment name derived from the template name (1-64, `^[-\w\._\(\)]+$`).
    pub deployment_name: String,
    /// ARM deploymentTemplate (`$schema`, `contentVersion`, `parameters`, `resources`).
    pub template: Value,
    /// ARM parameters file body (`{"$schema","contentVersion","parameters":{name:{value}}}`);
    /// secrets only when [`RenderInputs::secrets`] is Some.
    pub parameters: Value,
    /// The imageTemplates resource as rendered (for lint and inspection).
    pub image_template: Value,
    /// Names of the `securestring` (or `secureObject`) ARM parameters that carry secrets (left
    /// out of `parameters` without values).
    pub secret_parameters: Vec<String>,
    /// Where the template came from: `builtin:image-template` or the template file's path.
    pub origin: String,
}

impl RenderedDeployment {
    /// The deployment template as pretty JSON (with a final newline).
    pub fn template_json(&self) -> String {
        pretty(&self.template)
    }

    /// The parameters file as pretty JSON (with a final newline).
    pub fn parameters_json(&self) -> String {
        pretty(&self.parameters)
    }

    /// The `properties` of the imageTemplate resource (`Null` when absent).
    pub fn properties(&self) -> &Value {
        self.image_template
            .get("properties")
            .unwrap_or(&Value::Null)
    }

    /// The ARM deployment request body (`{"properties":{"mode","template","parameters"}}`).
    pub fn deployment_body(&self) -> Value {
        json!({
            "properties": {
                "mode": "Incremental",
                "template": self.template,
                "parameters": self.parameters.get("parameters").cloned().unwrap_or_else(|| json!({})),
            }
        })
    }
}

/// Bytes of a deployment request body as sent (compact JSON), counted without building it.
fn deployment_bytes(d: &RenderedDeployment) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, &d.template);
    let _ = serde_json::to_writer(&mut c, &d.parameters);
    // `{"properties":{"mode":"Incremental","template":…,"parameters":…}}`
    c.0 + 64
}

pub(crate) fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// Why a unit did not render.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A user template failed in minijinja.
    #[error("unit `{unit}`: cannot render template `{file}`{}: {message}", line_suffix(*.line))]
    Template {
        unit: String,
        file: String,
        line: Option<usize>,
        message: String,
        /// minijinja's debug info (the template source around the error, the variables).
        debug: String,
    },
    /// A rendered or plain template is not JSON. For `.json.j2`, `line` and `column` are those of
    /// the rendered output (which keeps the template's line breaks); `excerpt` is that line.
    #[error(
        "unit `{unit}`: template `{file}` {} valid JSON: {message} at line {line}, column {column}{}: `{excerpt}`",
        if *.rendered { "does not render to" } else { "is not" },
        if *.rendered { " of the rendered output" } else { "" }
    )]
    Json {
        unit: String,
        file: String,
        line: usize,
        column: usize,
        message: String,
        /// Whether the text was rendered by minijinja (a `.json.j2`).
        rendered: bool,
        /// The offending line, trimmed and cut to 120 characters; secrets masked.
        excerpt: String,
    },
    /// A customizer or parameter references a secret whose value was not resolved.
    #[error("unit `{unit}`: secret `{name}` has no value")]
    MissingSecret { unit: String, name: String },
    /// The deployment is larger than ARM accepts.
    #[error(
        "unit `{unit}`: the rendered deployment is {bytes} bytes; ARM refuses deployments over {max} bytes (4 MiB): inline less (a `script_uri` instead of a long `script`)",
        max = MAX_DEPLOYMENT_BYTES
    )]
    TooLarge { unit: String, bytes: u64 },
    /// A file could not be read.
    #[error("unit `{unit}`: cannot read `{path}`: {message}")]
    Io {
        unit: String,
        path: String,
        message: String,
    },
    /// The template is JSON but not something aib can deploy.
    #[error("unit `{unit}`: template `{file}`: {message}")]
    Invalid {
        unit: String,
        file: String,
        message: String,
    },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(" at line {l}")).unwrap_or_default()
}

impl RenderError {
    /// The unit the error is about.
    pub fn unit(&self) -> &str {
        match self {
            Self::Template { unit, .. }
            | Self::Json { unit, .. }
            | Self::Io { unit, .. }
            | Self::MissingSecret { unit, .. }
            | Self::TooLarge { unit, .. }
            | Self::Invalid { unit, .. } => unit,
        }
    }
}

/// The template name a unit's deployment uses: the planned `template_name` when
/// `source_version` is `None`, else the name from `input_hash.finalize(source_version)`
/// (same prefix, new 8-digit hash), as [`aib_planner::naming::template_name`] computes it.
pub fn final_template_name(unit: &Unit, source_version: Option<&str>) -> String {
    let Some(v) = source_version else {
        return unit.template_name.clone();
    };
    let full = unit.input_hash.finalize(v);
    let hash8 = full
        .strip_prefix("sha256:")
        .and_then(|h| h.get(..8))
        .unwrap_or("00000000");
    match unit.template_name.strip_suffix(unit.input_hash.short()) {
        Some(prefix) => format!("{prefix}{hash8}"),
        None => aib_planner::naming::template_name("", &unit.variant, &unit.environment, hash8),
    }
}

/// The input hash recorded in tags: `finalize(source_version)`, or the preview.
pub fn final_input_hash(unit: &Unit, source_version: Option<&str>) -> String {
    match source_version {
        Some(v) => unit.input_hash.finalize(v),
        None => unit.input_hash.preview().to_string(),
    }
}

/// The ARM deployment name for a template name: the name itself (AIB's name rule is a subset
/// of ARM's deployment name rule), cut to 64 characters.
pub fn deployment_name(template_name: &str) -> String {
    let mut s: String = template_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() {
        s.push_str("aib");
    }
    s
}

/// Renders one unit with a one-off [`Renderer`].
pub fn render_unit(
    unit: &Unit,
    manifest: &Manifest,
    inputs: &RenderInputs,
) -> Result<RenderedDeployment, RenderError> {
    Renderer::new(manifest).render(unit, inputs)
}

/// Renders units of one manifest, caching compiled templates and files read.
pub struct Renderer {
    pipeline: String,
    templates_dir: PathBuf,
    /// `templates_dir` as errors show it: relative to the manifest (`templates`).
    templates_shown: String,
    env: minijinja::Environment<'static>,
    files: Mutex<HashMap<PathBuf, Result<Arc<str>, String>>>,
}

impl fmt::Debug for Renderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renderer")
            .field("pipeline", &self.pipeline)
            .field("templates_dir", &self.templates_dir)
            .finish_non_exhaustive()
    }
}

impl Renderer {
    pub fn new(manifest: &Manifest) -> Self {
        let dir = manifest.templates_dir();
        let mut r = Self::with_parts(manifest.pipeline(), &dir, manifest.file_roots.clone());
        if let Ok(rel) = dir.strip_prefix(&manifest.dir) {
            r.templates_shown = rel.to_string_lossy().replace('\\', "/");
        }
        r
    }

    /// A renderer for a pipeline name and a templates directory whose templates may come
    /// from `roots` only.
    pub fn with_parts(
        pipeline: &str,
        templates_dir: &Path,
        roots: aib_manifest::FileRoots,
    ) -> Self {
        Self {
            pipeline: pipeline.to_string(),
            templates_dir: templates_dir.to_path_buf(),
            templates_shown: templates_dir.to_string_lossy().into_owned(),
            env: user::environment(templates_dir, roots),
            files: Mutex::new(HashMap::new()),
        }
    }

    pub fn pipeline(&self) -> &str {
        &self.pipeline
    }

    /// Renders a unit. For `source = { variant }` without `source_version` the source is a
    /// placeholder naming the parent unit; use [`Renderer::render_in_plan`] for a deployable
    /// preview.
    pub fn render(
        &self,
        unit: &Unit,
        inputs: &RenderInputs,
    ) -> Result<RenderedDeployment, RenderError> {
        self.render_with_parent(unit, inputs, None)
    }

    /// Renders a unit of a plan: for `source = { variant }` without `source_version`, the
    /// source is the parent's image definition at `/versions/latest` (what the parent will
    /// have published once it ran).
    pub fn render_in_plan(
        &self,
        plan: &Plan,
        unit: &Unit,
        inputs: &RenderInputs,
    ) -> Result<RenderedDeployment, RenderError> {
        let parent = match &unit.settings.source {
            ResolvedSource::Variant { unit: parent, .. } if inputs.source_version.is_none() => plan
                .unit(parent)
                .map(|p| format!("{}/versions/latest", builtin::gallery_image_id(p, None))),
            _ => None,
        };
        self.render_with_parent(unit, inputs, parent.as_deref())
    }

    /// Checks that a unit of a plan renders, building its deployment only when that can tell
    /// more: with the built-in template a unit fails to render only when a script it inlines
    /// cannot be read (see [`builtin::check_inputs`]), so only those are read and `Ok(None)` is
    /// returned; a user template is rendered in full and returned for linting.
    pub fn check_in_plan(
        &self,
        plan: &Plan,
        unit: &Unit,
    ) -> Result<Option<RenderedDeployment>, RenderError> {
        match &unit.settings.template {
            TemplateRef::Builtin { .. } => {
                if builtin::check_inputs(self, unit)? >= SCRIPTS_SURELY_FIT {
                    // Near ARM's limit: render to measure it.
                    self.render_in_plan(plan, unit, &RenderInputs::default())?;
                }
                Ok(None)
            }
            TemplateRef::File { .. } => self
                .render_in_plan(plan, unit, &RenderInputs::default())
                .map(Some),
        }
    }

    fn render_with_parent(
        &self,
        unit: &Unit,
        inputs: &RenderInputs,
        parent_preview: Option<&str>,
    ) -> Result<RenderedDeployment, RenderError> {
        let name = final_template_name(unit, inputs.source_version);
        let built = builtin::BuiltinParts::new(self, unit, inputs, &name, parent_preview)?;
        let mut d = match &unit.settings.template {
            TemplateRef::Builtin { .. } => built.into_deployment(unit),
            TemplateRef::File { file } => user::render_file(self, unit, &built, file)?,
        };
        secure::secure(&mut d, unit, inputs.secrets)?;
        let bytes = deployment_bytes(&d);
        if bytes > MAX_DEPLOYMENT_BYTES {
            return Err(RenderError::TooLarge {
                unit: unit.id.to_string(),
                bytes,
            });
        }
        Ok(d)
    }

    /// A template file's name (relative to `templates_dir`) as errors show it: relative to the
    /// manifest, e.g. `templates/app.json.j2`.
    pub(crate) fn shown_template(&self, name: &str) -> String {
        if self.templates_shown.is_empty() || self.templates_shown == "." {
            name.to_string()
        } else {
            format!("{}/{name}", self.templates_shown.trim_end_matches('/'))
        }
    }

    /// A file's text, read once per renderer; `shown` is the path named in errors.
    pub(crate) fn read_text(
        &self,
        unit: &Unit,
        path: &Path,
        shown: &str,
    ) -> Result<Arc<str>, RenderError> {
        let cached = {
            let files = match self.files.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            files.get(path).cloned()
        };
        let r = match cached {
            Some(r) => r,
            None => {
                let r: Result<Arc<str>, String> = std::fs::read_to_string(path)
                    .map(Arc::from)
                    .map_err(|e| e.to_string());
                let mut files = match self.files.lock() {
                    Ok(g) => g,
                    Err(poisoned) => poisoned.into_inner(),
                };
                files.insert(path.to_path_buf(), r.clone());
                r
            }
        };
        r.map_err(|message| RenderError::Io {
            unit: unit.id.to_string(),
            path: shown.to_string(),
            message,
        })
    }
}

/// The parameters file body for values by name.
pub(crate) fn parameters_file(values: &IndexMap<String, Value>) -> Value {
    let params: serde_json::Map<String, Value> = values
        .iter()
        .map(|(k, v)| (k.clone(), json!({ "value": v })))
        .collect();
    json!({
        "$schema": DEPLOYMENT_PARAMETERS_SCHEMA,
        "contentVersion": "1.0.0.0",
        "parameters": params,
    })
}
