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
}

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
        Ok(())
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
}
