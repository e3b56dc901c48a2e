//! `cleanup`: delete the image template (and with it the staging resource group) per the
//! `cleanup` policy. A failed cleanup is reported but does not fail the unit.

use std::time::Duration;

use aib_state::StageStatus;

use super::{RunShared, UnitNames, short};
use crate::events::{Level, Stage};

/// Longest wait for a deletion (Azure time).
pub const DELETE_WAIT: Duration = Duration::from_secs(15 * 60);

/// Deletes the unit's template and waits (bounded) for it to be gone.
pub async fn cleanup(shared: &RunShared, names: &UnitNames) {
    let id = &names.id;
    shared.stage_started(id, Stage::Cleanup);
    let r = async {
        let op = shared
            .arm
            .delete_image_template(
                &names.subscription,
                &names.resource_group,
                &names.template_name,
            )
            .await?;
        op.wait_timeout(shared.azure_time(DELETE_WAIT)).await
    }
    .await;
    match r {
        Ok(_) => shared.stage_finished(id, Stage::Cleanup, StageStatus::Succeeded, None),
        Err(e) if e.is_not_found() => shared.stage_finished(
            id,
            Stage::Cleanup,
            StageStatus::Succeeded,
            Some("already gone".into()),
        ),
        Err(e) => {
            let m = format!(
                "could not delete image template {}: {e}",
                names.template_name
            );
            shared.stage_finished(id, Stage::Cleanup, StageStatus::Failed, Some(short(&m)));
            shared.message(id, Level::Warn, m);
        }
    }
}
