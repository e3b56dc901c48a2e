//! Request, fault and run counters served at `GET /_sim/stats`.
//!
//! Operation names (the keys of `requests`):
//!
//! | name | request |
//! |---|---|
//! | `token` | `GET /msi/token` |
//! | `token.imds` | `GET /metadata/identity/oauth2/token` (VM IMDS flavour, `Metadata: true`) |
//! | `token.aad` | `POST /{tenant}/oauth2/v2.0/token` (client secret / client assertion) |
//! | `token.actions` | GitHub Actions' OIDC token request (`ACTIONS_ID_TOKEN_REQUEST_URL`) |
//! | `token.pipelines` | Azure Pipelines' OIDC token request (`SYSTEM_OIDCREQUESTURI`) |
//! | `resourceGroups.get` / `.list` / `.delete` | `/subscriptions/{s}/resourcegroups[/{rg}]` |
//! | `operationResults.get` | a resource group deletion's `Location` URL |
//! | `deployments.put` / `.get` / `.list` / `.delete` | RG-scope deployments |
//! | `deployments.operationStatus` | a deployment's `Azure-AsyncOperation` URL |
//! | `deploymentOperations.list` | `.../deployments/{name}/operations` (both path forms) |
//! | `imageTemplates.put` / `.get` / `.update` (PATCH) / `.delete` / `.run` / `.cancel` | imageTemplates |
//! | `imageTemplates.list` | list by resource group and by subscription |
//! | `imageTemplates.runOutputs.list` / `imageTemplates.runOutputs.get` | run outputs |
//! | `operations.get` | AIB operation status (`.../locations/{loc}/operations/{id}`) |
//! | `galleries.get`, `galleryImages.get` | gallery and image definition |
//! | `galleryImageVersions.get` / `.list` / `.delete` | image versions |
//! | `capsOperations.get` | a gallery image version deletion's status URL |
//! | `platformImageVersions.list` | platform image versions |
//! | `identities.get` | user-assigned identities |
//! | `storageAccounts.list` / `.get` / `.listKeys` | storage accounts |
//! | `resources.get` | other resources created by deployments |
//! | `blob.list` / `blob.get` / `blob.head` | Blob endpoint |
//! | `keyVault.secrets.get` | `GET /keyvault/{vault}/secrets/{name}[/{version}]` (Key Vault data plane) |
//! | `unknown` | anything not served (404) |
//!
//! Every request received is counted under its operation, including ones answered with a fault
//! or an auth/api-version error. `/_sim/*` requests are not counted. `ratelimited` counts the
//! 429s of the enforced subscription token buckets (`[limits] enforce = true`).
//! `blob_range_gets` counts Blob GETs that asked for a `Range` / `x-ms-range` (a client resuming
//! a download), and `update_conflicts` the deployments whose imageTemplate AIB refused with
//! "Update/Upgrade of image templates is currently not supported" (a template name reused for
//! different content). `held` is the number of answers held back right now by
//! `POST /_sim/control` (`hold`).

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Counters.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: BTreeMap<String, u64>,
    pub throttle: u64,
    pub server_error: u64,
    pub reset: u64,
    /// 429s from the enforced subscription buckets (`[limits] enforce`), not faults.
    pub ratelimited: u64,
    /// Blob GETs with a `Range` / `x-ms-range` header.
    pub blob_range_gets: u64,
    /// Answers held back now by `/_sim/control` `hold`.
    pub held: u64,
    pub runs: BTreeMap<String, u64>,
}

impl Stats {
    pub fn count_request(&mut self, op: &str) {
        // No allocation for operations already seen (every request passes here).
        match self.requests.get_mut(op) {
            Some(n) => *n += 1,
            None => {
                self.requests.insert(op.to_string(), 1);
            }
        }
    }

    pub fn count_run(&mut self, template: &str) {
        *self.runs.entry(template.to_string()).or_default() += 1;
    }

    pub fn to_json(&self) -> Value {
        let requests: Map<String, Value> = self
            .requests
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let runs: Map<String, Value> = self
            .runs
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        json!({
            "requests": requests,
            "faults": {"throttle": self.throttle, "server_error": self.server_error, "reset": self.reset},
            "runs": runs,
            "ratelimited": self.ratelimited,
            "blob_range_gets": self.blob_range_gets,
            "held": self.held,
        })
    }
}
