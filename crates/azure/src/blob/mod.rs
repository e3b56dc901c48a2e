//! Blob data plane: list, download (with resume), and the few writes tests and state need.
//! Authenticated by Shared Key, a SAS token or a bearer token.

pub mod download;
pub mod lease;
pub mod list;
pub mod sas;
pub mod shared_key;
pub mod write;

pub use list::{BlobItem, BlobPage};
pub use write::{BlobProperties, Conditions};

use crate::cloud::check_scheme;
use crate::credential::Credential;
use crate::error::{Error, RequestIds, Result, redact_url};
use crate::retry::{Failure, RetryPolicy};
use crate::transport::{
    Response, Transport, TransportOptions, header_value, new_client_request_id,
};
use base64::Engine;
use bytes::Bytes;
use reqwest::Method;
use reqwest::header::HeaderMap;
use std::fmt;
use std::sync::Arc;
use url::Url;

/// Blob service version we speak.
pub const BLOB_VERSION: &str = "2021-10-04";
/// Environment variable holding an account key.
pub const STORAGE_KEY_ENV: &str = "AZURE_STORAGE_KEY";
/// Environment variable holding a SAS token.
pub const STORAGE_SAS_ENV: &str = "AZURE_STORAGE_SAS_TOKEN";

/// How blob requests are authorized. `Debug` never shows secrets.
#[derive(Clone)]
pub enum BlobAuth {
    /// Shared Key with the (decoded) account key.
    SharedKey {
        /// Account name used in the signature.
        account: String,
        /// Decoded key bytes.
        key: Vec<u8>,
    },
    /// A SAS token, appended to every URL.
    Sas(String),
    /// An Entra ID bearer token for `https://storage.azure.com/.default`.
    Bearer(Arc<Credential>),
}

impl fmt::Debug for BlobAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobAuth::SharedKey { account, .. } => write!(f, "SharedKey({account}, <redacted>)"),
            BlobAuth::Sas(_) => write!(f, "Sas(<redacted>)"),
            BlobAuth::Bearer(_) => write!(f, "Bearer"),
        }
    }
}

impl BlobAuth {
    /// Shared Key from a base64 account key.
    pub fn shared_key(account: &str, key_b64: &str) -> Result<Self> {
        let key = base64::engine::general_purpose::STANDARD
            .decode(key_b64.trim())
            .map_err(|_| Error::Config("storage account key is not valid base64".into()))?;
        Ok(BlobAuth::SharedKey {
            account: account.to_owned(),
            key,
        })
    }

    /// A SAS token (with or without the leading `?`).
    pub fn sas(token: &str) -> Result<Self> {
        Ok(BlobAuth::Sas(sas::normalize(token)?))
    }

    /// `AZURE_STORAGE_KEY`, else `AZURE_STORAGE_SAS_TOKEN`, else the bearer credential.
    pub fn from_env(account: &str, credential: Option<Arc<Credential>>) -> Result<Self> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        if let Some(k) = var(STORAGE_KEY_ENV) {
            return Self::shared_key(account, &k);
        }
        if let Some(s) = var(STORAGE_SAS_ENV) {
            return Self::sas(&s);
        }
        credential.map(BlobAuth::Bearer).ok_or_else(|| {
            Error::Config(format!(
                "no blob credential: set {STORAGE_KEY_ENV} or {STORAGE_SAS_ENV}, or use an Azure credential"
            ))
        })
    }
}

/// Client for one storage account's blob endpoint.
#[derive(Debug, Clone)]
pub struct BlobClient {
    http: Transport,
    endpoint: Url,
    account: String,
    auth: BlobAuth,
    retry: RetryPolicy,
    storage_scope: String,
}

/// The account name of a blob endpoint: `acct` of `https://acct.blob.core.windows.net/`, or the
/// first path segment of a path-style endpoint (`http://127.0.0.1:10000/devstoreaccount1`).
pub fn account_of(endpoint: &Url) -> Option<String> {
    let host = endpoint.host_str()?;
    let path_first = endpoint
        .path_segments()
        .and_then(|mut s| s.next())
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let is_ip_or_local = host.parse::<std::net::IpAddr>().is_ok()
        || host.eq_ignore_ascii_case("localhost")
        || host.starts_with('[');
    if is_ip_or_local {
        return path_first;
    }
    host.split('.').next().map(str::to_owned)
}

impl BlobClient {
    /// A client for `endpoint` (the account URL). `http://` only for loopback unless `insecure`.
    pub fn new(endpoint: &str, auth: BlobAuth, insecure: bool) -> Result<Self> {
        let http = Transport::new(&TransportOptions::default())?;
        Self::with_transport(http, endpoint, auth, RetryPolicy::default(), insecure)
    }

    /// Share an existing transport and choose the retry policy.
    pub fn with_transport(
        http: Transport,
        endpoint: &str,
        auth: BlobAuth,
        retry: RetryPolicy,
        insecure: bool,
    ) -> Result<Self> {
        let mut ep = Url::parse(endpoint.trim())
            .map_err(|e| Error::Config(format!("invalid blob endpoint {endpoint:?}: {e}")))?;
        check_scheme(&ep, insecure)?;
        if !ep.path().ends_with('/') {
            let p = format!("{}/", ep.path());
            ep.set_path(&p);
        }
        ep.set_query(None);
        let account = match &auth {
            BlobAuth::SharedKey { account, .. } => account.clone(),
            _ => account_of(&ep).unwrap_or_default(),
        };
        Ok(Self {
            http,
            endpoint: ep,
            account,
            auth,
            retry,
            storage_scope: "https://storage.azure.com/.default".into(),
        })
    }

    /// The scope Entra tokens are asked for (`https://storage.azure.com/.default`, or the
    /// cloud's).
    pub fn with_scope(mut self, scope: &str) -> Self {
        if !scope.trim().is_empty() {
            self.storage_scope = scope.to_string();
        }
        self
    }

    /// Replace the retry policy (tests use a time scale).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The account name.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// URL of a container (`restype`/`comp` added by callers) or blob.
    pub fn url(&self, container: &str, blob: Option<&str>) -> Result<Url> {
        let mut u = self.endpoint.clone();
        {
            let mut segs = u
                .path_segments_mut()
                .map_err(|_| Error::Config("blob endpoint cannot be a base".into()))?;
            segs.pop_if_empty();
            segs.push(container);
            if let Some(b) = blob {
                for part in b.split('/') {
                    segs.push(part);
                }
            }
        }
        Ok(u)
    }

    /// Send one request with auth and retries; `extra` headers are signed too.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        extra: &[(&str, String)],
        body: Option<Bytes>,
    ) -> Result<Response> {
        let mut state = self.retry.start();
        loop {
            let (req, crid) = self.build(&method, &url, extra, body.clone()).await?;
            let (failure, headers, last) = match self.http.execute(req).await {
                Ok(resp) if (200..300).contains(&resp.status) => return Ok(resp),
                Ok(resp) => {
                    let err = blob_error(&method, &resp, &crid);
                    if err.is_auth() {
                        return Err(err);
                    }
                    (Failure::Status(resp.status), Some(resp.headers), err)
                }
                Err((f, message)) => (
                    f,
                    None,
                    Error::Transport {
                        method: method.to_string(),
                        url: redact_url(url.as_str()),
                        message,
                    },
                ),
            };
            let wait = {
                let mut rng = rand::rng();
                self.retry
                    .next_wait(&mut state, &method, failure, headers.as_ref(), &mut rng)
            };
            match wait {
                Some(w) => tokio::time::sleep(w).await,
                None => return Err(last),
            }
        }
    }

    /// Build a signed request (also used by the streaming download).
    pub(crate) async fn build(
        &self,
        method: &Method,
        url: &Url,
        extra: &[(&str, String)],
        body: Option<Bytes>,
    ) -> Result<(reqwest::RequestBuilder, String)> {
        let crid = new_client_request_id();
        let mut url = url.clone();
        let mut headers = HeaderMap::new();
        headers.insert("x-ms-version", header_value(BLOB_VERSION)?);
        headers.insert(
            "x-ms-date",
            header_value(&httpdate::fmt_http_date(std::time::SystemTime::now()))?,
        );
        headers.insert("x-ms-client-request-id", header_value(&crid)?);
        for (k, v) in extra {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| Error::Config(format!("bad header name {k}")))?;
            headers.insert(name, header_value(v)?);
        }
        if let Some(b) = &body {
            headers.insert("content-length", header_value(&b.len().to_string())?);
        } else if *method == Method::PUT {
            headers.insert("content-length", header_value("0")?);
        }
        match &self.auth {
            BlobAuth::SharedKey { account, key } => {
                let auth = shared_key::authorization(account, key, method.as_str(), &url, &headers);
                headers.insert("authorization", header_value(&auth)?);
            }
            BlobAuth::Sas(token) => sas::apply(&mut url, token),
            BlobAuth::Bearer(cred) => {
                let t = cred.token(&self.storage_scope).await?;
                headers.insert(
                    "authorization",
                    header_value(&format!("Bearer {}", t.secret()))?,
                );
            }
        }
        let mut req = self
            .http
            .client()
            .request(method.clone(), url)
            .headers(headers);
        if let Some(b) = body {
            req = req.body(b);
        }
        Ok((req, crid))
    }

    /// One page of a listing.
    pub async fn list_blobs_page(
        &self,
        container: &str,
        prefix: Option<&str>,
        marker: Option<&str>,
        max_results: Option<u32>,
    ) -> Result<BlobPage> {
        self.list_page(container, prefix, None, marker, max_results)
            .await
    }

    /// The names one level below `prefix` (`delimiter` `/`): each `BlobPrefix` (ending with
    /// `/`) and each blob directly under it, following `NextMarker` for at most
    /// [`MAX_LIST_PAGES`] pages.
    pub async fn list_children(&self, container: &str, prefix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let page = self
                .list_page(container, Some(prefix), Some("/"), marker.as_deref(), None)
                .await?;
            out.extend(page.prefixes);
            out.extend(page.blobs.into_iter().map(|b| b.name));
            match page.next_marker {
                None => return Ok(out),
                Some(m) if marker.as_deref() == Some(m.as_str()) => {
                    return Err(Error::Decode {
                        url: redact_url(self.url(container, None)?.as_str()),
                        message: "NextMarker repeats; the listing would never end".into(),
                    });
                }
                Some(m) => marker = Some(m),
            }
        }
        Err(Error::Decode {
            url: redact_url(self.url(container, None)?.as_str()),
            message: format!("more than {MAX_LIST_PAGES} pages of blobs; giving up on the listing"),
        })
    }

    async fn list_page(
        &self,
        container: &str,
        prefix: Option<&str>,
        delimiter: Option<&str>,
        marker: Option<&str>,
        max_results: Option<u32>,
    ) -> Result<BlobPage> {
        let mut url = self.url(container, None)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("restype", "container")
                .append_pair("comp", "list");
            if let Some(p) = prefix {
                q.append_pair("prefix", p);
            }
            if let Some(d) = delimiter {
                q.append_pair("delimiter", d);
            }
            if let Some(m) = marker {
                q.append_pair("marker", m);
            }
            if let Some(n) = max_results {
                q.append_pair("maxresults", &n.to_string());
            }
        }
        let resp = self.send(Method::GET, url, &[], None).await?;
        list::parse_list_blobs(&resp.body).map_err(|e| match e {
            Error::Decode { message, .. } => Error::Decode {
                url: resp.url.clone(),
                message,
            },
            other => other,
        })
    }

    /// Every blob under `prefix`, following `NextMarker`.
    pub async fn list_blobs(&self, container: &str, prefix: Option<&str>) -> Result<Vec<BlobItem>> {
        self.list_blobs_paged(container, prefix, None).await
    }

    /// Like [`BlobClient::list_blobs`] with a page size. Follows `NextMarker` for at most
    /// [`MAX_LIST_PAGES`] pages; a marker that repeats an earlier one is an error (the listing
    /// would never end).
    pub async fn list_blobs_paged(
        &self,
        container: &str,
        prefix: Option<&str>,
        page_size: Option<u32>,
    ) -> Result<Vec<BlobItem>> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_LIST_PAGES {
            let page = self
                .list_blobs_page(container, prefix, marker.as_deref(), page_size)
                .await?;
            out.extend(page.blobs);
            match page.next_marker {
                None => return Ok(out),
                Some(m) if !seen.insert(m.clone()) => {
                    return Err(Error::Decode {
                        url: redact_url(self.url(container, None)?.as_str()),
                        message: format!(
                            "NextMarker repeats an earlier page after {} pages; the listing would never end",
                            seen.len()
                        ),
                    });
                }
                Some(m) => marker = Some(m),
            }
        }
        Err(Error::Decode {
            url: redact_url(self.url(container, None)?.as_str()),
            message: format!("more than {MAX_LIST_PAGES} pages of blobs; giving up on the listing"),
        })
    }
}

/// The most pages [`BlobClient::list_blobs_paged`] follows for one listing.
pub const MAX_LIST_PAGES: usize = 10_000;

/// Storage error: `<Error><Code>..</Code><Message>..</Message></Error>` or `x-ms-error-code`.
fn blob_error(method: &Method, resp: &Response, crid: &str) -> Error {
    let ids = Box::new(RequestIds::from_headers(&resp.headers, Some(crid)));
    let text = String::from_utf8_lossy(&resp.body);
    let between = |tag: &str| -> Option<String> {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&close)? + start;
        Some(text[start..end].trim().to_owned())
    };
    let code = resp
        .header("x-ms-error-code")
        .map(str::to_owned)
        .or_else(|| between("Code"));
    let message = between("Message")
        .map(|m| m.lines().next().unwrap_or_default().to_owned())
        .unwrap_or_else(|| format!("HTTP {}", resp.status));
    Error::from_answer(method.as_str(), &resp.url, resp.status, code, message, ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names() -> std::result::Result<(), url::ParseError> {
        assert_eq!(
            account_of(&Url::parse("https://acct.blob.core.windows.net/")?).as_deref(),
            Some("acct")
        );
        assert_eq!(
            account_of(&Url::parse("http://127.0.0.1:10000/devstoreaccount1")?).as_deref(),
            Some("devstoreaccount1")
        );
        Ok(())
    }

    #[test]
    fn auth_debug_hides_secrets() -> Result<()> {
        let a = BlobAuth::shared_key("acct", "c2VjcmV0")?;
        assert_eq!(format!("{a:?}"), "SharedKey(acct, <redacted>)");
        let s = BlobAuth::sas("?sv=1&sig=SECRET")?;
        assert!(!format!("{s:?}").contains("SECRET"));
        Ok(())
    }
}
