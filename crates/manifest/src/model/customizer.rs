//! Customizers (`customize = [...]`) and in-VM validations (`validate = {...}`), AIB's
//! properties in snake_case.

use schemars::JsonSchema;
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
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Customizer {
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

impl Customizer {
    /// The keys this entry sets besides `type` and `name`, with their spans.
    pub fn set_keys(&self) -> Vec<(&'static str, std::ops::Range<usize>)> {
        let mut keys = Vec::new();
        macro_rules! key {
            ($($f:ident),*) => {$(
                if let Some(v) = &self.$f { keys.push((stringify!($f), v.span())); }
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

    /// The step's display name: its `name`, else `<type>#<index>`.
    pub fn display_name(&self, index: usize) -> String {
        match &self.name {
            Some(n) => n.get_ref().clone(),
            None => format!("{}#{}", self.kind.as_str(), index + 1),
        }
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
