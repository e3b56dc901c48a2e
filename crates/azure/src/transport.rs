//! The one pooled HTTP client, common headers and request ids.

use crate::error::{Error, Result, redact_url};
use crate::retry::Failure;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue};
use std::time::Duration;

/// A PEM file of certificate authorities to trust besides the system's (a TLS-inspecting
/// proxy's, or the one `aib sim --ca-file` writes for the simulator's `https` endpoints). It
/// applies to every connection aib makes: ARM, Blob, Key Vault and the credentials' token
/// endpoints.
pub const CA_FILE_ENV: &str = "AIB_CA_FILE";

/// The certificates of [`CA_FILE_ENV`] (none when it is not set). A file that cannot be read
/// or holds no certificate is a configuration error.
pub fn extra_roots() -> Result<Vec<reqwest::Certificate>> {
    let Some(path) = std::env::var_os(CA_FILE_ENV).filter(|p| !p.is_empty()) else {
        return Ok(Vec::new());
    };
    let shown = std::path::Path::new(&path).display().to_string();
    let bytes = std::fs::read(&path)
        .map_err(|e| Error::Config(format!("{CA_FILE_ENV}={shown}: cannot read it: {e}")))?;
    let certs = reqwest::Certificate::from_pem_bundle(&bytes)
        .map_err(|e| Error::Config(format!("{CA_FILE_ENV}={shown}: not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "{CA_FILE_ENV}={shown}: holds no PEM certificate"
        )));
    }
    Ok(certs)
}

/// `User-Agent` of every request: `aib/<version>`.
pub const USER_AGENT: &str = concat!("aib/", env!("CARGO_PKG_VERSION"));

/// Timeouts of the shared client.
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout per attempt (headers and body).
    pub request_timeout: Duration,
    /// Idle pooled connections are closed after this long.
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per host: a fleet's burst of requests (HTTP/1.1 opens one
    /// connection per request in flight) does not leave hundreds open, each with its buffers.
    pub pool_max_idle_per_host: usize,
}

impl Default for TransportOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(300),
            pool_idle_timeout: Duration::from_secs(60),
            pool_max_idle_per_host: 32,
        }
    }
}

/// Pooled reqwest client shared by ARM and Blob calls.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
}

impl Transport {
    /// Build the client (rustls, HTTP/2 when the server offers it).
    pub fn new(opts: &TransportOptions) -> Result<Self> {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.request_timeout)
            .pool_idle_timeout(opts.pool_idle_timeout)
            .pool_max_idle_per_host(opts.pool_max_idle_per_host)
            .tls_certs_merge(extra_roots()?)
            .build()
            .map_err(|e| Error::Config(format!("cannot build HTTP client: {e}")))?;
        Ok(Self { client })
    }

    /// The underlying reqwest client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Send one attempt and read the whole body. Errors are classified for the retry policy.
    pub(crate) async fn execute(
        &self,
        req: reqwest::RequestBuilder,
    ) -> std::result::Result<Response, (Failure, String)> {
        let resp = req.send().await.map_err(|e| classify(&e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let url = redact_url(resp.url().as_str());
        // A body that breaks mid-read is a connection failure, retried like one.
        let body = resp
            .bytes()
            .await
            .map_err(|e| (Failure::Io, describe(&e)))?;
        Ok(Response {
            status,
            headers,
            body,
            url,
        })
    }
}

fn classify(e: &reqwest::Error) -> (Failure, String) {
    let kind = if e.is_connect() {
        Failure::Connect
    } else {
        Failure::Io
    };
    (kind, describe(e))
}

/// Error text without the URL (which may hold a SAS signature) but with its causes.
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut s = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connect failed"
    } else if e.is_body() || e.is_decode() {
        "body read failed"
    } else if e.is_request() {
        "request failed"
    } else {
        "HTTP error"
    }
    .to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// A fresh `x-ms-client-request-id`.
pub fn new_client_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn header_value(s: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(s).map_err(|_| Error::Config("invalid header value".into()))
}

/// A fully read HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Whole body.
    pub body: Bytes,
    /// Request URL, redacted.
    pub url: String,
}

impl Response {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Decode the body as JSON (tolerating unknown fields as the types do).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Decode {
            url: self.url.clone(),
            message: e.to_string(),
        })
    }

    /// The body as JSON, or `None` when empty.
    pub fn json_opt(&self) -> Result<Option<serde_json::Value>> {
        if self.body.iter().all(|b| b.is_ascii_whitespace()) {
            Ok(None)
        } else {
            self.json().map(Some)
        }
    }
}
