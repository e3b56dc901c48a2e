//! Secret references (`env:VAR`, `keyvault:https://<vault>/secrets/<name>[/<version>]`).

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
    pub fn parse(s: &str) -> Result<SecretRef, String> {
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
                Err(format!(
                    "`{var}` is not an environment variable name (letters, digits and `_`, not starting with a digit)"
                ))
            };
        }
        if let Some(url) = s.strip_prefix("keyvault:") {
            let rest = url.strip_prefix("https://").ok_or_else(|| {
                "a Key Vault reference must be `keyvault:https://<vault>/secrets/<name>`"
                    .to_string()
            })?;
            let mut parts = rest.split('/');
            let host = parts.next().unwrap_or("");
            let kind = parts.next();
            let name = parts.next();
            let version = parts.next();
            if parts.next().is_some() || host.is_empty() || kind != Some("secrets") {
                return Err("a Key Vault reference must be `keyvault:https://<vault>/secrets/<name>[/<version>]`".into());
            }
            let name = name.unwrap_or("");
            let valid_name = !name.is_empty()
                && name.len() <= 127
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !valid_name {
                return Err(format!(
                    "`{name}` is not a Key Vault secret name (1-127 letters, digits and `-`)"
                ));
            }
            return Ok(SecretRef::KeyVault {
                vault: format!("https://{host}"),
                name: name.to_string(),
                version: version.filter(|v| !v.is_empty()).map(str::to_string),
            });
        }
        Err("a secret reference must start with `env:` or `keyvault:`".into())
    }
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
}
