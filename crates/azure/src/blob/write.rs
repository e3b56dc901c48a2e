//! Blob writes and metadata: containers, conditional uploads, deletes, properties.

use super::BlobClient;
use crate::error::{Error, Result};
use bytes::Bytes;
use reqwest::Method;

/// Optimistic-concurrency and lease conditions of a write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Only if the blob's ETag matches (`If-Match`).
    pub if_match: Option<String>,
    /// `If-None-Match`; `"*"` means "only if the blob does not exist".
    pub if_none_match: Option<String>,
    /// The active lease on the blob (`x-ms-lease-id`).
    pub lease_id: Option<String>,
}

impl Conditions {
    /// Create only: fail with 409/412 if the blob exists.
    pub fn create_only() -> Self {
        Self {
            if_none_match: Some("*".into()),
            ..Self::default()
        }
    }

    /// Replace only the version with this ETag.
    pub fn if_match(etag: &str) -> Self {
        Self {
            if_match: Some(etag.to_owned()),
            ..Self::default()
        }
    }

    pub(crate) fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = Vec::new();
        if let Some(v) = &self.if_match {
            h.push(("if-match", v.clone()));
        }
        if let Some(v) = &self.if_none_match {
            h.push(("if-none-match", v.clone()));
        }
        if let Some(v) = &self.lease_id {
            h.push(("x-ms-lease-id", v.clone()));
        }
        h
    }
}

/// `HEAD` of a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobProperties {
    /// ETag (quoted, as the service sends it).
    pub etag: Option<String>,
    /// Size.
    pub content_length: Option<u64>,
    /// `available|leased|expired|breaking|broken`.
    pub lease_state: Option<String>,
    /// `locked|unlocked`.
    pub lease_status: Option<String>,
}

impl Error {
    /// 409 (e.g. `LeaseAlreadyPresent`, `BlobAlreadyExists`).
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// 412 (an `If-Match` / `If-None-Match` / lease condition failed).
    pub fn is_precondition_failed(&self) -> bool {
        self.status() == Some(412)
    }
}

impl BlobClient {
    /// Create a container; an existing one is fine.
    pub async fn create_container(&self, container: &str) -> Result<()> {
        let mut url = self.url(container, None)?;
        url.query_pairs_mut().append_pair("restype", "container");
        match self.send(Method::PUT, url, &[], None).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(409) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Upload a block blob in one request (logs, state files; up to 5000 MiB).
    pub async fn put_blob(
        &self,
        container: &str,
        name: &str,
        data: Bytes,
        content_type: &str,
    ) -> Result<()> {
        self.put_blob_with(container, name, data, content_type, &Conditions::default())
            .await
            .map(|_| ())
    }

    /// Upload with conditions; returns the new ETag.
    pub async fn put_blob_with(
        &self,
        container: &str,
        name: &str,
        data: Bytes,
        content_type: &str,
        conditions: &Conditions,
    ) -> Result<Option<String>> {
        let url = self.url(container, Some(name))?;
        let mut extra = vec![
            ("x-ms-blob-type", "BlockBlob".to_owned()),
            ("content-type", content_type.to_owned()),
        ];
        extra.extend(conditions.headers());
        let resp = self.send(Method::PUT, url, &extra, Some(data)).await?;
        Ok(resp.header("etag").map(str::to_owned))
    }

    /// Delete a blob; a missing blob is fine.
    pub async fn delete_blob(
        &self,
        container: &str,
        name: &str,
        conditions: &Conditions,
    ) -> Result<()> {
        let url = self.url(container, Some(name))?;
        match self
            .send(Method::DELETE, url, &conditions.headers(), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Properties of a blob; `None` if it does not exist.
    pub async fn blob_properties(
        &self,
        container: &str,
        name: &str,
    ) -> Result<Option<BlobProperties>> {
        let url = self.url(container, Some(name))?;
        match self.send(Method::HEAD, url, &[], None).await {
            Ok(r) => Ok(Some(BlobProperties {
                etag: r.header("etag").map(str::to_owned),
                content_length: r.header("content-length").and_then(|v| v.parse().ok()),
                lease_state: r.header("x-ms-lease-state").map(str::to_owned),
                lease_status: r.header("x-ms-lease-status").map(str::to_owned),
            })),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}
