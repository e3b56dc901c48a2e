//! Why a file could not be imported, typed: what `aib import` reports, in one place.

use super::path::JsonPath;

/// Why a file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: ReadError },
    #[error("{path} is not valid JSON (line {line}, column {column}): {message}")]
    Json {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {reason}")]
    NotATemplate { path: String, reason: NotATemplate },
    /// A template aib could read but cannot import without changing what it means.
    #[error("{path}: {at}: {message}")]
    Refused {
        path: String,
        at: String,
        message: String,
    },
    #[error("{path} already exists; choose another --out directory")]
    Exists { path: String },
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

/// Why a template file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("larger than {limit_mib} MiB; ARM itself refuses templates over 4 MiB")]
    TooLarge { limit_mib: u64 },
}

/// Why a JSON document is not a template aib can import.
#[derive(Debug, thiserror::Error)]
pub enum NotATemplate {
    #[error("not a JSON object")]
    NotAnObject,
    #[error(
        "an imageTemplate trigger body (`properties.kind`), not a template: import the template it belongs to"
    )]
    TriggerBody,
    #[error(
        "not an AIB image template: no `resources`, and no `properties` with `source` and `distribute`"
    )]
    NoTemplateShape,
    #[error("a `{rtype}` resource, not an imageTemplate")]
    OtherResource { rtype: String },
    #[error("`resources` is neither a list nor (languageVersion 2.0) an object of resources")]
    ResourcesMalformed,
    #[error(
        "the deployment has no Microsoft.VirtualMachineImages/imageTemplates resource it holds inline; it links templates aib cannot read offline (import the linked file itself)"
    )]
    OnlyLinked,
    #[error(
        "the deployment has no Microsoft.VirtualMachineImages/imageTemplates resource, inline or in nested deployments"
    )]
    NoImageTemplate,
    #[error("{at}: the nested deployment is gone")]
    DeploymentGone { at: JsonPath },
    #[error(
        "{at}: the nested deployment that holds the imageTemplate has a `copy` loop, so it deploys several imageTemplates; aib builds one per unit: import the module it deploys instead"
    )]
    DeploymentCopyLoop { at: JsonPath },
    #[error("{at}: the nested deployment has no inline template")]
    NoInlineTemplate { at: JsonPath },
    #[error(
        "{at}: the imageTemplate has a `copy` loop, so the deployment creates several templates; aib builds one template per unit: write one imageTemplate per image (each becomes a variant)"
    )]
    TemplateCopyLoop { at: JsonPath },
    #[error("{at}: deployments nest more than {limit} deep")]
    NestsTooDeep { at: JsonPath, limit: usize },
    #[error("{at}: cannot read the linked template `{rel}`: {reason}")]
    LinkUnreadable {
        at: JsonPath,
        rel: String,
        reason: ReadError,
    },
    #[error(
        "{at}: the linked template `{rel}` is not valid JSON (line {}, column {}): {}",
        error.line,
        error.column,
        error.message
    )]
    LinkNotJson {
        at: JsonPath,
        rel: String,
        error: JsonTextError,
    },
    #[error("{at}: the linked template `{rel}` is not a JSON object")]
    LinkNotObject { at: JsonPath, rel: String },
}

/// Why a text is not JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonTextError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}
