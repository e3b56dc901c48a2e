//! GitHub Actions' OIDC token as the client assertion of a federated credential.
//!
//! A job with `permissions: id-token: write` gets `ACTIONS_ID_TOKEN_REQUEST_URL` and
//! `ACTIONS_ID_TOKEN_REQUEST_TOKEN`. `GET {url}&audience=api://AzureADTokenExchange` with
//! `Authorization: Bearer {token}` answers `{"value": "<JWT>"}`, an assertion that lives a few
//! minutes; Entra exchanges it for an access token of the app registration or managed identity
//! whose federated credential trusts the repository. [`ActionsIdToken`] asks for a fresh one
//! every time azure_identity's `ClientAssertionCredential` needs a new access token, so a run
//! longer than an access token's hour never finds its login expired — unlike `azure/login`
//! followed by the Azure CLI, which exchanges the one assertion it got at login again and is
//! refused (AADSTS700024) once that assertion expired.

use azure_core::credentials::Secret;
use azure_core::error::ErrorKind;
use azure_core::http::ClientMethodOptions;
use azure_identity::ClientAssertion;
use std::fmt;

/// The job's OIDC token endpoint (set by GitHub Actions when the job may request ID tokens).
pub const REQUEST_URL_ENV: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
/// The bearer token for [`REQUEST_URL_ENV`].
pub const REQUEST_TOKEN_ENV: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// Largest answer read from the token endpoint (an ID token is a few KiB).
const MAX_ANSWER: usize = 256 * 1024;

/// Fetches a fresh GitHub Actions ID token for each client assertion.
pub struct ActionsIdToken {
    url: url::Url,
    token: Secret,
    client: reqwest::Client,
}

impl fmt::Debug for ActionsIdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionsIdToken")
            .field("host", &self.url.host_str())
            .finish_non_exhaustive()
    }
}

/// Why the ID token endpoint's URL is refused.
#[derive(Debug, thiserror::Error)]
pub enum IdTokenUrlError {
    #[error("{REQUEST_URL_ENV} is not a URL: {0}")]
    NotAUrl(url::ParseError),
    #[error(
        "{REQUEST_URL_ENV} must be an https URL (plain http only to a loopback host), not {0}://"
    )]
    Scheme(String),
}

impl ActionsIdToken {
    /// For the endpoint `request_url` (it must be `https`, or plain `http` on a loopback host
    /// such as a local simulator), asking for ID tokens with `audience`.
    pub fn new(
        request_url: &str,
        request_token: String,
        audience: &str,
        client: reqwest::Client,
    ) -> Result<Self, IdTokenUrlError> {
        let mut url = url::Url::parse(request_url).map_err(IdTokenUrlError::NotAUrl)?;
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            other => return Err(IdTokenUrlError::Scheme(other.to_string())),
        }
        url.query_pairs_mut().append_pair("audience", audience);
        Ok(Self {
            url,
            token: Secret::new(request_token),
            client,
        })
    }

    async fn fetch(&self) -> azure_core::Result<String> {
        let io = |e: reqwest::Error| {
            let e = e.without_url();
            let why = causes(&e);
            azure_core::Error::with_error(
                ErrorKind::Io,
                e,
                format!("cannot reach GitHub Actions' OIDC token endpoint: {why}"),
            )
        };
        let mut resp = self
            .client
            .get(self.url.clone())
            .bearer_auth(self.token.secret())
            .header(reqwest::header::ACCEPT, "application/json; api-version=2.0")
            .send()
            .await
            .map_err(io)?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(io)? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(azure_core::Error::with_message(
                    ErrorKind::DataConversion,
                    format!(
                        "GitHub Actions' OIDC token endpoint answered more than {MAX_ANSWER} bytes"
                    ),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 | 403 => {
                    " (the job needs `permissions: id-token: write`, and the token is valid only while its job runs)"
                }
                _ => "",
            };
            return Err(azure_core::Error::with_message(
                ErrorKind::HttpResponse {
                    status: status.as_u16().into(),
                    error_code: None,
                    raw_response: None,
                },
                format!("GitHub Actions' OIDC token endpoint answered {status}{hint}"),
            ));
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            value: Option<String>,
        }
        serde_json::from_slice::<Answer>(&body)
            .ok()
            .and_then(|a| a.value)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                azure_core::Error::with_message(
                    ErrorKind::DataConversion,
                    "GitHub Actions' OIDC token endpoint answered without an ID token (`value`)",
                )
            })
    }
}

/// An error and its causes on one line (reqwest's own message is only "error sending request").
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(inner) = src {
        let s = inner.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        src = inner.source();
    }
    parts.join(": ")
}

#[async_trait::async_trait]
impl ClientAssertion for ActionsIdToken {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        self.fetch().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_gets_the_audience_and_must_be_https_unless_loopback() {
        let c = reqwest::Client::new();
        let t = ActionsIdToken::new(
            "https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0",
            "secret-job-token".into(),
            "api://AzureADTokenExchange",
            c.clone(),
        );
        let t = match t {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            t.url.as_str(),
            "https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange"
        );
        assert!(!format!("{t:?}").contains("secret-job-token"));
        assert!(
            ActionsIdToken::new("http://127.0.0.1:9/x?a=1", "t".into(), "a", c.clone()).is_ok()
        );
        let refused = ActionsIdToken::new("http://example.com/x?a=1", "t".into(), "a", c.clone());
        assert!(refused.is_err());
        assert!(ActionsIdToken::new("not a url", "t".into(), "a", c).is_err());
    }
}
