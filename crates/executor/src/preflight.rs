//! Preflight, before anything is deployed: every resource group, gallery, image definition
//! and identity the selected units need exists (all missing ones listed together); the
//! versions to publish are chosen (version policy, once per run) and do not exist yet;
//! `latest` platform sources are resolved; existing image templates are listed once per
//! resource group so a template with the same content-addressed name is reused.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aib_azure::types::{GalleryImageVersion, ImageTemplate};
use aib_azure::{ArmClient, ResourceGroupId, ResourceId};
use aib_planner::{Plan, ResolvedSource, Unit, VersionPolicy};
use futures::StreamExt;

pub use crate::prerequisites::PreflightError;
use crate::prerequisites::{self, Check, azure_error};
use crate::version::{Allocated, VersionAllocator, definition_id};

/// Most preflight reads in flight.
const CONCURRENCY: usize = 16;

/// What preflight found out.
#[derive(Debug, Default)]
pub struct Preflight {
    /// Resource group → template name lowercase → template.
    pub templates: HashMap<ResourceGroupId, HashMap<String, ImageTemplate>>,
    /// Unit id → the resolved platform image version (for `latest` sources).
    pub platform_versions: HashMap<String, String>,
    /// Unit id → the version it publishes (`None`: AIB chooses).
    pub versions: HashMap<String, Option<String>>,
}

impl Preflight {
    /// An existing template of that name in that resource group.
    pub fn existing_template(&self, template: &ResourceId) -> Option<&ImageTemplate> {
        self.templates
            .get(template.group())
            .and_then(|m| m.get(&template.name().to_ascii_lowercase()))
    }
}

/// What a resumed run needs to know of Azure: the templates that exist, one list per resource
/// group of the units that build. The resources the units need were checked, and their image
/// versions chosen, when the run started (`versions`, unit id → version; `platform_versions`,
/// the `latest` sources it resolved).
pub async fn resumed(
    arm: &ArmClient,
    plan: &Plan,
    platform_versions: HashMap<String, String>,
    versions: HashMap<String, Option<String>>,
) -> Result<Preflight, PreflightError> {
    let units: Vec<&Unit> = plan
        .units()
        .iter()
        .filter(|u| u.action == aib_planner::Action::Build)
        .collect();
    let mut out = Preflight {
        templates: HashMap::new(),
        platform_versions,
        versions,
    };
    list_existing_templates(arm, &units, &mut out).await?;
    Ok(out)
}

/// Runs preflight for the units of `plan` that will build.
pub async fn run(arm: &ArmClient, plan: &Plan) -> Result<Preflight, PreflightError> {
    run_with(arm, plan, &HashMap::new()).await
}

/// [`run`] with platform versions already resolved (unit id → version: resolved at the start
/// of the run, or recorded by the run `--retry-failed` retries); only the others are looked up.
pub async fn run_with(
    arm: &ArmClient,
    plan: &Plan,
    known_platform_versions: &HashMap<String, String>,
) -> Result<Preflight, PreflightError> {
    let units: Vec<_> = plan
        .units()
        .iter()
        .filter(|u| u.action == aib_planner::Action::Build)
        .collect();
    let listed = check_existence(arm, plan, &units).await?;
    let mut out = Preflight::default();
    allocate_versions(listed, &units, &mut out)?;
    resolve_platform_versions(arm, &units, known_platform_versions, &mut out).await?;
    list_existing_templates(arm, &units, &mut out).await?;
    Ok(out)
}

/// An image definition: (subscription, resource group, gallery, definition).
type Definition = (String, String, String, String);

/// The versions of each image definition listed (`None`: the definition does not exist).
type Listed = HashMap<Definition, aib_azure::Result<Option<Vec<GalleryImageVersion>>>>;

/// Step 1: every resource the units need exists (each checked once, all missing ones reported
/// together); the versions of the image definitions a version policy needs are listed.
async fn check_existence(
    arm: &ArmClient,
    plan: &Plan,
    units: &[&Unit],
) -> Result<Listed, PreflightError> {
    // 1a. Existing versions per image definition, for the version policy. A definition that
    // is listed needs no existence check of its own: the list answers 404 when it is missing.
    let mut defs: BTreeSet<(String, String, String, String)> = BTreeSet::new();
    for u in units {
        if u.settings.version != VersionPolicy::Auto {
            let g = &u.settings.gallery;
            defs.insert((
                g.subscription.clone(),
                g.resource_group.clone(),
                g.name.clone(),
                u.settings.image_definition.clone(),
            ));
        }
    }
    let listing = futures::stream::iter(defs.iter().cloned())
        .map(|d| async move {
            let image = ResourceId::gallery_image(&ResourceGroupId::new(&d.0, &d.1), &d.2, &d.3);
            let r = match arm.list_gallery_image_versions(&image).await {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            };
            (d, r)
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<HashMap<_, _>>();
    // 1. Existence, each resource once, with the units that need it.
    let needs = prerequisites::needs(plan.pipeline(), units.iter().copied());
    let listed_def = |c: &Check| match c {
        Check::Definition {
            sub,
            rg,
            gallery,
            name,
        } => Some((sub.clone(), rg.clone(), gallery.clone(), name.clone()))
            .filter(|d| defs.contains(d)),
        _ => None,
    };
    let checking = prerequisites::probe(
        arm,
        needs.keys().filter(|c| listed_def(c).is_none()).cloned(),
    );
    let (listed, mut results) = futures::join!(listing, checking);
    for c in needs.keys() {
        // A failed list is reported with the version policy below.
        if let Some(Ok(v)) = listed_def(c).and_then(|d| listed.get(&d)) {
            results.push((c.clone(), Ok(v.is_some())));
        }
    }
    let missing = prerequisites::missing(&needs, results)?;
    if !missing.is_empty() {
        return Err(PreflightError::Missing(missing));
    }
    Ok(listed)
}

/// Step 2: a concrete version for each unit by its version policy, none that exists already.
fn allocate_versions(
    listed: Listed,
    units: &[&Unit],
    out: &mut Preflight,
) -> Result<(), PreflightError> {
    let mut alloc = VersionAllocator::default();
    for (d, r) in listed {
        let versions = r
            .map_err(|e| azure_error(&format!("listing versions of image definition {}", d.3), e))?
            .unwrap_or_default();
        alloc.add_existing(
            &definition_id(&d.0, &d.1, &d.2, &d.3),
            versions.into_iter().filter_map(|v| v.name),
        );
    }
    let mut exist = Vec::new();
    for u in units {
        let g = &u.settings.gallery;
        let def = definition_id(
            &g.subscription,
            &g.resource_group,
            &g.name,
            &u.settings.image_definition,
        );
        match alloc.allocate(&def, &u.image_version) {
            Allocated::Auto => {
                out.versions.insert(u.id.to_string(), None);
            }
            Allocated::Version(v) => {
                out.versions.insert(u.id.to_string(), Some(v));
            }
            Allocated::Exists(v) => exist.push(format!(
                "{}: version {v} of image definition `{}` (gallery `{}`)",
                u.id, u.settings.image_definition, g.name
            )),
        }
    }
    if !exist.is_empty() {
        return Err(PreflightError::VersionsExist(exist));
    }
    Ok(())
}

/// Step 3: the version of each `latest` platform image, each looked up once (versions known
/// from the start of the run are kept).
async fn resolve_platform_versions(
    arm: &ArmClient,
    units: &[&Unit],
    known_platform_versions: &HashMap<String, String>,
    out: &mut Preflight,
) -> Result<(), PreflightError> {
    // 3. `latest` platform images, each once.
    let mut images: BTreeMap<(String, String, String, String, String), Vec<String>> =
        BTreeMap::new();
    for u in units {
        if let ResolvedSource::Platform {
            publisher,
            offer,
            sku,
            version,
            ..
        } = &u.settings.source
        {
            if let Some(v) = known_platform_versions.get(u.id.as_str()) {
                out.platform_versions.insert(u.id.to_string(), v.clone());
            } else if version.eq_ignore_ascii_case("latest") {
                images
                    .entry((
                        u.settings.subscription.clone(),
                        u.settings.location.clone(),
                        publisher.clone(),
                        offer.clone(),
                        sku.clone(),
                    ))
                    .or_default()
                    .push(u.id.to_string());
            } else {
                out.platform_versions
                    .insert(u.id.to_string(), version.clone());
            }
        }
    }
    let resolved: Vec<_> = futures::stream::iter(images)
        .map(|(k, ids)| async move {
            let r = arm
                .resolve_platform_image_version(&k.0, &k.1, &k.2, &k.3, &k.4, "latest")
                .await;
            (k, ids, r)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (k, ids, r) in resolved {
        let v = r.map_err(|e| {
            azure_error(
                &format!(
                    "resolving the latest version of {}:{}:{} in {}",
                    k.2, k.3, k.4, k.1
                ),
                e,
            )
        })?;
        for id in ids {
            out.platform_versions.insert(id, v.clone());
        }
    }
    Ok(())
}

/// Step 4: the image templates that already exist, one list per resource group, so a template
/// with the same content-addressed name is reused.
async fn list_existing_templates(
    arm: &ArmClient,
    units: &[&Unit],
    out: &mut Preflight,
) -> Result<(), PreflightError> {
    // 4. Templates that already exist, one list per resource group.
    let rgs: BTreeSet<(String, String)> = units
        .iter()
        .map(|u| {
            (
                u.settings.subscription.clone(),
                u.settings.resource_group.clone(),
            )
        })
        .collect();
    let lists: Vec<_> = futures::stream::iter(rgs)
        .map(|(s, rg)| async move {
            let group = ResourceGroupId::new(s, rg);
            let r = arm.list_image_templates(&group).await;
            (group, r)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (group, r) in lists {
        let list =
            r.map_err(|e| azure_error(&format!("listing image templates in {}", group.name()), e))?;
        let map = list
            .into_iter()
            .filter_map(|t| t.name.clone().map(|n| (n.to_ascii_lowercase(), t)))
            .collect();
        out.templates.insert(group, map);
    }
    Ok(())
}
