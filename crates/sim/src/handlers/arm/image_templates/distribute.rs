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
        let artifact = match dt.as_str() {
            "sharedimage" => {
                let nv = new_version(t, d, &ron, replicate);
                match gallery::create_version(ctx, st, end, nv) {
                    Ok(id) => Artifact::Id(Some(id)),
                    Err(e) => return (outputs, Some(e)),
                }
            }
            "managedimage" => {
                Artifact::Id(d.get("imageId").and_then(Value::as_str).map(str::to_string))
            }
            _ => Artifact::Uri(
                d.get("uri")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        format!("{}vhds/{}-{}.vhd", t.blob_endpoint(ctx), t.name, ron)
                    }),
            ),
        };
        outputs.push(run_output(t, &ron, artifact));
    }
    (outputs, None)
}

/// What a distribute target made, as its run output names it.
enum Artifact {
    /// `artifactId`: a gallery version or managed image (a managed image target may name
    /// none).
    Id(Option<String>),
    /// `artifactUri`: a VHD.
    Uri(String),
}

/// The gallery version a `SharedImage` target `d` (run output `ron`) of `t` publishes.
fn new_version(t: &ImageTemplate, d: &Value, ron: &str, replicate: Option<f64>) -> NewVersion {
    NewVersion {
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
    }
}

/// The run output `ron` of `t`, succeeded, naming what it made.
fn run_output(t: &ImageTemplate, ron: &str, artifact: Artifact) -> Value {
    let mut props = json!({"provisioningState": "Succeeded"});
    match artifact {
        Artifact::Id(Some(a)) => props["artifactId"] = json!(a),
        Artifact::Id(None) => {}
        Artifact::Uri(u) => props["artifactUri"] = json!(u),
    }
    json!({
        "id": format!("{}/runOutputs/{}", t.id(), ron),
        "name": ron,
        "type": format!("{TYPE}/runOutputs"),
        "properties": props,
    })
}
