//! What a real deployment of the imported template would trip on, each said as a `note:` that
//! names the JSON path in the original file, and what import leaves out because of it:
//!
//! * a resource lock on the imageTemplate (it stops aib's cleanup and `aib gc`): left out;
//! * a deploymentScript that runs the build on deploy (aib runs it itself): left out unless
//!   `--keep-deployment-scripts`;
//! * `deployment().properties.templateLink` / `_artifactsLocation`: aib deploys inline, there
//!   is no link; the parameter becomes a placeholder to fill in;
//! * where the imageTemplate breaks the current Image Builder API, read against aib's model of
//!   it ([`crate::lint::api_model`]): no identity, the retired `ISO` source, unknown or
//!   misspelled fields;
//! * an api-version Azure no longer serves: replaced by the current one.

use std::fmt;

use serde_json::{Map, Value};

use super::error::NotATemplate;
use super::expr::Expr;
use super::find::{ResKey, Scoped, resource, resources, type_of};
use super::path::JsonPath;
use super::refs::{Target, literal_type_name, typed_refs};
use crate::lint::api_model::{self, Step};
use crate::render::user::{is_image_template_type, parameter_ref};

/// One note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub path: JsonPath,
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Notes, in the order found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notes(pub Vec<Note>);

impl Notes {
    pub fn add(&mut self, path: JsonPath, message: impl Into<String>) {
        let message = message.into();
        if !self
            .0
            .iter()
            .any(|n| n.path == path && n.message == message)
        {
            self.0.push(Note { path, message });
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Note> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub const LOCKS_TYPE: &str = "Microsoft.Authorization/locks";
pub const DEPLOYMENT_SCRIPTS_TYPE: &str = "Microsoft.Resources/deploymentScripts";

/// Maps a path inside the lifted template to the original file.
pub fn original(s: &Scoped, p: &JsonPath) -> JsonPath {
    s.original(p)
}

/// Whether a lock's `scope` is the imageTemplate.
fn scoped_to_template(lock: &Value) -> bool {
    let Some(scope) = lock.get("scope").and_then(Value::as_str) else {
        return false;
    };
    match Expr::of(scope) {
        Some(e) => typed_refs(&e)
            .iter()
            .any(|r| is_image_template_type(&r.rtype)),
        None => literal_type_name(scope).is_some_and(|(t, _)| is_image_template_type(t)),
    }
}

/// Leaves out locks on the imageTemplate; notes locks on the whole resource group.
pub fn locks(s: &mut Scoped, notes: &mut Notes) {
    let mut out = Vec::new();
    for (k, r) in resources(&s.template) {
        if !type_of(r).eq_ignore_ascii_case(LOCKS_TYPE) {
            continue;
        }
        let p = original(s, &k.path(&JsonPath::root()));
        if scoped_to_template(r) {
            notes.add(
                p,
                "a resource lock on the imageTemplate would stop aib from deleting it after the build (`cleanup`) and in `aib gc`: left out",
            );
            out.push(Target::of(&k, r));
        } else if r.get("scope").is_none() {
            notes.add(
                p,
                "a lock on the whole resource group also stops aib from deleting the imageTemplate after the build and in `aib gc`; kept as written",
            );
        }
    }
    drop_resources(s, &out, notes);
}

/// Whether a script starts an Image Builder build.
pub fn runs_build(script: &str) -> bool {
    let s = script.to_ascii_lowercase();
    let names_aib = s.contains("imagetemplates") || s.contains("image builder");
    (s.contains("invoke-azresourceaction") && s.contains("-action run") && names_aib)
        || s.contains("start-azimagebuildertemplate")
        || s.contains("az image builder run")
        || (s.contains("invoke-action") && s.contains("--action run") && names_aib)
        || (s.contains("/run?api-version") && names_aib)
}

fn script_text(r: &Value) -> String {
    let mut out = String::new();
    for k in ["scriptContent", "arguments", "primaryScriptUri"] {
        if let Some(v) = r
            .pointer(&format!("/properties/{k}"))
            .and_then(Value::as_str)
        {
            out.push_str(v);
            out.push('\n');
        }
    }
    out
}

/// Leaves out deploymentScripts that run the build (unless `keep`).
pub fn deployment_scripts(s: &mut Scoped, keep: bool, notes: &mut Notes) {
    let mut out = Vec::new();
    for (k, r) in resources(&s.template) {
        if !type_of(r).eq_ignore_ascii_case(DEPLOYMENT_SCRIPTS_TYPE) || !runs_build(&script_text(r))
        {
            continue;
        }
        let p = original(s, &k.path(&JsonPath::root()));
        if keep {
            notes.add(
                p,
                "this deploymentScript starts the image build on deploy, and aib starts it too: a build aib runs would build twice (kept because of --keep-deployment-scripts)",
            );
        } else {
            notes.add(
                p,
                "this deploymentScript starts the image build on deploy; aib runs the build itself (and watches it, collects its logs): left out (--keep-deployment-scripts keeps it)",
            );
            out.push(Target::of(&k, r));
        }
    }
    drop_resources(s, &out, notes);
}

fn drop_resources(s: &mut Scoped, out: &[Target], notes: &mut Notes) {
    if out.is_empty() {
        return;
    }
    for p in s.remove(out) {
        notes.add(
            p,
            "names a resource that was left out, so it is left out too",
        );
    }
}

/// Notes uses of `deployment().properties.templateLink`; returns the parameters whose default
/// reads it (they need a value: aib deploys the template inline, without a link).
pub fn template_link(s: &mut Scoped, notes: &mut Notes) -> Vec<String> {
    let mut params = Vec::new();
    let mut found: Vec<JsonPath> = Vec::new();
    super::refs::for_each_string(&mut s.template, &JsonPath::root(), &mut |p, v| {
        if Expr::of(v).is_some() && v.to_ascii_lowercase().contains("templatelink") {
            found.push(p.clone());
        }
    });
    for p in found {
        let steps = p.steps();
        let param = match (steps.first(), steps.get(1), steps.get(2)) {
            (
                Some(super::path::Step::Key(a)),
                Some(super::path::Step::Key(name)),
                Some(super::path::Step::Key(d)),
            ) if a == "parameters" && d == "defaultValue" => Some(name.clone()),
            _ => None,
        };
        match param {
            Some(name) => {
                notes.add(
                    original(s, &p),
                    format!("reads `deployment().properties.templateLink`, which does not exist when aib deploys the template inline: set `parameters.{name}` in aib.toml to where the artifacts are (a placeholder until you do)"),
                );
                params.push(name);
            }
            None => notes.add(
                original(s, &p),
                "reads `deployment().properties.templateLink`, which does not exist when aib deploys the template inline: ARM would fail the deployment",
            ),
        }
    }
    params
}

/// Checks the imageTemplate against aib's model of the API, and its resource-level keys.
pub fn api_model(s: &Scoped, key: &ResKey, notes: &mut Notes) -> Result<(), NotATemplate> {
    let Some(r) = resource(&s.template, key) else {
        return Ok(());
    };
    let at = original(s, &key.path(&JsonPath::root()));
    if r.get("copy").is_some() {
        return Err(NotATemplate::TemplateCopyLoop { at: at.key("copy") });
    }
    if let Some(c) = r.get("condition") {
        notes.add(
            at.key("condition"),
            format!(
                "the imageTemplate is deployed only when {}; aib builds it every time, so the condition must hold for every unit",
                super::find::compact(c)
            ),
        );
    }
    for f in api_model::check_resource(r) {
        let mut p = at.clone();
        for st in &f.path {
            p = match st {
                Step::Key(k) => p.key(k),
                Step::Index(i) => p.index(*i),
            };
        }
        notes.add(p, f.message);
    }
    Ok(())
}

/// Where the imageTemplate's api-version is written and what it is.
enum ApiVersionAt {
    /// A literal `apiVersion` of the resource.
    Literal(String),
    /// The default of the ARM parameter `apiVersion` reads.
    Parameter { name: String, default: String },
    /// An expression or a parameter without a literal default: aib's renderer decides.
    Other,
}

fn api_version_at(t: &Map<String, Value>, r: &Value) -> ApiVersionAt {
    let Some(v) = r.get("apiVersion").and_then(Value::as_str) else {
        return ApiVersionAt::Other;
    };
    if Expr::of(v).is_none() {
        return ApiVersionAt::Literal(v.to_string());
    }
    let Some(p) = parameter_ref(v) else {
        return ApiVersionAt::Other;
    };
    let default = t
        .get("parameters")
        .and_then(|ps| ps.get(p))
        .and_then(|d| d.get("defaultValue"))
        .and_then(Value::as_str)
        .filter(|d| Expr::of(d).is_none());
    match default {
        Some(d) => ApiVersionAt::Parameter {
            name: p.to_string(),
            default: d.to_string(),
        },
        None => ApiVersionAt::Other,
    }
}

/// Keeps a pinned api-version Azure still serves; replaces one it does not with the current one.
pub fn api_version(s: &mut Scoped, key: &ResKey, notes: &mut Notes) {
    use aib_azure::api_versions;
    let t = crate::render::IMAGE_TEMPLATE_TYPE;
    let Some(r) = resource(&s.template, key) else {
        return;
    };
    let at = original(s, &key.path(&JsonPath::root()));
    let (pinned, path) = match api_version_at(&s.template, r) {
        ApiVersionAt::Literal(v) => (v, at.key("apiVersion")),
        ApiVersionAt::Parameter { name, default } => (
            default,
            original(
                s,
                &JsonPath::root()
                    .key("parameters")
                    .key(&name)
                    .key("defaultValue"),
            ),
        ),
        ApiVersionAt::Other => return,
    };
    if api_versions::is_served(t, &pinned) {
        return;
    }
    let Some(current) = api_versions::current(t) else {
        return;
    };
    notes.add(
        path,
        format!(
            "api-version `{pinned}` of {t} is no longer served by Azure: replaced by `{current}`"
        ),
    );
    let pinned_value = Value::String(pinned.clone());
    match api_version_at(&s.template, r) {
        ApiVersionAt::Literal(_) => {
            if let Some(r) = super::find::resource_mut(&mut s.template, key) {
                r["apiVersion"] = Value::String(current.to_string());
            }
        }
        ApiVersionAt::Parameter { name, .. } => {
            if let Some(d) = s
                .template
                .get_mut("parameters")
                .and_then(|ps| ps.get_mut(&name))
                .and_then(Value::as_object_mut)
            {
                d.insert("defaultValue".into(), Value::String(current.to_string()));
                if let Some(Value::Array(allowed)) = d.get_mut("allowedValues")
                    && allowed.contains(&pinned_value)
                {
                    allowed.push(Value::String(current.to_string()));
                }
            }
        }
        ApiVersionAt::Other => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_starting_scripts_are_recognised() {
        for s in [
            "Invoke-AzResourceAction -ResourceName \"x\" -ResourceType \"Microsoft.VirtualMachineImages/imageTemplates\" -ApiVersion \"2020-02-14\" -Action Run -Force",
            "az image builder run -n x -g rg",
            "Start-AzImageBuilderTemplate -Name x -ResourceGroupName rg",
            "az resource invoke-action --resource-type Microsoft.VirtualMachineImages/imageTemplates -n x -g rg --action Run",
        ] {
            assert!(runs_build(s), "{s}");
        }
        for s in [
            "Invoke-AzResourceAction -ResourceType Microsoft.Compute/virtualMachines -Action Run",
            "az vm run-command invoke",
            "Get-AzImageBuilderTemplate",
        ] {
            assert!(!runs_build(s), "{s}");
        }
    }
}
