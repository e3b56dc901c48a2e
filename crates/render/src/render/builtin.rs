//! `builtin:image-template`: the imageTemplate resource rendered from a unit's settings.
//!
//! | manifest | imageTemplate (api-version 2025-10-01) |
//! |---|---|
//! | `location`, `identity` | `location`, `identity` (`UserAssigned`) |
//! | `tags` + `aib.pipeline`, `aib.unit`, `aib.inputHash` | `tags`, `managedResourceTags`, `distribute[].artifactTags` |
//! | `source.platform` (+ `plan`) | `PlatformImage` (+ `planInfo`); `version` is `source_version` when given |
//! | `source.gallery_image` | `SharedImageVersion` |
//! | `source.managed_image` | `ManagedImage` |
//! | `source.variant` | `SharedImageVersion` at the parent's published version (`source_version`) |
//! | `customize` | `customize`, keys in AIB's camelCase; local `script` files inlined line by line |
//! | `validate` | `validate` (`inVMValidations`, `continueDistributeOnFailure`, `sourceValidationOnly`) |
//! | `gallery`, `image_definition`, version | `distribute[0]` `SharedImage` `galleryImageId` (`/versions/<v>` when known) |
//! | `replicate_to`, `replica_count`, `storage_account_type` | `targetRegions` (default: the unit's location) |
//! | `exclude_from_latest` | `excludeFromLatest` |
//! | `optimize.vm_boot` | `optimize.vmBoot.state` |
//! | `error_handling` | `errorHandling` |
//! | `staging_resource_group` | `stagingResourceGroup` |
//! | `build_timeout_minutes` | `buildTimeoutInMinutes` |
//! | `vm_size`, `os_disk_gb`, `vnet_config` | `vmProfile` |
//!
//! `runOutputName` is the template name.

use aib_manifest::{ErrorPolicy, StorageAccountType};
use aib_planner::{
    ResolvedCustomizer, ResolvedScript, ResolvedSettings, ResolvedSource, ResolvedStep, Unit,
};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::{
    DEPLOYMENT_TEMPLATE_SCHEMA, IMAGE_TEMPLATE_API_VERSION, IMAGE_TEMPLATE_TYPE, RenderError,
    RenderInputs, RenderedDeployment, Renderer, deployment_name, final_input_hash, parameters_file,
};

/// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/galleries/{g}/images/{d}`
/// plus `/versions/{v}` when a version is given.
pub fn gallery_image_id(unit: &Unit, version: Option<&str>) -> String {
    let s = &unit.settings;
    let mut id = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/galleries/{}/images/{}",
        s.gallery.subscription, s.gallery.resource_group, s.gallery.name, s.image_definition
    );
    if let Some(v) = version {
        id.push_str("/versions/");
        id.push_str(v);
    }
    id
}

/// The pieces of the built-in rendering, also offered to user templates.
#[derive(Clone, Debug)]
pub struct BuiltinParts {
    pub template_name: String,
    pub input_hash: String,
    pub tags: Map<String, Value>,
    pub source: Value,
    pub customize: Vec<Value>,
    pub validate: Option<Value>,
    pub distribute: Vec<Value>,
    pub gallery_image_id: String,
    /// `gallery_image_id` + `/versions/<v>` when the version is known.
    pub image_version_id: Option<String>,
    pub image_version: Option<String>,
    /// The whole imageTemplates resource.
    pub resource: Value,
}

/// Reads what [`BuiltinParts::new`] reads that can fail: the script files of shell and
/// PowerShell customizers and validations (cached by the renderer). Nothing else in the
/// built-in template can fail for a planned unit (but its size: see
/// [`Renderer::check_in_plan`]), so a unit that passes renders. Returns the bytes inlined.
pub(crate) fn check_inputs(renderer: &Renderer, unit: &Unit) -> Result<u64, RenderError> {
    let s = &unit.settings;
    let validations = s.validate.iter().flat_map(|v| v.in_vm_validations.iter());
    let mut bytes = 0u64;
    for script in s
        .customize
        .iter()
        .chain(validations)
        .filter_map(|c| c.script())
    {
        if let Some(file) = &script.script {
            bytes += renderer.read_text(unit, &file.resolved, &file.path)?.len() as u64;
        }
        for line in script.inline.iter().flatten() {
            bytes += line.len() as u64;
        }
    }
    Ok(bytes)
}

/// `validate`: the in-VM validations and what a failed one means.
fn validate(renderer: &Renderer, unit: &Unit) -> Result<Option<Value>, RenderError> {
    Ok(match &unit.settings.validate {
        Some(v) => {
            let mut o = Map::new();
            if let Some(b) = v.continue_distribute_on_failure {
                o.insert("continueDistributeOnFailure".into(), b.into());
            }
            if let Some(b) = v.source_validation_only {
                o.insert("sourceValidationOnly".into(), b.into());
            }
            if !v.in_vm_validations.is_empty() {
                let list = v
                    .in_vm_validations
                    .iter()
                    .map(|c| customizer(renderer, unit, c))
                    .collect::<Result<Vec<_>, _>>()?;
                o.insert("inVMValidations".into(), Value::Array(list));
            }
            Some(Value::Object(o))
        }
        None => None,
    })
}

/// `distribute`: one gallery target (the version when it is known), replicated to the
/// unit's regions.
fn distribute(
    unit: &Unit,
    name: &str,
    tags: &Map<String, Value>,
    gallery_image_id: String,
) -> Vec<Value> {
    let s = &unit.settings;
    let regions: Vec<&str> = if s.replicate_to.is_empty() {
        vec![s.location.as_str()]
    } else {
        s.replicate_to.iter().map(String::as_str).collect()
    };
    let storage = s
        .storage_account_type
        .unwrap_or(StorageAccountType::StandardLrs)
        .as_str();
    let target_regions: Vec<Value> = regions
        .iter()
        .map(|r| {
            json!({
                "name": r,
                "replicaCount": s.replica_count.unwrap_or(1),
                "storageAccountType": storage,
            })
        })
        .collect();
    let mut dist = Map::new();
    dist.insert("type".into(), "SharedImage".into());
    dist.insert("galleryImageId".into(), gallery_image_id.into());
    dist.insert("runOutputName".into(), name.into());
    dist.insert("artifactTags".into(), Value::Object(tags.clone()));
    dist.insert("targetRegions".into(), Value::Array(target_regions));
    dist.insert("excludeFromLatest".into(), s.exclude_from_latest.into());
    vec![Value::Object(dist)]
}

/// `vmProfile`: size, OS disk and network, when any is set.
fn vm_profile(s: &ResolvedSettings) -> Option<Value> {
    let mut vm = Map::new();
    if let Some(v) = &s.vm_size {
        vm.insert("vmSize".into(), v.as_str().into());
    }
    if let Some(g) = s.os_disk_gb {
        vm.insert("osDiskSizeGB".into(), g.into());
    }
    if let Some(n) = &s.vnet_config {
        let mut o = Map::new();
        if let Some(x) = &n.subnet_id {
            o.insert("subnetId".into(), x.as_str().into());
        }
        if let Some(x) = &n.container_instance_subnet_id {
            o.insert("containerInstanceSubnetId".into(), x.as_str().into());
        }
        if let Some(x) = &n.proxy_vm_size {
            o.insert("proxyVmSize".into(), x.as_str().into());
        }
        vm.insert("vnetConfig".into(), Value::Object(o));
    }
    (!vm.is_empty()).then_some(Value::Object(vm))
}

/// `errorHandling`, when either policy is set.
fn error_handling(s: &ResolvedSettings) -> Option<Value> {
    let eh = &s.error_handling;
    if eh.on_customizer.is_none() && eh.on_validation.is_none() {
        return None;
    }
    let mut o = Map::new();
    if let Some(p) = eh.on_customizer {
        o.insert("onCustomizerError".into(), policy(p).into());
    }
    if let Some(p) = eh.on_validation {
        o.insert("onValidationError".into(), policy(p).into());
    }
    Some(Value::Object(o))
}

/// The template's user-assigned identity.
fn identity(s: &ResolvedSettings) -> Value {
    let mut identities = Map::new();
    identities.insert(s.identity.clone(), Value::Object(Map::new()));
    let mut identity = Map::new();
    identity.insert("type".into(), "UserAssigned".into());
    identity.insert("userAssignedIdentities".into(), Value::Object(identities));
    Value::Object(identity)
}

impl BuiltinParts {
    pub(crate) fn new(
        renderer: &Renderer,
        unit: &Unit,
        inputs: &RenderInputs,
        name: &str,
        parent_preview: Option<&str>,
    ) -> Result<Self, RenderError> {
        let s = &unit.settings;
        let input_hash = final_input_hash(unit, inputs.source_version);

        let mut tags = Map::new();
        for (k, v) in &s.tags {
            tags.insert(k.clone(), Value::String(v.clone()));
        }
        tags.insert("aib.pipeline".into(), renderer.pipeline().into());
        tags.insert("aib.unit".into(), unit.id.as_str().into());
        tags.insert("aib.inputHash".into(), input_hash.clone().into());

        let source = source(unit, inputs.source_version, parent_preview);
        let customize = s
            .customize
            .iter()
            .map(|c| customizer(renderer, unit, c))
            .collect::<Result<Vec<_>, _>>()?;
        let validate = validate(renderer, unit)?;

        let gid = gallery_image_id(unit, None);
        let image_version = inputs.image_version.map(str::to_string);
        let image_version_id = image_version
            .as_ref()
            .map(|v| format!("{gid}/versions/{v}"));
        let distribute = distribute(
            unit,
            name,
            &tags,
            image_version_id.clone().unwrap_or_else(|| gid.clone()),
        );
        let mut parts = Self {
            template_name: name.to_string(),
            input_hash,
            tags,
            source,
            customize,
            validate,
            distribute,
            gallery_image_id: gid,
            image_version_id,
            image_version,
            resource: Value::Null,
        };
        parts.resource = parts.image_template(s);
        Ok(parts)
    }

    /// The imageTemplate resource these parts make.
    fn image_template(&self, s: &ResolvedSettings) -> Value {
        let mut props = Map::new();
        props.insert(
            "buildTimeoutInMinutes".into(),
            s.build_timeout_minutes.into(),
        );
        if let Some(vm) = vm_profile(s) {
            props.insert("vmProfile".into(), vm);
        }
        props.insert("source".into(), self.source.clone());
        if !self.customize.is_empty() {
            props.insert("customize".into(), Value::Array(self.customize.clone()));
        }
        if let Some(v) = &self.validate {
            props.insert("validate".into(), v.clone());
        }
        if let Some(b) = s.optimize_vm_boot {
            props.insert(
                "optimize".into(),
                json!({ "vmBoot": { "state": if b { "Enabled" } else { "Disabled" } } }),
            );
        }
        props.insert("distribute".into(), Value::Array(self.distribute.clone()));
        if let Some(eh) = error_handling(s) {
            props.insert("errorHandling".into(), eh);
        }
        if let Some(rg) = &s.staging_resource_group {
            props.insert("stagingResourceGroup".into(), rg.as_str().into());
        }
        props.insert(
            "managedResourceTags".into(),
            Value::Object(self.tags.clone()),
        );

        // Built by moves (`json!` would serialize each interpolated value into a copy).
        let mut resource = Map::new();
        resource.insert("type".into(), IMAGE_TEMPLATE_TYPE.into());
        resource.insert("apiVersion".into(), IMAGE_TEMPLATE_API_VERSION.into());
        resource.insert("name".into(), self.template_name.as_str().into());
        resource.insert("location".into(), s.location.as_str().into());
        resource.insert("tags".into(), Value::Object(self.tags.clone()));
        resource.insert("identity".into(), identity(s));
        resource.insert("properties".into(), Value::Object(props));
        Value::Object(resource)
    }

    /// The deployment of the built-in template.
    pub(crate) fn into_deployment(self, unit: &Unit) -> RenderedDeployment {
        let mut template = Map::new();
        template.insert("$schema".into(), DEPLOYMENT_TEMPLATE_SCHEMA.into());
        template.insert("contentVersion".into(), "1.0.0.0".into());
        template.insert("parameters".into(), Value::Object(Map::new()));
        template.insert(
            "resources".into(),
            Value::Array(vec![self.resource.clone()]),
        );
        let template = Value::Object(template);
        RenderedDeployment {
            unit: unit.id.to_string(),
            deployment_name: deployment_name(&self.template_name),
            template_name: self.template_name,
            template,
            parameters: parameters_file(&IndexMap::new()),
            image_template: self.resource,
            secret_parameters: Vec::new(),
            origin: "builtin:image-template".into(),
        }
    }
}

fn policy(p: ErrorPolicy) -> &'static str {
    match p {
        ErrorPolicy::Cleanup => "cleanup",
        ErrorPolicy::Abort => "abort",
    }
}

fn source(unit: &Unit, source_version: Option<&str>, parent_preview: Option<&str>) -> Value {
    match &unit.settings.source {
        ResolvedSource::Platform {
            publisher,
            offer,
            sku,
            version,
            plan,
        } => {
            let version = match source_version {
                Some(v) if version == "latest" => v,
                _ => version.as_str(),
            };
            let mut o = Map::new();
            o.insert("type".into(), "PlatformImage".into());
            o.insert("publisher".into(), publisher.as_str().into());
            o.insert("offer".into(), offer.as_str().into());
            o.insert("sku".into(), sku.as_str().into());
            o.insert("version".into(), version.into());
            if let Some(p) = plan {
                o.insert(
                    "planInfo".into(),
                    json!({
                        "planName": p.name,
                        "planProduct": p.product,
                        "planPublisher": p.publisher,
                    }),
                );
            }
            Value::Object(o)
        }
        ResolvedSource::GalleryImage { id } => {
            let id = match source_version {
                Some(v) if v.starts_with('/') => v.to_string(),
                Some(v) => match id.strip_suffix("/versions/latest") {
                    Some(base) => format!("{base}/versions/{v}"),
                    None => id.clone(),
                },
                None => id.clone(),
            };
            json!({ "type": "SharedImageVersion", "imageVersionId": id })
        }
        ResolvedSource::ManagedImage { id } => json!({ "type": "ManagedImage", "imageId": id }),
        ResolvedSource::Variant { unit: parent, .. } => {
            let id = match (source_version, parent_preview) {
                (Some(v), _) => v.to_string(),
                (None, Some(p)) => p.to_string(),
                (None, None) => format!("<version published by {parent}>"),
            };
            json!({ "type": "SharedImageVersion", "imageVersionId": id })
        }
    }
}

/// One customizer or in-VM validation in AIB's shape.
pub(crate) fn customizer(
    renderer: &Renderer,
    unit: &Unit,
    c: &ResolvedCustomizer,
) -> Result<Value, RenderError> {
    let mut o = Map::new();
    o.insert("type".into(), c.kind().aib_type().into());
    o.insert("name".into(), c.name.as_str().into());
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            o.insert(k.into(), v);
        }
    };
    match &c.step {
        ResolvedStep::Shell(script) => script_keys(renderer, unit, script, &mut put)?,
        ResolvedStep::Powershell {
            script,
            run_elevated,
            run_as_system,
            valid_exit_codes,
        } => {
            script_keys(renderer, unit, script, &mut put)?;
            put("runElevated", run_elevated.map(Value::Bool));
            put("runAsSystem", run_as_system.map(Value::Bool));
            put(
                "validExitCodes",
                valid_exit_codes
                    .as_ref()
                    .map(|v| Value::Array(v.iter().map(|x| Value::from(*x)).collect())),
            );
        }
        ResolvedStep::File {
            source_uri,
            destination,
            sha256_checksum,
        } => {
            put("sourceUri", string(source_uri));
            put("destination", string(destination));
            put("sha256Checksum", string(sha256_checksum));
        }
        ResolvedStep::WindowsRestart {
            restart_command,
            restart_check_command,
            restart_timeout,
        } => {
            put("restartCommand", string(restart_command));
            put("restartCheckCommand", string(restart_check_command));
            put("restartTimeout", string(restart_timeout));
        }
        ResolvedStep::WindowsUpdate {
            search_criteria,
            filters,
            update_limit,
        } => {
            put("searchCriteria", string(search_criteria));
            put(
                "filters",
                filters
                    .as_ref()
                    .map(|v| Value::Array(v.iter().map(|x| Value::String(x.clone())).collect())),
            );
            put("updateLimit", update_limit.map(Value::from));
        }
    }
    Ok(Value::Object(o))
}

/// The keys of a `shell` or `powershell` script: a local `script` file inlined line by line,
/// before the `inline` lines.
fn script_keys(
    renderer: &Renderer,
    unit: &Unit,
    script: &ResolvedScript,
    put: &mut impl FnMut(&str, Option<Value>),
) -> Result<(), RenderError> {
    let mut inline: Option<Vec<Value>> = None;
    if let Some(file) = &script.script {
        let text = renderer.read_text(unit, &file.resolved, &file.path)?;
        inline = Some(text.lines().map(|l| Value::String(l.to_string())).collect());
    }
    if let Some(lines) = &script.inline {
        inline
            .get_or_insert_with(Vec::new)
            .extend(lines.iter().map(|l| Value::String(l.clone())));
    }
    put("scriptUri", string(&script.script_uri));
    put("inline", inline.map(Value::Array));
    put("sha256Checksum", string(&script.sha256_checksum));
    Ok(())
}

/// A string key's value, when set.
fn string(x: &Option<String>) -> Option<Value> {
    x.as_ref().map(|v| Value::String(v.clone()))
}
