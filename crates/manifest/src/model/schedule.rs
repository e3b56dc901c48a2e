//! `[schedules.<name>]`: when `aib schedule` rebuilds what.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Cron;
use crate::Spanned;

/// One scheduled rebuild.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Schedule {
    /// Cron expression: five fields, or six with seconds first.
    pub cron: Spanned<Cron>,
    /// IANA time zone the cron expression is read in (default `UTC`).
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// Environments to build (default: all).
    #[serde(default)]
    pub environments: Option<Vec<Spanned<String>>>,
    /// Variant name globs (default `["*"]`).
    #[serde(default)]
    pub variants: Option<Vec<Spanned<String>>>,
    /// `changed` rebuilds units whose inputs changed; `always` rebuilds all selected units.
    #[serde(default)]
    pub rebuild: Option<Spanned<Rebuild>>,
    /// Run once at start when a due time was missed while aib was down.
    #[serde(default)]
    pub catch_up: Option<Spanned<bool>>,
}

/// What a schedule rebuilds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Rebuild {
    #[default]
    Changed,
    Always,
}
