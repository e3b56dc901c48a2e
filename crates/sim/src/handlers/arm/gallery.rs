//! Compute Gallery: galleries, image definitions and image versions (api 2025-03-03 shapes).
//!
//! Versions are created by successful builds from `SharedImage` distribute entries: a
//! `galleryImageId` ending in `/versions/X.Y.Z` creates exactly that version (an existing one
//! fails the run with a conflict); otherwise the version is the next patch above the highest
//! existing one (`1.0.0` for an empty definition). Replication to every target region
//! completes `replicate_minutes` after the build ends. A deleted version reads `Deleting` for
//! `delete_minutes`, then is gone.

use super::operations;
use super::{parse_version, region_display, region_name};
use crate::context::Ctx;
use crate::model::ArmErr;
use crate::model::gallery::{GalleryVersion, image_def_id};
use crate::model::operation::OpKind;
use crate::model::resource_path::ResourcePath;
use crate::response::{json, not_found, rg_not_found};
use crate::state::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

impl GalleryVersion {
    fn to_json(&self, ctx: &Ctx, now: f64, expand: bool) -> Value {
        let rm = self
            .replicate_minutes
            .unwrap_or(ctx.scenario.replicate_minutes);
        let progress = if rm <= 0.0 {
            100
        } else {
            (((now - self.created) / rm).clamp(0.0, 1.0) * 100.0).floor() as u64
        };
        let done = progress >= 100;
        let regions: Vec<Value> = self
            .regions
            .iter()
            .map(|(r, n, sat)| {
                json!({"name": region_display(r), "regionalReplicaCount": n, "storageAccountType": sat, "excludeFromLatest": self.exclude_from_latest})
            })
            .collect();
        let sat = self
            .regions
            .first()
            .map(|r| r.2.clone())
            .unwrap_or_else(|| "Standard_LRS".into());
        let mut props = json!({
            "publishingProfile": {
                "targetRegions": regions,
                "replicaCount": 1,
                "excludeFromLatest": self.exclude_from_latest,
                "publishedDate": ctx.clock.stamp(self.created),
                "storageAccountType": sat,
            },
            "storageProfile": {
                "source": {"id": self.source_id},
                "osDiskImage": {"sizeInGB": self.os_disk_gb, "hostCaching": "ReadWrite"},
                "dataDiskImages": [],
            },
            "safetyProfile": {
                "allowDeletionOfReplicatedLocations": false,
                "reportedForPolicyViolation": false,
                "policyViolations": [],
                "blockDeletionBeforeEndOfLife": false,
            },
            "provisioningState": if self.deleting_at.is_some() { "Deleting" } else if done { "Succeeded" } else { "Creating" },
        });
        if expand {
            let summary: Vec<Value> = self
                .regions
                .iter()
                .map(|(r, _, _)| {
                    json!({"region": region_display(r), "state": if done { "Completed" } else { "Replicating" }, "details": "", "progress": progress})
                })
                .collect();
            props["replicationStatus"] = json!({
                "aggregatedState": if done { "Completed" } else { "InProgress" },
                "summary": summary,
            });
        }
        json!({
            "id": self.id(),
            "name": self.name,
            "type": "Microsoft.Compute/galleries/images/versions",
            "location": region_display(&self.location),
            "tags": self.tags,
            "properties": props,
        })
    }
}

/// A parsed `.../galleries/{g}/images/{i}[/versions/{v}]` id.
#[derive(Debug, Clone)]
pub struct GalleryImageRef {
    pub sub: String,
    pub rg: String,
    pub gallery: String,
    pub image: String,
    pub version: Option<String>,
}

pub fn parse_gallery_image_id(id: &str) -> Option<GalleryImageRef> {
    let p = ResourcePath::parse_id(id)?;
    if p.namespace().as_deref() != Some("microsoft.compute") || !p.ends_named() {
        return None;
    }
    let kinds = p.kinds();
    let version = match kinds
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["galleries", "images"] => None,
        ["galleries", "images", "versions" | "imageversions"] => Some(p.name(2)),
        _ => return None,
    };
    Some(GalleryImageRef {
        rg: p.rg.clone()?,
        gallery: p.name(0),
        image: p.name(1),
        version,
        sub: p.sub,
    })
}

/// Whether any of the ids on the path to this image definition is missing.
fn missing_error(ctx: &Ctx, r: &GalleryImageRef) -> Option<ArmErr> {
    let rg_id = format!("/subscriptions/{}/resourceGroups/{}", r.sub, r.rg);
    if ctx.is_missing(&rg_id) {
        return Some(ArmErr::new(
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
            format!("Resource group '{}' could not be found.", r.rg),
        ));
    }
    let gid = format!(
        "{rg_id}/providers/Microsoft.Compute/galleries/{}",
        r.gallery
    );
    if ctx.is_missing(&gid) {
        return Some(ArmErr::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource 'Microsoft.Compute/galleries/{}' under resource group '{}' was not found.",
                r.gallery, r.rg
            ),
        ));
    }
    let iid = image_def_id(&r.sub, &r.rg, &r.gallery, &r.image);
    if ctx.is_missing(&iid) {
        return Some(ArmErr::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource 'Microsoft.Compute/galleries/{}/images/{}' under resource group '{}' was not found.",
                r.gallery, r.image, r.rg
            ),
        ));
    }
    None
}

/// Inputs for a new version from a distribute entry.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub gallery_image_id: String,
    pub regions: Vec<(String, u64, String)>,
    pub exclude_from_latest: bool,
    pub source_id: String,
    pub os_disk_gb: u64,
    pub tags: Value,
    pub location: String,
    /// Replication time in simulated minutes when not the scenario's `replicate_minutes`.
    pub replicate_minutes: Option<f64>,
}

/// Create a version; returns its id.
pub fn create_version(
    ctx: &Ctx,
    st: &mut State,
    now: f64,
    nv: NewVersion,
) -> Result<String, ArmErr> {
    let Some(r) = parse_gallery_image_id(&nv.gallery_image_id) else {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            format!(
                "The galleryImageId '{}' is not a valid gallery image id.",
                nv.gallery_image_id
            ),
        ));
    };
    if let Some(e) = missing_error(ctx, &r) {
        return Err(e);
    }
    let key = image_def_id(&r.sub, &r.rg, &r.gallery, &r.image).to_ascii_lowercase();
    let list = st.versions.entry(key).or_default();
    let name = match &r.version {
        Some(v) => {
            if list.iter().any(|x| x.name == *v) {
                return Err(ArmErr::conflict(
                    "Conflict",
                    format!(
                        "Gallery image version '{v}' already exists in gallery image '{}' of gallery '{}'. Gallery image versions cannot be overwritten; choose a new version.",
                        r.image, r.gallery
                    ),
                ));
            }
            v.clone()
        }
        None => {
            let highest = list.iter().filter_map(|x| parse_version(&x.name)).max();
            match highest {
                Some(mut v) => {
                    while v.len() < 3 {
                        v.push(0);
                    }
                    if let Some(last) = v.last_mut() {
                        *last += 1;
                    }
                    v.iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(".")
                }
                None => "1.0.0".to_string(),
            }
        }
    };
    let gv = GalleryVersion {
        sub: r.sub,
        rg: r.rg,
        gallery: r.gallery,
        image: r.image,
        name,
        location: nv.location,
        regions: nv.regions,
        exclude_from_latest: nv.exclude_from_latest,
        created: now,
        replicate_minutes: nv.replicate_minutes,
        source_id: nv.source_id,
        os_disk_gb: nv.os_disk_gb,
        tags: nv.tags,
        deleting_at: None,
    };
    let id = gv.id();
    list.push(gv);
    Ok(id)
}

/// `GET .../galleries/{g}`
pub fn get_gallery(ctx: &Ctx, sub: &str, rg: &str, gallery: &str) -> Response {
    let r = GalleryImageRef {
        sub: sub.into(),
        rg: rg.into(),
        gallery: gallery.into(),
        image: String::new(),
        version: None,
    };
    let rg_id = format!("/subscriptions/{sub}/resourceGroups/{rg}");
    if ctx.is_missing(&rg_id) {
        return rg_not_found(rg);
    }
    let gid = format!("{rg_id}/providers/Microsoft.Compute/galleries/{gallery}");
    if ctx.is_missing(&gid) {
        return not_found("Microsoft.Compute/galleries", gallery, rg);
    }
    let _ = r;
    json(
        StatusCode::OK,
        &json!({
            "id": gid,
            "name": gallery,
            "type": "Microsoft.Compute/galleries",
            "location": ctx.scenario.default_location,
            "tags": {},
            "properties": {
                "description": "",
                "identifier": {"uniqueName": format!("{}-{}", super::stable_guid(&gid.to_ascii_lowercase()), gallery.to_ascii_uppercase())},
                "provisioningState": "Succeeded",
            }
        }),
    )
}

/// `GET .../galleries/{g}/images/{i}`
pub fn get_image(ctx: &Ctx, sub: &str, rg: &str, gallery: &str, image: &str) -> Response {
    let r = GalleryImageRef {
        sub: sub.into(),
        rg: rg.into(),
        gallery: gallery.into(),
        image: image.into(),
        version: None,
    };
    if let Some(e) = missing_error(ctx, &r) {
        return e.into_response();
    }
    let lower = image.to_ascii_lowercase();
    let os = if lower.contains("win") || lower.contains("avd") {
        "Windows"
    } else {
        "Linux"
    };
    json(
        StatusCode::OK,
        &json!({
            "id": image_def_id(sub, rg, gallery, image),
            "name": image,
            "type": "Microsoft.Compute/galleries/images",
            "location": ctx.scenario.default_location,
            "tags": {},
            "properties": {
                "osType": os,
                "osState": "Generalized",
                "hyperVGeneration": "V2",
                "identifier": {"publisher": "aib-sim", "offer": gallery, "sku": image},
                "provisioningState": "Succeeded",
            }
        }),
    )
}

/// `GET .../images/{i}/versions`
pub fn list_versions(
    ctx: &Ctx,
    st: &State,
    sub: &str,
    rg: &str,
    gallery: &str,
    image: &str,
) -> Result<Vec<Value>, Response> {
    let key = definition_key(ctx, sub, rg, gallery, image)?;
    let now = ctx.clock.now();
    let value: Vec<Value> = st
        .versions
        .get(&key)
        .map(|l| l.iter().map(|v| v.to_json(ctx, now, false)).collect())
        .unwrap_or_default();
    Ok(value)
}

/// `GET .../images/{i}/versions/{v}[?$expand=ReplicationStatus]`
pub fn get_version(
    ctx: &Ctx,
    st: &State,
    sub: &str,
    rg: &str,
    gallery: &str,
    image: &str,
    version: &str,
    expand: bool,
) -> Response {
    let key = match definition_key(ctx, sub, rg, gallery, image) {
        Ok(k) => k,
        Err(e) => return e,
    };
    let now = ctx.clock.now();
    match st
        .versions
        .get(&key)
        .and_then(|l| l.iter().find(|v| v.name == version))
    {
        Some(v) => json(StatusCode::OK, &v.to_json(ctx, now, expand)),
        None => not_found(
            "Microsoft.Compute/galleries/images/versions",
            &format!("{gallery}/{image}/{version}"),
            rg,
        ),
    }
}

/// The state key of an image definition that exists (its gallery and resource group too), or
/// the 404 ARM answers for the first missing parent.
fn definition_key(
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    gallery: &str,
    image: &str,
) -> Result<String, Response> {
    let r = GalleryImageRef {
        sub: sub.into(),
        rg: rg.into(),
        gallery: gallery.into(),
        image: image.into(),
        version: None,
    };
    match missing_error(ctx, &r) {
        Some(e) => Err(e.into_response()),
        None => Ok(image_def_id(sub, rg, gallery, image).to_ascii_lowercase()),
    }
}

/// `DELETE .../images/{i}/versions/{v}`: 202 with `Azure-AsyncOperation` and `Location`
/// (Compute's `capsOperations`); the version reads `Deleting` until `delete_minutes` later.
/// 204 when there is no such version. Repeating the DELETE follows the same deletion.
#[allow(clippy::too_many_arguments)]
pub fn delete_version(
    ctx: &Ctx,
    st: &mut State,
    sub: &str,
    rg: &str,
    gallery: &str,
    image: &str,
    version: &str,
    api_version: &str,
) -> Response {
    let key = match definition_key(ctx, sub, rg, gallery, image) {
        Ok(k) => k,
        Err(e) => return e,
    };
    let now = ctx.clock.now();
    let Some(v) = st
        .versions
        .get_mut(&key)
        .and_then(|l| l.iter_mut().find(|v| v.name == version))
    else {
        return crate::response::empty(StatusCode::NO_CONTENT);
    };
    let start = *v.deleting_at.get_or_insert(now);
    let (id, location) = (v.id().to_ascii_lowercase(), v.location.clone());
    let existing = st
        .operations
        .values()
        .find(|o| o.kind == OpKind::GalleryVersionDelete && o.template_key == id)
        .map(|o| o.id.clone());
    let op = match existing {
        Some(op) => op,
        None => operations::new_op(
            st,
            sub,
            &location,
            OpKind::GalleryVersionDelete,
            &id,
            start,
            Some(start + ctx.scenario.delete_minutes),
        ),
    };
    let mut resp = crate::response::empty(StatusCode::ACCEPTED);
    operations::add_delete_headers(ctx, st, &mut resp, &op, api_version);
    resp
}

/// Remove versions whose deletion has finished.
pub fn tick(ctx: &Ctx, st: &mut State, now: f64) {
    for list in st.versions.values_mut() {
        list.retain(|v| {
            v.deleting_at
                .is_none_or(|d| now < d + ctx.scenario.delete_minutes)
        });
    }
}

/// Target regions of a SharedImage distribute entry.
pub fn target_regions(entry: &Value, default_location: &str) -> Vec<(String, u64, String)> {
    let default_sat = entry
        .get("storageAccountType")
        .and_then(Value::as_str)
        .unwrap_or("Standard_LRS")
        .to_string();
    if let Some(tr) = entry
        .get("targetRegions")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        return tr
            .iter()
            .filter_map(|r| {
                let name = r.get("name").and_then(Value::as_str)?;
                let n = r
                    .get("replicaCount")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .max(1);
                let sat = r
                    .get("storageAccountType")
                    .and_then(Value::as_str)
                    .unwrap_or(&default_sat)
                    .to_string();
                Some((region_name(name), n, sat))
            })
            .collect();
    }
    if let Some(rr) = entry
        .get("replicationRegions")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        return rr
            .iter()
            .filter_map(Value::as_str)
            .map(|r| (region_name(r), 1, default_sat.clone()))
            .collect();
    }
    vec![(region_name(default_location), 1, default_sat)]
}

/// The exact version id for a source `imageVersionId`: a `.../versions/latest` id becomes the
/// highest version not excluded from latest (`1.0.0` when the simulator knows none, since
/// versions made outside the simulator exist by default); other ids are returned unchanged.
pub fn resolve_latest(st: &State, id: &str) -> String {
    let Some(r) = parse_gallery_image_id(id) else {
        return id.to_string();
    };
    match r.version.as_deref() {
        Some(v) if v.eq_ignore_ascii_case("latest") => {
            let key = image_def_id(&r.sub, &r.rg, &r.gallery, &r.image).to_ascii_lowercase();
            let best = st
                .versions
                .get(&key)
                .and_then(|l| {
                    l.iter()
                        .filter(|v| !v.exclude_from_latest && v.deleting_at.is_none())
                        .filter_map(|v| parse_version(&v.name).map(|p| (p, v.name.clone())))
                        .max()
                })
                .map(|(_, n)| n)
                .unwrap_or_else(|| "1.0.0".to_string());
            format!(
                "{}/versions/{best}",
                image_def_id(&r.sub, &r.rg, &r.gallery, &r.image)
            )
        }
        _ => id.to_string(),
    }
}
