//! Microsoft.VirtualMachineImages/imageTemplates: get, list, delete, run, cancel, run outputs.

use super::{ArmClient, api, seg};
use crate::error::{Error, Result};
use crate::lro::{FinalStateVia, Operation, OperationHandle, PollKind};
use crate::resource_id::{ResourceGroupId, ResourceId};
use crate::types::{ImageTemplate, LastRunStatus, RunOutput};
use reqwest::Method;
use std::time::Duration;

/// Tolerated clock difference between us and Azure when deciding whether a run started
/// after our `run` attempt began.
pub const RUN_CLOCK_SKEW: Duration = Duration::from_secs(5);

impl ArmClient {
    /// GET an imageTemplate.
    pub async fn get_image_template(&self, template: &ResourceId) -> Result<ImageTemplate> {
        self.get_json(&template.path(), api::IMAGE_TEMPLATES).await
    }

    /// All imageTemplates of a resource group, with their full properties (incl. `lastRunStatus`).
    pub async fn list_image_templates(
        &self,
        group: &ResourceGroupId,
    ) -> Result<Vec<ImageTemplate>> {
        let path = format!(
            "{}/providers/Microsoft.VirtualMachineImages/imageTemplates",
            group.path()
        );
        // A template someone made by hand in an odd shape is left out (said once per listing)
        // rather than failing the listing every unit's progress comes from.
        let (templates, bad) = self.list_all_lenient(&path, api::IMAGE_TEMPLATES).await?;
        for b in bad {
            self.warn_once(&format!(
                "ignoring an image template in {} that aib cannot read: {b}",
                group.name()
            ));
        }
        Ok(templates)
    }

    /// DELETE an imageTemplate (also deletes its staging resource group). 204 = already gone.
    pub async fn delete_image_template(&self, template: &ResourceId) -> Result<Operation> {
        self.start_delete(
            &template.path(),
            api::IMAGE_TEMPLATES,
            FinalStateVia::Location,
        )
        .await
    }

    /// POST `cancel` (safe to repeat).
    pub async fn cancel_image_template(&self, template: &ResourceId) -> Result<Operation> {
        let path = format!("{}/cancel", template.path());
        let url = self.url(&path, api::IMAGE_TEMPLATES)?;
        let resp = self
            .send_with(Method::POST, url.clone(), None, true)
            .await?;
        Operation::start(
            self,
            &Method::POST,
            &resp,
            url.as_str(),
            Some(FinalStateVia::AzureAsyncOperation),
        )
    }

    /// POST `run`. Never blindly retried: after an ambiguous failure (5xx, dropped connection)
    /// the template is read again, and the POST is repeated only if `lastRunStatus` shows no
    /// run that started after our attempt began (a `startTime` different from the one seen
    /// before the first attempt, and not earlier than the attempt minus [`RUN_CLOCK_SKEW`]).
    /// If a run did start, the returned operation follows the template's `lastRunStatus`
    /// instead of the lost async-operation URL.
    pub async fn run_image_template(&self, template: &ResourceId) -> Result<Operation> {
        // What the last run looked like before we asked for a new one.
        let before = self
            .get_image_template(template)
            .await?
            .properties
            .last_run_status;
        self.run_image_template_after(template, before).await
    }

    /// [`ArmClient::run_image_template`] when the caller already knows the template's
    /// `lastRunStatus` (`None`: never run, e.g. just deployed), which saves the GET before the
    /// POST. An ambiguous POST failure is resolved against `before` the same way.
    pub async fn run_image_template_after(
        &self,
        template: &ResourceId,
        before: Option<LastRunStatus>,
    ) -> Result<Operation> {
        let template_path = template.path();
        let url = self.url(&format!("{template_path}/run"), api::IMAGE_TEMPLATES)?;
        let template_url = self.url(&template_path, api::IMAGE_TEMPLATES)?;
        let policy = self.config().retry.clone();
        let mut state = policy.start();
        loop {
            let attempt_began = chrono::Utc::now();
            let err = match self.send_with(Method::POST, url.clone(), None, false).await {
                Ok(resp) => {
                    let op = Operation::start(
                        self,
                        &Method::POST,
                        &resp,
                        url.as_str(),
                        Some(FinalStateVia::AzureAsyncOperation),
                    )?;
                    if op.handle().is_some() {
                        return Ok(op);
                    }
                    // 200/204 without an operation URL: follow lastRunStatus.
                    return Ok(Operation::resume(
                        self,
                        last_run_handle(template_url.as_str()),
                    ));
                }
                Err(e @ Error::Ambiguous { .. }) => e,
                Err(e) => return Err(e),
            };
            tracing::warn!(template = template.name(), error = %err, "run outcome unknown; checking lastRunStatus");
            let now = self
                .get_image_template(template)
                .await?
                .properties
                .last_run_status;
            if run_started_since(before.as_ref(), now.as_ref(), attempt_began) {
                return Ok(Operation::resume(
                    self,
                    last_run_handle(template_url.as_str()),
                ));
            }
            let wait = {
                let mut rng = rand::rng();
                policy.next_wait_unchecked(&mut state, None, &mut rng)
            };
            match wait {
                Some(w) => tokio::time::sleep(w).await,
                None => return Err(err),
            }
        }
    }

    /// All run outputs of a template.
    pub async fn list_run_outputs(&self, template: &ResourceId) -> Result<Vec<RunOutput>> {
        let path = format!("{}/runOutputs", template.path());
        self.list_all(&path, api::IMAGE_TEMPLATES).await
    }

    /// One run output.
    pub async fn get_run_output(
        &self,
        template: &ResourceId,
        run_output: &str,
    ) -> Result<RunOutput> {
        let path = format!("{}/runOutputs/{}", template.path(), seg(run_output));
        self.get_json(&path, api::IMAGE_TEMPLATES).await
    }
}

/// Did a run start after `attempt_began`? `before` is `lastRunStatus` as read before the
/// first `run` attempt, `now` as read after an ambiguous failure.
pub fn run_started_since(
    before: Option<&LastRunStatus>,
    now: Option<&LastRunStatus>,
    attempt_began: chrono::DateTime<chrono::Utc>,
) -> bool {
    let Some(start) = now.and_then(LastRunStatus::started) else {
        return false;
    };
    if before.and_then(LastRunStatus::started) == Some(start) {
        return false;
    }
    let skew = chrono::Duration::from_std(RUN_CLOCK_SKEW).unwrap_or_default();
    start >= attempt_began - skew
}

/// A handle that follows a template's `lastRunStatus.runState`.
pub fn last_run_handle(template_url: &str) -> OperationHandle {
    OperationHandle {
        kind: PollKind::LastRunStatus,
        status_url: template_url.to_owned(),
        location_url: None,
        resource_url: Some(template_url.to_owned()),
        final_state_via: FinalStateVia::OriginalUri,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lrs(start: &str) -> LastRunStatus {
        LastRunStatus {
            run_state: Some("Running".into()),
            start_time: Some(start.into()),
            ..LastRunStatus::default()
        }
    }

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        match chrono::DateTime::parse_from_rfc3339(s) {
            Ok(d) => d.with_timezone(&chrono::Utc),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn run_start_detection() {
        let began = at("2026-01-01T10:00:00Z");
        // Never run, still no run: retry.
        assert!(!run_started_since(None, None, began));
        // A run (ARM prints 7 fractional digits) that started after our attempt: started.
        let new = lrs("2026-01-01T10:00:01.1234567Z");
        assert!(run_started_since(None, Some(&new), began));
        // Within the clock-skew allowance.
        assert!(run_started_since(
            None,
            Some(&lrs("2026-01-01T09:59:57Z")),
            began
        ));
        // A previous run, unchanged: not ours.
        let old = lrs("2026-01-01T09:00:00Z");
        assert!(!run_started_since(Some(&old), Some(&old), began));
        // Unchanged even if its clock runs ahead of ours (the simulator's does): not ours.
        let future = lrs("2026-01-01T12:00:00Z");
        assert!(!run_started_since(Some(&future), Some(&future), began));
        // Changed but long before our attempt: not ours.
        assert!(!run_started_since(
            Some(&old),
            Some(&lrs("2026-01-01T09:30:00Z")),
            began
        ));
    }
}
