//! `verify`: runOutputs → artifactId; the gallery image version is Succeeded and replicated to
//! every target region. Also the reconciliation of a build that "failed" by timeout while its
//! version was published and replicated.

use std::time::Duration;

use aib_azure::types::GalleryImageVersion;
use aib_planner::Unit;
use aib_state::{Failure, StageStatus};

use super::{RunShared, UnitNames, short};
use crate::events::{BuildEvent, Stage};
use aib_render::render::builtin::gallery_image_id;

/// Longest wait for replication to finish (Azure time).
pub const REPLICATION_WAIT: Duration = Duration::from_secs(60 * 60);
/// Interval between replication checks (Azure time).
pub const REPLICATION_POLL: Duration = Duration::from_secs(60);

fn regions(unit: &Unit) -> Vec<String> {
    if unit.settings.replicate_to.is_empty() {
        vec![unit.settings.location.clone()]
    } else {
        unit.settings.replicate_to.clone()
    }
}

/// Verifies; `Ok` is the published image version id (also the message of the stage's
/// success, which the run record keeps as the unit's version from then on).
pub async fn verify(shared: &RunShared, unit: &Unit, names: &UnitNames) -> Result<String, Failure> {
    let id = &names.id;
    shared.stage_started(id, Stage::Verify);
    let r = verify_inner(shared, unit, names).await;
    match &r {
        Ok(v) => shared.stage_finished(id, Stage::Verify, StageStatus::Succeeded, Some(v.clone())),
        Err(f) => shared.stage_finished(
            id,
            Stage::Verify,
            StageStatus::Failed,
            Some(short(&f.message)),
        ),
    }
    r
}

async fn verify_inner(
    shared: &RunShared,
    unit: &Unit,
    names: &UnitNames,
) -> Result<String, Failure> {
    let fail = |message: String| Failure::new(Stage::Verify, message);
    let outputs = shared
        .arm
        .list_run_outputs(&names.template_id())
        .await
        .map_err(|e| {
            fail(format!(
                "cannot read the run outputs of {}: {e}",
                names.template_name
            ))
        })?;
    let artifact = outputs
        .iter()
        .find(|o| {
            o.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&names.template_name))
        })
        .or_else(|| outputs.iter().find(|o| o.properties.artifact_id.is_some()))
        .and_then(|o| o.properties.artifact_id.clone());
    let artifact = match artifact {
        Some(a) => a,
        None => match &names.image_version {
            Some(v) => format!("{}/versions/{v}", gallery_image_id(unit, None)),
            None => {
                return Err(fail(format!(
                    "the build of {} succeeded but reported no image version (runOutputs has no artifactId)",
                    names.template_name
                )));
            }
        },
    };
    let wanted = regions(unit);
    let deadline = tokio::time::Instant::now() + shared.azure_time(REPLICATION_WAIT);
    loop {
        let v = shared
            .arm
            .get_gallery_image_version_by_id(&artifact, true)
            .await
            .map_err(|e| fail(format!("cannot read image version {artifact}: {e}")))?;
        match check(&v, &wanted) {
            Check::Ok => return Ok(v.id.clone().unwrap_or(artifact)),
            Check::Failed(m) => return Err(fail(format!("image version {artifact}: {m}"))),
            Check::Pending(m) => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(fail(format!(
                        "image version {artifact}: {m} after waiting {} minutes",
                        REPLICATION_WAIT.as_secs() / 60
                    )));
                }
                shared.emit(BuildEvent::BuildProgress {
                    unit: names.id.clone(),
                    run_state: "Verifying".into(),
                    sub_state: Some(m),
                });
                tokio::select! {
                    _ = tokio::time::sleep(shared.azure_time(REPLICATION_POLL)) => {}
                    _ = shared.interrupt.cancelled() => return Err(fail("interrupted while waiting for replication".into())),
                }
            }
        }
    }
}

enum Check {
    Ok,
    Pending(String),
    Failed(String),
}

fn check(v: &GalleryImageVersion, wanted: &[String]) -> Check {
    let state = v.properties.provisioning_state.clone().unwrap_or_default();
    match aib_azure::lro::parse_status(&state) {
        aib_azure::OperationState::Failed | aib_azure::OperationState::Canceled => {
            return Check::Failed(format!("provisioningState {state}"));
        }
        aib_azure::OperationState::Running => {
            return Check::Pending(format!("provisioningState {state}"));
        }
        aib_azure::OperationState::Succeeded => {}
    }
    let missing = v.regions_not_replicated(wanted);
    if missing.is_empty() {
        return Check::Ok;
    }
    let failed: Vec<String> = v
        .properties
        .replication_status
        .as_ref()
        .map(|r| {
            r.summary
                .iter()
                .filter(|s| {
                    s.state
                        .as_deref()
                        .is_some_and(|x| x.eq_ignore_ascii_case("failed"))
                })
                .map(|s| format!("{} ({})", s.region, s.details.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    if !failed.is_empty() {
        return Check::Failed(format!("replication failed in {}", failed.join(", ")));
    }
    Check::Pending(format!("not yet replicated to {}", missing.join(", ")))
}

/// Whether a failed build's message is one that can hide a successful publish.
fn may_have_published(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("deadline")
        || m.contains("timeout")
        || m.contains("timed out")
        || m.contains("distribut")
}

/// For a build that failed by timeout: the version id when it is nevertheless published,
/// Succeeded and replicated everywhere. A version that exists but is still replicating (AIB
/// gave up while distributing) is waited for as `verify` waits, up to [`REPLICATION_WAIT`].
pub async fn reconcile(
    shared: &RunShared,
    unit: &Unit,
    names: &UnitNames,
    message: &str,
) -> Option<String> {
    if !may_have_published(message) {
        return None;
    }
    let v = names.image_version.as_ref()?;
    let id = format!("{}/versions/{v}", gallery_image_id(unit, None));
    let wanted = regions(unit);
    let deadline = tokio::time::Instant::now() + shared.azure_time(REPLICATION_WAIT);
    loop {
        let got = shared
            .arm
            .get_gallery_image_version_by_id(&id, true)
            .await
            .ok()?;
        match check(&got, &wanted) {
            Check::Ok => return Some(got.id.unwrap_or(id)),
            Check::Failed(_) => return None,
            Check::Pending(m) => {
                if tokio::time::Instant::now() >= deadline {
                    return None;
                }
                shared.emit(BuildEvent::BuildProgress {
                    unit: names.id.clone(),
                    run_state: "Verifying".into(),
                    sub_state: Some(m),
                });
                tokio::select! {
                    _ = tokio::time::sleep(shared.azure_time(REPLICATION_POLL)) => {}
                    _ = shared.interrupt.cancelled() => return None,
                }
            }
        }
    }
}
