//! `aib gc`: retention. What aib left in Azure that nothing needs any more:
//!
//! - **imageTemplates** tagged `aib.pipeline = <pipeline>` in the resource groups the manifest's
//!   units deploy to, unless a recorded run that is still running (or was interrupted) has the
//!   unit unfinished, or Azure shows the template building or being created;
//! - **staging resource groups** AIB left behind (`IT_*`, tagged `createdBy =
//!   AzureVMImageBuilder`) whose template, one of this pipeline's by its name and resource
//!   group, no longer exists;
//! - **deployment records** aib made (named after one of this pipeline's templates, in a
//!   resource group its units deploy to) whose template no longer exists or is deleted by this
//!   gc, unless the deployment is still running or a running or interrupted run still needs the
//!   template (a deployment record is history, not a resource: the build keeps it as the
//!   record of what was deployed, gc clears it with its template);
//! - **gallery image versions** tagged `aib.pipeline`/`aib.unit` beyond the unit's
//!   `retain = { versions = N }` (newest first, per unit), never the version the state's index
//!   lists as the unit's current one, nor one a running or interrupted run recorded. Without
//!   `retain` no version is deleted.
//!
//! [`decide`] is pure (what to delete and why, from what was seen); [`survey`] reads Azure and
//! the state, [`execute`] deletes and waits for each deletion to finish.

use std::collections::{BTreeMap, BTreeSet};

use aib_azure::{ArmClient, ResourceGroupId, ResourceId, ResourceKind};
use aib_planner::Plan;
use aib_state::{StateStore, UnitStatus};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;

/// Most ARM calls in flight.
const CONCURRENCY: usize = 8;

/// Tag AIB puts on the staging groups it creates.
pub const CREATED_BY_TAG: &str = aib_azure::arm::resources::STAGING_TAG_CREATED_BY;
/// Its value.
pub const CREATED_BY_AIB: &str = aib_azure::arm::resources::STAGING_CREATED_BY_AIB;

/// What gc deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An imageTemplate (deleting it also deletes its staging group).
    Template,
    /// A staging resource group left behind by a deleted template.
    StagingGroup,
    /// An ARM deployment record of a deleted template.
    Deployment,
    /// A gallery image version.
    GalleryVersion,
}

impl Kind {
    /// `template`, `staging-group`, `gallery-version`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Template => "template",
            Kind::StagingGroup => "staging-group",
            Kind::Deployment => "deployment",
            Kind::GalleryVersion => "gallery-version",
        }
    }
}

/// The part of the manifest gc works within.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// `[pipeline].name`.
    pub pipeline: String,
    /// (subscription, resource group) the units deploy their templates to, lower-case.
    pub template_groups: BTreeSet<(String, String)>,
    /// Unit id → its image definition and retention.
    pub units: BTreeMap<String, UnitScope>,
    /// With a selection (`--env`, `--variant`, `--unit`): the template-name prefixes
    /// (`<pipeline>-<variant>-<env>`, as [`aib_planner::naming::template_name`] makes them) of
    /// the selected units. Templates then count only when their `aib.unit` tag is a selected
    /// unit; staging groups and deployment records, which carry no unit, when their template's
    /// name has one of these prefixes (a name tells environment and variant, not matrix row).
    /// `None`: everything of the pipeline, including units no longer in the manifest.
    pub selected_names: Option<BTreeSet<String>>,
}

/// One unit's gallery side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitScope {
    /// Image definition id (`.../galleries/{g}/images/{i}`).
    pub definition_id: String,
    /// `retain.versions`; `None` keeps every version.
    pub retain: Option<u32>,
}

impl Scope {
    /// Every unit of a plan.
    pub fn of_plan(plan: &Plan) -> Self {
        let mut scope = Scope {
            pipeline: plan.pipeline().to_string(),
            ..Scope::default()
        };
        for u in plan.units() {
            let s = &u.settings;
            scope.template_groups.insert((
                s.subscription.to_ascii_lowercase(),
                s.resource_group.to_ascii_lowercase(),
            ));
            let gallery = ResourceGroupId::new(&s.gallery.subscription, &s.gallery.resource_group);
            let definition_id =
                ResourceId::gallery_image(&gallery, &s.gallery.name, &s.image_definition)
                    .to_string();
            scope.units.insert(
                u.id.to_string(),
                UnitScope {
                    definition_id,
                    retain: s.retain_versions,
                },
            );
        }
        scope
    }

    /// The selected units of a plan (a plan made with `--env`/`--variant`/`--unit`): only what
    /// belongs to them is looked at.
    pub fn of_selection(plan: &Plan) -> Self {
        let mut scope = Self::of_plan(plan);
        scope.selected_names = Some(
            plan.units()
                .iter()
                .map(|u| name_prefix(&scope.pipeline, &u.variant, &u.environment))
                .collect(),
        );
        scope
    }

    /// Whether a template tagged with `unit` is within the selection.
    fn selects_unit(&self, unit: Option<&str>) -> bool {
        self.selected_names.is_none() || unit.is_some_and(|u| self.units.contains_key(u))
    }

    /// Whether the template named `name` is within the selection, by its name.
    fn selects_name(&self, name: &str) -> bool {
        let Some(prefixes) = &self.selected_names else {
            return true;
        };
        prefixes.iter().any(|p| {
            name.get(..p.len())
                .filter(|head| head.eq_ignore_ascii_case(p))
                .and_then(|_| name.get(p.len()..))
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|hash| hash.len() == 8 && hash.chars().all(|c| c.is_ascii_hexdigit()))
        })
    }

    /// Subscriptions of the template groups, sorted.
    pub fn subscriptions(&self) -> BTreeSet<String> {
        self.template_groups
            .iter()
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// Image definitions to list (lower-case id → id as written).
    pub fn definitions(&self) -> BTreeMap<String, String> {
        self.units
            .values()
            .map(|u| {
                (
                    u.definition_id.to_ascii_lowercase(),
                    u.definition_id.clone(),
                )
            })
            .collect()
    }
}

/// What the state says is still needed.
#[derive(Debug, Clone, Default)]
pub struct Needed {
    /// Unit id → image version id of its last successful build (the index).
    pub current: BTreeMap<String, String>,
    /// Unit id → run id, for units a running or interrupted run has not finished.
    pub busy_units: BTreeMap<String, String>,
    /// Template name (lower-case) → run id, for those units.
    pub busy_templates: BTreeMap<String, String>,
    /// Image version id (normalised) → run id, for versions a running or interrupted run
    /// published (its index update comes at its end, or with its retry).
    pub run_versions: BTreeMap<String, String>,
}

/// An imageTemplate as listed.
#[derive(Debug, Clone, Default)]
pub struct TemplateSeen {
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
    pub id: String,
    pub tags: BTreeMap<String, String>,
    /// `properties.provisioningState`.
    pub provisioning_state: Option<String>,
    /// `properties.lastRunStatus.runState`.
    pub run_state: Option<String>,
}

/// A resource group tagged `createdBy = AzureVMImageBuilder`.
#[derive(Debug, Clone, Default)]
pub struct StagingSeen {
    pub subscription: String,
    pub name: String,
    pub id: String,
    pub tags: BTreeMap<String, String>,
    pub provisioning_state: Option<String>,
}

/// An ARM deployment record as listed.
#[derive(Debug, Clone, Default)]
pub struct DeploymentSeen {
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
    pub id: String,
    /// `properties.provisioningState`.
    pub provisioning_state: Option<String>,
}

/// A gallery image version as listed.
#[derive(Debug, Clone, Default)]
pub struct VersionSeen {
    pub id: String,
    /// `x.y.z`.
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub published: Option<DateTime<Utc>>,
    pub provisioning_state: Option<String>,
}

/// Everything seen in Azure.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub templates: Vec<TemplateSeen>,
    pub staging_groups: Vec<StagingSeen>,
    pub deployments: Vec<DeploymentSeen>,
    pub versions: Vec<VersionSeen>,
}

/// One thing to delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deletion {
    pub kind: Kind,
    /// Resource id.
    pub id: String,
    pub subscription: String,
    pub resource_group: String,
    /// Template, group or version name.
    pub name: String,
    /// The unit it belonged to, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Why it goes.
    pub reason: String,
}

/// One thing gc looked at and keeps although it might look unneeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub kind: Kind,
    pub id: String,
    pub reason: String,
}

/// What to delete, and what was kept and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub delete: Vec<Deletion>,
    pub kept: Vec<Kept>,
}

fn tag<'a>(tags: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// An image version id in one spelling (`versions`, lower-case) for comparisons.
pub fn normalise_version_id(id: &str) -> String {
    aib_azure::ids::normalize(id)
}

fn definition_of(version_id: &str) -> String {
    let n = normalise_version_id(version_id);
    match n.rfind("/versions/") {
        Some(i) => n[..i].to_string(),
        None => n,
    }
}

/// Whether a template name is one this pipeline's naming makes:
/// `<pipeline>-<variant>-<env>-<hash8>` (sanitised), the hash eight hex digits.
pub fn is_pipeline_template_name(pipeline: &str, name: &str) -> bool {
    let prefix = format!("{}-", aib_planner::naming::sanitize(pipeline));
    let Some(rest) = name.strip_prefix(&prefix) else {
        return false;
    };
    let Some((_, hash)) = rest.rsplit_once('-') else {
        return false;
    };
    hash.len() == 8 && hash.chars().all(|c| c.is_ascii_hexdigit())
}

/// `<pipeline>-<variant>-<env>`: a unit's template name without its hash.
fn name_prefix(pipeline: &str, variant: &str, env: &str) -> String {
    let name = aib_planner::naming::template_name(pipeline, variant, env, "00000000");
    name.strip_suffix("-00000000").unwrap_or(&name).to_string()
}

fn parse_version(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

fn state_is(s: Option<&str>, any: &[&str]) -> bool {
    s.is_some_and(|s| any.iter().any(|a| s.eq_ignore_ascii_case(a)))
}

/// Decide what to delete. Pure: the same inputs give the same answer, in a stable order
/// (templates, staging groups, deployments, versions; each by id).
pub fn decide(scope: &Scope, needed: &Needed, inv: &Inventory) -> Decision {
    let mut d = Decision::default();
    decide_templates(scope, needed, inv, &mut d);
    decide_staging(scope, inv, &mut d);
    decide_deployments(scope, needed, inv, &mut d);
    decide_versions(scope, needed, inv, &mut d);
    d.delete
        .sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    d.kept.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    d
}

fn decide_templates(scope: &Scope, needed: &Needed, inv: &Inventory, d: &mut Decision) {
    for t in &inv.templates {
        if tag(&t.tags, "aib.pipeline") != Some(scope.pipeline.as_str()) {
            continue;
        }
        let keep = |d: &mut Decision, reason: String| {
            d.kept.push(Kept {
                kind: Kind::Template,
                id: t.id.clone(),
                reason,
            })
        };
        let unit = tag(&t.tags, "aib.unit").map(str::to_string);
        if !scope.selects_unit(unit.as_deref()) {
            continue;
        }
        if state_is(t.provisioning_state.as_deref(), &["Deleting"]) {
            keep(d, "already being deleted".into());
            continue;
        }
        if state_is(t.run_state.as_deref(), &["Running", "Canceling"]) {
            keep(d, "a build is running in Azure".into());
            continue;
        }
        if state_is(t.provisioning_state.as_deref(), &["Creating", "Updating"]) {
            keep(d, "still being created".into());
            continue;
        }
        let run = needed
            .busy_templates
            .get(&t.name.to_ascii_lowercase())
            .or_else(|| unit.as_ref().and_then(|u| needed.busy_units.get(u)));
        if let Some(run) = run {
            keep(d, format!("run {run} still needs it"));
            continue;
        }
        d.delete.push(Deletion {
            kind: Kind::Template,
            id: t.id.clone(),
            subscription: t.subscription.clone(),
            resource_group: t.resource_group.clone(),
            name: t.name.clone(),
            unit,
            reason: "no recorded run needs it".into(),
        });
    }
}

fn decide_staging(scope: &Scope, inv: &Inventory, d: &mut Decision) {
    let templates: BTreeSet<(String, String, String)> = inv
        .templates
        .iter()
        .map(|t| {
            (
                t.subscription.to_ascii_lowercase(),
                t.resource_group.to_ascii_lowercase(),
                t.name.to_ascii_lowercase(),
            )
        })
        .collect();
    for g in &inv.staging_groups {
        let generated = g
            .name
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case("IT_"));
        if !generated || tag(&g.tags, CREATED_BY_TAG) != Some(CREATED_BY_AIB) {
            continue;
        }
        let (Some(tname), Some(trg)) = (
            tag(&g.tags, aib_azure::arm::resources::STAGING_TAG_TEMPLATE),
            tag(&g.tags, aib_azure::arm::resources::STAGING_TAG_TEMPLATE_RG),
        ) else {
            continue;
        };
        let sub = g.subscription.to_ascii_lowercase();
        if !scope
            .template_groups
            .contains(&(sub.clone(), trg.to_ascii_lowercase()))
            || !is_pipeline_template_name(&scope.pipeline, tname)
            || !scope.selects_name(tname)
        {
            continue;
        }
        if templates.contains(&(sub, trg.to_ascii_lowercase(), tname.to_ascii_lowercase())) {
            // Its template exists: deleting the template deletes the group.
            continue;
        }
        if state_is(g.provisioning_state.as_deref(), &["Deleting"]) {
            d.kept.push(Kept {
                kind: Kind::StagingGroup,
                id: g.id.clone(),
                reason: "already being deleted".into(),
            });
            continue;
        }
        d.delete.push(Deletion {
            kind: Kind::StagingGroup,
            id: g.id.clone(),
            subscription: g.subscription.clone(),
            resource_group: g.name.clone(),
            name: g.name.clone(),
            unit: None,
            reason: format!("staging group of deleted template {tname}"),
        });
    }
}

fn decide_deployments(scope: &Scope, needed: &Needed, inv: &Inventory, d: &mut Decision) {
    // Templates that stay: listed, and not deleted by this decision.
    let deleted: BTreeSet<String> = d
        .delete
        .iter()
        .filter(|x| x.kind == Kind::Template)
        .map(|x| x.id.to_ascii_lowercase())
        .collect();
    let staying: BTreeSet<(String, String, String)> = inv
        .templates
        .iter()
        .filter(|t| !deleted.contains(&t.id.to_ascii_lowercase()))
        .map(|t| {
            (
                t.subscription.to_ascii_lowercase(),
                t.resource_group.to_ascii_lowercase(),
                aib_render::render::deployment_name(&t.name).to_ascii_lowercase(),
            )
        })
        .collect();
    for dep in &inv.deployments {
        let sub = dep.subscription.to_ascii_lowercase();
        let rg = dep.resource_group.to_ascii_lowercase();
        if !scope.template_groups.contains(&(sub.clone(), rg.clone()))
            || !is_pipeline_template_name(&scope.pipeline, &dep.name)
            || !scope.selects_name(&dep.name)
        {
            continue;
        }
        let name = dep.name.to_ascii_lowercase();
        if staying.contains(&(sub, rg, name.clone())) {
            // Its template stays: the record goes with it.
            continue;
        }
        let keep = |d: &mut Decision, reason: String| {
            d.kept.push(Kept {
                kind: Kind::Deployment,
                id: dep.id.clone(),
                reason,
            })
        };
        if !state_is(
            dep.provisioning_state.as_deref(),
            &["Succeeded", "Failed", "Canceled"],
        ) {
            keep(d, "still deploying".into());
            continue;
        }
        if let Some(run) = needed.busy_templates.get(&name) {
            keep(d, format!("run {run} still needs it"));
            continue;
        }
        let reason = if inv.templates.iter().any(|t| {
            t.name.eq_ignore_ascii_case(&dep.name)
                && t.resource_group.eq_ignore_ascii_case(&dep.resource_group)
        }) {
            format!(
                "deployment record of template {}, deleted by this gc",
                dep.name
            )
        } else {
            format!("deployment record of deleted template {}", dep.name)
        };
        d.delete.push(Deletion {
            kind: Kind::Deployment,
            id: dep.id.clone(),
            subscription: dep.subscription.clone(),
            resource_group: dep.resource_group.clone(),
            name: dep.name.clone(),
            unit: None,
            reason,
        });
    }
}

fn decide_versions(scope: &Scope, needed: &Needed, inv: &Inventory, d: &mut Decision) {
    let current: BTreeSet<String> = needed
        .current
        .values()
        .map(|v| normalise_version_id(v))
        .collect();
    // unit -> its versions in its own image definition
    let mut per_unit: BTreeMap<&str, Vec<&VersionSeen>> = BTreeMap::new();
    for v in &inv.versions {
        if tag(&v.tags, "aib.pipeline") != Some(scope.pipeline.as_str()) {
            continue;
        }
        let Some(unit) = tag(&v.tags, "aib.unit") else {
            continue;
        };
        let Some(us) = scope.units.get(unit) else {
            continue;
        };
        if definition_of(&v.id) != us.definition_id.to_ascii_lowercase() {
            continue;
        }
        if state_is(v.provisioning_state.as_deref(), &["Deleting"]) {
            continue;
        }
        per_unit.entry(unit).or_default().push(v);
    }
    for (unit, mut versions) in per_unit {
        let Some(n) = scope.units.get(unit).and_then(|u| u.retain) else {
            continue;
        };
        // Newest first: by publishing time, then by version number.
        versions.sort_by(|a, b| {
            (b.published, parse_version(&b.name), &b.name).cmp(&(
                a.published,
                parse_version(&a.name),
                &a.name,
            ))
        });
        for v in versions.into_iter().skip(n as usize) {
            let norm = normalise_version_id(&v.id);
            let keep = |d: &mut Decision, reason: String| {
                d.kept.push(Kept {
                    kind: Kind::GalleryVersion,
                    id: v.id.clone(),
                    reason,
                })
            };
            if current.contains(&norm) {
                keep(d, format!("current version of {unit}"));
                continue;
            }
            if let Some(run) = needed.run_versions.get(&norm) {
                keep(d, format!("published by run {run}, not finished"));
                continue;
            }
            if !state_is(v.provisioning_state.as_deref(), &["Succeeded", "Failed"]) {
                keep(d, "still being published".into());
                continue;
            }
            let (sub, rg) = sub_rg_of(&v.id);
            d.delete.push(Deletion {
                kind: Kind::GalleryVersion,
                id: v.id.clone(),
                subscription: sub,
                resource_group: rg,
                name: v.name.clone(),
                unit: Some(unit.to_string()),
                reason: format!("beyond retain.versions={n}"),
            });
        }
    }
}

/// (subscription, resource group) of a resource id; empty for a string that is none.
fn sub_rg_of(id: &str) -> (String, String) {
    ResourceId::parse(id)
        .map(|id| (id.subscription().to_owned(), id.resource_group().to_owned()))
        .unwrap_or_default()
}

/// Why gc could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// Azure rejected our credential or configuration (exit 3).
    #[error("{0}")]
    Auth(String),
    /// Azure could not be read (exit 3).
    #[error("{0}")]
    Azure(String),
    /// The state could not be read.
    #[error("{0}")]
    State(#[from] aib_state::StateError),
}

fn azure_error(what: String, e: aib_azure::Error) -> GcError {
    if e.is_auth_or_config() {
        GcError::Auth(format!("{what}: {e}"))
    } else {
        GcError::Azure(format!("{what}: {e}"))
    }
}

/// Reads what the state still needs: that of its whole family (its root when it is a shard,
/// and every shard of the root), so gc run at either never deletes what another shard's runs
/// or index need. Runs that are `running` or `interrupted` keep their unfinished units'
/// templates and the versions they published.
pub async fn read_needed(store: &StateStore) -> Result<Needed, GcError> {
    let mut needed = Needed::default();
    let index = store.read_family_index().await?;
    for (unit, e) in &index.units {
        needed
            .current
            .insert(unit.clone(), e.image_version_id.clone());
    }
    let root = store.shard_root().unwrap_or_else(|| store.clone());
    for (_, store) in root.with_shards().await? {
        read_runs_needed(&store, &mut needed).await?;
    }
    Ok(needed)
}

/// The templates and versions the unfinished runs of one state need.
async fn read_runs_needed(store: &StateStore, needed: &mut Needed) -> Result<(), GcError> {
    for run_id in store.list_runs().await? {
        let rec = match store.read_run(&run_id).await {
            Ok(r) => r,
            Err(aib_state::StateError::RunNotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        if !rec.status.is_unfinished() {
            continue;
        }
        for u in &rec.units {
            if matches!(u.status, UnitStatus::Pending | UnitStatus::Running) {
                needed
                    .busy_units
                    .entry(u.id.clone())
                    .or_insert_with(|| rec.run_id.clone());
                if !u.template_name.is_empty() {
                    needed
                        .busy_templates
                        .entry(u.template_name.to_ascii_lowercase())
                        .or_insert_with(|| rec.run_id.clone());
                }
            }
            if let Some(v) = &u.image_version_id {
                needed
                    .run_versions
                    .entry(normalise_version_id(v))
                    .or_insert_with(|| rec.run_id.clone());
            }
        }
    }
    Ok(())
}

/// Lists what gc looks at: the templates of the scope's resource groups, the AIB staging
/// groups of its subscriptions and the versions of its units' image definitions. An image
/// definition or resource group that does not exist has nothing in it.
pub async fn survey(arm: &ArmClient, scope: &Scope) -> Result<Inventory, GcError> {
    let mut inv = Inventory::default();
    survey_groups(arm, scope, &mut inv).await?;
    survey_staging(arm, scope, &mut inv).await?;
    survey_versions(arm, scope, &mut inv).await?;
    Ok(inv)
}

/// The imageTemplates and deployment records of the scope's resource groups.
async fn survey_groups(arm: &ArmClient, scope: &Scope, inv: &mut Inventory) -> Result<(), GcError> {
    let lists = futures::stream::iter(scope.template_groups.iter().cloned())
        .map(|(sub, rg)| async move {
            let group = ResourceGroupId::new(&sub, &rg);
            let (r, deps) = futures::join!(
                arm.list_image_templates(&group),
                arm.list_deployments(&group)
            );
            (group, r, deps)
        })
        .buffered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    for (group, r, deps) in lists {
        let (sub, rg) = (group.subscription(), group.name());
        let deps = match deps {
            Ok(l) => l,
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(azure_error(format!("listing deployments in {rg}"), e)),
        };
        for dep in deps {
            let name = dep.name.clone().unwrap_or_default();
            inv.deployments.push(DeploymentSeen {
                subscription: sub.to_owned(),
                resource_group: rg.to_owned(),
                id: dep
                    .id
                    .clone()
                    .unwrap_or_else(|| ResourceId::deployment(&group, &name).to_string()),
                name,
                provisioning_state: dep.properties.provisioning_state.clone(),
            });
        }
        let list = match r {
            Ok(l) => l,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(azure_error(format!("listing imageTemplates in {rg}"), e)),
        };
        for t in list {
            let name = t.name.clone().unwrap_or_default();
            inv.templates.push(TemplateSeen {
                subscription: sub.to_owned(),
                resource_group: rg.to_owned(),
                id: t
                    .id
                    .clone()
                    .unwrap_or_else(|| ResourceId::image_template(&group, &name).to_string()),
                name,
                tags: t.tags.clone(),
                provisioning_state: t.properties.provisioning_state.clone(),
                run_state: t
                    .properties
                    .last_run_status
                    .as_ref()
                    .and_then(|l| l.run_state.clone()),
            });
        }
    }
    Ok(())
}

/// The staging resource groups AIB made in the scope's subscriptions.
async fn survey_staging(
    arm: &ArmClient,
    scope: &Scope,
    inv: &mut Inventory,
) -> Result<(), GcError> {
    for sub in scope.subscriptions() {
        let groups = arm
            .list_resource_groups_by_tag(&sub, CREATED_BY_TAG, Some(CREATED_BY_AIB))
            .await
            .map_err(|e| azure_error(format!("listing staging resource groups of {sub}"), e))?;
        for g in groups {
            inv.staging_groups.push(StagingSeen {
                subscription: sub.clone(),
                name: g.name.clone().unwrap_or_default(),
                id: g.id.clone().unwrap_or_default(),
                tags: g.tags.clone(),
                provisioning_state: g
                    .properties
                    .as_ref()
                    .and_then(|p| p.get("provisioningState"))
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
            });
        }
    }
    Ok(())
}

/// The versions of the scope's image definitions.
async fn survey_versions(
    arm: &ArmClient,
    scope: &Scope,
    inv: &mut Inventory,
) -> Result<(), GcError> {
    let defs: Vec<String> = scope.definitions().into_values().collect();
    let lists = futures::stream::iter(defs)
        .map(|def| async move {
            let r = match ResourceId::parse_as(&def, ResourceKind::GalleryImage) {
                Ok(image) => arm.list_gallery_image_versions(&image).await,
                Err(e) => Err(e.into()),
            };
            (def, r)
        })
        .buffered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    for (def, r) in lists {
        let list = match r {
            Ok(l) => l,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(azure_error(format!("listing versions of {def}"), e)),
        };
        for v in list {
            let name = v.name.clone().unwrap_or_default();
            let published = v
                .properties
                .publishing_profile
                .as_ref()
                .and_then(|p| p.published_date.as_deref())
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc));
            inv.versions.push(VersionSeen {
                id: v
                    .id
                    .clone()
                    .unwrap_or_else(|| format!("{def}/versions/{name}")),
                name,
                tags: v.tags.clone(),
                published,
                provisioning_state: v.properties.provisioning_state.clone(),
            });
        }
    }
    Ok(())
}

/// How one deletion ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub deletion: Deletion,
    /// `None`: deleted (or already gone); `Some(message)`: failed.
    pub error: Option<String>,
}

/// Delete everything of `decision`, each waited for until Azure reports it done (at most
/// [`CONCURRENCY`] at once). Versions go first, then templates, then staging groups and
/// deployment records, so a
/// failure part-way leaves nothing that a later gc would not find again.
pub async fn execute(arm: &ArmClient, decision: &Decision) -> Vec<Outcome> {
    let mut order: Vec<&Deletion> = decision.delete.iter().collect();
    order.sort_by_key(|d| match d.kind {
        Kind::GalleryVersion => 0,
        Kind::Template => 1,
        Kind::StagingGroup => 2,
        Kind::Deployment => 3,
    });
    futures::stream::iter(order)
        .map(|d| async move {
            let error = delete_one(arm, d).await.err().map(|e| e.to_string());
            Outcome {
                deletion: d.clone(),
                error,
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await
}

async fn delete_one(arm: &ArmClient, d: &Deletion) -> Result<(), aib_azure::Error> {
    let group = ResourceGroupId::new(&d.subscription, &d.resource_group);
    let op = match d.kind {
        Kind::Template => {
            arm.delete_image_template(&ResourceId::image_template(&group, &d.name))
                .await
        }
        Kind::StagingGroup => arm.delete_resource_group(&group).await,
        Kind::Deployment => {
            arm.delete_deployment(&ResourceId::deployment(&group, &d.name))
                .await
        }
        Kind::GalleryVersion => {
            let version = ResourceId::parse_as(&d.id, ResourceKind::GalleryImageVersion)?;
            arm.delete_gallery_image_version(&version).await
        }
    };
    match op {
        Ok(op) => match op.wait().await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        },
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "00000000-0000-0000-0000-000000000001";

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn def(img: &str) -> String {
        format!(
            "/subscriptions/{SUB}/resourceGroups/rg-gal/providers/Microsoft.Compute/galleries/gal/images/{img}"
        )
    }

    fn scope(retain: Option<u32>) -> Scope {
        let mut s = Scope {
            pipeline: "avd".into(),
            ..Scope::default()
        };
        s.template_groups
            .insert((SUB.to_string(), "rg-img".to_string()));
        for (unit, img) in [("dev/base", "base"), ("dev/app", "app")] {
            s.units.insert(
                unit.into(),
                UnitScope {
                    definition_id: def(img),
                    retain,
                },
            );
        }
        s
    }

    fn template(name: &str, unit: &str, pipeline: &str) -> TemplateSeen {
        TemplateSeen {
            subscription: SUB.into(),
            resource_group: "rg-img".into(),
            name: name.into(),
            id: format!(
                "/subscriptions/{SUB}/resourceGroups/rg-img/providers/Microsoft.VirtualMachineImages/imageTemplates/{name}"
            ),
            tags: tags(&[
                ("aib.pipeline", pipeline),
                ("aib.unit", unit),
                ("owner", "x"),
            ]),
            provisioning_state: Some("Succeeded".into()),
            run_state: Some("Succeeded".into()),
        }
    }

    fn version(img: &str, unit: &str, name: &str, day: u32) -> VersionSeen {
        VersionSeen {
            id: format!("{}/versions/{name}", def(img)),
            name: name.into(),
            tags: tags(&[("aib.pipeline", "avd"), ("aib.unit", unit)]),
            published: chrono::NaiveDate::from_ymd_opt(2026, 11, day)
                .and_then(|d| d.and_hms_opt(2, 0, 0))
                .map(|t| t.and_utc()),
            provisioning_state: Some("Succeeded".into()),
        }
    }

    fn staging(name: &str, template: &str, rg: &str) -> StagingSeen {
        StagingSeen {
            subscription: SUB.into(),
            name: name.into(),
            id: format!("/subscriptions/{SUB}/resourceGroups/{name}"),
            tags: tags(&[
                ("createdBy", "AzureVMImageBuilder"),
                ("imageTemplateName", template),
                ("imageTemplateResourceGroupName", rg),
            ]),
            provisioning_state: Some("Succeeded".into()),
        }
    }

    fn deployment(name: &str, rg: &str, state: &str) -> DeploymentSeen {
        DeploymentSeen {
            subscription: SUB.into(),
            resource_group: rg.into(),
            name: name.into(),
            id: format!(
                "/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Resources/deployments/{name}"
            ),
            provisioning_state: Some(state.into()),
        }
    }

    #[test]
    fn deployment_records_go_with_their_templates() {
        let mut inv = Inventory::default();
        // Template gone: its record goes.
        inv.deployments
            .push(deployment("avd-base-dev-00000001", "rg-img", "Succeeded"));
        // Template deleted by this gc: its record goes too.
        inv.templates
            .push(template("avd-app-dev-00000002", "dev/app", "avd"));
        inv.deployments
            .push(deployment("avd-app-dev-00000002", "rg-img", "Succeeded"));
        // Template staying (a build runs): the record stays, nothing said.
        let mut building = template("avd-base-dev-00000003", "dev/base", "avd");
        building.run_state = Some("Running".into());
        inv.templates.push(building);
        inv.deployments
            .push(deployment("avd-base-dev-00000003", "rg-img", "Succeeded"));
        // Still deploying: kept.
        inv.deployments
            .push(deployment("avd-base-dev-00000004", "rg-img", "Running"));
        // A failed deployment whose template never came: goes.
        inv.deployments
            .push(deployment("avd-app-dev-00000005", "rg-img", "Failed"));
        // An interrupted run still needs this template: kept.
        inv.deployments
            .push(deployment("avd-app-dev-00000006", "rg-img", "Succeeded"));
        // Not ours: another pipeline's naming, a hand-made deployment, another group.
        inv.deployments
            .push(deployment("other-base-dev-00000007", "rg-img", "Succeeded"));
        inv.deployments
            .push(deployment("avd-network", "rg-img", "Succeeded"));
        inv.deployments
            .push(deployment("avd-base-dev-00000008", "rg-other", "Succeeded"));
        let mut needed = Needed::default();
        needed
            .busy_templates
            .insert("avd-app-dev-00000006".into(), "r1".into());
        let d = decide(&scope(None), &needed, &inv);
        let deployments: Vec<_> = ids(&d)
            .into_iter()
            .filter(|(k, _, _)| *k == Kind::Deployment)
            .map(|(_, n, r)| (n, r))
            .collect();
        assert_eq!(
            deployments,
            vec![
                (
                    "avd-app-dev-00000002".to_string(),
                    "deployment record of template avd-app-dev-00000002, deleted by this gc"
                        .to_string()
                ),
                (
                    "avd-app-dev-00000005".to_string(),
                    "deployment record of deleted template avd-app-dev-00000005".to_string()
                ),
                (
                    "avd-base-dev-00000001".to_string(),
                    "deployment record of deleted template avd-base-dev-00000001".to_string()
                ),
            ]
        );
        let kept: Vec<(&str, &str)> = d
            .kept
            .iter()
            .filter(|k| k.kind == Kind::Deployment)
            .map(|k| {
                (
                    k.id.rsplit('/').next().unwrap_or_default(),
                    k.reason.as_str(),
                )
            })
            .collect();
        assert_eq!(
            kept,
            vec![
                ("avd-app-dev-00000006", "run r1 still needs it"),
                ("avd-base-dev-00000004", "still deploying"),
            ]
        );
    }

    #[test]
    fn a_selection_touches_only_its_units() {
        // Selected: dev/app only.
        let mut sc = scope(Some(1));
        sc.units.remove("dev/base");
        sc.selected_names = Some(BTreeSet::from([name_prefix("avd", "app", "dev")]));
        let mut inv = Inventory::default();
        for (name, unit) in [
            ("avd-app-dev-0000000a", "dev/app"),
            ("avd-base-dev-0000000b", "dev/base"),
            // A unit no longer in the manifest: left alone by a selection.
            ("avd-old-dev-0000000c", "dev/old"),
        ] {
            inv.templates.push(template(name, unit, "avd"));
        }
        for t in [
            "avd-app-dev-000000a1",
            "avd-base-dev-000000b1",
            "avd-app-dev2-000000a2",
        ] {
            inv.staging_groups
                .push(staging(&format!("IT_rg-img_{t}_x"), t, "rg-img"));
            inv.deployments.push(deployment(t, "rg-img", "Succeeded"));
        }
        for (img, unit, v, day) in [
            ("app", "dev/app", "1.0.1", 1),
            ("app", "dev/app", "1.0.2", 2),
            ("base", "dev/base", "1.0.1", 1),
            ("base", "dev/base", "1.0.2", 2),
        ] {
            inv.versions.push(version(img, unit, v, day));
        }
        let d = decide(&sc, &Needed::default(), &inv);
        let names: Vec<(Kind, String)> =
            d.delete.iter().map(|x| (x.kind, x.name.clone())).collect();
        assert_eq!(
            names,
            vec![
                (Kind::Template, "avd-app-dev-0000000a".to_string()),
                (
                    Kind::StagingGroup,
                    "IT_rg-img_avd-app-dev-000000a1_x".to_string()
                ),
                (Kind::Deployment, "avd-app-dev-000000a1".to_string()),
                (Kind::GalleryVersion, "1.0.1".to_string()),
            ]
        );
        assert!(
            d.delete
                .iter()
                .all(|x| x.kind != Kind::GalleryVersion || x.id.contains("/images/app/"))
        );
        // Without a selection the same inventory loses everything of the pipeline.
        let mut all = scope(Some(1));
        all.selected_names = None;
        let d = decide(&all, &Needed::default(), &inv);
        assert_eq!(
            d.delete.iter().filter(|x| x.kind == Kind::Template).count(),
            3
        );
        assert_eq!(
            d.delete
                .iter()
                .filter(|x| x.kind == Kind::StagingGroup)
                .count(),
            3
        );
    }

    fn ids(d: &Decision) -> Vec<(Kind, String, String)> {
        d.delete
            .iter()
            .map(|x| (x.kind, x.name.clone(), x.reason.clone()))
            .collect()
    }

    #[test]
    fn templates_only_ours_and_not_needed() {
        let mut inv = Inventory::default();
        inv.templates
            .push(template("avd-base-dev-00000001", "dev/base", "avd"));
        inv.templates
            .push(template("other-base-dev-00000002", "dev/base", "other"));
        let mut untagged = template("avd-hand-made", "dev/base", "avd");
        untagged.tags.clear();
        inv.templates.push(untagged);
        let mut building = template("avd-base-dev-00000003", "dev/base", "avd");
        building.run_state = Some("Running".into());
        inv.templates.push(building);
        inv.templates
            .push(template("avd-app-dev-00000004", "dev/app", "avd"));
        inv.templates
            .push(template("avd-app-dev-00000005", "dev/app", "avd"));
        let mut needed = Needed::default();
        // A running run has dev/app unfinished under a preview name; the tag still matches.
        needed
            .busy_units
            .insert("dev/app".into(), "20261129T000000Z-aaaa".into());
        let d = decide(&scope(None), &needed, &inv);
        assert_eq!(
            ids(&d),
            vec![(
                Kind::Template,
                "avd-base-dev-00000001".to_string(),
                "no recorded run needs it".to_string()
            )]
        );
        let kept: Vec<&str> = d.kept.iter().map(|k| k.reason.as_str()).collect();
        assert_eq!(
            kept,
            vec![
                "run 20261129T000000Z-aaaa still needs it",
                "run 20261129T000000Z-aaaa still needs it",
                "a build is running in Azure",
            ]
        );
    }

    #[test]
    fn busy_template_name_keeps_it_without_unit_tag_match() {
        let mut inv = Inventory::default();
        inv.templates
            .push(template("avd-base-dev-00000001", "dev/renamed", "avd"));
        let mut needed = Needed::default();
        needed
            .busy_templates
            .insert("avd-base-dev-00000001".into(), "r1".into());
        let d = decide(&scope(None), &needed, &inv);
        assert!(d.delete.is_empty(), "{d:?}");
    }

    #[test]
    fn staging_leftovers_of_our_deleted_templates_only() {
        let mut inv = Inventory::default();
        inv.templates
            .push(template("avd-base-dev-0000000a", "dev/base", "avd"));
        inv.staging_groups = vec![
            // its template is gone: delete
            staging(
                "IT_rg-img_avd-base-dev-00000001_g1",
                "avd-base-dev-00000001",
                "rg-img",
            ),
            // its template exists: deleting the template handles it
            staging(
                "IT_rg-img_avd-base-dev-0000000a_g2",
                "avd-base-dev-0000000a",
                "rg-img",
            ),
            // another pipeline's naming
            staging(
                "IT_rg-img_web-base-dev-00000001_g3",
                "web-base-dev-00000001",
                "rg-img",
            ),
            // a resource group aib does not deploy to
            staging(
                "IT_rg-x_avd-base-dev-00000001_g4",
                "avd-base-dev-00000001",
                "rg-x",
            ),
            // not generated by AIB (a user-chosen staging group stays by design)
            staging("rg-my-staging", "avd-base-dev-00000002", "rg-img"),
            // not a hash suffix
            staging("IT_rg-img_avd-manual_g5", "avd-manual", "rg-img"),
        ];
        let mut foreign = staging(
            "IT_rg-img_avd-base-dev-00000003_g6",
            "avd-base-dev-00000003",
            "rg-img",
        );
        foreign.tags.insert("createdBy".into(), "someone".into());
        inv.staging_groups.push(foreign);
        let d = decide(&scope(None), &Needed::default(), &inv);
        assert_eq!(
            ids(&d),
            vec![
                (
                    Kind::Template,
                    "avd-base-dev-0000000a".to_string(),
                    "no recorded run needs it".to_string()
                ),
                (
                    Kind::StagingGroup,
                    "IT_rg-img_avd-base-dev-00000001_g1".to_string(),
                    "staging group of deleted template avd-base-dev-00000001".to_string()
                ),
            ]
        );
    }

    #[test]
    fn versions_beyond_retain_never_current_or_running() {
        let mut inv = Inventory::default();
        for (i, v) in ["1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5"]
            .iter()
            .enumerate()
        {
            inv.versions
                .push(version("base", "dev/base", v, 10 + i as u32));
        }
        // Another unit's versions in its own definition: its own count.
        inv.versions.push(version("app", "dev/app", "1.0.1", 10));
        inv.versions.push(version("app", "dev/app", "1.0.2", 11));
        // Not ours / another definition / unknown unit: never touched.
        let mut foreign = version("base", "dev/base", "0.9.0", 1);
        foreign.tags.clear();
        inv.versions.push(foreign);
        inv.versions.push(version("app", "dev/base", "0.1.0", 1));
        inv.versions.push(version("base", "dev/gone", "0.2.0", 1));
        let mut needed = Needed::default();
        // The index points at an older version (a rollback), so it stays.
        needed.current.insert(
            "dev/base".into(),
            format!("{}/imageversions/1.0.2", def("base")),
        );
        needed.run_versions.insert(
            normalise_version_id(&format!("{}/versions/1.0.1", def("base"))),
            "r9".into(),
        );
        let d = decide(&scope(Some(2)), &needed, &inv);
        assert_eq!(
            ids(&d),
            vec![(
                Kind::GalleryVersion,
                "1.0.3".to_string(),
                "beyond retain.versions=2".to_string()
            )]
        );
        assert_eq!(d.delete[0].unit.as_deref(), Some("dev/base"));
        assert_eq!(d.delete[0].resource_group, "rg-gal");
        let kept: Vec<&str> = d.kept.iter().map(|k| k.reason.as_str()).collect();
        assert_eq!(
            kept,
            vec![
                "published by run r9, not finished",
                "current version of dev/base"
            ]
        );
    }

    #[test]
    fn no_retain_keeps_every_version_and_zero_keeps_only_current() {
        let mut inv = Inventory::default();
        inv.versions.push(version("base", "dev/base", "1.0.1", 10));
        inv.versions.push(version("base", "dev/base", "1.0.2", 11));
        let mut needed = Needed::default();
        needed
            .current
            .insert("dev/base".into(), format!("{}/versions/1.0.2", def("base")));
        assert!(decide(&scope(None), &needed, &inv).delete.is_empty());
        let d = decide(&scope(Some(0)), &needed, &inv);
        assert_eq!(
            ids(&d),
            vec![(
                Kind::GalleryVersion,
                "1.0.1".to_string(),
                "beyond retain.versions=0".to_string()
            )]
        );
    }

    #[test]
    fn newest_by_publishing_time_then_number() {
        let mut inv = Inventory::default();
        // Published later although numbered lower (a version policy change).
        inv.versions
            .push(version("base", "dev/base", "2026.1128.1", 10));
        inv.versions.push(version("base", "dev/base", "1.0.9", 12));
        let mut a = version("base", "dev/base", "1.0.10", 11);
        a.published = None;
        inv.versions.push(a);
        let d = decide(&scope(Some(1)), &Needed::default(), &inv);
        let names: Vec<String> = d.delete.iter().map(|x| x.name.clone()).collect();
        assert_eq!(names, vec!["1.0.10".to_string(), "2026.1128.1".to_string()]);
    }

    #[test]
    fn pipeline_template_names() {
        assert!(is_pipeline_template_name("avd", "avd-win11-dev-0123abcd"));
        assert!(!is_pipeline_template_name("avd", "avd-win11-dev-0123abcz"));
        assert!(!is_pipeline_template_name("avd", "avdx-win11-dev-0123abcd"));
        assert!(!is_pipeline_template_name("avd", "avd-0123abc"));
    }
}
