//! Long-running operations (ARM async contract).
//!
//! An operation is tracked through `Azure-AsyncOperation` (a status body with `status`),
//! `Location` (202 while running, then the final answer), or, when a PUT returned neither,
//! the resource's own `provisioningState`. The [`OperationHandle`] is plain data: store it
//! (it serialises) and resume polling later with [`Operation::resume`].

use crate::arm::ArmClient;
use crate::error::{Error, Result, redact_url};
use crate::retry::{RetryPolicy, parse_retry_after};
use crate::transport::Response;
use crate::types::{ErrorDetail, OperationStatusBody};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// How the final result of a succeeded operation is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinalStateVia {
    /// The status body's `properties` (or nothing).
    AzureAsyncOperation,
    /// GET the `Location` URL.
    Location,
    /// GET the resource itself.
    OriginalUri,
}

/// What the status URL is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PollKind {
    /// `Azure-AsyncOperation`: 200 with `{status}`.
    AsyncOperation,
    /// `Location`: 202 while running, then the final result.
    Location,
    /// GET the resource and read `properties.provisioningState`.
    ProvisioningState,
    /// GET an imageTemplate and read `properties.lastRunStatus.runState` (a `run` whose
    /// operation URL was lost).
    LastRunStatus,
}

/// Everything needed to poll an operation, now or after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationHandle {
    /// How to read the status.
    pub kind: PollKind,
    /// URL to poll.
    pub status_url: String,
    /// `Location` header, when given alongside `Azure-AsyncOperation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_url: Option<String>,
    /// The resource URL (for PUT/PATCH final GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_url: Option<String>,
    /// How to get the final result.
    pub final_state_via: FinalStateVia,
}

/// Parsed state of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationState {
    /// Any non-terminal value.
    Running,
    /// `Succeeded`.
    Succeeded,
    /// `Failed`.
    Failed,
    /// `Canceled` / `Cancelled`.
    Canceled,
}

impl OperationState {
    /// Terminal?
    pub fn is_terminal(self) -> bool {
        self != OperationState::Running
    }
}

/// Map an ARM `status` / `provisioningState`, case-insensitively. Anything unknown is running.
pub fn parse_status(s: &str) -> OperationState {
    match s.trim().to_ascii_lowercase().as_str() {
        "succeeded" => OperationState::Succeeded,
        "failed" => OperationState::Failed,
        "canceled" | "cancelled" => OperationState::Canceled,
        _ => OperationState::Running,
    }
}

fn hdr(h: &HeaderMap, n: &str) -> Option<String> {
    h.get(n)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl OperationHandle {
    /// Build a handle from an initial response. `None` when the operation is already complete
    /// (200/204 without headers, or a PUT body in a terminal provisioningState).
    pub fn from_parts(
        method: &Method,
        status: u16,
        headers: &HeaderMap,
        body: Option<&serde_json::Value>,
        resource_url: &str,
        final_state_via: Option<FinalStateVia>,
    ) -> Option<Self> {
        let async_op = hdr(headers, "azure-asyncoperation");
        let location = hdr(headers, "location");
        let is_put_like = *method == Method::PUT || *method == Method::PATCH;
        let default_via = if is_put_like {
            FinalStateVia::OriginalUri
        } else if location.is_some() {
            FinalStateVia::Location
        } else {
            FinalStateVia::AzureAsyncOperation
        };
        let via = final_state_via.unwrap_or(default_via);
        let resource = is_put_like.then(|| resource_url.to_owned());
        if let Some(url) = async_op {
            return Some(Self {
                kind: PollKind::AsyncOperation,
                status_url: url,
                location_url: location,
                resource_url: resource,
                final_state_via: via,
            });
        }
        if let Some(url) = location
            && status == 202
        {
            return Some(Self {
                kind: PollKind::Location,
                status_url: url.clone(),
                location_url: Some(url),
                resource_url: resource,
                final_state_via: FinalStateVia::Location,
            });
        }
        if is_put_like && (status == 200 || status == 201) {
            let state = body
                .and_then(|b| b.pointer("/properties/provisioningState"))
                .and_then(|v| v.as_str())
                .map(parse_status)
                .unwrap_or(OperationState::Succeeded);
            if state == OperationState::Running {
                return Some(Self {
                    kind: PollKind::ProvisioningState,
                    status_url: resource_url.to_owned(),
                    location_url: None,
                    resource_url: Some(resource_url.to_owned()),
                    final_state_via: FinalStateVia::OriginalUri,
                });
            }
        }
        None
    }
}

/// One status read.
#[derive(Debug, Clone)]
pub struct PollOutcome {
    /// State.
    pub state: OperationState,
    /// Body of the status read (status body, final Location body or resource).
    pub body: Option<serde_json::Value>,
    /// Error of a failed/canceled operation.
    pub error: Option<ErrorDetail>,
    /// Server's polling hint.
    pub retry_after: Option<Duration>,
}

/// Interpret one status response of `kind`.
pub fn interpret(kind: PollKind, resp: &Response) -> Result<PollOutcome> {
    let retry_after = parse_retry_after(&resp.headers, SystemTime::now());
    match kind {
        PollKind::AsyncOperation => {
            let body: OperationStatusBody = resp.json()?;
            let state = body
                .status
                .as_deref()
                .map(parse_status)
                .unwrap_or(OperationState::Running);
            Ok(PollOutcome {
                state,
                error: body.error.clone(),
                body: serde_json::to_value(&body).ok(),
                retry_after,
            })
        }
        PollKind::Location => {
            let state = if resp.status == 202 {
                OperationState::Running
            } else {
                OperationState::Succeeded
            };
            Ok(PollOutcome {
                state,
                body: resp.json_opt()?,
                error: None,
                retry_after,
            })
        }
        PollKind::ProvisioningState => {
            let body = resp.json_opt()?;
            let props = body.as_ref().and_then(|b| b.get("properties"));
            let state = props
                .and_then(|p| p.get("provisioningState"))
                .and_then(|v| v.as_str())
                .map(parse_status)
                .unwrap_or(OperationState::Succeeded);
            let error = props
                .and_then(|p| p.get("error").or_else(|| p.get("provisioningError")))
                .and_then(|e| serde_json::from_value::<ErrorDetail>(e.clone()).ok());
            Ok(PollOutcome {
                state,
                body,
                error,
                retry_after,
            })
        }
        PollKind::LastRunStatus => {
            let body = resp.json_opt()?;
            let lrs = body
                .as_ref()
                .and_then(|b| b.pointer("/properties/lastRunStatus"));
            let run_state = lrs
                .and_then(|l| l.get("runState"))
                .and_then(|v| v.as_str())
                .unwrap_or("Running");
            let state = parse_run_state(run_state);
            let error = (state == OperationState::Failed || state == OperationState::Canceled)
                .then(|| ErrorDetail {
                    code: Some(run_state.to_owned()),
                    message: lrs
                        .and_then(|l| l.get("message"))
                        .and_then(|v| v.as_str())
                        .map(str::to_owned),
                    ..ErrorDetail::default()
                });
            Ok(PollOutcome {
                state,
                body,
                error,
                retry_after,
            })
        }
    }
}

/// Map an imageTemplate `lastRunStatus.runState`.
pub fn parse_run_state(s: &str) -> OperationState {
    match s.trim().to_ascii_lowercase().as_str() {
        "succeeded" => OperationState::Succeeded,
        "failed" | "partiallysucceeded" => OperationState::Failed,
        "canceled" | "cancelled" => OperationState::Canceled,
        _ => OperationState::Running,
    }
}

/// A started (or resumed) long-running operation.
#[derive(Debug, Clone)]
pub struct Operation {
    client: ArmClient,
    handle: Option<OperationHandle>,
    initial: Option<serde_json::Value>,
    /// GET the final result (Location / original URI) once Succeeded.
    final_get: bool,
}

impl Operation {
    /// Wrap the initial response of an LRO-starting request.
    pub(crate) fn start(
        client: &ArmClient,
        method: &Method,
        resp: &Response,
        resource_url: &str,
        final_state_via: Option<FinalStateVia>,
    ) -> Result<Self> {
        let initial = resp.json_opt().unwrap_or(None);
        let handle = OperationHandle::from_parts(
            method,
            resp.status,
            &resp.headers,
            initial.as_ref(),
            resource_url,
            final_state_via,
        );
        Ok(Self {
            client: client.clone(),
            handle,
            initial,
            final_get: true,
        })
    }

    /// Resume polling an operation from a stored handle.
    pub fn resume(client: &ArmClient, handle: OperationHandle) -> Self {
        Self {
            client: client.clone(),
            handle: Some(handle),
            initial: None,
            final_get: true,
        }
    }

    /// Stop at the terminal status: [`Operation::wait`] returns the status body instead of
    /// GETting the final resource, for callers that need only "did it succeed" (one request
    /// per operation saved).
    pub fn status_only(mut self) -> Self {
        self.final_get = false;
        self
    }

    /// The handle to store; `None` if the operation completed synchronously.
    pub fn handle(&self) -> Option<&OperationHandle> {
        self.handle.as_ref()
    }

    /// The body of the initial response.
    pub fn initial_body(&self) -> Option<&serde_json::Value> {
        self.initial.as_ref()
    }

    /// Read the status once. Errors here are failed reads, not a failed operation.
    pub async fn poll(&self) -> Result<PollOutcome> {
        let Some(h) = &self.handle else {
            return Ok(PollOutcome {
                state: OperationState::Succeeded,
                body: self.initial.clone(),
                error: None,
                retry_after: None,
            });
        };
        let url = self.client.server_url(&h.status_url)?;
        let resp = self.client.send(Method::GET, url, None).await?;
        interpret(h.kind, &resp)
    }

    /// [`Operation::wait`] with a deadline: [`Error::Timeout`] if not terminal by then. The
    /// operation keeps running in Azure; its handle can be resumed later.
    pub async fn wait_timeout(
        self,
        limit: std::time::Duration,
    ) -> Result<Option<serde_json::Value>> {
        let url = self
            .handle
            .as_ref()
            .map(|h| redact_url(&h.status_url))
            .unwrap_or_default();
        match tokio::time::timeout(limit, self.wait()).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                elapsed_ms: limit.as_millis().min(u64::MAX as u128) as u64,
                last: format!("operation {url} still running"),
            }),
        }
    }

    /// Poll until terminal. `Ok(final body)` on success; [`Error::OperationFailed`] on
    /// Failed/Canceled. Failed status reads are retried with backoff within the retry budget;
    /// auth errors end the wait.
    pub async fn wait(self) -> Result<Option<serde_json::Value>> {
        let policy = self.client.config().retry.clone();
        let default_interval = self.client.config().lro_default_interval;
        let mut read_failures = policy.start();
        loop {
            match self.poll().await {
                Ok(o) => {
                    read_failures = policy.start();
                    match o.state {
                        OperationState::Running => {
                            let wait = match o.retry_after {
                                Some(h) => policy.server_wait(h),
                                None => policy.scale(default_interval),
                            };
                            tokio::time::sleep(wait).await;
                        }
                        OperationState::Succeeded => return self.final_result(o).await,
                        OperationState::Failed | OperationState::Canceled => {
                            let status = if o.state == OperationState::Failed {
                                "Failed"
                            } else {
                                "Canceled"
                            };
                            let err = o.error.unwrap_or_default();
                            return Err(Error::OperationFailed {
                                status: status.into(),
                                code: err.code.clone(),
                                message: err.full_message(),
                                operation_url: self
                                    .handle
                                    .as_ref()
                                    .map(|h| redact_url(&h.status_url))
                                    .unwrap_or_default(),
                            });
                        }
                    }
                }
                Err(e) if e.is_auth_or_config() => return Err(e),
                // The same status URL gets the same 400 (or 404) every time: say so now
                // instead of asking again for the whole retry budget.
                Err(e) if e.status().is_some_and(RetryPolicy::is_deterministic) => {
                    return Err(e);
                }
                Err(e) => {
                    let wait = {
                        let mut rng = rand::rng();
                        policy.next_wait_unchecked(&mut read_failures, None, &mut rng)
                    };
                    match wait {
                        Some(w) => {
                            policy.announce(
                                &read_failures,
                                &format!("reading the status of an operation failed ({e})"),
                                w,
                            );
                            tokio::time::sleep(w).await;
                        }
                        None => {
                            let endpoint = self.client.endpoints().arm.clone();
                            return Err(crate::arm::given_up(&read_failures, &endpoint, e));
                        }
                    }
                }
            }
        }
    }

    async fn final_result(&self, o: PollOutcome) -> Result<Option<serde_json::Value>> {
        let Some(h) = &self.handle else {
            return Ok(o.body);
        };
        if !self.final_get {
            return Ok(o.body);
        }
        let target = match (h.kind, h.final_state_via) {
            (PollKind::AsyncOperation, FinalStateVia::Location) => h.location_url.clone(),
            (PollKind::AsyncOperation, FinalStateVia::OriginalUri) => h.resource_url.clone(),
            _ => None,
        };
        match target {
            Some(t) => {
                let url = self.client.server_url(&t)?;
                let resp = self.client.send(Method::GET, url, None).await?;
                resp.json_opt()
            }
            None if h.kind == PollKind::AsyncOperation => {
                Ok(o.body.and_then(|b| b.get("properties").cloned()))
            }
            None => Ok(o.body),
        }
    }
}

// Starting a deletion is the client's (callers write `client.start_delete(..)`), but it lives
// here so that `arm` does not depend on `lro`, which is built on it.
impl ArmClient {
    /// DELETE a resource at `path` and return the long-running operation it starts (followed
    /// per `via`; none when ARM answered 200/204 with nothing to wait for).
    pub(crate) async fn start_delete(
        &self,
        path: &str,
        api_version: &str,
        via: FinalStateVia,
    ) -> Result<Operation> {
        let url = self.url(path, api_version)?;
        let resp = self.send(Method::DELETE, url.clone(), None).await?;
        Operation::start(self, &Method::DELETE, &resp, url.as_str(), Some(via))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn statuses_case_insensitive() {
        assert_eq!(parse_status("Succeeded"), OperationState::Succeeded);
        assert_eq!(parse_status("succeeded"), OperationState::Succeeded);
        assert_eq!(parse_status("FAILED"), OperationState::Failed);
        assert_eq!(parse_status("Canceled"), OperationState::Canceled);
        assert_eq!(parse_status("Cancelled"), OperationState::Canceled);
        for s in [
            "Accepted",
            "Running",
            "InProgress",
            "Creating",
            "Deleting",
            "Updating",
            "",
            "weird",
        ] {
            assert_eq!(parse_status(s), OperationState::Running, "{s}");
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(*k, v);
            }
        }
        h
    }

    #[test]
    fn handle_is_resumable_json() -> std::result::Result<(), serde_json::Error> {
        let h = OperationHandle::from_parts(
            &Method::POST,
            202,
            &headers(&[("Azure-AsyncOperation", "https://m/op/1?api-version=x")]),
            None,
            "https://m/res",
            None,
        );
        let Some(h) = h else {
            panic!("expected a handle");
        };
        let s = serde_json::to_string(&h)?;
        let back: OperationHandle = serde_json::from_str(&s)?;
        assert_eq!(back, h);
        assert_eq!(back.kind, PollKind::AsyncOperation);
        assert_eq!(back.resource_url, None);
        Ok(())
    }

    fn resp(status: u16, hdrs: &[(&'static str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers(hdrs),
            body: bytes::Bytes::from(body.to_owned()),
            url: "https://m/op".into(),
        }
    }

    #[test]
    fn interprets_status_reads() -> Result<()> {
        // The operation-resource example of the async API reference.
        let failed = resp(
            200,
            &[("retry-after", "10")],
            r#"{"id":"/subscriptions/id/locations/westus/operationsStatuses/sameguid","name":"sameguid",
               "status":"Failed","startTime":"2026-01-01T00:00:00Z","percentComplete":100,
               "error":{"code":"BadArgument","message":"The provided database 'foo' has an invalid username."}}"#,
        );
        let o = interpret(PollKind::AsyncOperation, &failed)?;
        assert_eq!(o.state, OperationState::Failed);
        assert_eq!(o.retry_after, Some(Duration::from_secs(10)));
        assert_eq!(o.error.and_then(|e| e.code).as_deref(), Some("BadArgument"));
        let running = resp(
            200,
            &[("retry-after-ms", "20")],
            r#"{"status":"InProgress"}"#,
        );
        let o = interpret(PollKind::AsyncOperation, &running)?;
        assert_eq!(o.state, OperationState::Running);
        assert_eq!(o.retry_after, Some(Duration::from_millis(20)));
        let cancelled = resp(200, &[], r#"{"status":"cancelled"}"#);
        assert_eq!(
            interpret(PollKind::AsyncOperation, &cancelled)?.state,
            OperationState::Canceled
        );
        // Location: 202 while running, then the final answer.
        assert_eq!(
            interpret(PollKind::Location, &resp(202, &[], ""))?.state,
            OperationState::Running
        );
        let done = interpret(PollKind::Location, &resp(200, &[], r#"{"name":"x"}"#))?;
        assert_eq!(done.state, OperationState::Succeeded);
        assert_eq!(done.body, Some(serde_json::json!({"name": "x"})));
        assert_eq!(
            interpret(PollKind::Location, &resp(204, &[], ""))?.state,
            OperationState::Succeeded
        );
        // provisioningState of a resource.
        let creating = resp(
            200,
            &[],
            r#"{"properties":{"provisioningState":"Creating"}}"#,
        );
        assert_eq!(
            interpret(PollKind::ProvisioningState, &creating)?.state,
            OperationState::Running
        );
        // lastRunStatus of a template.
        let partial = resp(
            200,
            &[],
            r#"{"properties":{"lastRunStatus":{"runState":"PartiallySucceeded","message":"one region failed"}}}"#,
        );
        let o = interpret(PollKind::LastRunStatus, &partial)?;
        assert_eq!(o.state, OperationState::Failed);
        assert_eq!(
            o.error.and_then(|e| e.message).as_deref(),
            Some("one region failed")
        );
        let run = resp(
            200,
            &[],
            r#"{"properties":{"lastRunStatus":{"runState":"Running","runSubState":"Customizing"}}}"#,
        );
        assert_eq!(
            interpret(PollKind::LastRunStatus, &run)?.state,
            OperationState::Running
        );
        // A status body that is not JSON is a failed read (an error), not a failed operation.
        assert!(interpret(PollKind::AsyncOperation, &resp(200, &[], "<html>")).is_err());
        Ok(())
    }

    #[test]
    fn put_without_headers_polls_provisioning_state() {
        let body = serde_json::json!({"properties": {"provisioningState": "Accepted"}});
        let h = OperationHandle::from_parts(
            &Method::PUT,
            201,
            &HeaderMap::new(),
            Some(&body),
            "https://m/d",
            None,
        );
        assert_eq!(h.map(|h| h.kind), Some(PollKind::ProvisioningState));
        let done = serde_json::json!({"properties": {"provisioningState": "Succeeded"}});
        assert!(
            OperationHandle::from_parts(
                &Method::PUT,
                200,
                &HeaderMap::new(),
                Some(&done),
                "https://m/d",
                None
            )
            .is_none()
        );
        assert!(
            OperationHandle::from_parts(
                &Method::DELETE,
                204,
                &HeaderMap::new(),
                None,
                "https://m/d",
                None
            )
            .is_none()
        );
    }
}
