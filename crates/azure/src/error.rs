//! The one error type of aib-azure.
//!
//! No variant ever carries a token, account key, SAS signature or client secret: URLs are
//! passed through [`redact_url`] before they are stored.

use std::fmt;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Request identifiers Azure returns; quote them in a support ticket.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RequestIds {
    /// `x-ms-request-id`
    pub request_id: Option<String>,
    /// `x-ms-correlation-request-id`
    pub correlation_id: Option<String>,
    /// `x-ms-client-request-id` we sent
    pub client_request_id: Option<String>,
}

impl RequestIds {
    pub(crate) fn from_headers(headers: &reqwest::header::HeaderMap, client: Option<&str>) -> Self {
        let get = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            request_id: get("x-ms-request-id"),
            correlation_id: get("x-ms-correlation-request-id"),
            client_request_id: client.map(str::to_owned),
        }
    }
}

impl fmt::Debug for RequestIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for RequestIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(id) = &self.request_id {
            write!(f, "x-ms-request-id={id}")?;
            sep = ", ";
        }
        if let Some(id) = &self.correlation_id {
            write!(f, "{sep}x-ms-correlation-request-id={id}")?;
            sep = ", ";
        }
        if let Some(id) = &self.client_request_id {
            write!(f, "{sep}x-ms-client-request-id={id}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong talking to Azure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No credential could produce a token, or Azure answered 401/403.
    /// The binary maps this to exit code 3.
    #[error("Azure authentication failed: {message}{}", fmt_status(*status, code.as_deref(), ids))]
    Auth {
        /// HTTP status when Azure rejected the request (401/403); `None` for credential failures.
        status: Option<u16>,
        /// ARM / storage error code, e.g. `InvalidAuthenticationToken`, `AuthorizationFailed`.
        code: Option<String>,
        /// Human readable cause (for a credential chain: every credential tried and why it failed).
        message: String,
        /// Request ids, if a response was received.
        ids: Box<RequestIds>,
    },
    /// Azure answered with a non-success status (after retries where applicable).
    #[error("{method} {url} failed: HTTP {status}{}: {message} ({ids})", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Api {
        /// HTTP method.
        method: String,
        /// The URL, with any `sig=` redacted.
        url: String,
        /// HTTP status code.
        status: u16,
        /// ARM `error.code` (or storage `<Code>`).
        code: Option<String>,
        /// ARM `error.message`.
        message: String,
        /// Request ids.
        ids: Box<RequestIds>,
    },
    /// Connection failed, timed out or the body broke mid-read, after all retries.
    #[error("{method} {url}: connection error: {message}")]
    Transport {
        /// HTTP method.
        method: String,
        /// URL (redacted).
        url: String,
        /// Cause.
        message: String,
    },
    /// A non-idempotent request (POST) failed in a way that leaves unknown whether the
    /// server acted on it; the caller must find out before retrying.
    #[error("{method} {url}: outcome unknown: {message}")]
    Ambiguous {
        /// HTTP method.
        method: String,
        /// URL (redacted).
        url: String,
        /// Cause.
        message: String,
    },
    /// A long-running operation reached `Failed` or `Canceled`.
    #[error("operation {status}: {}{message} (operation {operation_url})", code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default())]
    OperationFailed {
        /// Terminal status as Azure spelled it.
        status: String,
        /// `error.code` of the operation.
        code: Option<String>,
        /// `error.message` of the operation.
        message: String,
        /// The status URL (redacted).
        operation_url: String,
    },
    /// The retry budget (or an operation deadline) ran out.
    #[error("gave up after {elapsed_ms} ms: {last}")]
    Timeout {
        /// How long we tried.
        elapsed_ms: u64,
        /// The last failure seen.
        last: String,
    },
    /// A response body did not match the expected shape.
    #[error("could not decode response of {url}: {message}")]
    Decode {
        /// URL (redacted).
        url: String,
        /// Cause.
        message: String,
    },
    /// A download ended with fewer/more bytes than announced.
    #[error("download of {url} is incomplete: expected {expected} bytes, got {actual}")]
    Incomplete {
        /// URL (redacted).
        url: String,
        /// Announced length.
        expected: u64,
        /// Received length.
        actual: u64,
    },
    /// Bad configuration (endpoint, credential name, scheme...). Exit code 3 as well.
    #[error("Azure configuration error: {0}")]
    Config(String),
}

fn fmt_status(status: Option<u16>, code: Option<&str>, ids: &RequestIds) -> String {
    let mut s = String::new();
    if let Some(st) = status {
        s.push_str(&format!(" (HTTP {st}"));
        if let Some(c) = code {
            s.push_str(&format!(" {c}"));
        }
        let ids = ids.to_string();
        if !ids.is_empty() {
            s.push_str(&format!(", {ids}"));
        }
        s.push(')');
    }
    s
}

impl Error {
    /// The error for an answered request: `Auth` for 401/403, else `Api`.
    pub(crate) fn from_answer(
        method: &str,
        url: &str,
        status: u16,
        code: Option<String>,
        message: String,
        ids: Box<RequestIds>,
    ) -> Error {
        if status == 401 || status == 403 {
            return Error::Auth {
                status: Some(status),
                code,
                message,
                ids,
            };
        }
        Error::Api {
            method: method.to_owned(),
            url: url.to_owned(),
            status,
            code,
            message,
            ids,
        }
    }

    /// True for credential failures and 401/403 answers (exit code 3).
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::Auth { .. })
    }

    /// True for auth and configuration errors: the binary maps these to exit code 3.
    pub fn is_auth_or_config(&self) -> bool {
        matches!(self, Error::Auth { .. } | Error::Config(_))
    }

    /// True when Azure answered 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// HTTP status of the failure, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::Auth { status, .. } => *status,
            _ => None,
        }
    }

    /// ARM / storage error code, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. }
            | Error::Auth { code, .. }
            | Error::OperationFailed { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// A URL fit to print. A signed operation URL (ARM's `…?api-version=…&t=…&c=…&s=…&h=…`,
/// about 2 KB) is cut to its path: its signature is not ours to show and nobody can read the
/// rest. Elsewhere the value of secret-bearing query parameters (`sig`, and any `*key*` /
/// `token` / `secret`) becomes `REDACTED`. Use before printing or storing any URL.
pub fn redact_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    if is_signed_operation_query(query) {
        return operation_path(base);
    }
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| {
            let (k, _) = kv.split_once('=').unwrap_or((kv, ""));
            let kl = k.to_ascii_lowercase();
            if kl == "sig" || kl.contains("key") || kl.contains("token") || kl == "secret" {
                format!("{k}=REDACTED")
            } else {
                kv.to_owned()
            }
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

/// ARM signs operation URLs with `s` (signature) and `h` (hash) next to `t` and `c`.
fn is_signed_operation_query(query: &str) -> bool {
    let has = |name: &str| {
        query
            .split('&')
            .any(|kv| kv.split_once('=').map_or(kv, |(k, _)| k) == name)
    };
    has("s") && (has("h") || has("c"))
}

/// The path of an absolute URL (the URL itself when it has none).
fn operation_path(base: &str) -> String {
    match base.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(i) => rest[i..].to_owned(),
            None => "/".to_owned(),
        },
        None => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_sig() {
        let u = "https://a.blob.core.windows.net/c/b?sv=2021-10-04&sig=abc%2Bdef&se=x";
        let r = redact_url(u);
        assert_eq!(
            r,
            "https://a.blob.core.windows.net/c/b?sv=2021-10-04&sig=REDACTED&se=x"
        );
        assert_eq!(redact_url("http://x/y"), "http://x/y");
        assert_eq!(
            redact_url("https://m/subscriptions/s/providers/p/operations/1?api-version=2025-10-01"),
            "https://m/subscriptions/s/providers/p/operations/1?api-version=2025-10-01",
            "an unsigned URL keeps its query"
        );
    }

    #[test]
    fn signed_operation_urls_become_their_path() {
        let c = "A".repeat(2000);
        let u = format!(
            "https://management.azure.com/subscriptions/s/providers/Microsoft.VirtualMachineImages/locations/eastus/operations/OP?api-version=2025-10-01&t=638285436648484063&c={c}&s=uF5Q-vq_x&h=5sIq"
        );
        let r = redact_url(&u);
        assert_eq!(
            r,
            "/subscriptions/s/providers/Microsoft.VirtualMachineImages/locations/eastus/operations/OP"
        );
        assert!(!r.contains("uF5Q"));
    }

    #[test]
    fn auth_is_distinguishable() {
        let e = Error::Auth {
            status: Some(401),
            code: Some("InvalidAuthenticationToken".into()),
            message: "bad".into(),
            ids: Box::default(),
        };
        assert!(e.is_auth());
        assert!(e.is_auth_or_config());
        assert_eq!(e.status(), Some(401));
        assert!(e.to_string().contains("InvalidAuthenticationToken"));
    }
}
