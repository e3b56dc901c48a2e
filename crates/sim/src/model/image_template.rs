//! An imageTemplate as the simulator keeps it, with its current or last run.

use crate::scenario::OutcomeResult;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const TYPE: &str = "Microsoft.VirtualMachineImages/imageTemplates";
/// AIB's answer to a PUT that changes an existing template, word for word.
pub const UPDATE_MSG: &str = "Update/Upgrade of image templates is currently not supported. Please change the name of the template you are submitting. If you have previously tried to submit a template and it failed to provision, you must delete it first and then resubmit. For more information, go to https://aka.ms/azvmimagebuilderts.";
/// A stored template.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageTemplate {
    pub sub: String,
    pub rg: String,
    pub name: String,
    pub location: String,
    pub tags: Value,
    pub identity: Value,
    pub properties: Value,
    pub created: f64,
    pub staging_rg: String,
    pub storage_account: String,
    pub deleting_at: Option<f64>,
    pub run: Option<Run>,
    pub run_outputs: Vec<Value>,
    pub exact_version: Option<String>,
    /// Its creation fails (`provision-fail`): `(provisioningErrorCode, message)`.
    pub provision_error: Option<(String, String)>,
}

/// The current or last run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub op_id: String,
    pub start: f64,
    pub result: OutcomeResult,
    pub failed_customizer: Option<String>,
    pub build_minutes: f64,
    pub timeout_minutes: f64,
    pub has_validate: bool,
    pub cancel_at: Option<f64>,
    pub end: Option<RunEnd>,
}

/// How a run ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunEnd {
    #[serde(deserialize_with = "crate::model::serde_with::word")]
    pub state: crate::model::serde_with::Word,
    #[serde(deserialize_with = "crate::model::serde_with::word")]
    pub sub_state: crate::model::serde_with::Word,
    pub at: f64,
    pub message: String,
}

impl ImageTemplate {
    pub fn id(&self) -> String {
        template_id(&self.sub, &self.rg, &self.name)
    }
    pub fn staging_rg_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.sub, self.staging_rg
        )
    }
    /// Whether AIB made its staging group (not when the creation failed).
    pub fn has_staging(&self) -> bool {
        self.provision_error.is_none()
    }
}

/// A template's id as Azure spells it: `resourcegroups` in lower case (the recordings show
/// it so in every imageTemplate and runOutput id).
pub fn template_id(sub: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourcegroups/{rg}/providers/{TYPE}/{name}")
}

/// The name AIB gives a template's staging group: `IT_<rg>_<template>_<guid>`, cut to 80
/// characters (a resource group name's limit; the guid is what gets cut).
pub fn staging_group_name(rg: &str, template: &str) -> String {
    format!("IT_{rg}_{template}_{}", uuid::Uuid::new_v4())
        .chars()
        .take(80)
        .collect()
}
