//! `deploy`: PUT the rendered ARM deployment (named from the template name) and wait for it.

use std::time::Duration;

use aib_azure::types::DeploymentRequest;
use aib_state::{Failure, StageStatus};

use super::{RunShared, UnitNames, UnitOutcome, short};
use crate::events::Stage;
use crate::render::RenderedDeployment;

/// Longest a deployment may take (Azure time).
pub const DEPLOY_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Deploys; `Err` is the unit's final outcome.
pub async fn deploy(
    shared: &RunShared,
    names: &UnitNames,
    rendered: &RenderedDeployment,
) -> Result<(), UnitOutcome> {
    let id = &names.id;
    shared.stage_started(id, Stage::Deploy);
    let params = rendered
        .parameters
        .get("parameters")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    let body = DeploymentRequest::incremental(rendered.template.clone(), params);
    let fail = |message: String| {
        shared.stage_finished(
            id,
            Stage::Deploy,
            StageStatus::Failed,
            Some(short(&message)),
        );
        UnitOutcome::failed(Failure {
            stage: Stage::Deploy.as_str().into(),
            message,
            customizer: None,
            log_excerpt: None,
            log_path: None,
        })
    };
    let put = shared.arm.put_deployment(
        &names.subscription,
        &names.resource_group,
        &names.deployment_name,
        &body,
    );
    let op = tokio::select! {
        r = put => r,
        _ = shared.interrupt.cancelled() => {
            shared.stage_finished(id, Stage::Deploy, StageStatus::Cancelled, None);
            return Err(UnitOutcome::cancelled("interrupted during deploy"));
        }
    };
    let op = match op {
        Ok(op) => op,
        Err(e) => {
            return Err(fail(format!(
                "deployment {} was rejected: {e}",
                names.deployment_name
            )));
        }
    };
    // Only success matters (a failure's error is in the status body), not the deployment.
    let wait = op
        .status_only()
        .wait_timeout(shared.azure_time(DEPLOY_TIMEOUT));
    let r = tokio::select! {
        r = wait => r,
        _ = shared.interrupt.cancelled() => {
            shared.stage_finished(id, Stage::Deploy, StageStatus::Cancelled, None);
            return Err(UnitOutcome::cancelled("interrupted during deploy"));
        }
    };
    match r {
        Ok(_) => {
            shared.stage_finished(id, Stage::Deploy, StageStatus::Succeeded, None);
            Ok(())
        }
        Err(e) => Err(fail(format!(
            "deployment {} failed: {e}",
            names.deployment_name
        ))),
    }
}
