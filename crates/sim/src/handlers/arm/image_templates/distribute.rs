//! Publishing a finished build to its distribute targets: gallery versions, managed images,
//! VHDs; and the run outputs that name them.

use crate::context::Ctx;
use crate::handlers::arm::gallery::{self, NewVersion};
use crate::model::ArmErr;
use crate::model::image_template::{ImageTemplate, TYPE};
use crate::state::State;
use serde_json::{Value, json};

/// Create the run's distribution targets (gallery versions for `SharedImage`) as of `end`;
/// returns the run outputs and the first distribution error. `replicate` overrides the
/// scenario's replication time of the new versions.
pub(super) fn distribute(
    ctx: &Ctx,
    st: &mut State,
    t: &ImageTemplate,
    end: f64,
    replicate: Option<f64>,
) -> (Vec<Value>, Option<ArmErr>) {
    let mut outputs = Vec::new();
    let mut error: Option<ArmErr> = None;
    let dists = t
        .properties
        .get("distribute")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for d in &dists {
        let ron = d
            .get("runOutputName")
            .and_then(Value::as_str)
            .unwrap_or("output")
            .to_string();
        let dt = d
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let (artifact_id, artifact_uri) = match dt.as_str() {
            "sharedimage" => {
                let nv = NewVersion {
                    gallery_image_id: d
                        .get("galleryImageId")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    regions: gallery::target_regions(d, &t.location),
                    exclude_from_latest: d
                        .get("excludeFromLatest")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    source_id: format!(
                        "{}/providers/Microsoft.Compute/images/IntermediateImage-{}",
                        t.staging_rg_id(),
                        ron
                    ),
                    os_disk_gb: t
                        .properties
                        .pointer("/vmProfile/osDiskSizeGB")
                        .and_then(Value::as_u64)
                        .filter(|n| *n > 0)
                        .unwrap_or(127),
                    tags: d.get("artifactTags").cloned().unwrap_or_else(|| json!({})),
                    location: t.location.clone(),
                    replicate_minutes: replicate,
                };
                match gallery::create_version(ctx, st, end, nv) {
                    Ok(id) => (Some(id), None),
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            "managedimage" => (
                d.get("imageId").and_then(Value::as_str).map(str::to_string),
                None,
            ),
            _ => {
                let uri = d
                    .get("uri")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        format!("{}vhds/{}-{}.vhd", t.blob_endpoint(ctx), t.name, ron)
                    });
                (None, Some(uri))
            }
        };
        let mut props = json!({"provisioningState": "Succeeded"});
        if let Some(a) = artifact_id {
            props["artifactId"] = json!(a);
        }
        if let Some(u) = artifact_uri {
            props["artifactUri"] = json!(u);
        }
        outputs.push(json!({
            "id": format!("{}/runOutputs/{}", t.id(), ron),
            "name": ron,
            "type": format!("{TYPE}/runOutputs"),
            "properties": props,
        }));
    }
    (outputs, error)
}
