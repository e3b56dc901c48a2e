//! Azure credentials: the azure_identity 1.x chain, plus a per-scope token cache.
//!
//! Order (unless `AIB_CREDENTIAL` names one): environment client secret, workload identity,
//! GitHub Actions OIDC, managed identity, Azure CLI, Azure Pipelines. The first credential
//! that yields a token is remembered and used from then on. Tokens are cached per scope and
//! refreshed `refresh_margin` (5 min) before they expire, or halfway through their life when
//! they live less than twice that; one refresh runs at a time (single flight).
//!
//! The federated credentials of CI systems (GitHub Actions, Azure Pipelines) ask the CI system
//! for a fresh OIDC assertion at every refresh, so they last as long as the job, however long
//! a run takes. `AIB_CA_FILE` (see [`crate::transport::CA_FILE_ENV`]) adds trusted certificate
//! authorities to every credential's connections too.
//!
//! A token endpoint that answers 408/429/5xx (or, for the credential in use, drops the
//! connection) is retried with exponential backoff and jitter for up to `token_retry_budget`
//! (60 s) on top of azure_core's own few quick retries; while probing the chain, only HTTP
//! answers are retried and only within the probe timeout, so an absent IMDS stays cheap.
//! Failing for good, the error says how many attempts were made over how long.

use crate::cloud::Cloud;
use crate::error::{Error, Result};
use azure_core::cloud::CloudConfiguration;
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::ClientOptions;
use azure_identity::{
    AzureCliCredential, AzurePipelinesCredential, ClientAssertionCredential,
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use base64::Engine;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;
use tokio::sync::Mutex;

/// How long the chain waits for IMDS (no `IDENTITY_ENDPOINT`) before trying the next credential.
pub const IMDS_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The environment variable naming one credential to use instead of the chain.
pub const CREDENTIAL_ENV: &str = "AIB_CREDENTIAL";

/// One kind of credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET`.
    Env,
    /// `AZURE_FEDERATED_TOKEN_FILE` (+ tenant and client id), e.g. AKS.
    WorkloadIdentity,
    /// GitHub Actions OIDC (`ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN`,
    /// from `permissions: id-token: write`) exchanged at Entra for `AZURE_CLIENT_ID` in
    /// `AZURE_TENANT_ID`; a fresh ID token for every new access token.
    GithubActions,
    /// App Service (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`) or IMDS managed identity.
    /// `AZURE_CLIENT_ID` selects a user-assigned identity.
    ManagedIdentity,
    /// `az account get-access-token`.
    AzureCli,
    /// Azure Pipelines service connection (`AZURESUBSCRIPTION_*`, `SYSTEM_ACCESSTOKEN`).
    AzurePipelines,
}

impl CredentialKind {
    /// The chain order.
    pub const CHAIN: [CredentialKind; 6] = [
        CredentialKind::Env,
        CredentialKind::WorkloadIdentity,
        CredentialKind::GithubActions,
        CredentialKind::ManagedIdentity,
        CredentialKind::AzureCli,
        CredentialKind::AzurePipelines,
    ];

    /// Name as accepted by `AIB_CREDENTIAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Env => "env",
            CredentialKind::WorkloadIdentity => "workload-identity",
            CredentialKind::GithubActions => "github-actions",
            CredentialKind::ManagedIdentity => "managed-identity",
            CredentialKind::AzureCli => "azure-cli",
            CredentialKind::AzurePipelines => "azure-pipelines",
        }
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CredentialKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        CredentialKind::CHAIN
            .into_iter()
            .find(|k| k.as_str() == norm)
            .or(match norm.as_str() {
                "environment" | "client-secret" => Some(CredentialKind::Env),
                "msi" => Some(CredentialKind::ManagedIdentity),
                "cli" | "az" => Some(CredentialKind::AzureCli),
                "github" | "github-oidc" | "actions" => Some(CredentialKind::GithubActions),
                _ => None,
            })
            .ok_or_else(|| {
                Error::Config(format!(
                    "{CREDENTIAL_ENV}={s:?} is not a credential; expected one of env, workload-identity, github-actions, managed-identity, azure-cli, azure-pipelines"
                ))
            })
    }
}

/// A bearer token. `Debug` never shows the secret.
#[derive(Clone)]
pub struct BearerToken {
    secret: String,
    /// Expiry as unix seconds.
    pub expires_at: i64,
}

impl BearerToken {
    /// The raw token, for an `Authorization: Bearer` header.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Object id (`oid`) or subject of a JWT, used to key rate limits; `None` if not a JWT.
    pub fn principal(&self) -> Option<String> {
        let payload = self.secret.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        ["oid", "sub", "appid"]
            .iter()
            .find_map(|k| v.get(*k).and_then(|x| x.as_str()).map(str::to_owned))
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerToken")
            .field("secret", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

type Chosen = (CredentialKind, Arc<dyn TokenCredential>);

/// The credential every aib command uses. Cheap to share behind an `Arc`.
pub struct Credential {
    kinds: Vec<CredentialKind>,
    explicit: bool,
    cloud: Cloud,
    refresh_margin: Duration,
    probe_timeout: Duration,
    token_retry_budget: Duration,
    chosen: StdMutex<Option<Chosen>>,
    fixed: Option<BearerToken>,
    /// Scope → token and when to refresh it (unix seconds).
    cache: Mutex<HashMap<String, (BearerToken, i64)>>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("kinds", &self.kinds)
            .field("explicit", &self.explicit)
            .field("in_use", &self.in_use())
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// The chain, or the single credential `AIB_CREDENTIAL` names.
    pub fn from_env(cloud: Cloud) -> Result<Self> {
        match std::env::var(CREDENTIAL_ENV) {
            Ok(v) if !v.trim().is_empty() => Ok(Self::only(v.parse()?, cloud)),
            _ => Ok(Self::chain(cloud)),
        }
    }

    /// The full default chain.
    pub fn chain(cloud: Cloud) -> Self {
        Self::new(CredentialKind::CHAIN.to_vec(), false, cloud)
    }

    /// Exactly one credential kind.
    pub fn only(kind: CredentialKind, cloud: Cloud) -> Self {
        Self::new(vec![kind], true, cloud)
    }

    /// Wrap any azure_identity / azure_core credential (e.g. one the caller configured itself).
    pub fn from_token_credential(kind: CredentialKind, cred: Arc<dyn TokenCredential>) -> Self {
        let c = Self::new(vec![kind], true, Cloud::Public);
        if let Ok(mut g) = c.chosen.lock() {
            *g = Some((kind, cred));
        }
        c
    }

    /// A fixed bearer token (e.g. one obtained out of band, or `AZURE_ACCESS_TOKEN` in CI).
    /// It is never refreshed; once expired, requests fail with [`Error::Auth`].
    pub fn from_static_token(token: impl Into<String>, expires_at_unix: i64) -> Self {
        let mut c = Self::new(Vec::new(), true, Cloud::Public);
        c.fixed = Some(BearerToken {
            secret: token.into(),
            expires_at: expires_at_unix,
        });
        c
    }

    fn new(kinds: Vec<CredentialKind>, explicit: bool, cloud: Cloud) -> Self {
        Self {
            kinds,
            explicit,
            cloud,
            refresh_margin: Duration::from_secs(300),
            probe_timeout: Duration::from_secs(10),
            token_retry_budget: Duration::from_secs(60),
            chosen: StdMutex::new(None),
            fixed: None,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Refresh tokens this long before they expire (default 5 minutes).
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// How long transient token endpoint failures (408/429/5xx, dropped connections) are
    /// retried before the token request fails (default 60 s).
    pub fn with_token_retry_budget(mut self, budget: Duration) -> Self {
        self.token_retry_budget = budget;
        self
    }

    /// The credential that produced the last token, once known.
    pub fn in_use(&self) -> Option<CredentialKind> {
        self.chosen
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|c| c.0))
    }

    /// Forget a cached token (after Azure rejected it with 401).
    pub async fn invalidate(&self, scope: &str) {
        self.cache.lock().await.remove(scope);
    }

    /// When a token obtained at `now` is refreshed: `refresh_margin` before it expires, or
    /// halfway through its life when it lives less than twice the margin (tokens that live
    /// seconds are reused for half their life instead of refreshed on every call).
    fn refresh_at(&self, token: &BearerToken, now: i64) -> i64 {
        let life = (token.expires_at - now).max(0);
        let margin = (self.refresh_margin.as_secs() as i64).min(life / 2);
        token.expires_at - margin
    }

    /// A token for `scope`, from the cache when it is fresh enough.
    pub async fn token(&self, scope: &str) -> Result<BearerToken> {
        // Holding the cache lock across the refresh makes refreshes single-flight.
        let mut cache = self.cache.lock().await;
        let now = chrono::Utc::now().timestamp();
        if let Some((t, refresh_at)) = cache.get(scope)
            && *refresh_at > now
        {
            return Ok(t.clone());
        }
        let token = self.fetch(scope).await?;
        let refresh_at = self.refresh_at(&token, chrono::Utc::now().timestamp());
        cache.insert(scope.to_owned(), (token.clone(), refresh_at));
        Ok(token)
    }

    async fn fetch(&self, scope: &str) -> Result<BearerToken> {
        if let Some(t) = &self.fixed {
            return Ok(t.clone());
        }
        let chosen = self.chosen.lock().ok().and_then(|g| g.clone());
        if let Some((kind, cred)) = chosen {
            return self
                .get_retrying(kind, &*cred, scope, false)
                .await
                .map_err(|e| auth_error(format!("{kind}: {e}")));
        }
        let mut failures = Vec::new();
        for &kind in &self.kinds {
            let cred = match build(kind, self.cloud) {
                Ok(c) => c,
                Err(why) => {
                    failures.push(format!("{kind}: {why}"));
                    continue;
                }
            };
            // In the chain, do not let an unreachable IMDS or a hanging `az` stall us.
            match self.get_retrying(kind, &*cred, scope, !self.explicit).await {
                Ok(t) => {
                    tracing::info!(credential = %kind, "authenticated");
                    if let Ok(mut g) = self.chosen.lock() {
                        *g = Some((kind, cred));
                    }
                    return Ok(t);
                }
                Err(why) => failures.push(format!("{kind}: {why}")),
            }
        }
        let how = if self.explicit {
            format!("the credential named by {CREDENTIAL_ENV} failed")
        } else {
            "no credential in the chain produced a token".to_string()
        };
        Err(auth_error(format!(
            "{how}:\n  - {}",
            failures.join("\n  - ")
        )))
    }
}

impl Credential {
    /// `get` with retries of transient failures: within `probe_timeout` and for HTTP answers
    /// only when `probing` the chain, within `token_retry_budget` otherwise. Broken
    /// connections are retried for the HTTP-based credentials (not `az`, whose I/O errors
    /// mean a missing program).
    async fn get_retrying(
        &self,
        kind: CredentialKind,
        cred: &dyn TokenCredential,
        scope: &str,
        probing: bool,
    ) -> std::result::Result<BearerToken, TokenError> {
        let start = std::time::Instant::now();
        let budget = if probing {
            self.probe_timeout
        } else {
            self.token_retry_budget
        };
        let mut delay = Duration::from_millis(200);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let timeout = probing.then(|| self.probe_timeout.saturating_sub(start.elapsed()));
            let failure = match get(cred, scope, timeout).await {
                Ok(t) => return Ok(t),
                Err(f) => f,
            };
            let retry = failure.http_transient
                || (!probing && failure.io && kind != CredentialKind::AzureCli);
            // Full jitter between half and all of the current delay.
            let wait = delay.mul_f64(0.5 + rand::random::<f64>() * 0.5);
            if !retry {
                return Err(TokenError::Failed(failure.message));
            }
            if start.elapsed() + wait > budget {
                return Err(TokenError::GaveUp {
                    message: failure.message,
                    attempts,
                    seconds: start.elapsed().as_secs_f64(),
                });
            }
            tracing::debug!(
                attempt = attempts,
                wait_ms = wait.as_millis() as u64,
                "token request failed transiently; retrying"
            );
            tokio::time::sleep(wait).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}

/// Why a credential gave no token (shown after `<kind>: `).
#[derive(Debug, thiserror::Error)]
enum TokenError {
    #[error("{0}")]
    Failed(String),
    #[error(
        "{message} (gave up after {attempts} attempt{} over {seconds:.1} s)",
        if *attempts == 1 { "" } else { "s" }
    )]
    GaveUp {
        message: String,
        attempts: u32,
        seconds: f64,
    },
}

/// Why one token request failed.
struct TokenFailure {
    message: String,
    /// The endpoint answered 408, 429 or 5xx.
    http_transient: bool,
    /// The connection failed or broke (no HTTP answer).
    io: bool,
}

/// Classify an azure_core error by walking its sources (azure_identity wraps the HTTP error
/// in a credential error).
fn classify(e: &azure_core::Error) -> (bool, bool) {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let (mut http, mut io) = (false, false);
    while let Some(err) = cur {
        if let Some(ae) = err.downcast_ref::<azure_core::Error>() {
            if let Some(status) = ae.http_status() {
                http |= matches!(u16::from(status), 408 | 429 | 500 | 502 | 503 | 504);
            }
            io |= matches!(ae.kind(), azure_core::error::ErrorKind::Io);
        }
        if err.downcast_ref::<std::io::Error>().is_some() {
            io = true;
        }
        cur = err.source();
    }
    (http, io)
}

fn auth_error(message: String) -> Error {
    Error::Auth {
        status: None,
        code: None,
        message,
        ids: Box::default(),
    }
}

async fn get(
    cred: &dyn TokenCredential,
    scope: &str,
    timeout: Option<Duration>,
) -> std::result::Result<BearerToken, TokenFailure> {
    let scopes = [scope];
    let fut = cred.get_token(&scopes, None);
    let res = match timeout {
        Some(t) => match tokio::time::timeout(t, fut).await {
            Ok(r) => r,
            Err(_) => {
                return Err(TokenFailure {
                    message: format!("no answer within {} s", t.as_secs()),
                    http_transient: false,
                    io: false,
                });
            }
        },
        None => fut.await,
    };
    match res {
        Ok(at) => Ok(BearerToken {
            secret: at.token.secret().to_owned(),
            expires_at: at.expires_on.unix_timestamp(),
        }),
        // azure_core errors describe the failure without the secret.
        Err(e) => {
            let (http_transient, io) = classify(&e);
            Err(TokenFailure {
                message: one_line(&e.to_string()),
                http_transient,
                io,
            })
        }
    }
}

fn one_line(s: &str) -> String {
    let s: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    s.join(" ")
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Why one credential of the chain could not be built (shown after `<kind>: `).
#[derive(Debug, thiserror::Error)]
enum BuildError {
    #[error("not configured ({0} is not set)")]
    NotSet(String),
    #[error(
        "not configured ({}: give the job `permissions: id-token: write`)",
        format!("{} is not set", crate::github_oidc::REQUEST_URL_ENV)
    )]
    NoIdTokenPermission,
    #[error("cannot build HTTP client: {0}")]
    HttpClient(reqwest::Error),
    /// Reading `AIB_CA_FILE`, or azure_identity refused the settings (one line).
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    IdTokenUrl(#[from] crate::github_oidc::IdTokenUrlError),
}

fn need(name: &str) -> std::result::Result<String, BuildError> {
    var(name).ok_or_else(|| BuildError::NotSet(name.to_string()))
}

/// An HTTP client for token endpoints: bounded connect and request times, and the trust
/// anchors `AIB_CA_FILE` adds.
fn token_http_client(
    roots: Vec<reqwest::Certificate>,
) -> std::result::Result<reqwest::Client, BuildError> {
    reqwest::Client::builder()
        .user_agent(crate::transport::USER_AGENT)
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(60))
        .tls_certs_merge(roots)
        .build()
        .map_err(BuildError::HttpClient)
}

/// The HTTP client of azure_identity's credentials when `AIB_CA_FILE` adds trust anchors
/// (`None`: azure_core's default client).
fn trusting_client() -> std::result::Result<Option<reqwest::Client>, BuildError> {
    let roots = extra_roots()?;
    if roots.is_empty() {
        return Ok(None);
    }
    token_http_client(roots).map(Some)
}

/// The trust anchors `AIB_CA_FILE` adds.
fn extra_roots() -> std::result::Result<Vec<reqwest::Certificate>, BuildError> {
    crate::transport::extra_roots().map_err(|e| BuildError::Setup(e.to_string()))
}

fn client_options(cloud: Cloud) -> std::result::Result<ClientOptions, BuildError> {
    let cfg = match cloud {
        Cloud::UsGov => Some(CloudConfiguration::AzureGovernment),
        Cloud::China => Some(CloudConfiguration::AzureChina),
        Cloud::Public | Cloud::Custom => None,
    };
    let transport = trusting_client()?.map(|c| {
        azure_core::http::Transport::new(Arc::new(c) as Arc<dyn azure_core::http::HttpClient>)
    });
    Ok(ClientOptions {
        cloud: cfg.map(Arc::new),
        transport,
        ..ClientOptions::default()
    })
}

/// The audience Entra expects of federated assertions in `cloud`.
fn exchange_audience(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::UsGov => "api://AzureADTokenExchangeUSGov",
        Cloud::China => "api://AzureADTokenExchangeChina",
        Cloud::Public | Cloud::Custom => "api://AzureADTokenExchange",
    }
}

/// Keep azure_core's own retries of a token endpoint to a few quick ones, so
/// `Credential::get_retrying` owns the budget (azure_core alone would retry for up to 60 s
/// per call).
fn quick_retries(client_options: &mut ClientOptions) {
    client_options.retry =
        azure_core::http::RetryOptions::exponential(azure_core::http::ExponentialRetryOptions {
            initial_delay: azure_core::time::Duration::milliseconds(100),
            max_retries: 3,
            max_total_elapsed: azure_core::time::Duration::seconds(5),
            max_delay: azure_core::time::Duration::seconds(2),
        });
}

fn github_actions(cloud: Cloud) -> std::result::Result<Arc<dyn TokenCredential>, BuildError> {
    use crate::github_oidc::{ActionsIdToken, REQUEST_TOKEN_ENV, REQUEST_URL_ENV};
    let url = var(REQUEST_URL_ENV).ok_or_else(|| {
        if var("GITHUB_ACTIONS").is_some() {
            BuildError::NoIdTokenPermission
        } else {
            BuildError::NotSet(REQUEST_URL_ENV.to_string())
        }
    })?;
    let token = need(REQUEST_TOKEN_ENV)?;
    let tenant = need("AZURE_TENANT_ID")?;
    let client = need("AZURE_CLIENT_ID")?;
    let mut client_options = client_options(cloud)?;
    quick_retries(&mut client_options);
    let http = token_http_client(extra_roots()?)?;
    let assertion = ActionsIdToken::new(&url, token, exchange_audience(cloud), http)?;
    let opts = ClientAssertionCredentialOptions { client_options };
    let c = ClientAssertionCredential::new(tenant, client, assertion, Some(opts))
        .map_err(|e| BuildError::Setup(one_line(&e.to_string())))?;
    Ok(c)
}

fn build(
    kind: CredentialKind,
    cloud: Cloud,
) -> std::result::Result<Arc<dyn TokenCredential>, BuildError> {
    let err = |e: azure_core::Error| BuildError::Setup(one_line(&e.to_string()));
    match kind {
        CredentialKind::Env => {
            let tenant = need("AZURE_TENANT_ID")?;
            let client = need("AZURE_CLIENT_ID")?;
            let secret = need("AZURE_CLIENT_SECRET")?;
            let opts = ClientSecretCredentialOptions {
                client_options: client_options(cloud)?,
            };
            let c = ClientSecretCredential::new(&tenant, client, Secret::new(secret), Some(opts))
                .map_err(err)?;
            Ok(c)
        }
        CredentialKind::WorkloadIdentity => {
            need("AZURE_FEDERATED_TOKEN_FILE")?;
            need("AZURE_TENANT_ID")?;
            need("AZURE_CLIENT_ID")?;
            let mut opts = WorkloadIdentityCredentialOptions::default();
            opts.credential_options.client_options = client_options(cloud)?;
            Ok(WorkloadIdentityCredential::new(Some(opts)).map_err(err)?)
        }
        CredentialKind::GithubActions => github_actions(cloud),
        CredentialKind::ManagedIdentity => {
            let mut client_options = client_options(cloud)?;
            quick_retries(&mut client_options);
            let opts = azure_identity::ManagedIdentityCredentialOptions {
                user_assigned_id: var("AZURE_CLIENT_ID")
                    .map(azure_identity::UserAssignedId::ClientId),
                client_options,
            };
            Ok(ManagedIdentityCredential::new(Some(opts)).map_err(err)?)
        }
        CredentialKind::AzureCli => Ok(AzureCliCredential::new(None).map_err(err)?),
        CredentialKind::AzurePipelines => {
            // Like the GitHub Actions credential, it asks the pipeline's OIDC endpoint
            // (`SYSTEM_OIDCREQUESTURI`) for a fresh assertion at every token refresh.
            let tenant = need("AZURESUBSCRIPTION_TENANT_ID")?;
            let client = need("AZURESUBSCRIPTION_CLIENT_ID")?;
            let conn = need("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID")?;
            let token = need("SYSTEM_ACCESSTOKEN")?;
            let mut opts = azure_identity::AzurePipelinesCredentialOptions::default();
            opts.credential_options.client_options = client_options(cloud)?;
            Ok(
                AzurePipelinesCredential::new(
                    tenant,
                    client,
                    &conn,
                    Secret::new(token),
                    Some(opts),
                )
                .map_err(err)?,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_token_failures_are_recognised_through_the_credential_wrapper() {
        use azure_core::error::ErrorKind;
        use azure_core::http::StatusCode;
        let wrap = |inner: azure_core::Error| {
            azure_core::Error::with_error(
                ErrorKind::Credential,
                inner,
                "ManagedIdentityCredential authentication failed.",
            )
        };
        let http = |status: StatusCode| {
            wrap(azure_core::Error::with_message(
                ErrorKind::HttpResponse {
                    status,
                    error_code: None,
                    raw_response: None,
                },
                "The request failed",
            ))
        };
        assert_eq!(
            classify(&http(StatusCode::ServiceUnavailable)),
            (true, false)
        );
        assert_eq!(classify(&http(StatusCode::TooManyRequests)), (true, false));
        assert_eq!(classify(&http(StatusCode::BadRequest)), (false, false));
        let io = wrap(azure_core::Error::new(
            ErrorKind::Io,
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"),
        ));
        assert_eq!(classify(&io), (false, true));
    }

    #[test]
    fn names() -> Result<()> {
        for k in CredentialKind::CHAIN {
            assert_eq!(k.as_str().parse::<CredentialKind>()?, k);
        }
        assert_eq!(
            "MSI".parse::<CredentialKind>()?,
            CredentialKind::ManagedIdentity
        );
        assert_eq!(
            "azure_cli".parse::<CredentialKind>()?,
            CredentialKind::AzureCli
        );
        assert!(matches!(
            "kerberos".parse::<CredentialKind>(),
            Err(Error::Config(_))
        ));
        Ok(())
    }

    /// A credential that counts calls (the trait is `async_trait`-shaped; written out by hand).
    #[derive(Debug)]
    struct Counting {
        calls: std::sync::atomic::AtomicUsize,
        lifetime_s: i64,
    }

    impl TokenCredential for Counting {
        fn get_token<'a, 'b, 'c, 'd, 'async_trait>(
            &'a self,
            _scopes: &'b [&'c str],
            _options: Option<azure_core::credentials::TokenRequestOptions<'d>>,
        ) -> std::pin::Pin<
            Box<
                dyn std::future::Future<
                        Output = azure_core::Result<azure_core::credentials::AccessToken>,
                    > + Send
                    + 'async_trait,
            >,
        >
        where
            'a: 'async_trait,
            'b: 'async_trait,
            'c: 'async_trait,
            'd: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move {
                let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                let exp = azure_core::time::OffsetDateTime::now_utc()
                    + azure_core::time::Duration::seconds(self.lifetime_s);
                Ok(azure_core::credentials::AccessToken::new(
                    format!("tok-{n}"),
                    exp,
                ))
            })
        }
    }

    fn counting(lifetime_s: i64) -> (Arc<Counting>, Credential) {
        let c = Arc::new(Counting {
            calls: std::sync::atomic::AtomicUsize::new(0),
            lifetime_s,
        });
        let cred = Credential::from_token_credential(CredentialKind::AzureCli, c.clone());
        (c, cred)
    }

    #[tokio::test(start_paused = true)]
    async fn single_flight_and_cache_per_scope() -> Result<()> {
        let (counter, cred) = counting(3600);
        let cred = Arc::new(cred);
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let c = cred.clone();
            tasks.push(tokio::spawn(async move { c.token("scope-a").await }));
        }
        for t in tasks {
            let tok = t.await.map_err(|e| Error::Config(e.to_string()))??;
            assert_eq!(tok.secret(), "tok-0");
        }
        assert_eq!(counter.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Another scope has its own entry.
        assert_eq!(cred.token("scope-b").await?.secret(), "tok-1");
        assert_eq!(cred.token("scope-a").await?.secret(), "tok-0");
        assert_eq!(cred.in_use(), Some(CredentialKind::AzureCli));
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn refreshes_before_expiry() -> Result<()> {
        // A token that expires within the margin (5 minutes) at once is refreshed every call
        // once its life is half over; one that lives 2 minutes is reused for its first minute.
        let (counter, cred) = counting(120);
        cred.token("s").await?;
        cred.token("s").await?;
        assert_eq!(counter.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        // An already expired token is never reused.
        let (counter, cred) = counting(0);
        cred.token("s").await?;
        cred.token("s").await?;
        assert_eq!(counter.calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        Ok(())
    }

    #[test]
    fn refresh_margin_or_half_the_life() {
        let cred = Credential::from_static_token("t", 0);
        let tok = |exp| BearerToken {
            secret: String::new(),
            expires_at: exp,
        };
        // An hour-long token: 5 minutes before it expires.
        assert_eq!(cred.refresh_at(&tok(1000 + 3600), 1000), 1000 + 3300);
        // Two minutes: after one.
        assert_eq!(cred.refresh_at(&tok(1000 + 120), 1000), 1000 + 60);
        // Two seconds: after one. Expired: now.
        assert_eq!(cred.refresh_at(&tok(1002), 1000), 1001);
        assert_eq!(cred.refresh_at(&tok(990), 1000), 990);
        let short =
            Credential::from_static_token("t", 0).with_refresh_margin(Duration::from_secs(10));
        assert_eq!(short.refresh_at(&tok(1000 + 3600), 1000), 1000 + 3590);
    }

    #[test]
    fn token_debug_is_redacted_and_principal_decodes() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"oid":"1234-abcd","tid":"t"}"#);
        let t = BearerToken {
            secret: format!("eyJhbGciOiJub25lIn0.{payload}.sig"),
            expires_at: 0,
        };
        assert!(!format!("{t:?}").contains("eyJ"));
        assert_eq!(t.principal().as_deref(), Some("1234-abcd"));
        let opaque = BearerToken {
            secret: "opaque".into(),
            expires_at: 0,
        };
        assert_eq!(opaque.principal(), None);
    }
}
