//! The Azure resources units need before anything is deployed — resource groups, galleries,
//! image definitions, identities — checked each once, and for every missing one the `az`
//! command that creates it. `build` checks them in preflight; `plan --refresh` checks them and
//! prints what is missing.

use std::collections::BTreeMap;

use aib_azure::{ArmClient, ResourceGroupId, ResourceId, ResourceKind};
use aib_planner::{Plan, Unit};
use futures::StreamExt;

/// Most existence checks in flight.
const CONCURRENCY: usize = 16;

/// A resource that must exist.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Check {
    ResourceGroup {
        sub: String,
        rg: String,
    },
    Gallery {
        sub: String,
        rg: String,
        name: String,
    },
    Definition {
        sub: String,
        rg: String,
        gallery: String,
        name: String,
    },
    Identity {
        id: String,
    },
}

/// Who needs a resource, and what its creation command needs to know.
#[derive(Debug, Clone, Default)]
pub(crate) struct Need {
    units: Vec<String>,
    location: String,
    windows: bool,
    /// The pipeline's name, offered as the image definition's publisher.
    pipeline: String,
}

/// A resource that does not exist, with the units that need it and how to create it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MissingResource {
    /// What it is, e.g. "gallery `gal_dev` in resource group `rg-img` (subscription …)".
    pub resource: String,
    /// Ids of the units that need it.
    pub needed_by: Vec<String>,
    /// The Azure CLI command that creates it.
    pub create: String,
}

impl std::fmt::Display for MissingResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users = &self.needed_by;
        let shown = if users.len() > 3 {
            format!("{} and {} more", users[..3].join(", "), users.len() - 3)
        } else {
            users.join(", ")
        };
        write!(
            f,
            "{} — needed by {shown}\n    create it: {}",
            self.resource, self.create
        )
    }
}

impl Check {
    pub(crate) fn describe(&self) -> String {
        match self {
            Check::ResourceGroup { sub, rg } => {
                format!("resource group `{rg}` (subscription {sub})")
            }
            Check::Gallery { sub, rg, name } => {
                format!("gallery `{name}` in resource group `{rg}` (subscription {sub})")
            }
            Check::Definition {
                sub,
                rg,
                gallery,
                name,
            } => format!(
                "image definition `{name}` in gallery `{gallery}`, resource group `{rg}` (subscription {sub})"
            ),
            Check::Identity { id } => format!("managed identity `{id}`"),
        }
    }

    /// The `az` command that creates the resource. An image definition needs a publisher, offer
    /// and SKU unique in its gallery: the pipeline's name and the definition's name serve.
    fn create_command(&self, need: &Need) -> String {
        let loc = &need.location;
        match self {
            Check::ResourceGroup { sub, rg } => {
                format!("az group create --subscription {sub} --name {rg} --location {loc}")
            }
            Check::Gallery { sub, rg, name } => format!(
                "az sig create --subscription {sub} --resource-group {rg} --gallery-name {name} --location {loc}"
            ),
            Check::Definition {
                sub,
                rg,
                gallery,
                name,
            } => {
                let os = if need.windows { "Windows" } else { "Linux" };
                let publisher = &need.pipeline;
                format!(
                    "az sig image-definition create --subscription {sub} --resource-group {rg} \
                     --gallery-name {gallery} --gallery-image-definition {name} \
                     --publisher {publisher} --offer {name} --sku {name} --os-type {os} \
                     --os-state Generalized --hyper-v-generation V2 --location {loc}"
                )
            }
            Check::Identity { id } => match ResourceId::parse_as(id, ResourceKind::Identity) {
                Ok(identity) => format!(
                    "az identity create --subscription {} --resource-group {} --name {} --location {loc}",
                    identity.subscription(),
                    identity.resource_group(),
                    identity.name()
                ),
                Err(_) => {
                    format!("az identity create ... (`{id}` is not a user-assigned identity id)")
                }
            },
        }
    }

    async fn exists(&self, arm: &ArmClient) -> aib_azure::Result<bool> {
        match self {
            Check::ResourceGroup { sub, rg } => {
                arm.resource_group_exists(&ResourceGroupId::new(sub, rg))
                    .await
            }
            Check::Gallery { sub, rg, name } => {
                let group = ResourceGroupId::new(sub, rg);
                arm.gallery_exists(&ResourceId::gallery(&group, name)).await
            }
            Check::Definition {
                sub,
                rg,
                gallery,
                name,
            } => {
                let group = ResourceGroupId::new(sub, rg);
                arm.image_definition_exists(&ResourceId::gallery_image(&group, gallery, name))
                    .await
            }
            Check::Identity { id } => arm.identity_exists(id).await,
        }
    }
}

/// Every resource the units need, each once, with the units that need it (in unit order).
pub(crate) fn needs<'a>(
    pipeline: &str,
    units: impl IntoIterator<Item = &'a Unit>,
) -> BTreeMap<Check, Need> {
    let mut checks: BTreeMap<Check, Need> = BTreeMap::new();
    for u in units {
        let s = &u.settings;
        let g = &s.gallery;
        let windows = u.settings.is_windows();
        let mut add = |c: Check| {
            let need = checks.entry(c).or_insert_with(|| Need {
                units: Vec::new(),
                location: s.location.clone(),
                windows,
                pipeline: pipeline.to_owned(),
            });
            need.units.push(u.id.to_string());
        };
        add(Check::ResourceGroup {
            sub: s.subscription.clone(),
            rg: s.resource_group.clone(),
        });
        add(Check::Gallery {
            sub: g.subscription.clone(),
            rg: g.resource_group.clone(),
            name: g.name.clone(),
        });
        add(Check::Definition {
            sub: g.subscription.clone(),
            rg: g.resource_group.clone(),
            gallery: g.name.clone(),
            name: s.image_definition.clone(),
        });
        add(Check::Identity {
            id: s.identity.clone(),
        });
    }
    checks
}

/// Asks Azure whether each resource exists, `CONCURRENCY` at a time.
pub(crate) async fn probe(
    arm: &ArmClient,
    checks: impl IntoIterator<Item = Check>,
) -> Vec<(Check, aib_azure::Result<bool>)> {
    futures::stream::iter(checks)
        .map(|c| async move {
            let r = c.exists(arm).await;
            (c, r)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

/// The missing resources among `results` (sorted), or the first error reading Azure.
pub(crate) fn missing(
    needs: &BTreeMap<Check, Need>,
    results: Vec<(Check, aib_azure::Result<bool>)>,
) -> Result<Vec<MissingResource>, PreflightError> {
    let mut out = Vec::new();
    for (c, r) in results {
        match r {
            Ok(true) => {}
            Ok(false) => {
                let need = needs.get(&c).cloned().unwrap_or_default();
                out.push(MissingResource {
                    resource: c.describe(),
                    create: c.create_command(&need),
                    needed_by: need.units,
                });
            }
            Err(e) => return Err(azure_error(&format!("checking {}", c.describe()), e)),
        }
    }
    out.sort();
    Ok(out)
}

/// Checks every resource the plan's units to build need; returns those that are missing.
pub async fn check(arm: &ArmClient, plan: &Plan) -> Result<Vec<MissingResource>, PreflightError> {
    let needs = needs(
        plan.pipeline(),
        plan.units()
            .iter()
            .filter(|u| u.action == aib_planner::Action::Build),
    );
    let results = probe(arm, needs.keys().cloned()).await;
    missing(&needs, results)
}

/// Why preflight stopped the run (here, beside the checks whose findings it carries).
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// Azure rejected our credential or configuration (exit 3).
    #[error("{0}")]
    Auth(String),
    /// Resources the units need do not exist (exit 3).
    #[error("{} the selected units need {} not exist:\n{}", if .0.len() == 1 { "1 Azure resource".to_string() } else { format!("{} Azure resources", .0.len()) }, if .0.len() == 1 { "does" } else { "do" }, .0.iter().map(|m| format!("  - {m}")).collect::<Vec<_>>().join("\n"))]
    Missing(Vec<MissingResource>),
    /// Fixed versions that are already published (exit 2: change the version).
    #[error("image versions already exist (gallery versions cannot be overwritten; change `version`):\n{}", .0.iter().map(|m| format!("  - {m}")).collect::<Vec<_>>().join("\n"))]
    VersionsExist(Vec<String>),
    /// Azure could not be read (exit 3).
    #[error("preflight could not read Azure: {0}")]
    Azure(String),
}

pub(crate) fn azure_error(what: &str, e: aib_azure::Error) -> PreflightError {
    if e.is_auth_or_config() {
        PreflightError::Auth(format!("{what}: {e}"))
    } else {
        PreflightError::Azure(format!("{what}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_commands_name_the_parts_of_its_id() {
        let need = Need {
            location: "westeurope".into(),
            ..Need::default()
        };
        let identity = |id: &str| Check::Identity { id: id.into() }.create_command(&need);
        assert_eq!(
            identity(
                "/subscriptions/s1/resourcegroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
            ),
            "az identity create --subscription s1 --resource-group rg-id --name id-aib --location westeurope"
        );
        let group = "/subscriptions/s1/resourceGroups/rg";
        assert_eq!(
            identity(group),
            format!("az identity create ... (`{group}` is not a user-assigned identity id)")
        );
    }

    #[test]
    fn commands_name_the_resource_where_the_unit_builds() {
        let need = Need {
            units: vec!["dev/a".into()],
            location: "westeurope".into(),
            windows: true,
            pipeline: "avd".into(),
        };
        let def = Check::Definition {
            sub: "s1".into(),
            rg: "rg-img".into(),
            gallery: "gal".into(),
            name: "win11".into(),
        };
        let cmd = def.create_command(&need);
        assert!(cmd.starts_with("az sig image-definition create --subscription s1 --resource-group rg-img --gallery-name gal --gallery-image-definition win11"), "{cmd}");
        assert!(cmd.contains("--os-type Windows") && cmd.contains("--location westeurope"));
        assert!(
            cmd.contains("--publisher avd --offer win11 --sku win11"),
            "{cmd}"
        );
        let rg = Check::ResourceGroup {
            sub: "s1".into(),
            rg: "rg-img".into(),
        };
        assert_eq!(
            rg.create_command(&need),
            "az group create --subscription s1 --name rg-img --location westeurope"
        );
    }

    #[test]
    fn a_missing_resource_shows_its_users_and_command() {
        let m = MissingResource {
            resource: "gallery `g`".into(),
            needed_by: vec![
                "dev/a".into(),
                "dev/b".into(),
                "dev/c".into(),
                "dev/d".into(),
            ],
            create: "az sig create ...".into(),
        };
        assert_eq!(
            m.to_string(),
            "gallery `g` — needed by dev/a, dev/b, dev/c and 1 more\n    create it: az sig create ..."
        );
    }
}
