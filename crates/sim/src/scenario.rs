//! The scenario file: timing, build outcomes, missing resources and faults.
//!
//! Every key is optional; [`Scenario::default`] is the default scenario of DESIGN.md.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Errors from reading or parsing a scenario file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid scenario: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("invalid scenario: {0}")]
    Invalid(String),
}

/// A simulator scenario (TOML).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Real milliseconds per simulated minute.
    pub minute_ms: u64,
    /// The minute `GET /_sim/clock` tells clients (default: `minute_ms`). A larger value runs
    /// a client's own deadlines and intervals slower than the simulator's work, which gives
    /// tests on a loaded machine slack (process start-up and HTTP are real time).
    pub clock_minute_ms: Option<u64>,
    /// Default build duration in simulated minutes.
    pub build_minutes: f64,
    /// ARM deployment duration in simulated minutes.
    pub deploy_minutes: f64,
    /// imageTemplate deletion duration in simulated minutes.
    pub delete_minutes: f64,
    /// imageTemplate creation (provisioningState Creating -> Succeeded) in simulated minutes.
    pub create_minutes: f64,
    /// Cancel duration (Canceling -> Canceled) in simulated minutes.
    pub cancel_minutes: f64,
    /// Gallery replication per target region, in simulated minutes after the build ends.
    pub replicate_minutes: f64,
    /// Lifetime of issued access tokens, in real seconds.
    pub token_lifetime_seconds: u64,
    /// Lifetime of the OIDC assertions the CI job endpoints issue (GitHub Actions, Azure
    /// Pipelines), in real seconds; Entra refuses them afterwards (AADSTS700024).
    pub assertion_lifetime_seconds: u64,
    /// Location reported for resource groups and resources that do not say otherwise.
    pub default_location: String,
    /// Version every platform image publisher:offer:sku has from the start.
    pub platform_image_version: String,
    /// Build outcomes; the first rule whose glob matches the template name wins.
    pub outcome: Vec<OutcomeRule>,
    /// Resource id globs (case-insensitive) that do not exist.
    pub missing: Vec<String>,
    /// imageTemplate name globs whose deletion leaves the staging resource group behind, as
    /// happens in Azure when a lock or a resource someone added to it makes AIB's cleanup fail.
    pub keep_staging: Vec<String>,
    /// Random and scripted faults.
    pub faults: Faults,
    /// Items per page of ARM list answers; longer lists carry a `nextLink`.
    pub page_size: usize,
    /// ARM's subscription token buckets (`[limits]`).
    pub limits: Limits,
    /// `[storage]`: how the staging storage accounts let their logs be read.
    pub storage: Storage,
    /// The format of the `customization.log` failing builds write: `telemetry` (AIB's logs up
    /// to about 2023, with `(telemetry)` step markers) or `packer-1.14` (no markers).
    pub log_format: LogFormat,
    /// `[key_vault]`: Key Vault secrets, `"VAULT/NAME" = "value"` (vault and secret names
    /// case-insensitive, as in Azure), served at `/keyvault/{vault}/secrets/{name}`.
    pub key_vault: BTreeMap<String, String>,
    /// imageTemplate name globs whose failing builds echo what the failing step ran, as a
    /// script run with `set -x` (or one that prints its own command lines) does: a
    /// `+ <command>` line per inline command in `customization.log`, and the failure message
    /// quotes the step's last command. A secret in a command comes back in both.
    pub echo: Vec<String>,
    /// Real milliseconds a client may take to send a request's headers (from the first byte,
    /// or while a kept-alive connection waits for its next request) before the connection is
    /// closed, so a client that sends nothing cannot hold a connection for ever.
    pub header_read_timeout_ms: u64,
}

/// `[limits]`: ARM's per-subscription, per-principal token buckets. The remaining counts are
/// always reported in `x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}`; with
/// `enforce = true` an empty bucket answers 429 `SubscriptionRequestsThrottled` with
/// `Retry-After` until a token refills. Buckets refill in real time (not scaled by
/// `minute_ms`), which is why enforcement is off by default: scaled builds and benchmarks
/// compress an hour of polling into seconds and would be throttled where Azure would not.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Answer 429 when a bucket is empty.
    pub enforce: bool,
    /// Read bucket size (ARM: 250).
    pub read_burst: f64,
    /// Read tokens per real second (ARM: 25).
    pub read_per_sec: f64,
    /// Write bucket size (ARM: 200).
    pub write_burst: f64,
    /// Write tokens per real second (ARM: 10).
    pub write_per_sec: f64,
    /// Delete bucket size (ARM: 200).
    pub delete_burst: f64,
    /// Delete tokens per real second (ARM: 10).
    pub delete_per_sec: f64,
    /// The subscription-wide bucket (all principals together) is this many times a
    /// principal's (ARM: 15).
    pub global_factor: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            enforce: false,
            read_burst: 250.0,
            read_per_sec: 25.0,
            write_burst: 200.0,
            write_per_sec: 10.0,
            delete_burst: 200.0,
            delete_per_sec: 10.0,
            global_factor: 15.0,
        }
    }
}

/// One `[[outcome]]` rule.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRule {
    /// Glob on the imageTemplate name (default `*`).
    #[serde(default = "any_template")]
    pub template: String,
    /// Tags the template must carry, all of them (names case-insensitive as in ARM, values
    /// exact), e.g. `{ "aib.unit" = "test/win11-avd" }` to pick one unit of a fleet whose
    /// template names are not known in advance.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// What happens to a run.
    #[serde(default)]
    pub result: OutcomeResult,
    /// Name of the failing customizer (default: the last one).
    #[serde(default)]
    pub failed_customizer: Option<String>,
    /// Build duration for matching templates (default: `build_minutes`).
    #[serde(default)]
    pub build_minutes: Option<f64>,
    /// How many times the rule applies (default: always): `provision-fail` fails the first N
    /// creations of matching templates, every other result the first N runs; later ones
    /// succeed. The count is part of the world a simulator saves ([`crate::persist`]), so a
    /// failure scripted `times = 1` happens once across restarts.
    #[serde(default)]
    pub times: Option<u32>,
}

fn any_template() -> String {
    "*".to_string()
}

impl Default for OutcomeRule {
    /// Every template succeeds.
    fn default() -> Self {
        OutcomeRule {
            template: any_template(),
            tags: BTreeMap::new(),
            result: OutcomeResult::Succeed,
            failed_customizer: None,
            build_minutes: None,
            times: None,
        }
    }
}

impl OutcomeRule {
    /// What its `times` are counted under: the rule's glob, tags and result (another rule is
    /// counted apart, also in a world saved under another scenario).
    pub fn key(&self) -> String {
        let tags: Vec<String> = self
            .tags
            .iter()
            .map(|(k, v)| format!("{}={v}", k.to_ascii_lowercase()))
            .collect();
        format!("{:?} {} [{}]", self.result, self.template, tags.join(","))
    }

    /// Whether a template of this name and these tags (an ARM `tags` object) is the rule's.
    pub fn matches_tags(&self, tags: &serde_json::Value) -> bool {
        self.tags.iter().all(|(k, v)| {
            tags.as_object().is_some_and(|m| {
                m.iter()
                    .any(|(tk, tv)| tk.eq_ignore_ascii_case(k) && tv.as_str() == Some(v.as_str()))
            })
        })
    }
}

/// Result of a run.
#[derive(Debug, Clone, Copy, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeResult {
    #[default]
    Succeed,
    Fail,
    Timeout,
    StuckCanceling,
    /// Times out (`BuildTimeout`, after `buildTimeoutInMinutes`) while distributing: the gallery
    /// versions already exist and finish replicating `replicate_minutes` (at least 2) simulated
    /// minutes after the run reported the failure.
    TimeoutDistributing,
    /// The template's creation fails (the first `times` creations of matching templates): the
    /// PUT answers 201 `Creating`, its operation ends `Failed`, and the template stays with
    /// `provisioningState: Failed` and a `provisioningError` (the identity lacks a role); a
    /// `run` on it is refused, a re-PUT answers 409, a DELETE removes it.
    ProvisionFail,
}

/// `[storage]`: the staging storage accounts' access rules.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    /// Shared Key (and key-signed SAS) allowed (`allowSharedKeyAccess`); `false` answers every
    /// Blob request signed with the key 403 `KeyBasedAuthenticationNotPermitted`.
    pub shared_key: bool,
    /// `listKeys` allowed to the caller; `false` answers it 403 `AuthorizationFailed`.
    pub list_keys: bool,
    /// The caller's identity holds a data role (Storage Blob Data Reader) on the staging
    /// groups; `false` answers Blob requests with an Entra token 403
    /// `AuthorizationPermissionMismatch`.
    pub data_reader: bool,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            shared_key: true,
            list_keys: true,
            data_reader: true,
        }
    }
}

/// The format of the build logs the simulator writes.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub enum LogFormat {
    /// `(telemetry) Starting provisioner` / `ending` around each step.
    #[default]
    #[serde(rename = "telemetry")]
    Telemetry,
    /// Packer 1.14: UI lines only.
    #[serde(rename = "packer-1.14")]
    Packer114,
}

/// `[faults]`: fractions of requests (0..1), applied at random with a seeded RNG.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// 429 TooManyRequests with retry-after-ms.
    pub throttle: f64,
    /// 500 / 503.
    pub server_error: f64,
    /// Connection closed without an answer.
    pub reset: f64,
    /// Of the resets, the fraction that happen in the middle of the body (headers and some
    /// bytes sent, then the connection is closed).
    pub reset_mid_body: f64,
    /// Added delay per request in real ms.
    pub latency_ms: u64,
    /// RNG seed.
    pub seed: u64,
    /// Windows during which every faultable request gets 429.
    pub throttle_storm: Vec<Storm>,
    /// What a 429 asks to wait (`Retry-After`, real ms); default one simulated minute.
    pub throttle_retry_after_ms: Option<u64>,
    /// The first N GETs of each operation-status URL answer 500.
    pub operation_status_errors: u32,
    /// Windows during which every faultable request gets 503 ServiceUnavailable.
    pub outage: Vec<Storm>,
    /// Apply these faults to the token endpoints too (`/msi/token`, IMDS, `oauth2/v2.0/token`);
    /// off by default, so only ARM and Blob calls are faulted.
    pub token: bool,
}

/// A throttle storm window, in real milliseconds since the simulator started.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Storm {
    pub start_ms: u64,
    pub duration_ms: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            throttle: 0.0,
            server_error: 0.0,
            reset: 0.0,
            reset_mid_body: 0.0,
            latency_ms: 0,
            seed: 1,
            throttle_storm: Vec::new(),
            operation_status_errors: 0,
            throttle_retry_after_ms: None,
            outage: Vec::new(),
            token: false,
        }
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            minute_ms: 20,
            clock_minute_ms: None,
            build_minutes: 45.0,
            deploy_minutes: 1.0,
            delete_minutes: 1.0,
            create_minutes: 1.0,
            cancel_minutes: 2.0,
            replicate_minutes: 0.0,
            token_lifetime_seconds: 3600,
            assertion_lifetime_seconds: 300,
            default_location: "eastus2".to_string(),
            platform_image_version: "1.0.0".to_string(),
            outcome: Vec::new(),
            missing: Vec::new(),
            keep_staging: Vec::new(),
            faults: Faults::default(),
            page_size: 50,
            limits: Limits::default(),
            key_vault: BTreeMap::new(),
            echo: Vec::new(),
            header_read_timeout_ms: 30_000,
            log_format: LogFormat::default(),
            storage: Storage::default(),
        }
    }
}

impl Scenario {
    /// Parse a scenario from TOML text.
    pub fn from_toml_str(s: &str) -> Result<Scenario, ScenarioError> {
        let sc: Scenario = toml::from_str(s)?;
        sc.validate()?;
        Ok(sc)
    }

    /// Read and parse a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Scenario::from_toml_str(&text)
    }

    /// Check ranges and globs.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        self.validate_times()?;
        if self.page_size == 0 {
            return Err(invalid("page_size must be at least 1"));
        }
        self.limits.validate()?;
        self.faults.validate()?;
        for key in self.key_vault.keys() {
            if split_key_vault_key(key).is_none() {
                return Err(ScenarioError::Invalid(format!(
                    "key_vault key {key:?} must be \"VAULT/NAME\" (vault: 3-24 letters, digits and `-`; secret: 1-127 letters, digits and `-`)"
                )));
            }
        }
        for g in self
            .missing
            .iter()
            .chain(&self.keep_staging)
            .chain(self.outcome.iter().map(|o| &o.template))
        {
            globset::Glob::new(g)
                .map_err(|e| ScenarioError::Invalid(format!("bad glob {g:?}: {e}")))?;
        }
        Ok(())
    }

    /// The clock's speed and the simulated durations.
    fn validate_times(&self) -> Result<(), ScenarioError> {
        if self.clock_minute_ms == Some(0) {
            return Err(invalid("clock_minute_ms must be at least 1"));
        }
        if self.minute_ms == 0 {
            return Err(invalid("minute_ms must be at least 1"));
        }
        for (k, v) in [
            ("build_minutes", self.build_minutes),
            ("deploy_minutes", self.deploy_minutes),
            ("delete_minutes", self.delete_minutes),
            ("create_minutes", self.create_minutes),
            ("cancel_minutes", self.cancel_minutes),
            ("replicate_minutes", self.replicate_minutes),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(ScenarioError::Invalid(format!("{k} must be >= 0")));
            }
        }
        Ok(())
    }
}

impl Limits {
    /// Positive bursts and rates, and a global factor of at least 1.
    fn validate(&self) -> Result<(), ScenarioError> {
        for (k, v) in [
            ("limits.read_burst", self.read_burst),
            ("limits.read_per_sec", self.read_per_sec),
            ("limits.write_burst", self.write_burst),
            ("limits.write_per_sec", self.write_per_sec),
            ("limits.delete_burst", self.delete_burst),
            ("limits.delete_per_sec", self.delete_per_sec),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(ScenarioError::Invalid(format!("{k} must be > 0")));
            }
        }
        if !(self.global_factor.is_finite() && self.global_factor >= 1.0) {
            return Err(invalid("limits.global_factor must be >= 1"));
        }
        Ok(())
    }
}

impl Faults {
    /// Probabilities between 0 and 1 that together do not exceed 1.
    fn validate(&self) -> Result<(), ScenarioError> {
        for (k, v) in [
            ("faults.throttle", self.throttle),
            ("faults.server_error", self.server_error),
            ("faults.reset", self.reset),
            ("faults.reset_mid_body", self.reset_mid_body),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(ScenarioError::Invalid(format!(
                    "{k} must be between 0 and 1"
                )));
            }
        }
        if self.throttle + self.server_error + self.reset > 1.0 {
            return Err(invalid(
                "faults.throttle + server_error + reset must not exceed 1",
            ));
        }
        Ok(())
    }
}

fn invalid(message: &str) -> ScenarioError {
    ScenarioError::Invalid(message.to_string())
}

/// Splits a `[key_vault]` key `"VAULT/NAME"` into lower-cased vault and secret names, or
/// `None` when either is not a valid Key Vault name.
pub fn split_key_vault_key(key: &str) -> Option<(String, String)> {
    let (vault, name) = key.split_once('/')?;
    let ok = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    (ok(vault, 3, 24) && ok(name, 1, 127))
        .then(|| (vault.to_ascii_lowercase(), name.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_vault_keys_are_validated() {
        let sc = Scenario::from_toml_str("[key_vault]\n\"KV-aib/Admin\" = \"v\"\n");
        assert_eq!(
            sc.ok().map(|s| s.key_vault.len()),
            Some(1),
            "a valid key is accepted"
        );
        for bad in ["\"kv-aib\"", "\"kv/a/b\"", "\"k/a\"", "\"kv-aib/a_b\""] {
            let r = Scenario::from_toml_str(&format!("[key_vault]\n{bad} = \"v\"\n"));
            assert!(
                matches!(r, Err(ScenarioError::Invalid(_))),
                "{bad} is refused: {r:?}"
            );
        }
        assert_eq!(
            split_key_vault_key("KV-aib/Admin"),
            Some(("kv-aib".into(), "admin".into()))
        );
    }
}
