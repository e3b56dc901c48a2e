//! Secret references (`env:VAR`, `keyvault:https://<vault>/secrets/<name>[/<version>]`).

use crate::model::Cloud;

/// DNS suffix of Key Vault in each well-known cloud (`https://{vault}.{suffix}`).
pub const KEY_VAULT_SUFFIXES: [(Cloud, &str); 3] = [
    (Cloud::Public, "vault.azure.net"),
    (Cloud::Usgov, "vault.usgovcloudapi.net"),
    (Cloud::China, "vault.azure.cn"),
];

/// Why a secret reference is malformed, or names a vault `build` must not send a token to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretRefError {
    #[error(
        "`{0}` is not an environment variable name (letters, digits and `_`, not starting with a digit)"
    )]
    EnvName(String),
    #[error("a Key Vault reference must be `keyvault:https://<vault>/secrets/<name>`")]
    NotHttps,
    #[error("a Key Vault reference must be `keyvault:https://<vault>/secrets/<name>[/<version>]`")]
    KeyVaultShape,
    #[error("`{0}` is not a Key Vault secret name (1-127 letters, digits and `-`)")]
    SecretName(String),
    #[error("a secret reference must start with `env:` or `keyvault:`")]
    Scheme,
    #[error("`{0}` is not a Key Vault name (3-24 letters, digits and `-`, starting with a letter)")]
    VaultName(String),
    #[error(
        "`{host}` is not a Key Vault of {cloud} (`<vault>.{suffixes}`): `build` would send it a bearer token"
    )]
    ForeignVault {
        host: String,
        cloud: &'static str,
        suffixes: String,
    },
}

/// Where a secret's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable of the process running aib.
    Env(String),
    /// A Key Vault secret: vault URL, secret name and optional version.
    KeyVault {
        vault: String,
        name: String,
        version: Option<String>,
    },
}

impl SecretRef {
    /// Parses a reference; the error says what is wrong with it.
    pub fn parse(s: &str) -> Result<SecretRef, SecretRefError> {
        if let Some(var) = s.strip_prefix("env:") {
            let ok = !var.is_empty()
                && var
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            return if ok {
                Ok(SecretRef::Env(var.to_string()))
            } else {
                Err(SecretRefError::EnvName(var.to_string()))
            };
        }
        if let Some(url) = s.strip_prefix("keyvault:") {
            let rest = url
                .strip_prefix("https://")
                .ok_or(SecretRefError::NotHttps)?;
            let mut parts = rest.split('/');
            let host = parts.next().unwrap_or("");
            let kind = parts.next();
            let name = parts.next();
            let version = parts.next();
            if parts.next().is_some() || host.is_empty() || kind != Some("secrets") {
                return Err(SecretRefError::KeyVaultShape);
            }
            let name = name.unwrap_or("");
            let valid_name = !name.is_empty()
                && name.len() <= 127
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !valid_name {
                return Err(SecretRefError::SecretName(name.to_string()));
            }
            return Ok(SecretRef::KeyVault {
                vault: format!("https://{host}"),
                name: name.to_string(),
                version: version.filter(|v| !v.is_empty()).map(str::to_string),
            });
        }
        Err(SecretRefError::Scheme)
    }

    /// Checks that a Key Vault reference names a vault of `cloud` (`<name>.vault.azure.net`
    /// for the public cloud, `.vault.usgovcloudapi.net`, `.vault.azure.cn`; for a custom cloud
    /// any of them, which the custom endpoint serves): `build` sends that host a bearer token,
    /// so a reference to any other host is refused. `env:` references always pass.
    pub fn check_cloud(&self, cloud: Cloud) -> Result<(), SecretRefError> {
        let SecretRef::KeyVault { vault, .. } = self else {
            return Ok(());
        };
        let host = vault
            .strip_prefix("https://")
            .unwrap_or(vault)
            .to_ascii_lowercase();
        let allowed: Vec<&str> = KEY_VAULT_SUFFIXES
            .iter()
            .filter(|(c, _)| cloud == Cloud::Custom || *c == cloud)
            .map(|(_, s)| *s)
            .collect();
        let name = allowed
            .iter()
            .find_map(|suffix| host.strip_suffix(suffix).and_then(|h| h.strip_suffix('.')));
        let cloud_name = match cloud {
            Cloud::Public => "the public cloud",
            Cloud::Usgov => "Azure US Government",
            Cloud::China => "Azure China",
            Cloud::Custom => "a custom cloud",
        };
        match name {
            Some(n) if is_vault_name(n) => Ok(()),
            Some(n) => Err(SecretRefError::VaultName(n.to_string())),
            None => Err(SecretRefError::ForeignVault {
                host,
                cloud: cloud_name,
                suffixes: allowed.join("` or `<vault>."),
            }),
        }
    }
}

/// A secret reference as written in `secrets`, parsed when it is read. A reference with
/// template syntax (`{{ }}`, `{% %}`) is parsed again once the planner has rendered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretSource {
    text: String,
    parsed: Result<SecretRef, SecretRefError>,
}

impl SecretSource {
    /// Parses `text`; a malformed reference is kept with the reason, for validation to report.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let parsed = SecretRef::parse(&text);
        Self { text, parsed }
    }

    /// The reference as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the reference holds template syntax, so it is only known per unit.
    pub fn is_templated(&self) -> bool {
        self.text.contains("{{") || self.text.contains("{%")
    }

    /// Where the value comes from, or why the reference is malformed.
    pub fn reference(&self) -> Result<&SecretRef, &SecretRefError> {
        self.parsed.as_ref()
    }
}

crate::as_text::as_text!(SecretSource, SecretSource::new);

/// A Key Vault name: 3-24 letters, digits and `-`, starting with a letter, ending with a
/// letter or digit, no `--`.
fn is_vault_name(n: &str) -> bool {
    (3..=24).contains(&n.len())
        && n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && n.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !n.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(
            SecretRef::parse("env:AIB_X"),
            Ok(SecretRef::Env("AIB_X".into()))
        );
        assert!(SecretRef::parse("env:1X").is_err());
        assert!(SecretRef::parse("env:").is_err());
        assert_eq!(
            SecretRef::parse("keyvault:https://kv.vault.azure.net/secrets/admin"),
            Ok(SecretRef::KeyVault {
                vault: "https://kv.vault.azure.net".into(),
                name: "admin".into(),
                version: None
            })
        );
        assert!(SecretRef::parse("keyvault:http://kv/secrets/a").is_err());
        assert!(SecretRef::parse("keyvault:https://kv/keys/a").is_err());
        assert!(SecretRef::parse("plain").is_err());
    }

    /// Attack: `keyvault:https://<any host>/secrets/x` passed and `build` sent that host a
    /// bearer token. Only vaults of the manifest's cloud pass now.
    #[test]
    fn vault_hosts_must_be_of_the_cloud() {
        let r = |s: &str| SecretRef::parse(s).unwrap_or(SecretRef::Env("X".into()));
        let public = r("keyvault:https://kv-aib.vault.azure.net/secrets/a");
        assert_eq!(public.check_cloud(Cloud::Public), Ok(()));
        assert_eq!(public.check_cloud(Cloud::Custom), Ok(()));
        assert!(public.check_cloud(Cloud::Usgov).is_err());
        let gov = r("keyvault:https://kv-gov.vault.usgovcloudapi.net/secrets/a");
        assert_eq!(gov.check_cloud(Cloud::Usgov), Ok(()));
        assert!(gov.check_cloud(Cloud::Public).is_err());
        assert_eq!(
            r("keyvault:https://kv1.vault.azure.cn/secrets/a").check_cloud(Cloud::China),
            Ok(())
        );
        for evil in [
            "keyvault:https://evil.example.com/secrets/a",
            "keyvault:https://kv.vault.azure.net.evil.com/secrets/a",
            "keyvault:https://kv.vault.azure.net@evil.com/secrets/a",
            "keyvault:https://kv.vault.azure.net:8443/secrets/a",
            "keyvault:https://evil.com#.vault.azure.net/secrets/a",
            "keyvault:https://a.b.vault.azure.net/secrets/a",
            "keyvault:https://vault.azure.net/secrets/a",
        ] {
            let e = r(evil).check_cloud(Cloud::Public);
            assert!(e.is_err(), "{evil}");
        }
        let e = r("keyvault:https://evil.example.com/secrets/a")
            .check_cloud(Cloud::Public)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("evil.example.com"), "{e}");
        assert!(e.contains("<vault>.vault.azure.net"), "{e}");
        assert_eq!(
            SecretRef::Env("X".into()).check_cloud(Cloud::Public),
            Ok(())
        );
    }
}
