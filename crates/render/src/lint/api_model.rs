//! aib's model of the Image Builder API (`Microsoft.VirtualMachineImages/imageTemplates`,
//! api-version 2025-10-01): every object of an imageTemplate's `properties` and `identity`,
//! its fields, their kinds, the required ones and the allowed values, with the definition names
//! of the official ARM schema (a reference test compares the two). Plus what the API no longer
//! takes (the `ISO` source).
//!
//! [`check_resource`] reads an imageTemplate resource against the model and says where it breaks
//! the API: an unknown field (with the closest known one), a missing required field, an unknown
//! type, a value outside the allowed ones, a wrong JSON kind. ARM expressions (`"[...]"`) are
//! not judged; property `copy` loops count as the property they build.

use serde_json::Value;

/// What a field holds.
#[derive(Debug)]
pub enum Kind {
    Str,
    Int,
    Bool,
    /// A string out of these.
    Enum(&'static [&'static str]),
    /// An object with free keys (tags, identities).
    Map,
    Object(&'static Obj),
    /// One of several objects told apart by a discriminator field.
    Union(&'static Union),
    List(&'static Kind),
}

/// A field of an object.
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
}

/// An object: its schema definition name, fields and required fields.
#[derive(Debug)]
pub struct Obj {
    pub name: &'static str,
    pub fields: &'static [Field],
    pub required: &'static [&'static str],
}

/// Objects told apart by `key` (`type`): the base fields every variant has, and each variant's
/// own object (whose fields include `key`).
#[derive(Debug)]
pub struct Union {
    pub name: &'static str,
    pub key: &'static str,
    pub base: &'static [Field],
    pub base_required: &'static [&'static str],
    pub variants: &'static [(&'static str, &'static Obj)],
    /// Values of `key` the API used to take: (value, what to do instead).
    pub retired: &'static [(&'static str, &'static str)],
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field { name, kind }
}

const STATE: Kind = Kind::Enum(&["Enabled", "Disabled"]);
const STORAGE: Kind = Kind::Enum(&["Standard_LRS", "Standard_ZRS", "Premium_LRS"]);
const ERROR_POLICY: Kind = Kind::Enum(&["cleanup", "abort"]);

pub static PURCHASE_PLAN: Obj = Obj {
    name: "PlatformImagePurchasePlan",
    fields: &[
        f("planName", Kind::Str),
        f("planProduct", Kind::Str),
        f("planPublisher", Kind::Str),
    ],
    required: &["planName", "planProduct", "planPublisher"],
};

pub static PLATFORM_SOURCE: Obj = Obj {
    name: "ImageTemplatePlatformImageSource",
    fields: &[
        f("offer", Kind::Str),
        f("planInfo", Kind::Object(&PURCHASE_PLAN)),
        f("publisher", Kind::Str),
        f("sku", Kind::Str),
        f("type", Kind::Enum(&["PlatformImage"])),
        f("version", Kind::Str),
    ],
    required: &["type"],
};

pub static MANAGED_SOURCE: Obj = Obj {
    name: "ImageTemplateManagedImageSource",
    fields: &[
        f("imageId", Kind::Str),
        f("type", Kind::Enum(&["ManagedImage"])),
    ],
    required: &["imageId", "type"],
};

pub static SIG_SOURCE: Obj = Obj {
    name: "ImageTemplateSharedImageVersionSource",
    fields: &[
        f("imageVersionId", Kind::Str),
        f("type", Kind::Enum(&["SharedImageVersion"])),
    ],
    required: &["imageVersionId", "type"],
};

pub static SOURCE: Union = Union {
    name: "ImageTemplateSource",
    key: "type",
    base: &[f("type", Kind::Str)],
    base_required: &["type"],
    variants: &[
        ("ManagedImage", &MANAGED_SOURCE),
        ("PlatformImage", &PLATFORM_SOURCE),
        ("SharedImageVersion", &SIG_SOURCE),
    ],
    retired: &[(
        "ISO",
        "Image Builder no longer builds from ISO images (retired with api-version 2020-02-14): use a `PlatformImage` (e.g. RHEL from Red Hat's marketplace offer), a `ManagedImage` or a `SharedImageVersion` source",
    )],
};

pub static SHELL: Obj = Obj {
    name: "ImageTemplateShellCustomizer",
    fields: &[
        f("inline", Kind::List(&Kind::Str)),
        f("scriptUri", Kind::Str),
        f("sha256Checksum", Kind::Str),
        f("type", Kind::Enum(&["Shell"])),
    ],
    required: &["type"],
};

pub static POWERSHELL: Obj = Obj {
    name: "ImageTemplatePowerShellCustomizer",
    fields: &[
        f("inline", Kind::List(&Kind::Str)),
        f("runAsSystem", Kind::Bool),
        f("runElevated", Kind::Bool),
        f("scriptUri", Kind::Str),
        f("sha256Checksum", Kind::Str),
        f("type", Kind::Enum(&["PowerShell"])),
        f("validExitCodes", Kind::List(&Kind::Int)),
    ],
    required: &["type"],
};

pub static FILE: Obj = Obj {
    name: "ImageTemplateFileCustomizer",
    fields: &[
        f("destination", Kind::Str),
        f("sha256Checksum", Kind::Str),
        f("sourceUri", Kind::Str),
        f("type", Kind::Enum(&["File"])),
    ],
    required: &["type"],
};

pub static RESTART: Obj = Obj {
    name: "ImageTemplateRestartCustomizer",
    fields: &[
        f("restartCheckCommand", Kind::Str),
        f("restartCommand", Kind::Str),
        f("restartTimeout", Kind::Str),
        f("type", Kind::Enum(&["WindowsRestart"])),
    ],
    required: &["type"],
};

pub static WINDOWS_UPDATE: Obj = Obj {
    name: "ImageTemplateWindowsUpdateCustomizer",
    fields: &[
        f("filters", Kind::List(&Kind::Str)),
        f("searchCriteria", Kind::Str),
        f("type", Kind::Enum(&["WindowsUpdate"])),
        f("updateLimit", Kind::Int),
    ],
    required: &["type"],
};

pub static CUSTOMIZER: Union = Union {
    name: "ImageTemplateCustomizer",
    key: "type",
    base: &[f("name", Kind::Str), f("type", Kind::Str)],
    base_required: &["type"],
    variants: &[
        ("File", &FILE),
        ("PowerShell", &POWERSHELL),
        ("Shell", &SHELL),
        ("WindowsRestart", &RESTART),
        ("WindowsUpdate", &WINDOWS_UPDATE),
    ],
    retired: &[],
};

pub static SHELL_VALIDATOR: Obj = Obj {
    name: "ImageTemplateShellValidator",
    fields: SHELL.fields,
    required: &["type"],
};

pub static POWERSHELL_VALIDATOR: Obj = Obj {
    name: "ImageTemplatePowerShellValidator",
    fields: POWERSHELL.fields,
    required: &["type"],
};

pub static FILE_VALIDATOR: Obj = Obj {
    name: "ImageTemplateFileValidator",
    fields: FILE.fields,
    required: &["type"],
};

pub static VALIDATOR: Union = Union {
    name: "ImageTemplateInVMValidator",
    key: "type",
    base: &[f("name", Kind::Str), f("type", Kind::Str)],
    base_required: &["type"],
    variants: &[
        ("File", &FILE_VALIDATOR),
        ("PowerShell", &POWERSHELL_VALIDATOR),
        ("Shell", &SHELL_VALIDATOR),
    ],
    retired: &[],
};

pub static TARGET_REGION: Obj = Obj {
    name: "TargetRegion",
    fields: &[
        f("name", Kind::Str),
        f("replicaCount", Kind::Int),
        f("storageAccountType", STORAGE),
    ],
    required: &["name"],
};

pub static VERSIONER_LATEST: Obj = Obj {
    name: "DistributeVersionerLatest",
    fields: &[f("major", Kind::Int), f("scheme", Kind::Enum(&["Latest"]))],
    required: &["scheme"],
};

pub static VERSIONER_SOURCE: Obj = Obj {
    name: "DistributeVersionerSource",
    fields: &[f("scheme", Kind::Enum(&["Source"]))],
    required: &["scheme"],
};

pub static VERSIONER: Union = Union {
    name: "DistributeVersioner",
    key: "scheme",
    base: &[f("scheme", Kind::Str)],
    base_required: &["scheme"],
    variants: &[("Latest", &VERSIONER_LATEST), ("Source", &VERSIONER_SOURCE)],
    retired: &[],
};

pub static SHARED_IMAGE: Obj = Obj {
    name: "ImageTemplateSharedImageDistributor",
    fields: &[
        f("excludeFromLatest", Kind::Bool),
        f("galleryImageId", Kind::Str),
        f("replicationMode", Kind::Enum(&["Full", "Shallow"])),
        f("replicationRegions", Kind::List(&Kind::Str)),
        f("storageAccountType", STORAGE),
        f("targetRegions", Kind::List(&Kind::Object(&TARGET_REGION))),
        f("type", Kind::Enum(&["SharedImage"])),
        f("versioning", Kind::Union(&VERSIONER)),
    ],
    required: &["galleryImageId", "type"],
};

pub static MANAGED_IMAGE: Obj = Obj {
    name: "ImageTemplateManagedImageDistributor",
    fields: &[
        f("imageId", Kind::Str),
        f("location", Kind::Str),
        f("type", Kind::Enum(&["ManagedImage"])),
    ],
    required: &["imageId", "location", "type"],
};

pub static VHD: Obj = Obj {
    name: "ImageTemplateVhdDistributor",
    fields: &[f("type", Kind::Enum(&["VHD"])), f("uri", Kind::Str)],
    required: &["type"],
};

pub static DISTRIBUTOR: Union = Union {
    name: "ImageTemplateDistributor",
    key: "type",
    base: &[
        f("artifactTags", Kind::Map),
        f("runOutputName", Kind::Str),
        f("type", Kind::Str),
    ],
    base_required: &["runOutputName", "type"],
    variants: &[
        ("ManagedImage", &MANAGED_IMAGE),
        ("SharedImage", &SHARED_IMAGE),
        ("VHD", &VHD),
    ],
    retired: &[],
};

pub static VNET_CONFIG: Obj = Obj {
    name: "VirtualNetworkConfig",
    fields: &[
        f("containerInstanceSubnetId", Kind::Str),
        f("proxyVmSize", Kind::Str),
        f("subnetId", Kind::Str),
    ],
    required: &[],
};

pub static VM_PROFILE: Obj = Obj {
    name: "ImageTemplateVmProfile",
    fields: &[
        f("osDiskSizeGB", Kind::Int),
        f("userAssignedIdentities", Kind::List(&Kind::Str)),
        f("vmSize", Kind::Str),
        f("vnetConfig", Kind::Object(&VNET_CONFIG)),
    ],
    required: &[],
};

pub static DATA_DISK: Obj = Obj {
    name: "DataDisk",
    fields: &[f("sizeGB", Kind::Int)],
    required: &[],
};

pub static AUTO_RUN: Obj = Obj {
    name: "ImageTemplateAutoRun",
    fields: &[f("state", STATE)],
    required: &[],
};

pub static ERROR_HANDLING: Obj = Obj {
    name: "ImageTemplatePropertiesErrorHandling",
    fields: &[
        f("onCustomizerError", ERROR_POLICY),
        f("onValidationError", ERROR_POLICY),
    ],
    required: &[],
};

pub static VM_BOOT: Obj = Obj {
    name: "ImageTemplatePropertiesOptimizeVmBoot",
    fields: &[f("state", STATE)],
    required: &[],
};

pub static WORKLOAD: Obj = Obj {
    name: "ImageTemplatePropertiesOptimizeWorkload",
    fields: &[
        f("scriptUri", Kind::Str),
        f("sha256Checksum", Kind::Str),
        f("state", STATE),
    ],
    required: &[],
};

pub static OPTIMIZE: Obj = Obj {
    name: "ImageTemplatePropertiesOptimize",
    fields: &[
        f("vmBoot", Kind::Object(&VM_BOOT)),
        f("workload", Kind::Object(&WORKLOAD)),
    ],
    required: &[],
};

pub static VALIDATE: Obj = Obj {
    name: "ImageTemplatePropertiesValidate",
    fields: &[
        f("continueDistributeOnFailure", Kind::Bool),
        f("inVMValidations", Kind::List(&Kind::Union(&VALIDATOR))),
        f("sourceValidationOnly", Kind::Bool),
    ],
    required: &[],
};

/// `properties` of an imageTemplate.
pub static PROPERTIES: Obj = Obj {
    name: "ImageTemplateProperties",
    fields: &[
        f("additionalDataDisks", Kind::List(&Kind::Object(&DATA_DISK))),
        f("autoRun", Kind::Object(&AUTO_RUN)),
        f("buildTimeoutInMinutes", Kind::Int),
        f("customize", Kind::List(&Kind::Union(&CUSTOMIZER))),
        f("distribute", Kind::List(&Kind::Union(&DISTRIBUTOR))),
        f("errorHandling", Kind::Object(&ERROR_HANDLING)),
        f("managedResourceTags", Kind::Map),
        f("optimize", Kind::Object(&OPTIMIZE)),
        f("source", Kind::Union(&SOURCE)),
        f("stagingResourceGroup", Kind::Str),
        f("validate", Kind::Object(&VALIDATE)),
        f("vmProfile", Kind::Object(&VM_PROFILE)),
    ],
    required: &["distribute", "source"],
};

/// `identity` of an imageTemplate.
pub static IDENTITY: Obj = Obj {
    name: "ImageTemplateIdentity",
    fields: &[
        f("type", Kind::Enum(&["UserAssigned", "None"])),
        f("userAssignedIdentities", Kind::Map),
    ],
    required: &[],
};

/// Fields of the imageTemplate resource the API itself requires.
pub const RESOURCE_REQUIRED: &[&str] = &["identity", "location", "properties"];

/// Every object of the model (unions' variants included), for walking it.
pub fn objects() -> Vec<&'static Obj> {
    fn add(k: &'static Kind, out: &mut Vec<&'static Obj>) {
        match k {
            Kind::Object(o) => add_obj(o, out),
            Kind::Union(u) => u.variants.iter().for_each(|(_, o)| add_obj(o, out)),
            Kind::List(k) => add(k, out),
            _ => {}
        }
    }
    fn add_obj(o: &'static Obj, out: &mut Vec<&'static Obj>) {
        if out.iter().any(|x| std::ptr::eq(*x, o)) {
            return;
        }
        out.push(o);
        o.fields.iter().for_each(|fl| add(&fl.kind, out));
    }
    let mut out = Vec::new();
    add_obj(&PROPERTIES, &mut out);
    add_obj(&IDENTITY, &mut out);
    out
}

/// Every union of the model.
pub fn unions() -> Vec<&'static Union> {
    vec![&SOURCE, &CUSTOMIZER, &VALIDATOR, &DISTRIBUTOR, &VERSIONER]
}

/// One step of a finding's path, from the resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// Where a resource breaks the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub path: Vec<Step>,
    pub message: String,
}

fn is_expression(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        let t = s.trim();
        t.starts_with('[') && t.ends_with(']') && !t.starts_with("[[")
    })
}

struct Checker {
    out: Vec<Finding>,
    path: Vec<Step>,
}

/// Reads an imageTemplate resource (`identity`, `properties`, ...) against the model.
pub fn check_resource(resource: &Value) -> Vec<Finding> {
    let mut c = Checker {
        out: Vec::new(),
        path: Vec::new(),
    };
    if let Some(r) = resource.as_object() {
        for k in RESOURCE_REQUIRED {
            if !r.contains_key(*k) {
                let message = if *k == "identity" {
                    "no `identity`: Image Builder has required a user-assigned identity since api-version 2020-02-14 and refuses the template without one; add `\"identity\": { \"type\": \"UserAssigned\", \"userAssignedIdentities\": { \"<identity id>\": {} } }` (aib's `identity` setting holds the id)".to_string()
                } else {
                    format!("no `{k}`: Image Builder requires it")
                };
                c.out.push(Finding {
                    path: Vec::new(),
                    message,
                });
            }
        }
        if let Some(i) = r.get("identity") {
            c.at_key("identity", |c| c.object(i, &IDENTITY));
        }
        if let Some(p) = r.get("properties") {
            c.at_key("properties", |c| c.object(p, &PROPERTIES));
        }
    }
    c.out
}

impl Checker {
    fn at_key(&mut self, k: &str, f: impl FnOnce(&mut Self)) {
        self.path.push(Step::Key(k.to_string()));
        f(self);
        self.path.pop();
    }

    fn at_index(&mut self, i: usize, f: impl FnOnce(&mut Self)) {
        self.path.push(Step::Index(i));
        f(self);
        self.path.pop();
    }

    fn find(&mut self, message: String) {
        self.out.push(Finding {
            path: self.path.clone(),
            message,
        });
    }

    fn value(&mut self, v: &Value, kind: &Kind) {
        if is_expression(v) {
            return;
        }
        match kind {
            Kind::Str if !v.is_string() => {
                self.find(format!("should be a string, not {}", json_kind(v)))
            }
            Kind::Int if !(v.is_i64() || v.is_u64()) => {
                self.find(format!("should be an integer, not {}", json_kind(v)))
            }
            Kind::Bool if !v.is_boolean() => {
                self.find(format!("should be true or false, not {}", json_kind(v)))
            }
            Kind::Enum(values) => match v.as_str() {
                Some(s) if values.contains(&s) => {}
                Some(s) => {
                    let hint = values
                        .iter()
                        .find(|x| x.eq_ignore_ascii_case(s))
                        .map(|x| format!(" (did you mean `{x}`?)"))
                        .unwrap_or_default();
                    self.find(format!("`{s}` is not one of {}{hint}", list(values)))
                }
                None => self.find(format!("should be one of {}", list(values))),
            },
            Kind::Map if !v.is_object() => {
                self.find(format!("should be an object, not {}", json_kind(v)))
            }
            Kind::Object(o) => self.object(v, o),
            Kind::Union(u) => self.union(v, u),
            Kind::List(item) => match v.as_array() {
                Some(items) => {
                    for (i, x) in items.iter().enumerate() {
                        self.at_index(i, |c| c.value(x, item));
                    }
                }
                None => self.find(format!("should be a list, not {}", json_kind(v))),
            },
            _ => {}
        }
    }

    /// The fields `copy` builds in an object (property loops).
    fn copied(o: &serde_json::Map<String, Value>) -> Vec<(usize, &str, Option<&Value>)> {
        o.get("copy")
            .and_then(Value::as_array)
            .map(|loops| {
                loops
                    .iter()
                    .enumerate()
                    .filter_map(|(i, l)| Some((i, l.get("name")?.as_str()?, l.get("input"))))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn fields(&mut self, v: &Value, fields: &[&Field], required: &[&str], what: &str) {
        let Some(o) = v.as_object() else {
            if !is_expression(v) {
                self.find(format!("should be an object, not {}", json_kind(v)));
            }
            return;
        };
        let copied = Self::copied(o);
        for (k, x) in o {
            if k == "copy" && !copied.is_empty() {
                continue;
            }
            if is_expression(&Value::String(k.clone())) {
                continue;
            }
            match fields.iter().find(|fl| fl.name == k) {
                Some(fl) => self.at_key(k, |c| c.value(x, &fl.kind)),
                None => {
                    let names: Vec<String> = fields.iter().map(|fl| fl.name.to_string()).collect();
                    let hint = aib_manifest::did_you_mean(k, &names)
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    self.at_key(k, |c| {
                        c.find(format!(
                            "`{k}` is not a field of {what}{hint}; Image Builder refuses unknown fields"
                        ))
                    });
                }
            }
        }
        for (i, name, input) in &copied {
            let at = |c: &mut Self, f: &mut dyn FnMut(&mut Self)| {
                c.at_key("copy", |c| c.at_index(*i, |c| f(c)))
            };
            match fields.iter().find(|fl| fl.name == *name) {
                Some(Field {
                    kind: Kind::List(item),
                    ..
                }) => {
                    if let Some(x) = input {
                        at(self, &mut |c| c.at_key("input", |c| c.value(x, item)));
                    }
                }
                _ => at(self, &mut |c| {
                    c.at_key("name", |c| {
                        c.find(format!(
                            "the property loop builds `{name}`, which is not a list field of {what}"
                        ))
                    })
                }),
            }
        }
        for r in required {
            if !o.contains_key(*r) && !copied.iter().any(|(_, n, _)| n == r) {
                self.find(format!("{what} requires `{r}`"));
            }
        }
    }

    fn object(&mut self, v: &Value, o: &Obj) {
        let fields: Vec<&Field> = o.fields.iter().collect();
        self.fields(v, &fields, o.required, &format!("`{}`", o.name));
    }

    fn union(&mut self, v: &Value, u: &Union) {
        let Some(obj) = v.as_object() else {
            if !is_expression(v) {
                self.find(format!("should be an object, not {}", json_kind(v)));
            }
            return;
        };
        let tag = match obj.get(u.key) {
            None => {
                self.find(format!("`{}` requires `{}`", u.name, u.key));
                return;
            }
            Some(t) if is_expression(t) => return,
            Some(t) => t.as_str().unwrap_or(""),
        };
        if let Some((_, why)) = u.retired.iter().find(|(r, _)| r.eq_ignore_ascii_case(tag)) {
            self.at_key(u.key, |c| c.find(format!("`{tag}`: {why}")));
            return;
        }
        let Some((_, variant)) = u.variants.iter().find(|(t, _)| *t == tag) else {
            let names: Vec<&str> = u.variants.iter().map(|(t, _)| *t).collect();
            let hint = names
                .iter()
                .find(|x| x.eq_ignore_ascii_case(tag))
                .map(|x| format!(" (did you mean `{x}`?)"))
                .unwrap_or_default();
            self.at_key(u.key, |c| {
                c.find(format!("`{tag}` is not one of {}{hint}", list(&names)))
            });
            return;
        };
        let mut fields: Vec<&Field> = u.base.iter().collect();
        for fl in variant.fields {
            if let Some(i) = fields.iter().position(|b| b.name == fl.name) {
                fields[i] = fl;
            } else {
                fields.push(fl);
            }
        }
        let mut required: Vec<&str> = u.base_required.to_vec();
        for r in variant.required {
            if !required.contains(r) {
                required.push(r);
            }
        }
        self.fields(
            v,
            &fields,
            &required,
            &format!("a `{tag}` {}", short(u.name)),
        );
    }
}

/// "customizer" for `ImageTemplateCustomizer`.
fn short(name: &str) -> String {
    let s = name.trim_start_matches("ImageTemplate");
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    match out.as_str() {
        "in v m validator" => "validation".into(),
        "distribute versioner" => "versioning".into(),
        _ => out,
    }
}

fn list(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(r: &Value) -> Vec<String> {
        check_resource(r)
            .into_iter()
            .map(|f| {
                let p: Vec<String> = f
                    .path
                    .iter()
                    .map(|s| match s {
                        Step::Key(k) => k.clone(),
                        Step::Index(i) => i.to_string(),
                    })
                    .collect();
                format!("{}: {}", p.join("."), f.message)
            })
            .collect()
    }

    fn good() -> Value {
        json!({
            "location": "westeurope",
            "identity": { "type": "UserAssigned", "userAssignedIdentities": { "[parameters('id')]": {} } },
            "properties": {
                "source": { "type": "PlatformImage", "publisher": "p", "offer": "o", "sku": "s", "version": "latest" },
                "customize": [ { "type": "Shell", "name": "a", "inline": ["x"] } ],
                "distribute": [ { "type": "SharedImage", "galleryImageId": "[parameters('g')]", "runOutputName": "o",
                                  "targetRegions": [ { "name": "westeurope", "replicaCount": 1 } ] } ],
                "vmProfile": { "vmSize": "Standard_D2s_v3", "osDiskSizeGB": 0 }
            }
        })
    }

    #[test]
    fn a_current_template_passes() {
        assert_eq!(messages(&good()), Vec::<String>::new());
    }

    #[test]
    fn what_the_api_refuses_is_found_with_its_path() {
        let mut r = good();
        r.as_object_mut().map(|o| o.remove("identity"));
        r["properties"]["source"] =
            json!({ "type": "ISO", "sourceURI": "https://x", "sha256Checksum": "c" });
        r["properties"]["distribute"][0]["replicationRegion"] = json!(["x"]);
        r["properties"]["distribute"][0]["storageAccountType"] = json!("standard_lrs");
        r["properties"]["customize"][0]["type"] = json!("shell");
        insta::assert_debug_snapshot!(messages(&r), @r#"
        [
            ": no `identity`: Image Builder has required a user-assigned identity since api-version 2020-02-14 and refuses the template without one; add `\"identity\": { \"type\": \"UserAssigned\", \"userAssignedIdentities\": { \"<identity id>\": {} } }` (aib's `identity` setting holds the id)",
            "properties.source.type: `ISO`: Image Builder no longer builds from ISO images (retired with api-version 2020-02-14): use a `PlatformImage` (e.g. RHEL from Red Hat's marketplace offer), a `ManagedImage` or a `SharedImageVersion` source",
            "properties.customize.0.type: `shell` is not one of `File`, `PowerShell`, `Shell`, `WindowsRestart`, `WindowsUpdate` (did you mean `Shell`?)",
            "properties.distribute.0.replicationRegion: `replicationRegion` is not a field of a `SharedImage` distributor (did you mean `replicationRegions`?); Image Builder refuses unknown fields",
            "properties.distribute.0.storageAccountType: `standard_lrs` is not one of `Standard_LRS`, `Standard_ZRS`, `Premium_LRS` (did you mean `Standard_LRS`?)",
        ]
        "#);
    }

    #[test]
    fn property_loops_count_as_the_list_they_build() {
        let mut r = good();
        let p = r["properties"].as_object_mut().expect("object");
        p.remove("distribute");
        p.insert(
            "copy".into(),
            json!([{ "name": "distribute", "count": "[length(parameters('r'))]",
                     "input": { "type": "VHD", "runOutputName": "[format('v{0}', copyIndex('distribute'))]", "url": "x" } }]),
        );
        assert_eq!(
            messages(&r),
            vec![
                "properties.copy.0.input.url: `url` is not a field of a `VHD` distributor (did you mean `uri`?); Image Builder refuses unknown fields"
            ]
        );
    }

    #[test]
    fn the_model_names_each_object_once() {
        let objs = objects();
        let mut names: Vec<&str> = objs.iter().map(|o| o.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len());
        assert!(n >= 25, "{n}");
    }
}
