//! SAS tokens: appending one to a URL, and creating account SAS tokens (tests, tooling).

use super::shared_key::sign;
use crate::error::{Error, Result};
use url::Url;

/// Normalise a SAS token as users paste it (`?sv=...` or `sv=...`).
pub fn normalize(token: &str) -> Result<String> {
    let t = token.trim().trim_start_matches('?').to_owned();
    if t.is_empty() || !t.contains("sig=") {
        return Err(Error::Config("SAS token has no sig= parameter".into()));
    }
    Ok(t)
}

/// Append the SAS query to `url`, keeping its own query.
pub fn apply(url: &mut Url, sas: &str) {
    let q = match url.query() {
        Some(q) if !q.is_empty() => format!("{q}&{sas}"),
        _ => sas.to_owned(),
    };
    url.set_query(Some(&q));
}

/// An account SAS (service `b`, resource types `sco`) signed with the account key.
/// `permissions` e.g. `rl` or `rwdlac`; `expiry` RFC 3339 without fractional seconds.
pub fn account_sas(account: &str, key: &[u8], permissions: &str, expiry: &str) -> String {
    let version = "2021-10-04";
    let sts = format!("{account}\n{permissions}\nb\nsco\n\n{expiry}\n\nhttps,http\n{version}\n\n");
    let sig = sign(key, &sts);
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    format!(
        "sv={version}&ss=b&srt=sco&sp={permissions}&se={}&spr=https,http&sig={}",
        enc(expiry),
        enc(&sig)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_keeps_query() -> Result<()> {
        let mut u = Url::parse("https://a.blob.core.windows.net/c?restype=container&comp=list")
            .map_err(|e| Error::Config(e.to_string()))?;
        apply(&mut u, &normalize("?sv=1&sig=abc")?);
        assert_eq!(u.query(), Some("restype=container&comp=list&sv=1&sig=abc"));
        assert!(normalize("sv=1").is_err());
        Ok(())
    }
}
