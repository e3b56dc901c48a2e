//! Resolving secret references when a build starts: `env:VAR` from the environment,
//! `keyvault:https://<vault>/secrets/<name>[/<version>]` from Key Vault with the Azure
//! credential. Every missing or unreachable secret is reported together, by name, before
//! anything is deployed.

use std::collections::BTreeMap;

use aib_azure::ArmClient;
use aib_manifest::{SecretRef, SecretSource};
use aib_planner::Plan;

use aib_render::render::SecretValues;

/// A secret that could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretProblem {
    /// Secret name (`secrets.<name>`).
    pub name: String,
    /// The reference as written.
    pub reference: String,
    /// Why.
    pub reason: SecretError,
}

/// Why a secret's value could not be read. Never holds the value or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The reference itself is malformed (the manifest check refuses these).
    #[error(transparent)]
    Reference(#[from] aib_manifest::SecretRefError),
    #[error("environment variable `{0}` is empty")]
    EnvEmpty(String),
    #[error("environment variable `{0}` is not set")]
    EnvUnset(String),
    #[error("Key Vault is not reachable without an Azure credential")]
    NoCredential,
    /// The vault's URL could not be made (the client's reason).
    #[error("Key Vault {vault}: {why}")]
    Url { vault: String, why: String },
    #[error("cannot get a Key Vault token: {0}")]
    Token(String),
    #[error("Key Vault {vault} is unreachable: {why}")]
    Unreachable { vault: String, why: String },
    /// Key Vault answered, but not with the value (`refusal` says why; `to` a redirect).
    #[error("Key Vault {vault}: secret `{name}` {refusal}{to}")]
    Refused {
        vault: String,
        name: String,
        refusal: String,
        to: String,
    },
    #[error("Key Vault {vault}: no value for secret `{name}`")]
    NoValue { vault: String, name: String },
}

impl std::fmt::Display for SecretProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "secret `{}` ({}): {}",
            self.name, self.reference, self.reason
        )
    }
}

/// How to treat missing secrets.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecretOptions {
    /// `--simulate`: a missing `env:` secret, or a `keyvault:` secret the in-process
    /// simulator does not hold, gets a placeholder value instead of failing.
    pub placeholder_for_missing_env: bool,
    /// `--simulate`: no secret is read at all, every one gets a placeholder value (the
    /// simulated Azure keeps what it is sent on disk, in `.aib/simulate/azure`).
    pub placeholders_only: bool,
}

/// The value a simulated secret gets.
pub const PLACEHOLDER: &str = "simulated-secret-value";

/// The outcome: values per unit id, and names that got placeholders.
#[derive(Debug, Default)]
pub struct ResolvedSecrets {
    /// Unit id → its secrets.
    pub per_unit: BTreeMap<String, SecretValues>,
    /// Secret names that got a placeholder (`--simulate`).
    pub placeholders: Vec<String>,
}

/// Resolves every secret the plan's units use; `Err` lists every problem.
pub async fn resolve(
    plan: &Plan,
    arm: Option<&ArmClient>,
    options: SecretOptions,
) -> Result<ResolvedSecrets, Vec<SecretProblem>> {
    let mut cache: BTreeMap<String, Result<String, SecretError>> = BTreeMap::new();
    let mut out = ResolvedSecrets::default();
    let mut problems: Vec<SecretProblem> = Vec::new();
    // Only units that build use their secrets (an unchanged unit starts nothing).
    for unit in plan
        .units()
        .iter()
        .filter(|u| u.action == aib_planner::Action::Build)
    {
        let mut values = SecretValues::new();
        for (name, source) in &unit.settings.secrets {
            let reference = source.as_str();
            if options.placeholders_only {
                values.insert(name.clone(), PLACEHOLDER);
                if !out.placeholders.contains(name) {
                    out.placeholders.push(name.clone());
                }
                continue;
            }
            if !cache.contains_key(reference) {
                let r = lookup(source, arm).await;
                cache.insert(reference.to_string(), r);
            }
            match cache.get(reference) {
                Some(Ok(v)) => values.insert(name.clone(), v.clone()),
                Some(Err(reason)) => {
                    if options.placeholder_for_missing_env {
                        values.insert(name.clone(), PLACEHOLDER);
                        if !out.placeholders.contains(name) {
                            out.placeholders.push(name.clone());
                        }
                    } else if !problems
                        .iter()
                        .any(|p| p.name == *name && p.reference == *reference)
                    {
                        problems.push(SecretProblem {
                            name: name.clone(),
                            reference: reference.to_string(),
                            reason: reason.clone(),
                        });
                    }
                }
                None => {}
            }
        }
        out.per_unit.insert(unit.id.to_string(), values);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

async fn lookup(reference: &SecretSource, arm: Option<&ArmClient>) -> Result<String, SecretError> {
    match reference.reference().map_err(Clone::clone)? {
        SecretRef::Env(var) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(v),
            Ok(_) => Err(SecretError::EnvEmpty(var.clone())),
            Err(_) => Err(SecretError::EnvUnset(var.clone())),
        },
        SecretRef::KeyVault {
            vault,
            name,
            version,
        } => {
            let Some(arm) = arm else {
                return Err(SecretError::NoCredential);
            };
            key_vault(arm, vault, name, version.as_deref()).await
        }
    }
}

/// The Key Vault URL of a secret (`{vault}/secrets/{name}[/{version}]?api-version=7.4`).
fn secret_url(vault: &str, name: &str, version: Option<&str>) -> String {
    let vault = vault.trim_end_matches('/');
    match version {
        Some(v) => format!("{vault}/secrets/{name}/{v}?api-version=7.4"),
        None => format!("{vault}/secrets/{name}?api-version=7.4"),
    }
}

/// Why Key Vault refused, from its error body (`{"error":{"code"}}`); never the value.
fn refusal(status: u16, body: &serde_json::Value) -> String {
    match body.pointer("/error/code").and_then(|c| c.as_str()) {
        Some("SecretNotFound") => "not found in the vault (SecretNotFound)".to_string(),
        Some(code) => format!("refused with HTTP {status} ({code})"),
        None => format!("refused with HTTP {status}"),
    }
}

/// Reads a secret's value. The URL goes through [`aib_azure::Endpoints::key_vault_url`], so
/// against the simulator (a custom ARM endpoint) the vault is served by the simulator.
/// Errors name the vault and secret, never the token or the value.
async fn key_vault(
    arm: &ArmClient,
    vault: &str,
    name: &str,
    version: Option<&str>,
) -> Result<String, SecretError> {
    let url = arm
        .endpoints()
        .key_vault_url(&secret_url(vault, name, version))
        .map_err(|e| SecretError::Url {
            vault: vault.to_string(),
            why: e.to_string(),
        })?;
    let token = arm
        .credential()
        .token(arm.endpoints().key_vault_scope())
        .await
        .map_err(|e| SecretError::Token(e.to_string()))?;
    let req = arm
        .transport()
        .client()
        .get(url)
        .bearer_auth(token.secret())
        .timeout(std::time::Duration::from_secs(30));
    // The transport follows no redirect and reads at most its body cap.
    let resp = arm
        .transport()
        .execute(req)
        .await
        .map_err(|(_, why)| SecretError::Unreachable {
            vault: vault.to_string(),
            why: why.to_string(),
        })?;
    let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
    if resp.status != 200 {
        let to = resp
            .header("location")
            .map(|l| {
                format!(
                    " (redirected to {}; not followed)",
                    aib_azure::error::redact_url(l)
                )
            })
            .unwrap_or_default();
        return Err(SecretError::Refused {
            vault: vault.to_string(),
            name: name.to_string(),
            refusal: refusal(resp.status, &body),
            to,
        });
    }
    body.get("value")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| SecretError::NoValue {
            vault: vault.to_string(),
            name: name.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_urls() {
        assert_eq!(
            secret_url("https://kv.vault.azure.net", "admin", None),
            "https://kv.vault.azure.net/secrets/admin?api-version=7.4"
        );
        assert_eq!(
            secret_url("https://kv.vault.azure.net/", "admin", Some("0a1b")),
            "https://kv.vault.azure.net/secrets/admin/0a1b?api-version=7.4"
        );
    }

    #[test]
    fn refusals_name_the_code_not_the_body() {
        let not_found = serde_json::json!({"error": {"code": "SecretNotFound", "message": "A secret with (name/id) admin was not found"}});
        assert_eq!(
            refusal(404, &not_found),
            "not found in the vault (SecretNotFound)"
        );
        let denied = serde_json::json!({"error": {"code": "Forbidden", "message": "x"}});
        assert_eq!(refusal(403, &denied), "refused with HTTP 403 (Forbidden)");
        assert_eq!(
            refusal(401, &serde_json::Value::Null),
            "refused with HTTP 401"
        );
    }
}
