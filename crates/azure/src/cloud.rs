//! Endpoints per Azure cloud.

use crate::error::{Error, Result};
use url::Url;

/// The environment variable that overrides the ARM endpoint of any cloud.
pub const ARM_ENDPOINT_ENV: &str = "AIB_ARM_ENDPOINT";

/// Which Azure cloud to talk to (`[azure] cloud` in the manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cloud {
    /// Azure public cloud.
    #[default]
    Public,
    /// Azure US Government.
    UsGov,
    /// Azure operated by 21Vianet.
    China,
    /// An explicit ARM endpoint (the simulator, Azure Stack...).
    Custom,
}

impl std::str::FromStr for Cloud {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "public" | "azurecloud" => Ok(Cloud::Public),
            "usgov" | "azureusgovernment" => Ok(Cloud::UsGov),
            "china" | "azurechinacloud" => Ok(Cloud::China),
            "custom" => Ok(Cloud::Custom),
            other => Err(Error::Config(format!(
                "unknown cloud {other:?} (expected public, usgov, china or custom)"
            ))),
        }
    }
}

/// Resolved endpoints for one cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The cloud these endpoints belong to.
    pub cloud: Cloud,
    /// ARM base URL, always ending in `/`.
    pub arm: Url,
    /// OAuth scope for ARM tokens.
    pub arm_scope: String,
    /// OAuth scope for Blob data-plane tokens.
    pub storage_scope: String,
    /// Blob endpoint suffix: `https://{account}.blob.{suffix}`... stored as `blob.core.windows.net`.
    pub blob_suffix: String,
    /// Entra ID authority host.
    pub authority: Url,
    /// Plain `http://` accepted for non-loopback hosts (`--insecure`).
    pub insecure: bool,
}

/// DNS suffixes of Key Vault in the well-known clouds (`https://{vault}.{suffix}`).
pub const KEY_VAULT_SUFFIXES: [&str; 3] = [
    "vault.azure.net",
    "vault.usgovcloudapi.net",
    "vault.azure.cn",
];

fn url(s: &str) -> Result<Url> {
    Url::parse(s).map_err(|e| Error::Config(format!("invalid URL {s:?}: {e}")))
}

impl Endpoints {
    /// Endpoints of a well-known cloud. `Custom` needs [`Endpoints::custom`].
    pub fn for_cloud(cloud: Cloud) -> Result<Self> {
        let (arm, blob, authority) = match cloud {
            Cloud::Public => (
                "https://management.azure.com/",
                "blob.core.windows.net",
                "https://login.microsoftonline.com/",
            ),
            Cloud::UsGov => (
                "https://management.usgovcloudapi.net/",
                "blob.core.usgovcloudapi.net",
                "https://login.microsoftonline.us/",
            ),
            Cloud::China => (
                "https://management.chinacloudapi.cn/",
                "blob.core.chinacloudapi.cn",
                "https://login.chinacloudapi.cn/",
            ),
            Cloud::Custom => {
                return Err(Error::Config(
                    "cloud = \"custom\" needs an ARM endpoint (arm_endpoint or AIB_ARM_ENDPOINT)"
                        .into(),
                ));
            }
        };
        let arm = url(arm)?;
        Ok(Self {
            cloud,
            arm_scope: scope_for(&arm),
            arm,
            storage_scope: "https://storage.azure.com/.default".into(),
            blob_suffix: blob.into(),
            authority: url(authority)?,
            insecure: false,
        })
    }

    /// A custom ARM endpoint; blob suffix and authority default to the public cloud's.
    /// `http://` is accepted only for loopback hosts unless `insecure`.
    pub fn custom(arm_endpoint: &str, insecure: bool) -> Result<Self> {
        let mut e = Self::for_cloud(Cloud::Public)?;
        e.cloud = Cloud::Custom;
        e.set_arm(arm_endpoint, insecure)?;
        Ok(e)
    }

    /// Resolve the endpoints the CLI uses: `AIB_ARM_ENDPOINT` (if set and non-empty) overrides
    /// `manifest_endpoint`, which overrides the cloud's default.
    pub fn resolve(cloud: Cloud, manifest_endpoint: Option<&str>, insecure: bool) -> Result<Self> {
        let env = std::env::var(ARM_ENDPOINT_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty());
        Self::resolve_with(cloud, manifest_endpoint, env.as_deref(), insecure)
    }

    /// [`Endpoints::resolve`] without reading the environment.
    pub fn resolve_with(
        cloud: Cloud,
        manifest_endpoint: Option<&str>,
        env_endpoint: Option<&str>,
        insecure: bool,
    ) -> Result<Self> {
        let explicit = env_endpoint.or(manifest_endpoint);
        match (cloud, explicit) {
            (Cloud::Custom, Some(ep)) => Self::custom(ep, insecure),
            (Cloud::Custom, None) => Self::for_cloud(Cloud::Custom),
            (c, Some(ep)) => {
                let mut e = Self::for_cloud(c)?;
                e.set_arm(ep, insecure)?;
                Ok(e)
            }
            (c, None) => Self::for_cloud(c),
        }
    }

    fn set_arm(&mut self, endpoint: &str, insecure: bool) -> Result<()> {
        let mut u = url(endpoint.trim())?;
        check_scheme(&u, insecure)?;
        if !u.path().ends_with('/') {
            let p = format!("{}/", u.path());
            u.set_path(&p);
        }
        u.set_query(None);
        self.arm = u;
        self.insecure = insecure;
        Ok(())
    }

    /// True when ARM is not the cloud's own endpoint: the simulator, or any endpoint given
    /// with `--arm-endpoint`, `arm_endpoint` or `AIB_ARM_ENDPOINT`.
    pub fn is_custom_arm(&self) -> bool {
        match Self::for_cloud(self.cloud) {
            Ok(default) => default.arm != self.arm,
            Err(_) => true,
        }
    }

    /// Where to send a Key Vault request for `vault_url`
    /// (`https://{vault}.vault.azure.net/secrets/{name}[/{version}]?api-version=...`).
    ///
    /// The host must be a vault of this cloud (`{vault}.vault.azure.net` for the public cloud,
    /// `.vault.usgovcloudapi.net` for US Government, `.vault.azure.cn` for China): the request
    /// carries a bearer token, so any other host is a configuration error, whatever the
    /// manifest said. Against a custom ARM endpoint (the simulator) a vault of any of these
    /// clouds is served by that endpoint at `{arm}/keyvault/NAME/...`, path and query kept.
    pub fn key_vault_url(&self, vault_url: &str) -> Result<Url> {
        let u = Url::parse(vault_url)
            .map_err(|e| Error::Config(format!("invalid Key Vault URL {vault_url:?}: {e}")))?;
        check_scheme(&u, self.insecure)?;
        let host = u.host_str().unwrap_or_default().to_ascii_lowercase();
        let custom = self.is_custom_arm();
        let own = match self.cloud {
            Cloud::UsGov => "vault.usgovcloudapi.net",
            Cloud::China => "vault.azure.cn",
            Cloud::Public | Cloud::Custom => "vault.azure.net",
        };
        let vault = KEY_VAULT_SUFFIXES
            .iter()
            .filter(|s| custom || **s == own)
            .find_map(|suffix| {
                host.strip_suffix(suffix)
                    .and_then(|h| h.strip_suffix('.'))
                    .filter(|v| !v.is_empty() && !v.contains('.'))
            });
        let plain = u.username().is_empty() && u.password().is_none() && u.port().is_none();
        let Some(vault) = vault.filter(|_| plain) else {
            return Err(Error::Config(format!(
                "refusing to send a token to {host}: not a Key Vault of this cloud (`<vault>.{own}`)"
            )));
        };
        if !custom {
            return Ok(u);
        }
        let mut out = self.arm.clone();
        {
            let mut segs = out.path_segments_mut().map_err(|()| {
                Error::Config(format!("ARM endpoint {} cannot take a path", self.arm))
            })?;
            segs.pop_if_empty().push("keyvault").push(vault);
            if let Some(path) = u.path_segments() {
                segs.extend(path.filter(|s| !s.is_empty()));
            }
        }
        out.set_query(u.query());
        Ok(out)
    }

    /// The OAuth scope of Key Vault tokens in this cloud.
    pub fn key_vault_scope(&self) -> &'static str {
        match self.cloud {
            Cloud::UsGov => "https://vault.usgovcloudapi.net/.default",
            Cloud::China => "https://vault.azure.cn/.default",
            Cloud::Public | Cloud::Custom => "https://vault.azure.net/.default",
        }
    }

    /// The blob endpoint of a storage account in this cloud.
    pub fn blob_endpoint(&self, account: &str) -> Result<Url> {
        url(&format!("https://{account}.{}/", self.blob_suffix))
    }
}

fn scope_for(arm: &Url) -> String {
    let s = arm.as_str().trim_end_matches('/');
    format!("{s}/.default")
}

/// Accept `https://` always; `http://` only for loopback hosts (or when `insecure`).
pub fn check_scheme(u: &Url, insecure: bool) -> Result<()> {
    match u.scheme() {
        "https" => Ok(()),
        "http" if insecure || is_loopback(u) => Ok(()),
        "http" => Err(Error::Config(format!(
            "refusing plain http to non-loopback host {} (use https, or set the insecure flag)",
            u.host_str().unwrap_or("?")
        ))),
        other => Err(Error::Config(format!("unsupported URL scheme {other:?}"))),
    }
}

/// True for `localhost`, 127.0.0.0/8 and `::1`.
pub fn is_loopback(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_defaults() -> Result<()> {
        let e = Endpoints::for_cloud(Cloud::Public)?;
        assert_eq!(e.arm.as_str(), "https://management.azure.com/");
        assert_eq!(e.arm_scope, "https://management.azure.com/.default");
        assert_eq!(e.blob_suffix, "blob.core.windows.net");
        assert_eq!(
            e.blob_endpoint("acct")?.as_str(),
            "https://acct.blob.core.windows.net/"
        );
        let g = Endpoints::for_cloud(Cloud::UsGov)?;
        assert_eq!(g.arm_scope, "https://management.usgovcloudapi.net/.default");
        let c = Endpoints::for_cloud(Cloud::China)?;
        assert_eq!(c.blob_suffix, "blob.core.chinacloudapi.cn");
        assert!(Endpoints::for_cloud(Cloud::Custom).is_err());
        Ok(())
    }

    #[test]
    fn env_overrides_manifest() -> Result<()> {
        let e = Endpoints::resolve_with(
            Cloud::Custom,
            Some("https://arm.example"),
            Some("http://127.0.0.1:8700"),
            false,
        )?;
        assert_eq!(e.arm.as_str(), "http://127.0.0.1:8700/");
        // The scope stays the public ARM scope for custom endpoints.
        assert_eq!(e.arm_scope, "https://management.azure.com/.default");
        let p = Endpoints::resolve_with(Cloud::Public, None, Some("http://localhost:1"), false)?;
        assert_eq!(p.arm.as_str(), "http://localhost:1/");
        Ok(())
    }

    #[test]
    fn http_only_for_loopback() {
        assert!(Endpoints::custom("http://127.0.0.1:8700", false).is_ok());
        assert!(Endpoints::custom("http://[::1]:8700", false).is_ok());
        assert!(Endpoints::custom("http://localhost:8700", false).is_ok());
        let err = Endpoints::custom("http://10.0.0.4:8700", false);
        assert!(matches!(err, Err(Error::Config(_))));
        assert!(Endpoints::custom("http://10.0.0.4:8700", true).is_ok());
        assert!(Endpoints::custom("ftp://x", true).is_err());
    }

    #[test]
    fn key_vault_urls_of_a_real_cloud_are_used_as_given() -> Result<()> {
        let e = Endpoints::for_cloud(Cloud::Public)?;
        assert!(!e.is_custom_arm());
        let given = "https://kv-aib.vault.azure.net/secrets/admin/0123abc?api-version=7.4";
        assert_eq!(e.key_vault_url(given)?.as_str(), given);
        let g = Endpoints::for_cloud(Cloud::UsGov)?;
        let gov = "https://kv.vault.usgovcloudapi.net/secrets/a?api-version=7.4";
        assert_eq!(g.key_vault_url(gov)?.as_str(), gov);
        // Plain http only to loopback (or insecure), as for ARM.
        assert!(matches!(
            e.key_vault_url("http://kv-aib.vault.azure.net/secrets/a"),
            Err(Error::Config(_))
        ));
        assert!(e.key_vault_url("not a url").is_err());
        // Attack: a host that is no vault of this cloud never gets the token.
        for evil in [
            "http://127.0.0.1:1/secrets/a",
            "https://evil.example.com/secrets/a",
            "https://kv.vault.azure.net.evil.com/secrets/a",
            "https://kv.vault.azure.net:8443/secrets/a",
            "https://user@kv.vault.azure.net/secrets/a",
            "https://kv.vault.usgovcloudapi.net/secrets/a",
        ] {
            let r = e.key_vault_url(evil);
            assert!(
                matches!(r, Err(Error::Config(ref m)) if m.contains("refusing")),
                "{evil}: {r:?}"
            );
        }
        assert!(
            g.key_vault_url("https://kv.vault.azure.net/secrets/a")
                .is_err()
        );
        assert_eq!(e.key_vault_scope(), "https://vault.azure.net/.default");
        assert_eq!(
            g.key_vault_scope(),
            "https://vault.usgovcloudapi.net/.default"
        );
        assert!(
            e.key_vault_url("ftp://kv.vault.azure.net/secrets/a")
                .is_err()
        );
        Ok(())
    }

    #[test]
    fn key_vault_urls_go_to_a_custom_arm_endpoint() -> Result<()> {
        // The simulator: `Endpoints::custom`, or a public cloud with AIB_ARM_ENDPOINT.
        for e in [
            Endpoints::custom("http://127.0.0.1:8700", false)?,
            Endpoints::resolve_with(Cloud::Public, None, Some("http://127.0.0.1:8700/"), false)?,
        ] {
            assert!(e.is_custom_arm());
            assert_eq!(
                e.key_vault_url("https://KV-aib.vault.azure.net/secrets/admin?api-version=7.4")?
                    .as_str(),
                "http://127.0.0.1:8700/keyvault/kv-aib/secrets/admin?api-version=7.4"
            );
            assert_eq!(
                e.key_vault_url("https://kv-aib.vault.azure.net/secrets/admin/v1?api-version=7.4")?
                    .as_str(),
                "http://127.0.0.1:8700/keyvault/kv-aib/secrets/admin/v1?api-version=7.4"
            );
        }
        // Under a base path, and for the other clouds' vault suffixes.
        let e = Endpoints::custom("https://arm.example/prefix", false)?;
        assert_eq!(
            e.key_vault_url("https://kv.vault.azure.cn/secrets/a?api-version=7.4")?
                .as_str(),
            "https://arm.example/prefix/keyvault/kv/secrets/a?api-version=7.4"
        );
        // A vault host of no known cloud, or a nested one, is refused: the custom endpoint
        // would not serve it and aib sends tokens to nothing else.
        for other in [
            "https://kv.vault.local.azurestack.external/secrets/a?api-version=7.4",
            "https://a.b.vault.azure.net/secrets/a",
        ] {
            assert!(
                matches!(e.key_vault_url(other), Err(Error::Config(_))),
                "{other}"
            );
        }
        Ok(())
    }
}
