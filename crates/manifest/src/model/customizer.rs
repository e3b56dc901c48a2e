//! Customizers (`customize = [...]`) and in-VM validations (`validate = {...}`), AIB's
//! properties in snake_case.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use crate::Spanned;

/// The customizer type, as in AIB (`Shell`, `PowerShell`, `File`, `WindowsRestart`,
/// `WindowsUpdate`), written in kebab-case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CustomizerKind {
    Shell,
    Powershell,
    File,
    WindowsRestart,
    WindowsUpdate,
}

impl CustomizerKind {
    /// The manifest spelling (`windows-restart`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shell => "shell",
            Self::Powershell => "powershell",
            Self::File => "file",
            Self::WindowsRestart => "windows-restart",
            Self::WindowsUpdate => "windows-update",
        }
    }

    /// AIB's `type` value.
    pub fn aib_type(self) -> &'static str {
        match self {
            Self::Shell => "Shell",
            Self::Powershell => "PowerShell",
            Self::File => "File",
            Self::WindowsRestart => "WindowsRestart",
            Self::WindowsUpdate => "WindowsUpdate",
        }
    }

    /// The manifest keys (besides `type` and `name`) that this type accepts.
    pub fn allowed_keys(self) -> &'static [&'static str] {
        match self {
            Self::Shell => &["script", "inline", "script_uri", "sha256_checksum"],
            Self::Powershell => &[
                "script",
                "inline",
                "script_uri",
                "sha256_checksum",
                "run_elevated",
                "run_as_system",
                "valid_exit_codes",
            ],
            Self::File => &["source_uri", "destination", "sha256_checksum"],
            Self::WindowsRestart => &[
                "restart_command",
                "restart_check_command",
                "restart_timeout",
            ],
            Self::WindowsUpdate => &["search_criteria", "filters", "update_limit"],
        }
    }
}

/// One customizer (or in-VM validation) step.
// Every key any type accepts, as written: the JSON schema's view, read into [`Customizer`].
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Customizer")]
pub struct RawCustomizer {
    /// shell | powershell | file | windows-restart | windows-update
    #[serde(rename = "type")]
    pub kind: Spanned<CustomizerKind>,
    /// A name for the step; failures are reported by it.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// A local script file (relative to the manifest); its bytes are inlined and hashed.
    #[serde(default)]
    pub script: Option<Spanned<String>>,
    /// Commands to run.
    #[serde(default)]
    pub inline: Option<Spanned<Vec<Spanned<String>>>>,
    /// A remote script URL.
    #[serde(default)]
    pub script_uri: Option<Spanned<String>>,
    /// SHA-256 of the script or file at the URI.
    #[serde(default)]
    pub sha256_checksum: Option<Spanned<String>>,
    /// PowerShell: run elevated.
    #[serde(default)]
    pub run_elevated: Option<Spanned<bool>>,
    /// PowerShell: run as the local system account (with `run_elevated`).
    #[serde(default)]
    pub run_as_system: Option<Spanned<bool>>,
    /// PowerShell: exit codes that count as success (default `[0]`).
    #[serde(default)]
    pub valid_exit_codes: Option<Spanned<Vec<i64>>>,
    /// File: the URL to download.
    #[serde(default)]
    pub source_uri: Option<Spanned<String>>,
    /// File: the absolute path on the build VM.
    #[serde(default)]
    pub destination: Option<Spanned<String>>,
    /// WindowsRestart: the restart command.
    #[serde(default)]
    pub restart_command: Option<Spanned<String>>,
    /// WindowsRestart: command that checks the restart succeeded.
    #[serde(default)]
    pub restart_check_command: Option<Spanned<String>>,
    /// WindowsRestart: how long to wait, such as `5m` or `2h`.
    #[serde(default)]
    pub restart_timeout: Option<Spanned<String>>,
    /// WindowsUpdate: the update search criteria.
    #[serde(default)]
    pub search_criteria: Option<Spanned<String>>,
    /// WindowsUpdate: filters on the updates found.
    #[serde(default)]
    pub filters: Option<Spanned<Vec<Spanned<String>>>>,
    /// WindowsUpdate: most updates to install in one go.
    #[serde(default)]
    pub update_limit: Option<Spanned<u32>>,
}

/// One customizer (or in-VM validation) step: its type with the keys of that type. Read as a
/// [`RawCustomizer`] (every key of every type) and sorted into its variant, so that keys of
/// another type are kept aside for validation to report, together with every other problem.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(from = "RawCustomizer", into = "RawCustomizer")]
pub struct Customizer {
    kind: Spanned<CustomizerKind>,
    /// A name for the step; failures are reported by it.
    pub name: Option<Spanned<String>>,
    /// What the step does, with the keys of its type.
    pub step: Step,
    /// Keys set that this type does not accept, with their spans.
    stray: Vec<Spanned<&'static str>>,
}

/// What a step does, one variant per type.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Shell(Script),
    Powershell {
        script: Script,
        /// Run elevated.
        run_elevated: Option<Spanned<bool>>,
        /// Run as the local system account (with `run_elevated`).
        run_as_system: Option<Spanned<bool>>,
        /// Exit codes that count as success (default `[0]`).
        valid_exit_codes: Option<Spanned<Vec<i64>>>,
    },
    File {
        /// The URL to download.
        source_uri: Option<Spanned<String>>,
        /// The absolute path on the build VM.
        destination: Option<Spanned<String>>,
        /// SHA-256 of the file at the URI.
        sha256_checksum: Option<Spanned<String>>,
    },
    WindowsRestart {
        /// The restart command.
        restart_command: Option<Spanned<String>>,
        /// Command that checks the restart succeeded.
        restart_check_command: Option<Spanned<String>>,
        /// How long to wait, such as `5m` or `2h`.
        restart_timeout: Option<Spanned<String>>,
    },
    WindowsUpdate {
        /// The update search criteria.
        search_criteria: Option<Spanned<String>>,
        /// Filters on the updates found.
        filters: Option<Spanned<Vec<Spanned<String>>>>,
        /// Most updates to install in one go.
        update_limit: Option<Spanned<u32>>,
    },
}

/// The script of a `shell` or `powershell` step: exactly one of `script`, `inline` and
/// `script_uri` (validation checks).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Script {
    /// A local script file (relative to the manifest); its bytes are inlined and hashed.
    pub script: Option<Spanned<String>>,
    /// Commands to run.
    pub inline: Option<Spanned<Vec<Spanned<String>>>>,
    /// A remote script URL.
    pub script_uri: Option<Spanned<String>>,
    /// SHA-256 of the script at the URI.
    pub sha256_checksum: Option<Spanned<String>>,
}

impl Customizer {
    /// The step's type, with the span of `type`.
    pub fn kind(&self) -> &Spanned<CustomizerKind> {
        &self.kind
    }

    /// Keys set that the step's type does not accept (validation refuses them).
    pub fn stray_keys(&self) -> &[Spanned<&'static str>] {
        &self.stray
    }

    /// The script of a `shell` or `powershell` step.
    pub fn script(&self) -> Option<&Script> {
        match &self.step {
            Step::Shell(s) | Step::Powershell { script: s, .. } => Some(s),
            _ => None,
        }
    }

    /// The step's display name: its `name`, else `<type>#<index>`.
    pub fn display_name(&self, index: usize) -> String {
        match &self.name {
            Some(n) => n.get_ref().clone(),
            None => format!("{}#{}", self.kind.as_str(), index + 1),
        }
    }
}

impl RawCustomizer {
    /// The keys this entry sets besides `type` and `name`, with their spans.
    fn set_keys(&self) -> Vec<Spanned<&'static str>> {
        let mut keys = Vec::new();
        macro_rules! key {
            ($($f:ident),*) => {$(
                if let Some(v) = &self.$f { keys.push(Spanned::new(v.span(), stringify!($f))); }
            )*};
        }
        key!(
            script,
            inline,
            script_uri,
            sha256_checksum,
            run_elevated,
            run_as_system,
            valid_exit_codes,
            source_uri,
            destination,
            restart_command,
            restart_check_command,
            restart_timeout,
            search_criteria,
            filters,
            update_limit
        );
        keys
    }
}

impl From<RawCustomizer> for Customizer {
    fn from(raw: RawCustomizer) -> Self {
        let kind = raw.kind.clone();
        let allowed = kind.allowed_keys();
        let stray = raw
            .set_keys()
            .into_iter()
            .filter(|k| !allowed.contains(k.get_ref()))
            .collect();
        let script = || Script {
            script: raw.script.clone(),
            inline: raw.inline.clone(),
            script_uri: raw.script_uri.clone(),
            sha256_checksum: raw.sha256_checksum.clone(),
        };
        let step = match *kind.get_ref() {
            CustomizerKind::Shell => Step::Shell(script()),
            CustomizerKind::Powershell => Step::Powershell {
                script: script(),
                run_elevated: raw.run_elevated.clone(),
                run_as_system: raw.run_as_system.clone(),
                valid_exit_codes: raw.valid_exit_codes.clone(),
            },
            CustomizerKind::File => Step::File {
                source_uri: raw.source_uri.clone(),
                destination: raw.destination.clone(),
                sha256_checksum: raw.sha256_checksum.clone(),
            },
            CustomizerKind::WindowsRestart => Step::WindowsRestart {
                restart_command: raw.restart_command.clone(),
                restart_check_command: raw.restart_check_command.clone(),
                restart_timeout: raw.restart_timeout.clone(),
            },
            CustomizerKind::WindowsUpdate => Step::WindowsUpdate {
                search_criteria: raw.search_criteria.clone(),
                filters: raw.filters.clone(),
                update_limit: raw.update_limit.clone(),
            },
        };
        Customizer {
            kind,
            name: raw.name,
            step,
            stray,
        }
    }
}

/// Back to the written form (keys of another type, refused when read, are not kept).
impl From<Customizer> for RawCustomizer {
    fn from(c: Customizer) -> Self {
        let mut raw = RawCustomizer {
            kind: c.kind,
            name: c.name,
            script: None,
            inline: None,
            script_uri: None,
            sha256_checksum: None,
            run_elevated: None,
            run_as_system: None,
            valid_exit_codes: None,
            source_uri: None,
            destination: None,
            restart_command: None,
            restart_check_command: None,
            restart_timeout: None,
            search_criteria: None,
            filters: None,
            update_limit: None,
        };
        let script = |s: Script, raw: &mut RawCustomizer| {
            raw.script = s.script;
            raw.inline = s.inline;
            raw.script_uri = s.script_uri;
            raw.sha256_checksum = s.sha256_checksum;
        };
        match c.step {
            Step::Shell(s) => script(s, &mut raw),
            Step::Powershell {
                script: s,
                run_elevated,
                run_as_system,
                valid_exit_codes,
            } => {
                script(s, &mut raw);
                raw.run_elevated = run_elevated;
                raw.run_as_system = run_as_system;
                raw.valid_exit_codes = valid_exit_codes;
            }
            Step::File {
                source_uri,
                destination,
                sha256_checksum,
            } => {
                raw.source_uri = source_uri;
                raw.destination = destination;
                raw.sha256_checksum = sha256_checksum;
            }
            Step::WindowsRestart {
                restart_command,
                restart_check_command,
                restart_timeout,
            } => {
                raw.restart_command = restart_command;
                raw.restart_check_command = restart_check_command;
                raw.restart_timeout = restart_timeout;
            }
            Step::WindowsUpdate {
                search_criteria,
                filters,
                update_limit,
            } => {
                raw.search_criteria = search_criteria;
                raw.filters = filters;
                raw.update_limit = update_limit;
            }
        }
        raw
    }
}

/// The schema of the written form.
impl JsonSchema for Customizer {
    fn inline_schema() -> bool {
        RawCustomizer::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        RawCustomizer::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        RawCustomizer::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        RawCustomizer::json_schema(generator)
    }
}

/// `validate = { ... }`: AIB's `validate` block.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Validate {
    /// In-VM validation steps (`shell`, `powershell` or `file`), run after customization.
    #[serde(default)]
    pub in_vm_validations: Option<Spanned<Vec<Customizer>>>,
    /// Distribute the image even when validation fails.
    #[serde(default)]
    pub continue_distribute_on_failure: Option<Spanned<bool>>,
    /// Only validate the source image; skip customization and distribution.
    #[serde(default)]
    pub source_validation_only: Option<Spanned<bool>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(toml_text: &str) -> Result<Customizer, toml::de::Error> {
        toml::from_str(toml_text)
    }

    #[test]
    fn a_step_keeps_only_its_type_s_keys_and_sets_others_aside() -> Result<(), toml::de::Error> {
        let c = read(
            "type = \"file\"\nsource_uri = \"https://x/y\"\ndestination = \"/tmp/y\"\ninline = [\"a\"]\n",
        )?;
        assert_eq!(*c.kind().get_ref(), CustomizerKind::File);
        assert!(
            matches!(&c.step, Step::File { source_uri: Some(u), destination: Some(_), sha256_checksum: None } if u.as_str() == "https://x/y")
        );
        let stray: Vec<&str> = c.stray_keys().iter().map(|k| *k.get_ref()).collect();
        assert_eq!(stray, ["inline"]);
        assert!(c.script().is_none());
        Ok(())
    }

    #[test]
    fn powershell_steps_have_a_script_and_round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let c =
            read("type = \"powershell\"\nname = \"p\"\ninline = [\"a\"]\nrun_elevated = true\n")?;
        assert!(c.stray_keys().is_empty());
        assert!(
            c.script()
                .is_some_and(|s| s.inline.is_some() && s.script.is_none())
        );
        let back = serde_json::to_value(&c)?;
        assert_eq!(back["inline"], serde_json::json!(["a"]));
        assert_eq!(back["run_elevated"], serde_json::json!(true));
        assert_eq!(back["type"], serde_json::json!("powershell"));
        let again = read(&toml::to_string(&c)?)?;
        assert_eq!(again, c);
        Ok(())
    }
}
