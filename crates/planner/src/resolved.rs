//! A unit's settings after layering and templating: typed, every string rendered, secret
//! references kept as references, local files with the path as written and the path resolved
//! against the manifest's directory.

use std::ops::Range;
use std::path::{Path, PathBuf};

use aib_manifest::{
    CleanupPolicy, Customizer, ErrorPolicy, Script, SecretRef, SecretSource, Settings, Spanned,
    Step, StorageAccountType,
};
use indexmap::IndexMap;
use minijinja::Value as Ctx;
use serde::Serialize;
use serde_json::Value;

use crate::error::Problems;
use crate::file_digests::FileDigests;
use crate::templating::Renderer;
use aib_vocab::UnitId;

mod customizer;
pub use customizer::{ResolvedCustomizer, ResolvedScript, ResolvedStep};

/// Every setting of a unit, resolved. Its `Serialize` form is the hashed form: struct fields in
/// declaration order, maps sorted by key, secrets by name only.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResolvedSettings {
    pub subscription: String,
    pub location: String,
    pub resource_group: String,
    pub identity: String,
    pub template: TemplateRef,
    pub vm_size: Option<String>,
    pub os_disk_gb: Option<u32>,
    pub build_timeout_minutes: u32,
    pub gallery: ResolvedGallery,
    pub image_definition: String,
    pub replicate_to: Vec<String>,
    pub replica_count: Option<u32>,
    pub storage_account_type: Option<StorageAccountType>,
    pub exclude_from_latest: bool,
    pub version: VersionPolicy,
    pub cleanup: CleanupPolicy,
    pub error_handling: ResolvedErrorHandling,
    pub staging_resource_group: Option<String>,
    pub vnet_config: Option<ResolvedVnetConfig>,
    /// `optimize.vm_boot`.
    pub optimize_vm_boot: Option<bool>,
    pub source: ResolvedSource,
    pub customize: Vec<ResolvedCustomizer>,
    pub validate: Option<ResolvedValidate>,
    #[serde(serialize_with = "crate::canonical::sorted_map")]
    pub tags: IndexMap<String, String>,
    /// Free values for templates, string leaves rendered.
    #[serde(serialize_with = "crate::canonical::sorted_map")]
    pub parameters: IndexMap<String, Value>,
    /// Secret name → reference (`env:VAR`, `keyvault:...`), never a value.
    #[serde(serialize_with = "crate::canonical::sorted_keys")]
    pub secrets: IndexMap<String, SecretSource>,
    /// `retain.versions`.
    pub retain_versions: Option<u32>,
}

impl ResolvedSettings {
    /// The parsed reference of a secret.
    pub fn secret(&self, name: &str) -> Option<&SecretRef> {
        self.secrets.get(name).and_then(|r| r.reference().ok())
    }

    /// Whether the image is Windows: a platform source whose publisher or offer says so, or a
    /// customizer only Windows runs.
    pub fn is_windows(&self) -> bool {
        if let ResolvedSource::Platform {
            publisher, offer, ..
        } = &self.source
        {
            let p = publisher.to_ascii_lowercase();
            let o = offer.to_ascii_lowercase();
            if p.contains("windows") || o.contains("windows") {
                return true;
            }
        }
        self.customize.iter().any(|c| {
            matches!(
                c.step,
                ResolvedStep::Powershell { .. }
                    | ResolvedStep::WindowsRestart { .. }
                    | ResolvedStep::WindowsUpdate { .. }
            )
        })
    }

    /// Every local file the unit reads (scripts and the user template), in order.
    pub fn local_files(&self) -> Vec<&LocalFile> {
        let mut out: Vec<&LocalFile> = Vec::new();
        if let TemplateRef::File { file } = &self.template {
            out.push(file);
        }
        out.extend(
            self.customize
                .iter()
                .filter_map(ResolvedCustomizer::local_file),
        );
        if let Some(v) = &self.validate {
            out.extend(
                v.in_vm_validations
                    .iter()
                    .filter_map(ResolvedCustomizer::local_file),
            );
        }
        out
    }
}

/// A local file: the path as written (rendered; relative to the manifest, or to `templates_dir`
/// for templates) and where it is on this machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LocalFile {
    pub path: String,
    /// Resolved path on this machine (never hashed or serialized).
    #[serde(skip)]
    pub resolved: PathBuf,
}

/// The ARM template a unit is rendered with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TemplateRef {
    /// `builtin:image-template`.
    Builtin { name: String },
    /// A `*.json` or `*.json.j2` file in `templates_dir`.
    File { file: LocalFile },
}

/// The version policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionPolicy {
    /// `YYYY.MDD.N`.
    Date,
    /// AIB chooses.
    Auto,
    /// A template rendered per run (`1.2.{{ run.seq }}`), kept as written.
    Template(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedGallery {
    pub name: String,
    pub resource_group: String,
    /// Default: the unit's subscription.
    pub subscription: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResolvedErrorHandling {
    pub on_customizer: Option<ErrorPolicy>,
    pub on_validation: Option<ErrorPolicy>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedVnetConfig {
    pub subnet_id: Option<String>,
    pub container_instance_subnet_id: Option<String>,
    pub proxy_vm_size: Option<String>,
}

/// Where the build starts from.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResolvedSource {
    Platform {
        publisher: String,
        offer: String,
        sku: String,
        version: String,
        plan: Option<ResolvedPlanInfo>,
    },
    GalleryImage {
        id: String,
    },
    ManagedImage {
        id: String,
    },
    /// The image version another unit of this plan publishes.
    Variant {
        variant: String,
        unit: UnitId,
    },
}

impl ResolvedSource {
    /// Whether the source's version is chosen when the unit builds: a platform image at
    /// `latest`, or the version a parent unit publishes.
    pub fn resolved_at_build_time(&self) -> bool {
        match self {
            Self::Platform { version, .. } => version.eq_ignore_ascii_case("latest"),
            Self::Variant { .. } => true,
            Self::GalleryImage { .. } | Self::ManagedImage { .. } => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedPlanInfo {
    pub name: String,
    pub product: String,
    pub publisher: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResolvedValidate {
    pub in_vm_validations: Vec<ResolvedCustomizer>,
    pub continue_distribute_on_failure: Option<bool>,
    pub source_validation_only: Option<bool>,
}

/// What resolving one unit needs besides its layered settings.
pub(crate) struct UnitScope<'a> {
    pub id: &'a UnitId,
    pub env: &'a str,
    pub variant: &'a str,
    pub pipeline: &'a str,
    pub matrix: Ctx,
    /// The template context so far (see [`unit_context`]).
    pub ctx: Ctx,
    pub dir: &'a Path,
    pub templates_dir: &'a Path,
    /// Where to point when a required key is missing (the variant's name).
    pub anchor: Range<usize>,
    /// The parent unit when `source = { variant }`.
    pub parent: Option<UnitId>,
    /// `[azure] cloud` (Key Vault references must name a vault of it).
    pub cloud: aib_manifest::Cloud,
}

/// Renders and checks one unit's settings; problems go to `problems`.
pub(crate) struct Resolver<'a> {
    pub renderer: &'a mut Renderer,
    pub files: &'a mut FileDigests,
    pub problems: &'a mut Problems,
    pub scope: UnitScope<'a>,
    pub failed: bool,
    /// `secrets.<name>` placeholders are in the context (customize, validate, parameters).
    pub secrets_in_scope: bool,
}

impl Resolver<'_> {
    fn render<'k>(&mut self, key: impl Into<Key<'k>>, s: &Spanned<String>) -> Option<String> {
        self.render_text(key, s.as_str(), s.span())
    }

    fn render_text<'k>(
        &mut self,
        key: impl Into<Key<'k>>,
        text: &str,
        span: Range<usize>,
    ) -> Option<String> {
        let key = key.into();
        match self.renderer.render(text, &self.scope.ctx) {
            Ok(v) => Some(v),
            Err(e) => {
                self.failed = true;
                let what = match &e.undefined {
                    Some(n) => format!("undefined `{n}`"),
                    None => e.message.clone(),
                };
                self.problems.error(
                    "aib::template-render",
                    format!("unit `{}`: cannot render `{key}`: {what}", self.scope.id),
                    Some((span, what.clone())),
                    Some(if self.secrets_in_scope {
                        "available: env, variant, pipeline, matrix.<key>, subscription, location, secrets.<name>"
                            .into()
                    } else {
                        "available: env, variant, pipeline, matrix.<key>, subscription, location"
                            .into()
                    }),
                );
                None
            }
        }
    }

    fn opt<'k>(&mut self, key: impl Into<Key<'k>>, s: &Option<Spanned<String>>) -> Option<String> {
        let key = key.into();
        s.as_ref().and_then(|s| self.render(key, s))
    }

    fn required<'k>(&mut self, key: impl Into<Key<'k>>, s: Option<&Spanned<String>>) -> String {
        let key = key.into();
        match s {
            Some(s) => self.render(key, s).unwrap_or_default(),
            None => {
                self.missing(key);
                String::new()
            }
        }
    }

    fn missing<'k>(&mut self, key: impl Into<Key<'k>>) {
        let key = key.into();
        self.failed = true;
        self.problems.error(
            "aib::missing-key",
            format!("unit `{}` has no `{key}`", self.scope.id),
            Some((self.scope.anchor.clone(), "in this variant".into())),
            Some(format!(
                "set `{key}` in `[defaults]`, the environment or the variant"
            )),
        );
    }

    fn invalid<'k>(&mut self, key: impl Into<Key<'k>>, span: Range<usize>, why: String) {
        let key = key.into();
        self.failed = true;
        self.problems.error(
            "aib::invalid-value",
            format!("unit `{}`: invalid `{key}`: {why}", self.scope.id),
            Some((span, why)),
            None,
        );
    }

    fn list<'k>(
        &mut self,
        key: impl Into<Key<'k>>,
        l: &Option<Spanned<Vec<Spanned<String>>>>,
    ) -> Option<Vec<String>> {
        let l = l.as_ref()?;
        let key = key.into();
        Some(
            l.iter()
                .enumerate()
                .map(|(i, s)| self.render(key.at(i), s).unwrap_or_default())
                .collect(),
        )
    }

    fn json(&mut self, key: &str, v: &Value, span: &Range<usize>) -> Value {
        match v {
            Value::String(s) => {
                let sp = Spanned::new(span.clone(), s.clone());
                Value::String(self.render(key, &sp).unwrap_or_default())
            }
            Value::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| self.json(&format!("{key}[{i}]"), x, span))
                    .collect(),
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.json(&format!("{key}.{k}"), x, span)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn local_file<'k>(
        &mut self,
        key: impl Into<Key<'k>>,
        s: &Spanned<String>,
        base: &Path,
    ) -> Option<LocalFile> {
        let key = key.into();
        let path = self.render(key, s)?;
        let joined = base.join(&path);
        let resolved = match self.files.digest(&joined, &path) {
            Ok((_, real)) => real,
            Err(why) => {
                self.invalid(key, s.span(), why.to_string());
                joined
            }
        };
        Some(LocalFile { path, resolved })
    }

    fn customizer(&mut self, key: Key<'_>, c: &Customizer, index: usize) -> ResolvedCustomizer {
        let name = match &c.name {
            Some(n) => self.render(key.field("name"), n).unwrap_or_default(),
            None => c.display_name(index),
        };
        // Keys of another type: the manifest's own are reported by validation; these came in
        // through `--set` or a matrix row, and are refused rather than dropped in silence.
        for k in c.stray_keys() {
            let why = format!(
                "`{}` is not valid for a `{}` customizer",
                k.get_ref(),
                c.kind().get_ref().as_str()
            );
            self.invalid(key.field(k.get_ref()), k.span(), why);
        }
        let step = match &c.step {
            Step::Shell(script) => ResolvedStep::Shell(self.script(key, script)),
            Step::Powershell {
                script,
                run_elevated,
                run_as_system,
                valid_exit_codes,
            } => ResolvedStep::Powershell {
                script: self.script(key, script),
                run_elevated: run_elevated.as_deref().copied(),
                run_as_system: run_as_system.as_deref().copied(),
                valid_exit_codes: valid_exit_codes.as_deref().cloned(),
            },
            Step::File {
                source_uri,
                destination,
                sha256_checksum,
            } => ResolvedStep::File {
                source_uri: self.opt(key.field("source_uri"), source_uri),
                destination: self.opt(key.field("destination"), destination),
                sha256_checksum: self.opt(key.field("sha256_checksum"), sha256_checksum),
            },
            Step::WindowsRestart {
                restart_command,
                restart_check_command,
                restart_timeout,
            } => ResolvedStep::WindowsRestart {
                restart_command: self.opt(key.field("restart_command"), restart_command),
                restart_check_command: self
                    .opt(key.field("restart_check_command"), restart_check_command),
                restart_timeout: self.opt(key.field("restart_timeout"), restart_timeout),
            },
            Step::WindowsUpdate {
                search_criteria,
                filters,
                update_limit,
            } => ResolvedStep::WindowsUpdate {
                search_criteria: self.opt(key.field("search_criteria"), search_criteria),
                filters: self.list(key.field("filters"), filters),
                update_limit: update_limit.as_deref().copied(),
            },
        };
        ResolvedCustomizer { name, step }
    }

    /// The script of a `shell` or `powershell` step, rendered.
    fn script(&mut self, key: Key<'_>, s: &Script) -> ResolvedScript {
        let dir = self.scope.dir;
        ResolvedScript {
            script: s
                .script
                .as_ref()
                .and_then(|f| self.local_file(key.field("script"), f, dir)),
            inline: self.list(key.field("inline"), &s.inline),
            script_uri: self.opt(key.field("script_uri"), &s.script_uri),
            sha256_checksum: self.opt(key.field("sha256_checksum"), &s.sha256_checksum),
        }
    }

    fn source(&mut self, s: Option<&Spanned<aib_manifest::Source>>) -> ResolvedSource {
        let unknown = ResolvedSource::GalleryImage { id: String::new() };
        let Some(src) = s else {
            self.missing("source");
            return unknown;
        };
        if let Some(v) = &src.variant {
            return match &self.scope.parent {
                Some(unit) => ResolvedSource::Variant {
                    variant: v.get_ref().clone(),
                    unit: unit.clone(),
                },
                None => {
                    // The graph reported why; keep going to collect other problems.
                    self.failed = true;
                    unknown
                }
            };
        }
        if let Some(p) = &src.platform {
            let Some(text) = self.render("source.platform", p) else {
                return unknown;
            };
            let parts: Vec<&str> = text.split(':').map(str::trim).collect();
            if parts.len() != 4 || parts.iter().any(|x| x.is_empty()) {
                self.invalid(
                    "source.platform",
                    p.span(),
                    format!("`{text}` is not `Publisher:Offer:Sku:Version`"),
                );
                return unknown;
            }
            let plan = src.plan.as_ref().map(|pl| ResolvedPlanInfo {
                name: self
                    .render("source.plan.name", &pl.name)
                    .unwrap_or_default(),
                product: self
                    .render("source.plan.product", &pl.product)
                    .unwrap_or_default(),
                publisher: self
                    .render("source.plan.publisher", &pl.publisher)
                    .unwrap_or_default(),
            });
            return ResolvedSource::Platform {
                publisher: parts[0].to_string(),
                offer: parts[1].to_string(),
                sku: parts[2].to_string(),
                version: parts[3].to_string(),
                plan,
            };
        }
        if let Some(g) = &src.gallery_image {
            let id = self.render("source.gallery_image", g).unwrap_or_default();
            if !id.starts_with('/') && !self.failed {
                self.invalid(
                    "source.gallery_image",
                    g.span(),
                    format!("`{id}` is not a resource id"),
                );
            }
            return ResolvedSource::GalleryImage { id };
        }
        if let Some(m) = &src.managed_image {
            let id = self.render("source.managed_image", m).unwrap_or_default();
            if !id.starts_with('/') && !self.failed {
                self.invalid(
                    "source.managed_image",
                    m.span(),
                    format!("`{id}` is not a resource id"),
                );
            }
            return ResolvedSource::ManagedImage { id };
        }
        self.missing("source");
        unknown
    }

    /// Resolves everything; `None` when any problem was found.
    pub fn resolve(mut self, s: &Settings) -> Option<ResolvedSettings> {
        // subscription and location first: the context of the other keys holds them.
        let subscription = self.required("subscription", s.subscription.as_ref());
        self.scope.ctx = unit_context(&self.scope, Some(&subscription), None);
        let location = self.required("location", s.location.as_ref());
        self.scope.ctx = unit_context(&self.scope, Some(&subscription), Some(&location));

        let resource_group = self.required("resource_group", s.resource_group.as_ref());
        let identity = self.required("identity", s.identity.as_ref());
        let image_definition = self.required("image_definition", s.image_definition.as_ref());

        let template = self.template(s.template.as_ref());

        let gallery = self.gallery(s, &subscription, &resource_group);

        let replicate_to = self
            .list("replicate_to", &s.replicate_to)
            .unwrap_or_default();
        let eh = s.error_handling.clone().unwrap_or_default();
        let vnet_config = self.vnet_config(s);
        let source = self.source(s.source.as_ref());
        let (customize, validate, parameters) = self.with_secret_placeholders(s);
        let tags = self.tags(s);
        let secrets = self.secrets(s);
        let staging_resource_group = self.opt("staging_resource_group", &s.staging_resource_group);
        let vm_size = self.opt("vm_size", &s.vm_size);

        if self.failed {
            return None;
        }
        Some(ResolvedSettings {
            subscription,
            location,
            resource_group,
            identity,
            template,
            vm_size,
            os_disk_gb: s.os_disk_gb.as_deref().copied(),
            build_timeout_minutes: s.build_timeout_minutes.as_deref().copied().unwrap_or(240),
            gallery,
            image_definition,
            replicate_to,
            replica_count: s.replica_count.as_deref().copied(),
            storage_account_type: s.storage_account_type.as_deref().copied(),
            exclude_from_latest: s.exclude_from_latest.as_deref().copied().unwrap_or(false),
            version: version_policy(s.version.as_ref()),
            cleanup: s.cleanup.as_deref().copied().unwrap_or_default(),
            error_handling: ResolvedErrorHandling {
                on_customizer: eh.on_customizer.as_deref().copied(),
                on_validation: eh.on_validation.as_deref().copied(),
            },
            staging_resource_group,
            vnet_config,
            optimize_vm_boot: s
                .optimize
                .as_ref()
                .and_then(|o| o.vm_boot.as_deref().copied()),
            source,
            customize,
            validate,
            tags,
            parameters,
            secrets,
            retain_versions: s
                .retain
                .as_ref()
                .and_then(|r| r.versions.as_deref().copied()),
        })
    }

    /// `vnet_config`, rendered.
    fn vnet_config(&mut self, s: &Settings) -> Option<ResolvedVnetConfig> {
        let v = s.vnet_config.as_ref()?;
        Some(ResolvedVnetConfig {
            subnet_id: self.opt("vnet_config.subnet_id", &v.subnet_id),
            container_instance_subnet_id: self.opt(
                "vnet_config.container_instance_subnet_id",
                &v.container_instance_subnet_id,
            ),
            proxy_vm_size: self.opt("vnet_config.proxy_vm_size", &v.proxy_vm_size),
        })
    }

    /// The deployment template: a built-in one or a local `*.json` / `*.json.j2` file.
    fn template(&mut self, template: Option<&Spanned<String>>) -> TemplateRef {
        match template {
            Some(t) => {
                let name = self.render("template", t).unwrap_or_default();
                if name.starts_with("builtin:") {
                    if name != "builtin:image-template" {
                        self.invalid(
                            "template",
                            t.span(),
                            format!("unknown built-in template `{name}`"),
                        );
                    }
                    TemplateRef::Builtin { name }
                } else {
                    if !(name.ends_with(".json") || name.ends_with(".json.j2")) {
                        self.invalid(
                            "template",
                            t.span(),
                            format!("`{name}` is neither `*.json` nor `*.json.j2`"),
                        );
                    }
                    let base = self.scope.templates_dir.to_path_buf();
                    let file = self
                        .local_file("template", &Spanned::new(t.span(), name.clone()), &base)
                        .unwrap_or(LocalFile {
                            path: name,
                            resolved: PathBuf::new(),
                        });
                    TemplateRef::File { file }
                }
            }
            None => TemplateRef::Builtin {
                name: "builtin:image-template".into(),
            },
        }
    }

    /// The gallery, in the unit's resource group and subscription unless it names its own.
    fn gallery(
        &mut self,
        s: &Settings,
        subscription: &str,
        resource_group: &str,
    ) -> ResolvedGallery {
        let g = s.gallery.clone().unwrap_or_default();
        let gallery_name = self.required("gallery.name", g.name.as_ref());
        let gallery_rg = match &g.resource_group {
            Some(rg) => self
                .render("gallery.resource_group", rg)
                .unwrap_or_default(),
            None => resource_group.to_string(),
        };
        let gallery_sub = match &g.subscription {
            Some(x) => self.render("gallery.subscription", x).unwrap_or_default(),
            None => subscription.to_string(),
        };
        ResolvedGallery {
            name: gallery_name,
            resource_group: gallery_rg,
            subscription: gallery_sub,
        }
    }

    /// Customizers, validations and parameters: the only settings that may reference
    /// `secrets.<name>`, rendered with placeholders for them (see `secret_ref`), never values.
    fn with_secret_placeholders(
        &mut self,
        s: &Settings,
    ) -> (
        Vec<ResolvedCustomizer>,
        Option<ResolvedValidate>,
        IndexMap<String, Value>,
    ) {
        // Customizers, validations and parameters may reference `secrets.<name>`: they see
        // placeholders (see `secret_ref`), never values. Nothing else may.
        let base_ctx = self.scope.ctx.clone();
        self.scope.ctx = with_secrets(&base_ctx, s.secrets.keys().map(|k| k.as_str()));
        self.secrets_in_scope = true;
        let customize = match &s.customize {
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, c)| self.customizer(Key::from("customize").item(i), c, i))
                .collect(),
            None => Vec::new(),
        };
        let validate = s.validate.as_ref().map(|v| ResolvedValidate {
            in_vm_validations: v
                .in_vm_validations
                .as_ref()
                .map(|l| {
                    l.iter()
                        .enumerate()
                        .map(|(i, c)| {
                            self.customizer(Key::from("validate.in_vm_validations").item(i), c, i)
                        })
                        .collect()
                })
                .unwrap_or_default(),
            continue_distribute_on_failure: v.continue_distribute_on_failure.as_deref().copied(),
            source_validation_only: v.source_validation_only.as_deref().copied(),
        });
        let mut parameters = IndexMap::with_capacity(s.parameters.len());
        for (k, v) in &s.parameters {
            let r = self.json(
                &format!("parameters.{}", k.as_str()),
                v.get_ref(),
                &v.span(),
            );
            parameters.insert(k.get_ref().clone(), r);
        }
        self.scope.ctx = base_ctx;
        self.secrets_in_scope = false;
        (customize, validate, parameters)
    }

    /// Tags, rendered.
    fn tags(&mut self, s: &Settings) -> IndexMap<String, String> {
        let mut tags = IndexMap::with_capacity(s.tags.len());
        for (k, v) in &s.tags {
            let r = self
                .render(Key::from("tags").field(k.as_str()), v)
                .unwrap_or_default();
            tags.insert(k.get_ref().clone(), r);
        }
        tags
    }

    /// Secret references, rendered and checked (syntax, and Key Vault hosts of the cloud).
    fn secrets(&mut self, s: &Settings) -> IndexMap<String, SecretSource> {
        let mut secrets = IndexMap::with_capacity(s.secrets.len());
        for (k, v) in &s.secrets {
            let key = Key::from("secrets").field(k.as_str());
            let rendered = self
                .render_text(key, v.as_str(), v.span())
                .unwrap_or_default();
            // Parsed when read; only a reference that rendering changed is parsed again.
            let r = if rendered == v.as_str() {
                v.get_ref().clone()
            } else {
                SecretSource::new(rendered)
            };
            let checked = r
                .reference()
                .map_err(Clone::clone)
                .and_then(|s| s.check_cloud(self.scope.cloud))
                .map_err(|e| e.to_string());
            if let Err(why) = checked
                && !self.failed
            {
                self.invalid(key, v.span(), why);
            }
            secrets.insert(k.get_ref().clone(), r);
        }
        secrets
    }
}

/// The template context of a unit: `env`, `variant`, `pipeline`, `matrix`, and `subscription`
/// and `location` once rendered.
pub(crate) fn unit_context(
    scope: &UnitScope<'_>,
    subscription: Option<&str>,
    location: Option<&str>,
) -> Ctx {
    let mut pairs: Vec<(&str, Ctx)> = vec![
        ("env", Ctx::from(scope.env)),
        ("variant", Ctx::from(scope.variant)),
        ("pipeline", Ctx::from(scope.pipeline)),
        ("matrix", scope.matrix.clone()),
    ];
    if let Some(s) = subscription {
        pairs.push(("subscription", Ctx::from(s)));
    }
    if let Some(l) = location {
        pairs.push(("location", Ctx::from(l)));
    }
    Ctx::from_pairs(pairs)
}

/// `base` plus `secrets`: each declared secret name mapped to its placeholder.
fn with_secrets<'n>(base: &Ctx, names: impl Iterator<Item = &'n str>) -> Ctx {
    let secrets = Ctx::from_pairs(
        names
            .map(|n| (n.to_string(), Ctx::from(crate::secret_ref::placeholder(n))))
            .collect::<Vec<_>>(),
    );
    minijinja::context! { secrets => secrets, ..base.clone() }
}

/// The name of a setting in messages (`customize[0].inline[1]`), built only when needed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Key<'a> {
    base: &'a str,
    /// `customize[2]`: the item of a list the key is in.
    item: Option<usize>,
    field: Option<&'a str>,
    index: Option<usize>,
}

impl<'a> Key<'a> {
    fn item(self, item: usize) -> Self {
        Self {
            item: Some(item),
            ..self
        }
    }

    fn field(self, field: &'a str) -> Self {
        Self {
            field: Some(field),
            index: None,
            ..self
        }
    }

    fn at(self, index: usize) -> Self {
        Self {
            index: Some(index),
            ..self
        }
    }
}

impl<'a> From<&'a str> for Key<'a> {
    fn from(base: &'a str) -> Self {
        Self {
            base,
            item: None,
            field: None,
            index: None,
        }
    }
}

impl<'a> From<&'a String> for Key<'a> {
    fn from(base: &'a String) -> Self {
        Self::from(base.as_str())
    }
}

/// `version`: `date` (the default), `auto`, or a template of the version.
fn version_policy(v: Option<&Spanned<String>>) -> VersionPolicy {
    match v {
        Some(v) if v.as_str() == "date" => VersionPolicy::Date,
        Some(v) if v.as_str() == "auto" => VersionPolicy::Auto,
        Some(v) => VersionPolicy::Template(v.get_ref().clone()),
        None => VersionPolicy::Date,
    }
}

#[cfg(test)]
#[test]
fn keys_name_settings_as_written() {
    let c = Key::from("customize").item(2);
    assert_eq!(c.to_string(), "customize[2]");
    assert_eq!(
        c.field("inline").at(1).to_string(),
        "customize[2].inline[1]"
    );
    assert_eq!(Key::from("tags").field("owner").to_string(), "tags.owner");
    assert_eq!(
        Key::from("replicate_to").at(0).to_string(),
        "replicate_to[0]"
    );
}

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.base)?;
        if let Some(i) = self.item {
            write!(f, "[{i}]")?;
        }
        if let Some(x) = self.field {
            write!(f, ".{x}")?;
        }
        if let Some(i) = self.index {
            write!(f, "[{i}]")?;
        }
        Ok(())
    }
}
