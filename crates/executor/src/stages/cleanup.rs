//! `cleanup`: delete the image template (and with it the staging resource group) per the
//! `cleanup` policy. A failed cleanup is reported but does not fail the unit.

use std::sync::Arc;
use std::time::Duration;

use aib_state::StageStatus;

use super::{RunShared, UnitNames, short};
use crate::events::{Level, Stage};

/// Longest wait for a deletion (Azure time).
pub const DELETE_WAIT: Duration = Duration::from_secs(15 * 60);

/// Deletes the unit's template and waits (bounded) for it to be gone.
///
/// The deletion is followed through the resource group's shared template list (the one the
/// build stage reads) rather than by polling its own operation: the template leaving the list
/// is the end of the deletion, and a fleet's cleanups then cost no reads of their own.
pub async fn cleanup(shared: &Arc<RunShared>, names: &UnitNames) {
    let id = &names.id;
    shared.stage_started(id, Stage::Cleanup);
    match remove(shared, names).await {
        Ok(true) => shared.stage_finished(id, Stage::Cleanup, StageStatus::Succeeded, None),
        Ok(false) => {
            let m = format!(
                "image template {} was still being deleted after {} minutes (Azure keeps deleting it)",
                names.template_name,
                DELETE_WAIT.as_secs() / 60
            );
            shared.stage_finished(id, Stage::Cleanup, StageStatus::Failed, Some(short(&m)));
            shared.message(id, Level::Warn, m);
        }
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

/// Deletes the unit's template; `Ok(false)` when it was still being deleted after
/// [`DELETE_WAIT`].
pub(crate) async fn remove(
    shared: &Arc<RunShared>,
    names: &UnitNames,
) -> Result<bool, aib_azure::Error> {
    // AIB refuses (409) to delete a template while a build of it runs or cancels: ask again
    // until that ends, within the deletion's bound.
    let deadline = tokio::time::Instant::now() + shared.azure_time(DELETE_WAIT);
    let op = loop {
        let r = shared.arm.delete_image_template(&names.template_id()).await;
        match r {
            Err(e) if e.status() == Some(409) => {
                let pause = shared.azure_time(Duration::from_secs(30));
                if tokio::time::Instant::now() + pause > deadline {
                    return Err(e);
                }
                tokio::time::sleep(pause).await;
            }
            r => break r?,
        }
    };
    if op.handle().is_none() {
        return Ok(true); // 200/204: deleted (or already gone)
    }
    Ok(wait_gone(shared, names).await)
}

/// Whether the template left its resource group's list within [`DELETE_WAIT`]. A failed
/// deletion shows as the template staying (provisioningState `Failed`/`Deleting`), which is
/// reported when the wait ends; list failures are waited out the same way.
pub(crate) async fn wait_gone(shared: &Arc<RunShared>, names: &UnitNames) -> bool {
    let mut rx = shared.watchers.subscribe(&names.group(), None);
    let key = names.template_name.to_ascii_lowercase();
    let deadline = tokio::time::Instant::now() + shared.azure_time(DELETE_WAIT);
    loop {
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { return false },
            _ = tokio::time::sleep_until(deadline) => return false,
        }
        let snap = rx.borrow_and_update().clone();
        if snap.error.is_none() && !snap.templates.contains_key(&key) {
            return true;
        }
    }
}
