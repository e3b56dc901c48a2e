//! The ARM client: authentication, rate limiting, retries, paging. Typed operations live in
//! the submodules, one per resource provider area.

pub mod deployments;
pub mod gallery;
pub mod image_templates;
pub mod platform_images;
pub mod resources;
pub mod storage;

use crate::cloud::Endpoints;
use crate::credential::Credential;
use crate::error::{Error, RequestIds, Result, redact_url};
use crate::rate_limit::{Access, RateLimitConfig, RateLimiter, subscription_of};
use crate::retry::{Failure, RetryPolicy};
use crate::transport::{
    Response, Transport, TransportOptions, header_value, new_client_request_id,
};
use crate::types::{ErrorResponse, Page};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use reqwest::Method;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Api-versions used per resource type (the pinned ones of [`crate::api_versions`]).
pub mod api {
    use crate::api_versions as v;
    /// Microsoft.VirtualMachineImages.
    pub const IMAGE_TEMPLATES: &str = v::IMAGE_BUILDER;
    /// Microsoft.Compute galleries.
    pub const GALLERY: &str = v::GALLERY;
    /// Microsoft.Resources deployments.
    pub const DEPLOYMENTS: &str = v::RESOURCES;
    /// Resource groups.
    pub const RESOURCE_GROUPS: &str = v::RESOURCES;
    /// Microsoft.Compute platform images.
    pub const COMPUTE: &str = v::COMPUTE;
    /// Microsoft.ManagedIdentity.
    pub const MANAGED_IDENTITY: &str = v::MANAGED_IDENTITY;
    /// Microsoft.Storage.
    pub const STORAGE: &str = v::STORAGE;
}

/// The most pages [`ArmClient::list_all`] follows for one listing.
pub const MAX_PAGES: usize = 1000;

/// Tunables of an [`ArmClient`].
#[derive(Debug, Clone)]
pub struct ArmConfig {
    /// Retry policy of every request.
    pub retry: RetryPolicy,
    /// Client-side rate limits.
    pub rate_limit: RateLimitConfig,
    /// LRO polling interval when the server gives no Retry-After (Azure time; see
    /// [`DEFAULT_POLL_INTERVAL`]).
    pub lro_default_interval: Duration,
    /// HTTP timeouts.
    pub transport: TransportOptions,
}

impl Default for ArmConfig {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            rate_limit: RateLimitConfig::default(),
            lro_default_interval: DEFAULT_POLL_INTERVAL,
            transport: TransportOptions::default(),
        }
    }
}

/// How often an operation is polled when the server names no interval: every 30 s, as
/// Azure's own clients poll Image Builder operations in the recordings (AIB never sends
/// `Retry-After`).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);

impl ArmConfig {
    /// Run the client's own waits (backoff, retry budget, default polling interval, token
    /// buckets) on `clock`. Delays a server names are waited as given: a simulator already
    /// states them on its own clock.
    pub fn on_clock(mut self, clock: crate::clock::TimeScale) -> Self {
        self.retry.time_scale = clock.factor();
        self.retry.scale_server_hints = clock.is_real();
        self.rate_limit.time_scale = clock.factor();
        self
    }
}

/// The ARM client every aib command uses. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ArmClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: Transport,
    endpoints: Endpoints,
    credential: Arc<Credential>,
    config: ArmConfig,
    limiter: RateLimiter,
    /// What [`ArmClient::warn_once`] said already.
    warned: std::sync::Mutex<std::collections::HashSet<String>>,
}

const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Percent-encode one path segment (a resource name).
pub fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

impl ArmClient {
    /// A client with default tunables.
    pub fn new(endpoints: Endpoints, credential: Arc<Credential>) -> Result<Self> {
        Self::with_config(endpoints, credential, ArmConfig::default())
    }

    /// A client with explicit tunables.
    pub fn with_config(
        endpoints: Endpoints,
        credential: Arc<Credential>,
        config: ArmConfig,
    ) -> Result<Self> {
        let http = Transport::new(&config.transport)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                endpoints,
                credential,
                limiter: RateLimiter::new(config.rate_limit.clone()),
                config,
                warned: std::sync::Mutex::new(std::collections::HashSet::new()),
            }),
        })
    }

    /// The client the CLI builds: endpoints from `cloud` / the manifest's `arm_endpoint` /
    /// `AIB_ARM_ENDPOINT`, and the credential chain (or `AIB_CREDENTIAL`).
    pub fn from_env(
        cloud: crate::cloud::Cloud,
        manifest_endpoint: Option<&str>,
        insecure: bool,
    ) -> Result<Self> {
        let endpoints = Endpoints::resolve(cloud, manifest_endpoint, insecure)?;
        let credential = Arc::new(Credential::from_env(cloud)?);
        Self::new(endpoints, credential)
    }

    /// Logs `message` at warn level the first time it is seen (a listing polled every minute
    /// says a lasting oddity once).
    pub fn warn_once(&self, message: &str) {
        let first = match self.inner.warned.lock() {
            Ok(mut g) => g.insert(message.to_owned()),
            Err(p) => p.into_inner().insert(message.to_owned()),
        };
        if first {
            tracing::warn!("{message}");
        }
    }

    /// Endpoints in use.
    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    /// Tunables in use.
    pub fn config(&self) -> &ArmConfig {
        &self.inner.config
    }

    /// The shared credential.
    pub fn credential(&self) -> &Arc<Credential> {
        &self.inner.credential
    }

    /// The pooled HTTP transport (shared with blob clients built from this one).
    pub fn transport(&self) -> &Transport {
        &self.inner.http
    }

    /// `{arm}{path}?api-version={v}`; `path` starts with `/`, its segments already encoded.
    pub fn url(&self, path: &str, api_version: &str) -> Result<Url> {
        let base = self.inner.endpoints.arm.as_str().trim_end_matches('/');
        let sep = if path.contains('?') { '&' } else { '?' };
        let s = format!("{base}{path}{sep}api-version={api_version}");
        Url::parse(&s).map_err(|e| Error::Config(format!("bad ARM URL {s}: {e}")))
    }

    /// Parse an absolute URL the server handed back (nextLink, operation URL).
    pub fn server_url(&self, s: &str) -> Result<Url> {
        let u = Url::parse(s).or_else(|_| {
            // Tolerate a relative link by resolving it against the ARM endpoint.
            self.inner.endpoints.arm.join(s)
        });
        u.map_err(|e| Error::Decode {
            url: redact_url(s),
            message: format!("not a URL: {e}"),
        })
    }

    /// Send a request with auth, rate limiting and the retry policy. Returns 2xx responses;
    /// anything else becomes an [`Error`]. Non-idempotent methods are retried only when the
    /// server certainly did not act (429, connect failure); otherwise [`Error::Ambiguous`].
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Response> {
        let idempotent = RetryPolicy::is_idempotent(&method);
        self.send_with(method, url, body, idempotent).await
    }

    /// Like [`ArmClient::send`], but `idempotent` says whether a POST may be repeated blindly
    /// (e.g. `listKeys`, `cancel`).
    pub async fn send_with(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        idempotent: bool,
    ) -> Result<Response> {
        let inner = &self.inner;
        let policy = &inner.config.retry;
        let scope = inner.endpoints.arm_scope.clone();
        let subscription = subscription_of(url.path()).to_owned();
        let access = Access::of(&method);
        // For the policy, a POST that may be repeated is treated like PUT.
        let policy_method = match method {
            Method::POST if idempotent => Method::PUT,
            _ => method.clone(),
        };
        let body_bytes = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Error::Config(e.to_string()))?;
        let mut state = policy.start();
        let mut reauthenticated = false;
        loop {
            let token = inner.credential.token(&scope).await?;
            let principal = token.principal().unwrap_or_else(|| "default".into());
            inner
                .limiter
                .acquire(&subscription, &principal, access)
                .await;
            let crid = new_client_request_id();
            let req = self.request(&method, &url, token.secret(), &crid, body_bytes.as_ref())?;
            let (failure, headers, last) = match inner.http.execute(req).await {
                Ok(resp) => {
                    inner
                        .limiter
                        .observe_headers(&subscription, &principal, &resp.headers);
                    if (200..300).contains(&resp.status) {
                        return Ok(resp);
                    }
                    if resp.status == 401 && !reauthenticated {
                        // The token may have been revoked or expired early: fetch a new one once.
                        reauthenticated = true;
                        inner.credential.invalidate(&scope).await;
                        continue;
                    }
                    let err = api_error(&method, &resp, &crid);
                    if matches!(err, Error::Auth { .. }) {
                        return Err(err);
                    }
                    (Failure::Status(resp.status), Some(resp.headers), err)
                }
                Err((failure, message)) => (
                    failure,
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
                policy.next_wait(
                    &mut state,
                    &policy_method,
                    failure,
                    headers.as_ref(),
                    &mut rng,
                )
            };
            match wait {
                Some(w) => {
                    policy.announce(&state, &what_failed(failure, &method, &url), w);
                    tokio::time::sleep(w).await;
                }
                None => {
                    let last = given_up(&state, &inner.endpoints.arm, last);
                    return Err(self.final_error(&method, &url, idempotent, failure, last));
                }
            }
        }
    }

    /// One attempt's request: ids for support, the token, the body (an empty PUT or POST says
    /// so with `content-length: 0`).
    fn request(
        &self,
        method: &Method,
        url: &Url,
        token: &str,
        crid: &str,
        body: Option<&Vec<u8>>,
    ) -> Result<reqwest::RequestBuilder> {
        let req = self
            .inner
            .http
            .client()
            .request(method.clone(), url.clone())
            .header("x-ms-client-request-id", header_value(crid)?)
            .header("x-ms-return-client-request-id", "true")
            .header("accept", "application/json")
            .bearer_auth(token);
        Ok(match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(b.clone()),
            None if method == Method::POST || method == Method::PUT => {
                req.header("content-length", "0")
            }
            None => req,
        })
    }

    /// The error of a request given up on: a POST that failed after it may have reached the
    /// server has an unknown outcome ([`Error::Ambiguous`]).
    fn final_error(
        &self,
        method: &Method,
        url: &Url,
        idempotent: bool,
        failure: Failure,
        last: Error,
    ) -> Error {
        let ambiguous = !idempotent
            && match failure {
                Failure::Io => true,
                Failure::Status(s) => s != 429 && self.inner.config.retry.is_retryable_status(s),
                Failure::Connect | Failure::Refused => false,
            };
        if !ambiguous {
            return last;
        }
        Error::Ambiguous {
            method: method.to_string(),
            url: redact_url(url.as_str()),
            message: last.to_string(),
        }
    }

    /// GET a resource and decode it.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str, api_version: &str) -> Result<T> {
        let url = self.url(path, api_version)?;
        self.send(Method::GET, url, None).await?.json()
    }

    /// GET a resource; `Ok(None)` on 404.
    pub async fn get_optional<T: DeserializeOwned>(
        &self,
        path: &str,
        api_version: &str,
    ) -> Result<Option<T>> {
        match self.get_json(path, api_version).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every item of a pageable list, following `nextLink` to the last page (at most
    /// [`MAX_PAGES`] pages; a `nextLink` that repeats an earlier page is an error, not a loop).
    /// A `nextLink` without `api-version` gets the one of the first request.
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        api_version: &str,
    ) -> Result<Vec<T>> {
        let (items, url) = self.list_all_values(path, api_version).await?;
        items
            .into_iter()
            .map(|v| {
                serde_json::from_value(v).map_err(|e| Error::Decode {
                    url: url.clone(),
                    message: e.to_string(),
                })
            })
            .collect()
    }

    /// [`ArmClient::list_all`], but an item that does not decode is left out (and returned as
    /// its name or index with why) instead of failing the whole listing: one odd resource in a
    /// resource group must not hide every other one.
    pub async fn list_all_lenient<T: DeserializeOwned>(
        &self,
        path: &str,
        api_version: &str,
    ) -> Result<(Vec<T>, Vec<String>)> {
        let (items, _) = self.list_all_values(path, api_version).await?;
        let mut ok = Vec::with_capacity(items.len());
        let mut bad = Vec::new();
        for (i, v) in items.into_iter().enumerate() {
            let name = v
                .get("name")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("item {i}"));
            match serde_json::from_value(v) {
                Ok(t) => ok.push(t),
                Err(e) => bad.push(format!("{name}: {e}")),
            }
        }
        Ok((ok, bad))
    }

    /// The items of every page, as JSON, and the listing's URL (redacted) for messages.
    async fn list_all_values(
        &self,
        path: &str,
        api_version: &str,
    ) -> Result<(Vec<serde_json::Value>, String)> {
        let mut url = self.url(path, api_version)?;
        let shown = redact_url(url.as_str());
        let mut seen = std::collections::HashSet::new();
        seen.insert(url.to_string());
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let page: Page<serde_json::Value> = self.send(Method::GET, url, None).await?.json()?;
            out.extend(page.value);
            let Some(next) = page.next_link.filter(|l| !l.trim().is_empty()) else {
                return Ok((out, shown));
            };
            url = self.server_url(&next)?;
            if !url.query_pairs().any(|(k, _)| k == "api-version") {
                url.query_pairs_mut()
                    .append_pair("api-version", api_version);
            }
            if !seen.insert(url.to_string()) {
                return Err(Error::Decode {
                    url: redact_url(url.as_str()),
                    message: format!(
                        "nextLink repeats an earlier page of {} after {} pages; the listing would never end",
                        redact_url(path),
                        seen.len()
                    ),
                });
            }
        }
        Err(Error::Decode {
            url: redact_url(path),
            message: format!("more than {MAX_PAGES} pages; giving up on the listing"),
        })
    }
}

/// What failed, for the line announcing a retry: `ARM throttled (HTTP 429) on GET /subscriptions/…`.
fn what_failed(failure: Failure, method: &Method, url: &Url) -> String {
    let path = redact_url(url.path());
    let host = url.host_str().unwrap_or("ARM");
    match failure {
        Failure::Status(429) => format!("ARM throttled (HTTP 429) {method} {path}"),
        Failure::Status(s) => format!("ARM answered HTTP {s} to {method} {path}"),
        Failure::Connect => format!("cannot connect to {host} for {method} {path}"),
        Failure::Io | Failure::Refused => {
            format!("no usable answer from {host} to {method} {path}")
        }
    }
}

/// The error to return when retrying stopped: `last`, or when the budget, a Retry-After
/// beyond it or an endpoint that never answers was the reason, an error that says so (and,
/// for the silent endpoint, names it).
pub(crate) fn given_up(state: &crate::retry::RetryState, endpoint: &Url, last: Error) -> Error {
    let Some(why) = state.refusal() else {
        return last;
    };
    let elapsed_ms = state.elapsed().as_millis().min(u64::MAX as u128) as u64;
    if !state.answered()
        && let Error::Transport {
            method,
            url,
            message,
        } = last
    {
        return Error::Transport {
            method,
            url,
            message: format!(
                "the endpoint {} does not answer: {why}; last attempt: {message}",
                redact_url(endpoint.as_str())
            ),
        };
    }
    match last {
        // Keep the answer's status and code for callers; say why it is the last one.
        Error::Api {
            method,
            url,
            status,
            code,
            message,
            ids,
        } => Error::Api {
            method,
            url,
            status,
            code,
            message: format!("{message}; {why}"),
            ids,
        },
        last => Error::Timeout {
            elapsed_ms,
            last: format!("{why}; last answer: {last}"),
        },
    }
}

/// Turn a non-2xx response into an [`Error`] (401/403 → [`Error::Auth`]).
pub fn api_error(method: &Method, resp: &Response, client_request_id: &str) -> Error {
    let ids = Box::new(RequestIds::from_headers(
        &resp.headers,
        Some(client_request_id),
    ));
    let parsed: Option<ErrorResponse> = serde_json::from_slice(&resp.body).ok();
    let detail = parsed.and_then(|p| p.error);
    let code = detail
        .as_ref()
        .and_then(|d| d.code.clone())
        .or_else(|| resp.header("x-ms-error-code").map(str::to_owned));
    let message = match &detail {
        _ if (300..400).contains(&resp.status) => format!(
            "redirected to {}: aib follows no redirect (ARM never sends one; the request and its body stay where they were sent)",
            resp.header("location")
                .map(redact_url)
                .unwrap_or_else(|| "nowhere (no Location header)".into())
        ),
        Some(d) => d.full_message(),
        None => {
            let text = String::from_utf8_lossy(&resp.body);
            let text = text.trim();
            let mut t: String = text.chars().take(500).collect();
            if t.is_empty() {
                t = format!("HTTP {}", resp.status);
            }
            t
        }
    };
    Error::from_answer(method.as_str(), &resp.url, resp.status, code, message, ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn resp(status: u16, body: &str) -> Response {
        let mut headers = HeaderMap::new();
        headers.insert("x-ms-request-id", HeaderValue::from_static("req-1"));
        headers.insert(
            "x-ms-correlation-request-id",
            HeaderValue::from_static("corr-1"),
        );
        Response {
            status,
            headers,
            body: bytes::Bytes::from(body.to_owned()),
            url: "https://management.azure.com/x?sig=REDACTED".into(),
        }
    }

    #[test]
    fn arm_errors_carry_code_message_and_ids() {
        let e = api_error(
            &Method::PUT,
            &resp(
                400,
                r#"{"error":{"code":"InvalidTemplateDeployment","message":"The template deployment is not valid.","details":[{"code":"InvalidParameter","message":"identity missing"}]}}"#,
            ),
            "client-1",
        );
        match &e {
            Error::Api {
                status,
                code,
                message,
                ids,
                ..
            } => {
                assert_eq!(*status, 400);
                assert_eq!(code.as_deref(), Some("InvalidTemplateDeployment"));
                assert!(
                    message.contains("InvalidParameter: identity missing"),
                    "{message}"
                );
                assert_eq!(ids.request_id.as_deref(), Some("req-1"));
                assert_eq!(ids.correlation_id.as_deref(), Some("corr-1"));
                assert_eq!(ids.client_request_id.as_deref(), Some("client-1"));
            }
            other => panic!("{other:?}"),
        }
        let shown = e.to_string();
        assert!(shown.contains("x-ms-request-id=req-1"), "{shown}");
    }

    #[test]
    fn unauthorized_and_forbidden_are_auth_errors() {
        for (status, code) in [
            (401, "InvalidAuthenticationToken"),
            (403, "AuthorizationFailed"),
        ] {
            let body = format!(r#"{{"error":{{"code":"{code}","message":"no"}}}}"#);
            let e = api_error(&Method::GET, &resp(status, &body), "c");
            assert!(e.is_auth(), "{e:?}");
            assert_eq!(e.status(), Some(status));
            assert_eq!(e.code(), Some(code));
        }
        // A non-JSON body still gives a message.
        let e = api_error(&Method::GET, &resp(502, "Bad Gateway"), "c");
        assert!(matches!(e, Error::Api { ref message, .. } if message == "Bad Gateway"));
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(seg("rg-images_1.x"), "rg-images_1.x");
    }
}
