//! Microsoft.Resources/deployments at resource-group scope.

use super::{ArmClient, api, seg};
use crate::error::Result;
use crate::lro::{FinalStateVia, Operation, OperationHandle, PollKind};
use crate::resource_id::{ResourceGroupId, ResourceId};
use crate::types::{Deployment, DeploymentOperation, DeploymentRequest};
use reqwest::Method;

impl ArmClient {
    /// PUT a deployment; wait on the returned [`Operation`] (final result: the deployment).
    pub async fn put_deployment(
        &self,
        deployment: &ResourceId,
        body: &DeploymentRequest,
    ) -> Result<Operation> {
        let url = self.url(&deployment.path(), api::DEPLOYMENTS)?;
        let json = serde_json::to_value(body).map_err(|e| crate::Error::Config(e.to_string()))?;
        let resp = match self.send(Method::PUT, url.clone(), Some(&json)).await {
            Ok(resp) => resp,
            // A retried PUT whose first attempt landed (its answer was lost) meets that
            // deployment still running. aib names deployments after their content, so the
            // running one is ours: follow it instead of failing.
            Err(e) if e.code() == Some("DeploymentActive") => {
                tracing::debug!(
                    deployment = deployment.name(),
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
        deployment: &ResourceId,
        body: &DeploymentRequest,
    ) -> Result<Deployment> {
        let op = self.put_deployment(deployment, body).await?;
        op.wait().await?;
        self.get_deployment(deployment).await
    }

    /// GET a deployment.
    pub async fn get_deployment(&self, deployment: &ResourceId) -> Result<Deployment> {
        self.get_json(&deployment.path(), api::DEPLOYMENTS).await
    }

    /// List the deployments of a resource group (all pages).
    pub async fn list_deployments(&self, group: &ResourceGroupId) -> Result<Vec<Deployment>> {
        let path = format!(
            "{}/providers/Microsoft.Resources/deployments/",
            group.resources_path()
        );
        self.list_all(&path, api::DEPLOYMENTS).await
    }

    /// DELETE a deployment record (its history and operations; the resources it deployed
    /// stay). ARM answers 202 and a `Location` to follow, or 204 when there was none; a running
    /// deployment cannot be deleted.
    pub async fn delete_deployment(&self, deployment: &ResourceId) -> Result<Operation> {
        self.start_delete(
            &deployment.path(),
            api::DEPLOYMENTS,
            FinalStateVia::Location,
        )
        .await
    }

    /// List a deployment's operations (all pages).
    pub async fn list_deployment_operations(
        &self,
        deployment: &ResourceId,
    ) -> Result<Vec<DeploymentOperation>> {
        // Under the group, not under the provider, as the Resources API has it.
        let path = format!(
            "{}/deployments/{}/operations",
            deployment.group().resources_path(),
            seg(deployment.name())
        );
        self.list_all(&path, api::DEPLOYMENTS).await
    }
}
