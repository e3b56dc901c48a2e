//! Microsoft.VirtualMachineImages/imageTemplates: get, list, delete, run, cancel, run outputs.

use super::{ArmClient, api, seg};
use crate::error::{Error, Result};
use crate::lro::{FinalStateVia, Operation, OperationHandle, PollKind};
use crate::types::{ImageTemplate, RunOutput};
use reqwest::Method;
use std::time::Duration;

/// Tolerated clock difference between us and Azure when deciding whether a run started
/// after our `run` attempt began.
pub const RUN_CLOCK_SKEW: Duration = Duration::from_secs(5);

/// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.VirtualMachineImages/imageTemplates/{name}`.
pub fn image_template_path(subscription: &str, resource_group: &str, name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.VirtualMachineImages/imageTemplates/{}",
        seg(subscription),
        seg(resource_group),
        seg(name)
    )
}

impl ArmClient {
    /// GET an imageTemplate.
    pub async fn get_image_template(
        &self,
        subscription: &str,
        resource_group: &str,
        name: &str,
    ) -> Result<ImageTemplate> {
        self.get_json(
            &image_template_path(subscription, resource_group, name),
            api::IMAGE_TEMPLATES,
        )
        .await
    }

    /// All imageTemplates of a resource group, with their full properties (incl. `lastRunStatus`).
    pub async fn list_image_templates(
        &self,
        subscription: &str,
        resource_group: &str,
    ) -> Result<Vec<ImageTemplate>> {
        let path = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.VirtualMachineImages/imageTemplates",
            seg(subscription),
            seg(resource_group)
        );
        self.list_all(&path, api::IMAGE_TEMPLATES).await
    }

    /// DELETE an imageTemplate (also deletes its staging resource group). 204 = already gone.
    pub async fn delete_image_template(
        &self,
        subscription: &str,
        resource_group: &str,
        name: &str,
    ) -> Result<Operation> {
        let url = self.url(
            &image_template_path(subscription, resource_group, name),
            api::IMAGE_TEMPLATES,
        )?;
        let resp = self.send(Method::DELETE, url.clone(), None).await?;
        Operation::start(
            self,
            &Method::DELETE,
            &resp,
            url.as_str(),
            Some(FinalStateVia::Location),
        )
    }

    /// POST `cancel` (safe to repeat).
    pub async fn cancel_image_template(
        &self,
        subscription: &str,
        resource_group: &str,
        name: &str,
    ) -> Result<Operation> {
        let path = format!(
            "{}/cancel",
            image_template_path(subscription, resource_group, name)
        );
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
    /// the template is read, and the POST is repeated only if `lastRunStatus` shows no run that
    /// started after our attempt began. If a run did start, the returned operation follows the
    /// template's `lastRunStatus` instead of the (lost) async-operation URL.
    pub async fn run_image_template(
        &self,
        subscription: &str,
        resource_group: &str,
        name: &str,
    ) -> Result<Operation> {
        let template_path = image_template_path(subscription, resource_group, name);
        let path = format!("{template_path}/run");
        let url = self.url(&path, api::IMAGE_TEMPLATES)?;
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
            tracing::warn!(template = name, error = %err, "run outcome unknown; checking lastRunStatus");
            let t = self
                .get_image_template(subscription, resource_group, name)
                .await?;
            let threshold =
                attempt_began - chrono::Duration::from_std(RUN_CLOCK_SKEW).unwrap_or_default();
            let started_by_us = t
                .properties
                .last_run_status
                .as_ref()
                .and_then(|s| s.started())
                .is_some_and(|start| start >= threshold);
            if started_by_us {
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
    pub async fn list_run_outputs(
        &self,
        subscription: &str,
        resource_group: &str,
        name: &str,
    ) -> Result<Vec<RunOutput>> {
        let path = format!(
            "{}/runOutputs",
            image_template_path(subscription, resource_group, name)
        );
        self.list_all(&path, api::IMAGE_TEMPLATES).await
    }

    /// One run output.
    pub async fn get_run_output(
        &self,
        subscription: &str,
        resource_group: &str,
        name: &str,
        run_output: &str,
    ) -> Result<RunOutput> {
        let path = format!(
            "{}/runOutputs/{}",
            image_template_path(subscription, resource_group, name),
            seg(run_output)
        );
        self.get_json(&path, api::IMAGE_TEMPLATES).await
    }
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
