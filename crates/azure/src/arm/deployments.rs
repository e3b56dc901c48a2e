//! Microsoft.Resources/deployments at resource-group scope.

use super::{ArmClient, api, seg};
use crate::error::Result;
use crate::lro::{FinalStateVia, Operation, OperationHandle, PollKind};
use crate::types::{Deployment, DeploymentOperation, DeploymentRequest};
use reqwest::Method;

/// `/subscriptions/{s}/resourcegroups/{rg}/providers/Microsoft.Resources/deployments/{name}`.
pub fn deployment_path(subscription: &str, resource_group: &str, name: &str) -> String {
    format!(
        "/subscriptions/{}/resourcegroups/{}/providers/Microsoft.Resources/deployments/{}",
        seg(subscription),
        seg(resource_group),
        seg(name)
    )
}

impl ArmClient {
    /// PUT a deployment; wait on the returned [`Operation`] (final result: the deployment).
    pub async fn put_deployment(
        &self,
        subscription: &str,
        resource_group: &str,
        name: &str,
        body: &DeploymentRequest,
    ) -> Result<Operation> {
        let url = self.url(
            &deployment_path(subscription, resource_group, name),
            api::DEPLOYMENTS,
        )?;
        let json = serde_json::to_value(body).map_err(|e| crate::Error::Config(e.to_string()))?;
        let resp = match self.send(Method::PUT, url.clone(), Some(&json)).await {
            Ok(resp) => resp,
            // A retried PUT whose first attempt landed (its answer was lost) meets that
            // deployment still running. aib names deployments after their content, so the
            // running one is ours: follow it instead of failing.
            Err(e) if e.code() == Some("DeploymentActive") => {
                tracing::debug!(
                    deployment = name,
                    "deployment already running; following it"
                );
                let handle = OperationHandle {
                    kind: PollKind::ProvisioningState,
                    status_url: url.to_string(),
                    location_url: None,
                    resource_url: Some(url.to_string()),
                    final_state_via: FinalStateVia::OriginalUri,
                };
                return Ok(Operation::resume(self, handle));
            }
            Err(e) => return Err(e),
        };
        Operation::start(
            self,
            &Method::PUT,
            &resp,
            url.as_str(),
            Some(FinalStateVia::OriginalUri),
        )
    }

    /// PUT a deployment and wait for it; returns the final deployment.
    /// A failed deployment is [`crate::Error::OperationFailed`] with ARM's nested error messages.
    pub async fn deploy_and_wait(
        &self,
        subscription: &str,
        resource_group: &str,
        name: &str,
        body: &DeploymentRequest,
    ) -> Result<Deployment> {
        let op = self
            .put_deployment(subscription, resource_group, name, body)
            .await?;
        op.wait().await?;
        self.get_deployment(subscription, resource_group, name)
            .await
    }

    /// GET a deployment.
    pub async fn get_deployment(
        &self,
        subscription: &str,
        resource_group: &str,
        name: &str,
    ) -> Result<Deployment> {
        self.get_json(
            &deployment_path(subscription, resource_group, name),
            api::DEPLOYMENTS,
        )
        .await
    }

    /// List the deployments of a resource group (all pages).
    pub async fn list_deployments(
        &self,
        subscription: &str,
        resource_group: &str,
    ) -> Result<Vec<Deployment>> {
        let path = format!(
            "/subscriptions/{}/resourcegroups/{}/providers/Microsoft.Resources/deployments/",
            seg(subscription),
            seg(resource_group)
        );
        self.list_all(&path, api::DEPLOYMENTS).await
    }

    /// DELETE a deployment record (its history and operations; the resources it deployed
    /// stay). ARM answers 202 and a `Location` to follow, or 204 when there was none; a running
    /// deployment cannot be deleted.
    pub async fn delete_deployment(
        &self,
        subscription: &str,
        resource_group: &str,
        name: &str,
    ) -> Result<Operation> {
        self.start_delete(
            &deployment_path(subscription, resource_group, name),
            api::DEPLOYMENTS,
            FinalStateVia::Location,
        )
        .await
    }

    /// List a deployment's operations (all pages).
    pub async fn list_deployment_operations(
        &self,
        subscription: &str,
        resource_group: &str,
        name: &str,
    ) -> Result<Vec<DeploymentOperation>> {
        let path = format!(
            "/subscriptions/{}/resourcegroups/{}/deployments/{}/operations",
            seg(subscription),
            seg(resource_group),
            seg(name)
        );
        self.list_all(&path, api::DEPLOYMENTS).await
    }
}
