//! The layered settings (`[defaults]`, `[environments.E]`, `[variants.V]`,
//! `[variants.V.environments.E]`) and how two layers merge: tables key by key, everything
//! else (arrays included) replaced by the upper layer.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{Customizer, Matrix, Source, Validate};
use crate::Spanned;

/// Merging an upper layer into a lower one.
pub trait Merge {
    fn merge(&mut self, upper: &Self);
}

impl<T: Clone> Merge for Option<Spanned<T>> {
    fn merge(&mut self, upper: &Self) {
        if upper.is_some() {
            self.clone_from(upper);
        }
    }
}

impl<V: Clone> Merge for IndexMap<Spanned<String>, V> {
    fn merge(&mut self, upper: &Self) {
        for (k, v) in upper {
            self.insert(k.clone(), v.clone());
        }
    }
}

macro_rules! merge_tables {
    ($($t:ty),*) => {$(
        impl Merge for Option<$t> {
            fn merge(&mut self, upper: &Self) {
                match (self.as_mut(), upper) {
                    (_, None) => {}
                    (None, Some(u)) => *self = Some(u.clone()),
                    (Some(s), Some(u)) => s.merge_fields(u),
                }
            }
        }
    )*};
}
merge_tables!(
    GallerySettings,
    ErrorHandling,
    VnetConfig,
    Optimize,
    Retain,
    Validate
);

macro_rules! table_fields {
    ($t:ty { $($f:ident),* }) => {
        impl $t {
            fn merge_fields(&mut self, upper: &Self) {
                $( self.$f.merge(&upper.$f); )*
            }
        }
    };
}

/// Calls `$mac` with the list of settings every layer accepts, then the layer's own fields.
macro_rules! with_common_settings {
    ($mac:ident ! { $($rest:tt)* }) => {
        $mac! {
            common {
                /// Azure subscription id the unit's resources live in.
                subscription: Option<Spanned<String>>,
                /// Azure region of the image template and build.
                location: Option<Spanned<String>>,
                /// Resource group that holds the image template.
                resource_group: Option<Spanned<String>>,
                /// Resource id of the user-assigned identity AIB runs as.
                identity: Option<Spanned<String>>,
                /// `builtin:image-template` (default), or a file in `templates_dir` (`*.json` or `*.json.j2`).
                template: Option<Spanned<String>>,
                /// Build VM size (default Standard_D2s_v3 for AIB).
                vm_size: Option<Spanned<String>>,
                /// OS disk size of the build VM in GB.
                os_disk_gb: Option<Spanned<u32>>,
                /// AIB build timeout in minutes: 0 (AIB's default of 240) or 6–960.
                build_timeout_minutes: Option<Spanned<u32>>,
                /// The Compute Gallery the image version is published to.
                gallery: Option<GallerySettings>,
                /// Gallery image definition the version is published to.
                image_definition: Option<Spanned<String>>,
                /// Regions the image version is replicated to.
                replicate_to: Option<Spanned<Vec<Spanned<String>>>>,
                /// Replicas per target region (1–100).
                replica_count: Option<Spanned<u32>>,
                /// Storage type of the replicas.
                storage_account_type: Option<Spanned<StorageAccountType>>,
                /// Keep the version out of `latest`.
                exclude_from_latest: Option<Spanned<bool>>,
                /// Version policy: `date`, `auto`, or a template giving `Major.Minor.Patch`.
                version: Option<Spanned<String>>,
                /// When to delete the image template after a build.
                cleanup: Option<Spanned<CleanupPolicy>>,
                /// AIB's `errorHandling`.
                error_handling: Option<ErrorHandling>,
                /// Resource id of a staging resource group to use instead of AIB's `IT_*` group.
                staging_resource_group: Option<Spanned<String>>,
                /// Build VM networking (`vmProfile.vnetConfig`).
                vnet_config: Option<VnetConfig>,
                /// AIB's `optimize` block.
                optimize: Option<Optimize>,
                /// The image the build starts from (replaced as a whole by upper layers).
                source: Option<Spanned<Source>>,
                /// Customization steps, in order.
                customize: Option<Spanned<Vec<Customizer>>>,
                /// In-VM validation.
                validate: Option<Validate>,
                /// Tags on the image template, its staging resources and the image version.
                tags: IndexMap<Spanned<String>, Spanned<String>>,
                /// Free values for templates (`{{ parameters.name }}`).
                #[schemars(with = "IndexMap<String, serde_json::Value>")]
                parameters: IndexMap<Spanned<String>, Spanned<Value>>,
                /// Secret references: `env:VAR` or `keyvault:https://<vault>/secrets/<name>`.
                secrets: IndexMap<Spanned<String>, Spanned<crate::SecretSource>>,
                /// Retention of old image versions (`aib gc`).
                retain: Option<Retain>,
            }
            $($rest)*
        }
    };
}

macro_rules! layer {
    (
        common { $( $(#[$cm:meta])* $cf:ident : $ct:ty, )* }
        $(#[$m:meta])* struct $name:ident { $( $(#[$fm:meta])* $f:ident : $t:ty, )* }
    ) => {
        $(#[$m])*
        #[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
        #[schemars(deny_unknown_fields)]
        pub struct $name {
            $( $(#[$cm])* #[serde(default)] pub $cf: $ct, )*
            $( $(#[$fm])* #[serde(default)] pub $f: $t, )*
        }

        impl $name {
            /// The settings part of this table, as one layer.
            pub fn settings(&self) -> Settings {
                Settings { $( $cf: self.$cf.clone(), )* }
            }
        }
    };
}

with_common_settings!(layer! {
    /// One layer of settings.
    struct Settings {}
});

with_common_settings!(layer! {
    /// `[environments.<env>]`
    struct Environment {
        /// Environments whose matching unit must verify before this one's starts (promotion).
        after: Vec<Spanned<String>>,
        /// Most units of this environment building at once.
        max_parallel: Option<Spanned<u32>>,
    }
});

with_common_settings!(layer! {
    /// `[variants.<variant>]`
    struct Variant {
        /// Axes with `include` / `exclude`, as GitHub Actions' `strategy.matrix`.
        matrix: Option<Matrix>,
        /// Either the environments to build in (`["dev"]`), or per-environment settings
        /// (`[variants.V.environments.prod]`); default: every environment.
        environments: Option<VariantEnvironments>,
    }
});

/// Names of the settings every layer accepts (for `--set` and messages).
pub const SETTING_KEYS: &[&str] = &[
    "subscription",
    "location",
    "resource_group",
    "identity",
    "template",
    "vm_size",
    "os_disk_gb",
    "build_timeout_minutes",
    "gallery",
    "image_definition",
    "replicate_to",
    "replica_count",
    "storage_account_type",
    "exclude_from_latest",
    "version",
    "cleanup",
    "error_handling",
    "staging_resource_group",
    "vnet_config",
    "optimize",
    "source",
    "customize",
    "validate",
    "tags",
    "parameters",
    "secrets",
    "retain",
];

impl Merge for Settings {
    fn merge(&mut self, upper: &Self) {
        self.subscription.merge(&upper.subscription);
        self.location.merge(&upper.location);
        self.resource_group.merge(&upper.resource_group);
        self.identity.merge(&upper.identity);
        self.template.merge(&upper.template);
        self.vm_size.merge(&upper.vm_size);
        self.os_disk_gb.merge(&upper.os_disk_gb);
        self.build_timeout_minutes
            .merge(&upper.build_timeout_minutes);
        self.gallery.merge(&upper.gallery);
        self.image_definition.merge(&upper.image_definition);
        self.replicate_to.merge(&upper.replicate_to);
        self.replica_count.merge(&upper.replica_count);
        self.storage_account_type.merge(&upper.storage_account_type);
        self.exclude_from_latest.merge(&upper.exclude_from_latest);
        self.version.merge(&upper.version);
        self.cleanup.merge(&upper.cleanup);
        self.error_handling.merge(&upper.error_handling);
        self.staging_resource_group
            .merge(&upper.staging_resource_group);
        self.vnet_config.merge(&upper.vnet_config);
        self.optimize.merge(&upper.optimize);
        self.source.merge(&upper.source);
        self.customize.merge(&upper.customize);
        self.validate.merge(&upper.validate);
        self.tags.merge(&upper.tags);
        self.parameters.merge(&upper.parameters);
        self.secrets.merge(&upper.secrets);
        self.retain.merge(&upper.retain);
    }
}

/// `gallery = { name, resource_group, subscription }`
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct GallerySettings {
    /// Gallery name: letters, digits, `_` and `.`.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Resource group of the gallery.
    #[serde(default)]
    pub resource_group: Option<Spanned<String>>,
    /// Subscription of the gallery (default: the unit's).
    #[serde(default)]
    pub subscription: Option<Spanned<String>>,
}
table_fields!(GallerySettings {
    name,
    resource_group,
    subscription
});

/// `error_handling = { on_customizer, on_validation }`
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ErrorHandling {
    #[serde(default)]
    pub on_customizer: Option<Spanned<ErrorPolicy>>,
    #[serde(default)]
    pub on_validation: Option<Spanned<ErrorPolicy>>,
}
table_fields!(ErrorHandling {
    on_customizer,
    on_validation
});

/// What AIB does with the build VM when a step fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErrorPolicy {
    #[default]
    Cleanup,
    Abort,
}

/// `vnet_config = { subnet_id, container_instance_subnet_id, proxy_vm_size }`
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct VnetConfig {
    #[serde(default)]
    pub subnet_id: Option<Spanned<String>>,
    #[serde(default)]
    pub container_instance_subnet_id: Option<Spanned<String>>,
    #[serde(default)]
    pub proxy_vm_size: Option<Spanned<String>>,
}
table_fields!(VnetConfig {
    subnet_id,
    container_instance_subnet_id,
    proxy_vm_size
});

/// `optimize = { vm_boot = true }`
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Optimize {
    /// Optimize the image for faster VM boot (`optimize.vmBoot.state`).
    #[serde(default)]
    pub vm_boot: Option<Spanned<bool>>,
}
table_fields!(Optimize { vm_boot });

/// `retain = { versions = N }`
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Retain {
    /// Gallery versions to keep per variant and environment.
    #[serde(default)]
    pub versions: Option<Spanned<u32>>,
}
table_fields!(Retain { versions });
table_fields!(Validate {
    in_vm_validations,
    continue_distribute_on_failure,
    source_validation_only
});

/// Replica storage type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum StorageAccountType {
    #[serde(rename = "Standard_LRS")]
    StandardLrs,
    #[serde(rename = "Standard_ZRS")]
    StandardZrs,
    #[serde(rename = "Premium_LRS")]
    PremiumLrs,
}

impl StorageAccountType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StandardLrs => "Standard_LRS",
            Self::StandardZrs => "Standard_ZRS",
            Self::PremiumLrs => "Premium_LRS",
        }
    }
}

/// The `cleanup` policy for image templates after a build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CleanupPolicy {
    /// Delete after a successful build; keep failed templates for inspection.
    #[default]
    OnSuccess,
    Always,
    Never,
}

/// A variant's `environments`: a list of environment names, or a table of per-environment
/// settings (`[variants.V.environments.E]`).
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum VariantEnvironments {
    /// Build only in these environments.
    Only(Vec<Spanned<String>>),
    /// Build in every environment, with these settings for the named ones.
    Overrides(IndexMap<Spanned<String>, Settings>),
}

impl<'de> Deserialize<'de> for VariantEnvironments {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VariantEnvironments;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of environment names, or a table of per-environment settings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(VariantEnvironments::Only)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                IndexMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(VariantEnvironments::Overrides)
            }
        }
        deserializer.deserialize_any(V)
    }
}
