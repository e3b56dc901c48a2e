//! Blob leases (the state backend's run lock).
//!
//! Acquire always proposes a lease id, so a retried acquire after a lost answer is harmless:
//! the service accepts a repeated acquire with the lease id already holding the blob.

use super::BlobClient;
use crate::error::Result;
use reqwest::Method;

impl BlobClient {
    async fn lease(
        &self,
        container: &str,
        name: &str,
        headers: Vec<(&'static str, String)>,
    ) -> Result<crate::transport::Response> {
        let mut url = self.url(container, Some(name))?;
        url.query_pairs_mut().append_pair("comp", "lease");
        self.send(Method::PUT, url, &headers, None).await
    }

    /// Acquire a lease for `duration_s` (15..=60) or forever (`None`). Returns the lease id.
    /// A blob leased by someone else is [`crate::Error::is_conflict`] (`LeaseAlreadyPresent`).
    pub async fn acquire_lease(
        &self,
        container: &str,
        name: &str,
        duration_s: Option<u32>,
        proposed_id: Option<&str>,
    ) -> Result<String> {
        let id = proposed_id
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let duration = duration_s
            .map(|d| d.to_string())
            .unwrap_or_else(|| "-1".into());
        let resp = self
            .lease(
                container,
                name,
                vec![
                    ("x-ms-lease-action", "acquire".into()),
                    ("x-ms-lease-duration", duration),
                    ("x-ms-proposed-lease-id", id.clone()),
                ],
            )
            .await?;
        Ok(resp
            .header("x-ms-lease-id")
            .map(str::to_owned)
            .unwrap_or(id))
    }

    /// Renew a held lease.
    pub async fn renew_lease(&self, container: &str, name: &str, lease_id: &str) -> Result<()> {
        self.lease(
            container,
            name,
            vec![
                ("x-ms-lease-action", "renew".into()),
                ("x-ms-lease-id", lease_id.to_owned()),
            ],
        )
        .await
        .map(|_| ())
    }

    /// Release a held lease.
    pub async fn release_lease(&self, container: &str, name: &str, lease_id: &str) -> Result<()> {
        self.lease(
            container,
            name,
            vec![
                ("x-ms-lease-action", "release".into()),
                ("x-ms-lease-id", lease_id.to_owned()),
            ],
        )
        .await
        .map(|_| ())
    }

    /// Break someone else's lease (after `break_period_s`, default immediately).
    pub async fn break_lease(
        &self,
        container: &str,
        name: &str,
        break_period_s: Option<u32>,
    ) -> Result<()> {
        self.lease(
            container,
            name,
            vec![
                ("x-ms-lease-action", "break".into()),
                (
                    "x-ms-lease-break-period",
                    break_period_s.unwrap_or(0).to_string(),
                ),
            ],
        )
        .await
        .map(|_| ())
    }
}
