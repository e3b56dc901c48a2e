//! Incremental builds: which units of a plan have nothing to do.
//!
//! At the start of a run every `latest` platform source is resolved to a concrete version, one
//! platform-versions lookup per `(publisher, offer, sku, location)` shared by every unit using
//! it. A unit's input hash is then finalized with its source version (the resolved platform
//! version, or for `source = { variant }` the version its parent published) and compared with
//! the state's index: a unit whose finalized hash equals its last successful build, and whose
//! image version is still in the gallery (one GET per such unit), is `unchanged`. A unit built
//! from a parent that builds in this run always builds (its parent publishes a new version);
//! the dependents of an unchanged parent use the parent's recorded version.
//!
//! `aib build` and `aib plan --refresh` make the same decision through [`decide`].

use std::collections::{BTreeMap, HashMap};

use aib_azure::ArmClient;
use aib_planner::{Action, Plan, ResolvedSource, Unit};
use aib_state::Index;
use futures::StreamExt;

use aib_render::render::final_input_hash;

/// Most reads in flight.
const CONCURRENCY: usize = 32;

/// Why a decision could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// Azure rejected our credential or configuration (exit 3).
    #[error("{0}")]
    Auth(String),
    /// Azure could not be read (exit 3).
    #[error("{0}")]
    Azure(String),
}

fn azure_error(what: String, e: aib_azure::Error) -> DecideError {
    if e.is_auth_or_config() {
        DecideError::Auth(format!("{what}: {e}"))
    } else {
        DecideError::Azure(format!("{what}: {e}"))
    }
}

/// What the next run does with one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Build or unchanged.
    pub action: Action,
    /// The source version the hash is finalized with, when known before the build (the
    /// resolved platform version, a fixed one, or an unchanged parent's version id).
    pub source_version: Option<String>,
    /// The finalized input hash, when the source version is known (else the preview).
    pub input_hash: String,
    /// For an unchanged unit: the image version id of its last successful build.
    pub image_version_id: Option<String>,
    /// Why (for build: what changed; for unchanged: since which run).
    pub reason: String,
}

/// The decision for every unit of a plan.
#[derive(Debug, Default)]
pub struct Decisions {
    /// Unit id → decision.
    pub units: BTreeMap<String, Decision>,
    /// Unit id → its resolved platform image version (platform sources only).
    pub platform_versions: HashMap<String, String>,
    /// Platform-versions lookups made.
    pub platform_lookups: usize,
    /// Gallery image version GETs made.
    pub gallery_checks: usize,
}

impl Decisions {
    /// Units that build.
    pub fn building(&self) -> usize {
        self.units
            .values()
            .filter(|d| d.action == Action::Build)
            .count()
    }

    /// Units that are unchanged.
    pub fn unchanged(&self) -> usize {
        self.units.len() - self.building()
    }

    /// Sets every unit's action in the plan.
    pub fn apply(&self, plan: &mut Plan) {
        let ids: Vec<_> = plan.units().iter().map(|u| u.id.clone()).collect();
        for id in ids {
            if let Some(d) = self.units.get(id.as_str()) {
                plan.set_action(&id, d.action);
            }
        }
    }

    /// [`Decisions::apply`], and each unit shows the input hash and template name the run
    /// uses (with its `latest` source pinned) instead of the offline preview.
    pub fn apply_resolved(&self, plan: &mut Plan) {
        self.apply(plan);
        let resolved: Vec<_> = plan
            .units()
            .iter()
            .filter_map(|u| {
                let d = self.units.get(u.id.as_str())?;
                let name = aib_render::render::final_template_name(u, d.source_version.as_deref());
                let pinned = d.source_version.is_some();
                Some((u.id.clone(), d.input_hash.clone(), name, pinned))
            })
            .collect();
        for (id, hash, name, pinned) in resolved {
            plan.set_resolved(&id, hash, name, pinned);
        }
    }

    /// Image version ids of unchanged units (unit id → id), for their dependents.
    pub fn unchanged_versions(&self) -> HashMap<String, String> {
        self.units
            .iter()
            .filter(|(_, d)| d.action == Action::Unchanged)
            .filter_map(|(id, d)| Some((id.clone(), d.image_version_id.clone()?)))
            .collect()
    }
}

/// Resolves the platform source of every unit of `plan` (fixed versions as they are; `latest`
/// with one lookup per image and location), except units already in `known` (e.g. the
/// versions a retried run recorded). Returns unit id → version and the number of lookups.
pub async fn resolve_platform_versions(
    arm: &ArmClient,
    plan: &Plan,
    known: &HashMap<String, String>,
) -> Result<(HashMap<String, String>, usize), DecideError> {
    let mut out = HashMap::new();
    // (publisher, offer, sku, location) lowercase → (subscription to ask with, units).
    type Image = (String, String, String, String);
    let mut images: BTreeMap<Image, (String, Vec<String>)> = BTreeMap::new();
    for u in plan.units() {
        let ResolvedSource::Platform {
            publisher,
            offer,
            sku,
            version,
            ..
        } = &u.settings.source
        else {
            continue;
        };
        let id = u.id.to_string();
        if let Some(v) = known.get(&id) {
            out.insert(id, v.clone());
        } else if version.eq_ignore_ascii_case("latest") {
            images
                .entry((
                    publisher.to_ascii_lowercase(),
                    offer.to_ascii_lowercase(),
                    sku.to_ascii_lowercase(),
                    u.settings.location.to_ascii_lowercase(),
                ))
                .or_insert_with(|| (u.settings.subscription.clone(), Vec::new()))
                .1
                .push(id);
        } else {
            out.insert(id, version.clone());
        }
    }
    let lookups = images.len();
    let resolved: Vec<_> = futures::stream::iter(images)
        .map(|(k, (sub, ids))| async move {
            let r = arm
                .resolve_platform_image_version(&sub, &k.3, &k.0, &k.1, &k.2, "latest")
                .await;
            (k, ids, r)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (k, ids, r) in resolved {
        let v = r.map_err(|e| {
            azure_error(
                format!(
                    "resolving the latest version of {}:{}:{} in {}",
                    k.0, k.1, k.2, k.3
                ),
                e,
            )
        })?;
        for id in ids {
            out.insert(id, v.clone());
        }
    }
    Ok((out, lookups))
}

/// The source version a unit's hash is finalized with, if known before it builds.
fn source_version(
    unit: &Unit,
    plan: &Plan,
    platform: &HashMap<String, String>,
    decided: &BTreeMap<String, Decision>,
    index: &Index,
) -> Result<Option<String>, String> {
    match &unit.settings.source {
        ResolvedSource::Platform { .. } => Ok(platform.get(unit.id.as_str()).cloned()),
        ResolvedSource::Variant { unit: parent, .. } => {
            if plan.unit(parent).is_some() {
                match decided.get(parent.as_str()) {
                    Some(d) if d.action == Action::Unchanged => Ok(d.image_version_id.clone()),
                    _ => Err(format!("its parent `{parent}` is rebuilt in this run")),
                }
            } else {
                match index.get(parent.as_str()) {
                    Some(e) => Ok(Some(e.image_version_id.clone())),
                    None => Err(format!(
                        "its parent `{parent}` (not selected) has no successful build in the state"
                    )),
                }
            }
        }
        ResolvedSource::GalleryImage { .. } | ResolvedSource::ManagedImage { .. } => Ok(None),
    }
}

/// Decides, for every unit of `plan`, whether it builds: see the module documentation.
/// `platform` holds the resolved platform versions ([`resolve_platform_versions`]); with
/// `force` every unit builds (the hashes are still finalized).
pub async fn decide(
    arm: &ArmClient,
    plan: &Plan,
    index: &Index,
    platform: &HashMap<String, String>,
    force: bool,
) -> Result<Decisions, DecideError> {
    let mut out = Decisions {
        platform_versions: platform.clone(),
        ..Decisions::default()
    };
    let mut decided = by_hash(plan, index, platform, force);
    let (checks, gone) = versions_gone(arm, &decided).await?;
    out.gallery_checks = checks;
    rebuild_what_is_gone(plan, &mut decided, gone);
    out.units = decided;
    Ok(out)
}

/// Pass 1 (plan order is topological): candidates by hash alone.
fn by_hash(
    plan: &Plan,
    index: &Index,
    platform: &HashMap<String, String>,
    force: bool,
) -> BTreeMap<String, Decision> {
    let mut decided: BTreeMap<String, Decision> = BTreeMap::new();
    for unit in plan.topological() {
        let id = unit.id.to_string();
        let sv = source_version(unit, plan, platform, &decided, index);
        let (source_version, parent_problem) = match sv {
            Ok(v) => (v, None),
            Err(why) => (None, Some(why)),
        };
        let input_hash = final_input_hash(unit, source_version.as_deref());
        let build = |reason: String| Decision {
            action: Action::Build,
            source_version: source_version.clone(),
            input_hash: input_hash.clone(),
            image_version_id: None,
            reason,
        };
        let d = if let Some(why) = parent_problem {
            build(why)
        } else if force {
            build("--force".into())
        } else {
            match index.get(&id) {
                None => build("no successful build recorded".into()),
                Some(e) if e.input_hash != input_hash => {
                    build("inputs changed since the last successful build".into())
                }
                Some(e) => Decision {
                    action: Action::Unchanged,
                    source_version: source_version.clone(),
                    input_hash: input_hash.clone(),
                    image_version_id: Some(e.image_version_id.clone()),
                    reason: format!(
                        "inputs unchanged since run {} (image version {})",
                        e.run_id,
                        short_version(&e.image_version_id)
                    ),
                },
            }
        };
        decided.insert(id, d);
    }
    decided
}

/// Pass 2: each candidate's image version is still in the gallery (one GET each). Returns
/// how many were checked and, for each unit whose version is gone, why.
async fn versions_gone(
    arm: &ArmClient,
    decided: &BTreeMap<String, Decision>,
) -> Result<(usize, HashMap<String, String>), DecideError> {
    let candidates: Vec<(String, String)> = decided
        .iter()
        .filter(|(_, d)| d.action == Action::Unchanged)
        .filter_map(|(id, d)| Some((id.clone(), d.image_version_id.clone()?)))
        .collect();
    let checks = candidates.len();
    let checked: Vec<_> = futures::stream::iter(candidates)
        .map(|(id, version)| async move {
            let r = arm.get_gallery_image_version_by_id(&version, false).await;
            (id, version, r)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut gone: HashMap<String, String> = HashMap::new();
    for (id, version, r) in checked {
        match r {
            Ok(v) => {
                let state = v.properties.provisioning_state.unwrap_or_default();
                if !(state.is_empty() || state.eq_ignore_ascii_case("succeeded")) {
                    gone.insert(
                        id,
                        format!(
                            "image version {} is {state} in the gallery",
                            short_version(&version)
                        ),
                    );
                }
            }
            Err(e) if e.status() == Some(404) => {
                gone.insert(
                    id,
                    format!(
                        "image version {} of its last build is no longer in the gallery",
                        short_version(&version)
                    ),
                );
            }
            Err(e) => {
                return Err(azure_error(format!("checking image version {version}"), e));
            }
        }
    }
    Ok((checks, gone))
}

/// Pass 3: a unit whose version is gone builds, and so does everything built from it.
fn rebuild_what_is_gone(
    plan: &Plan,
    decided: &mut BTreeMap<String, Decision>,
    mut gone: HashMap<String, String>,
) {
    for unit in plan.topological() {
        let id = unit.id.to_string();
        let parent_builds = match &unit.settings.source {
            ResolvedSource::Variant { unit: parent, .. } if plan.unit(parent).is_some() => decided
                .get(parent.as_str())
                .is_some_and(|d| d.action == Action::Build)
                .then(|| parent.to_string()),
            _ => None,
        };
        let Some(d) = decided.get_mut(&id) else {
            continue;
        };
        if d.action != Action::Unchanged {
            continue;
        }
        if let Some(why) = gone.remove(&id) {
            d.action = Action::Build;
            d.image_version_id = None;
            d.reason = why;
        } else if let Some(parent) = parent_builds {
            d.action = Action::Build;
            d.image_version_id = None;
            d.source_version = None;
            d.input_hash = unit.input_hash.preview().to_string();
            d.reason = format!("its parent `{parent}` is rebuilt in this run");
        }
    }
}

/// `.../versions/1.2.3` → `1.2.3`.
fn short_version(id: &str) -> &str {
    id.rsplit_once("/versions/").map_or(id, |(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_version_takes_the_version_segment() {
        assert_eq!(
            short_version(
                "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/galleries/g/images/i/versions/2026.1129.1"
            ),
            "2026.1129.1"
        );
        assert_eq!(short_version("1.0.0"), "1.0.0");
    }
}
