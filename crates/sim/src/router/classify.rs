//! Which operation a request is: its path and method turned into a [`Route`] (services
//! besides ARM) or an [`Arm`] call (ARM, through a parsed [`ResourcePath`]), with the
//! operation name `/_sim/stats` counts it under.

use crate::model::resource_path::ResourcePath;
use axum::http::Method;

/// An ARM call and the names it carries (resource group first, as sent).
#[derive(Debug, Clone)]
pub enum Arm {
    RgGet(String),
    RgList,
    RgDelete(String),
    OpResult(String),
    CapsOp(String),
    VersionDelete(String, String, String, String),
    DeplList(String),
    Depl(String, String),
    DeplOps(String, String),
    DeplOpStatus(String, String, String),
    ItList(Option<String>),
    It(String, String),
    ItRun(String, String),
    ItCancel(String, String),
    ItOutputs(String, String, Option<String>),
    OpGet(String),
    Platform(String, String, String, String),
    Gallery(String, String),
    GalleryImage(String, String, String),
    Versions(String, String, String),
    Version(String, String, String, String),
    Identity(String, String),
    SaList(String),
    SaGet(String, String),
    SaKeys(String, String),
    Generic(String, String, String, String),
}

/// What a request asks for.
#[derive(Debug)]
pub enum Route {
    SimStats,
    SimClock,
    SimPublish,
    SimControl,
    Token,
    ImdsToken,
    AadToken,
    SimCiJob,
    ActionsIdToken,
    PipelinesOidcToken,
    Blob {
        account: String,
        container: String,
        blob: Option<String>,
    },
    Arm {
        op: &'static str,
        sub: String,
        arm: Arm,
    },
    KeyVaultSecret {
        vault: String,
        name: String,
        version: Option<String>,
    },
    Unknown,
}

/// The route of a request: its decoded path segments and method.
pub fn classify(method: &Method, segs: &[String]) -> Route {
    if let Some(route) = service_route(method, segs) {
        return route;
    }
    let Some(path) = ResourcePath::parse(segs) else {
        return Route::Unknown;
    };
    match arm_call(&path, method) {
        Some((op, arm)) => Route::Arm {
            op,
            sub: path.sub,
            arm,
        },
        None => Route::Unknown,
    }
}

/// The endpoints besides ARM: the simulator's own, the token endpoints, CI OIDC, Blob and
/// Key Vault.
fn service_route(method: &Method, segs: &[String]) -> Option<Route> {
    let l: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = l.iter().map(String::as_str).collect();
    let o = |i: usize| segs.get(i).cloned().unwrap_or_default();
    let get = method == Method::GET;
    let post = method == Method::POST;
    let route = match l.as_slice() {
        ["_sim", "stats"] if get => Route::SimStats,
        ["_sim", "clock"] if get => Route::SimClock,
        ["_sim", "publish"] if post => Route::SimPublish,
        ["_sim", "control"] if post => Route::SimControl,
        ["_sim", "ci-job"] if post => Route::SimCiJob,
        ["msi", "token"] if get => Route::Token,
        ["metadata", "identity", "oauth2", "token"] if get => Route::ImdsToken,
        [_, "oauth2", "v2.0", "token"] if post => Route::AadToken,
        [
            "_apis",
            "distributedtask",
            "hubs",
            "actions",
            "plans",
            _,
            "jobs",
            _,
            "idtoken",
        ] if get => Route::ActionsIdToken,
        [
            _,
            _,
            "_apis",
            "distributedtask",
            "hubs",
            "build",
            "plans",
            _,
            "jobs",
            _,
            "oidctoken",
        ] if post => Route::PipelinesOidcToken,
        ["blob", _, _, ..] if get || method == Method::HEAD => Route::Blob {
            account: o(1),
            container: o(2),
            blob: (segs.len() > 3).then(|| segs[3..].join("/")),
        },
        ["keyvault", _, "secrets", _] | ["keyvault", _, "secrets", _, _] if get => {
            Route::KeyVaultSecret {
                vault: o(1),
                name: o(3),
                version: segs.get(4).cloned(),
            }
        }
        _ => return None,
    };
    Some(route)
}

/// An ARM call: the operation name and what it names. Other reads of resource-provider paths
/// are of resources deployments created (no other method falls back to them).
fn arm_call(p: &ResourcePath, m: &Method) -> Option<(&'static str, Arm)> {
    let specific = match p.namespace().as_deref() {
        None => without_provider(p, m),
        Some("microsoft.resources") if p.rg.is_some() => deployments(p, m),
        Some("microsoft.virtualmachineimages") => image_builder(p, m),
        Some("microsoft.compute") => compute(p, m),
        Some("microsoft.managedidentity") => identities(p, m),
        Some("microsoft.storage") => storage_accounts(p, m),
        Some(_) => None,
    };
    specific.or_else(|| generic_resource(p, m))
}

/// Resource groups, ARM's operation results, and a deployment's operations by the short path.
fn without_provider(p: &ResourcePath, m: &Method) -> Option<(&'static str, Arm)> {
    let kinds = p.kinds();
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    let named = p.ends_named();
    let rg = p.group();
    Some(match (p.rg.is_some(), kinds.as_slice(), named, m) {
        (true, [], _, &Method::GET) => ("resourceGroups.get", Arm::RgGet(rg)),
        (true, [], _, &Method::DELETE) => ("resourceGroups.delete", Arm::RgDelete(rg)),
        (false, ["resourcegroups"], false, &Method::GET) => ("resourceGroups.list", Arm::RgList),
        (false, ["operationresults"], true, &Method::GET) => {
            ("operationResults.get", Arm::OpResult(p.name(0)))
        }
        (true, ["deployments", "operations"], false, &Method::GET) => {
            ("deploymentOperations.list", Arm::DeplOps(rg, p.name(0)))
        }
        _ => return None,
    })
}

/// `Microsoft.Resources/deployments` in a resource group.
fn deployments(p: &ResourcePath, m: &Method) -> Option<(&'static str, Arm)> {
    let kinds = p.kinds();
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    let (rg, name) = (p.group(), p.name(0));
    let call = match (kinds.as_slice(), p.ends_named(), m) {
        (["deployments"], false, &Method::GET) => ("deployments.list", Arm::DeplList(rg)),
        (["deployments"], true, m) => {
            let op = match *m {
                Method::PUT => "deployments.put",
                Method::GET => "deployments.get",
                Method::DELETE => "deployments.delete",
                _ => return None,
            };
            (op, Arm::Depl(rg, name))
        }
        (["deployments", "operations"], false, &Method::GET) => {
            ("deploymentOperations.list", Arm::DeplOps(rg, name))
        }
        (["deployments", "operationstatuses"], true, &Method::GET) => (
            "deployments.operationStatus",
            Arm::DeplOpStatus(rg, name, p.name(1)),
        ),
        _ => return None,
    };
    Some(call)
}

/// `Microsoft.VirtualMachineImages`: imageTemplates (in a group or the subscription), their
/// actions and run outputs, and Image Builder's operations.
fn image_builder(p: &ResourcePath, m: &Method) -> Option<(&'static str, Arm)> {
    let kinds = p.kinds();
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    let (in_group, named) = (p.rg.is_some(), p.ends_named());
    let (rg, name) = (p.group(), p.name(0));
    let call = match (in_group, kinds.as_slice(), named, m) {
        (true, ["imagetemplates"], false, &Method::GET) => {
            ("imageTemplates.list", Arm::ItList(Some(rg)))
        }
        (false, ["imagetemplates"], false, &Method::GET) => {
            ("imageTemplates.list", Arm::ItList(None))
        }
        (true, ["imagetemplates"], true, m) => {
            let op = match *m {
                Method::PUT => "imageTemplates.put",
                Method::GET => "imageTemplates.get",
                Method::DELETE => "imageTemplates.delete",
                Method::PATCH => "imageTemplates.update",
                _ => return None,
            };
            (op, Arm::It(rg, name))
        }
        (true, ["imagetemplates", "run"], false, &Method::POST) => {
            ("imageTemplates.run", Arm::ItRun(rg, name))
        }
        (true, ["imagetemplates", "cancel"], false, &Method::POST) => {
            ("imageTemplates.cancel", Arm::ItCancel(rg, name))
        }
        (true, ["imagetemplates", "runoutputs"], false, &Method::GET) => (
            "imageTemplates.runOutputs.list",
            Arm::ItOutputs(rg, name, None),
        ),
        (true, ["imagetemplates", "runoutputs"], true, &Method::GET) => (
            "imageTemplates.runOutputs.get",
            Arm::ItOutputs(rg, name, Some(p.name(1))),
        ),
        (false, ["locations", "operations"], true, &Method::GET) => {
            ("operations.get", Arm::OpGet(p.name(1)))
        }
        _ => return None,
    };
    Some(call)
}

/// `Microsoft.Compute`: platform image versions and operations (subscription level),
/// galleries, image definitions and versions (in a group).
fn compute(p: &ResourcePath, m: &Method) -> Option<(&'static str, Arm)> {
    let kinds = p.kinds();
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    let (in_group, named) = (p.rg.is_some(), p.ends_named());
    let rg = p.group();
    let n = |i| p.name(i);
    Some(match (in_group, kinds.as_slice(), named, m) {
        (false, ["locations", "capsoperations"], true, &Method::GET) => {
            ("capsOperations.get", Arm::CapsOp(n(1)))
        }
        (
            false,
            [
                "locations",
                "publishers",
                "artifacttypes",
                "offers",
                "skus",
                "versions",
            ],
            false,
            &Method::GET,
        ) if p.name(2).eq_ignore_ascii_case("vmimage") => (
            "platformImageVersions.list",
            Arm::Platform(n(0), n(1), n(3), n(4)),
        ),
        (true, ["galleries"], true, &Method::GET) => ("galleries.get", Arm::Gallery(rg, n(0))),
        (true, ["galleries", "images"], true, &Method::GET) => {
            ("galleryImages.get", Arm::GalleryImage(rg, n(0), n(1)))
        }
        (true, ["galleries", "images", "versions"], false, &Method::GET) => {
            ("galleryImageVersions.list", Arm::Versions(rg, n(0), n(1)))
        }
        (true, ["galleries", "images", "versions" | "imageversions"], true, &Method::GET) => (
            "galleryImageVersions.get",
            Arm::Version(rg, n(0), n(1), n(2)),
        ),
        (true, ["galleries", "images", "versions"], true, &Method::DELETE) => (
            "galleryImageVersions.delete",
            Arm::VersionDelete(rg, n(0), n(1), n(2)),
        ),
        _ => return None,
    })
}

/// `Microsoft.ManagedIdentity/userAssignedIdentities/{name}` in a group.
fn identities(p: &ResourcePath, m: &Method) -> Option<(&'static str, Arm)> {
    let kinds = p.kinds();
    match (p.rg.is_some(), kinds.as_slice(), p.ends_named(), m) {
        (true, [k], true, &Method::GET) if k == "userassignedidentities" => {
            Some(("identities.get", Arm::Identity(p.group(), p.name(0))))
        }
        _ => None,
    }
}

/// `Microsoft.Storage/storageAccounts[/{name}[/listKeys]]` in a group.
fn storage_accounts(p: &ResourcePath, m: &Method) -> Option<(&'static str, Arm)> {
    let kinds = p.kinds();
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    let (rg, name) = (p.group(), p.name(0));
    Some(
        match (p.rg.is_some(), kinds.as_slice(), p.ends_named(), m) {
            (true, ["storageaccounts"], false, &Method::GET) => {
                ("storageAccounts.list", Arm::SaList(rg))
            }
            (true, ["storageaccounts"], true, &Method::GET) => {
                ("storageAccounts.get", Arm::SaGet(rg, name))
            }
            (true, ["storageaccounts", "listkeys"], false, &Method::POST) => {
                ("storageAccounts.listKeys", Arm::SaKeys(rg, name))
            }
            _ => return None,
        },
    )
}

/// A GET of any other `resourceGroups/{rg}/providers/{ns}/{type}/{name}[/{type}/{name}...]`:
/// a resource a deployment created, by its id and `ns/type[/type...]`.
fn generic_resource(p: &ResourcePath, m: &Method) -> Option<(&'static str, Arm)> {
    let (Some(rg), Some(ns)) = (&p.rg, &p.provider) else {
        return None;
    };
    if m != Method::GET || !p.ends_named() {
        return None;
    }
    let mut id = format!(
        "/subscriptions/{}/resourceGroups/{rg}/providers/{ns}",
        p.sub
    );
    let mut rtype = ns.clone();
    for s in &p.steps {
        let name = s.name.as_deref().unwrap_or_default();
        id.push_str(&format!("/{}/{name}", s.kind));
        rtype.push_str(&format!("/{}", s.kind));
    }
    let name = p.steps.last()?.name.clone()?;
    Some(("resources.get", Arm::Generic(rg.clone(), id, name, rtype)))
}

impl Arm {
    /// The resource type whose api-versions this route is served at.
    pub fn resource_type(&self) -> String {
        let t = match self {
            Arm::RgGet(_) | Arm::RgList | Arm::RgDelete(_) | Arm::OpResult(_) => {
                "Microsoft.Resources/resourceGroups"
            }
            Arm::DeplList(_) | Arm::Depl(..) | Arm::DeplOps(..) | Arm::DeplOpStatus(..) => {
                "Microsoft.Resources/deployments"
            }
            Arm::ItList(_)
            | Arm::It(..)
            | Arm::ItRun(..)
            | Arm::ItCancel(..)
            | Arm::ItOutputs(..)
            | Arm::OpGet(_) => "Microsoft.VirtualMachineImages/imageTemplates",
            Arm::Platform(..) => "Microsoft.Compute/locations/publishers",
            Arm::CapsOp(_)
            | Arm::VersionDelete(..)
            | Arm::Gallery(..)
            | Arm::GalleryImage(..)
            | Arm::Versions(..)
            | Arm::Version(..) => "Microsoft.Compute/galleries",
            Arm::Identity(..) => "Microsoft.ManagedIdentity/userAssignedIdentities",
            Arm::SaList(_) | Arm::SaGet(..) | Arm::SaKeys(..) => {
                "Microsoft.Storage/storageAccounts"
            }
            Arm::Generic(_, _, _, rtype) => return rtype.clone(),
        };
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: Method, path: &str) -> String {
        let segs: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        match classify(&method, &segs) {
            Route::Arm { op, .. } => op.to_string(),
            Route::Unknown => "unknown".to_string(),
            other => format!("{other:?}")
                .split([' ', '{'])
                .next()
                .unwrap_or("")
                .to_string(),
        }
    }

    const RG: &str = "/subscriptions/s/resourceGroups/rg";

    #[test]
    fn every_arm_operation_has_its_path() {
        let it = format!("{RG}/providers/Microsoft.VirtualMachineImages/imageTemplates");
        let gal = format!("{RG}/providers/Microsoft.Compute/galleries/g");
        let dep = format!("{RG}/providers/Microsoft.Resources/deployments");
        let sa = format!("{RG}/providers/Microsoft.Storage/storageAccounts");
        let cases = [
            (Method::GET, RG.to_string(), "resourceGroups.get"),
            (Method::DELETE, RG.to_string(), "resourceGroups.delete"),
            (Method::GET, "/subscriptions/s/resourcegroups".into(), "resourceGroups.list"),
            (Method::GET, "/subscriptions/s/operationresults/x".into(), "operationResults.get"),
            (Method::GET, "/subscriptions/s/providers/Microsoft.Compute/locations/l/capsOperations/x".into(), "capsOperations.get"),
            (Method::GET, dep.clone(), "deployments.list"),
            (Method::PUT, format!("{dep}/d"), "deployments.put"),
            (Method::GET, format!("{dep}/d"), "deployments.get"),
            (Method::DELETE, format!("{dep}/d"), "deployments.delete"),
            (Method::PATCH, format!("{dep}/d"), "unknown"),
            (Method::GET, format!("{dep}/d/operations"), "deploymentOperations.list"),
            (Method::GET, format!("{RG}/deployments/d/operations"), "deploymentOperations.list"),
            (Method::GET, format!("{dep}/d/operationStatuses/o"), "deployments.operationStatus"),
            (Method::GET, it.clone(), "imageTemplates.list"),
            (Method::GET, "/subscriptions/s/providers/Microsoft.VirtualMachineImages/imageTemplates".into(), "imageTemplates.list"),
            (Method::PUT, format!("{it}/t"), "imageTemplates.put"),
            (Method::PATCH, format!("{it}/t"), "imageTemplates.update"),
            (Method::POST, format!("{it}/t"), "unknown"),
            (Method::POST, format!("{it}/t/run"), "imageTemplates.run"),
            (Method::POST, format!("{it}/t/cancel"), "imageTemplates.cancel"),
            (Method::GET, format!("{it}/t/runOutputs"), "imageTemplates.runOutputs.list"),
            (Method::GET, format!("{it}/t/runOutputs/o"), "imageTemplates.runOutputs.get"),
            (Method::GET, "/subscriptions/s/providers/Microsoft.VirtualMachineImages/locations/l/operations/x".into(), "operations.get"),
            (Method::GET, "/subscriptions/s/providers/Microsoft.Compute/locations/l/publishers/p/artifacttypes/vmimage/offers/o/skus/k/versions".into(), "platformImageVersions.list"),
            (Method::GET, "/subscriptions/s/providers/Microsoft.Compute/locations/l/publishers/p/artifacttypes/other/offers/o/skus/k/versions".into(), "unknown"),
            (Method::GET, gal.clone(), "galleries.get"),
            (Method::GET, format!("{gal}/images/i"), "galleryImages.get"),
            (Method::GET, format!("{gal}/images/i/versions"), "galleryImageVersions.list"),
            (Method::GET, format!("{gal}/images/i/versions/1.0.0"), "galleryImageVersions.get"),
            (Method::GET, format!("{gal}/images/i/imageVersions/1.0.0"), "galleryImageVersions.get"),
            (Method::DELETE, format!("{gal}/images/i/versions/1.0.0"), "galleryImageVersions.delete"),
            (Method::GET, format!("{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u"), "identities.get"),
            (Method::GET, sa.clone(), "storageAccounts.list"),
            (Method::GET, format!("{sa}/a"), "storageAccounts.get"),
            (Method::POST, format!("{sa}/a/listKeys"), "storageAccounts.listKeys"),
            (Method::GET, format!("{RG}/providers/Microsoft.Network/virtualNetworks/v/subnets/s"), "resources.get"),
            (Method::GET, format!("{RG}/providers/Microsoft.Network/virtualNetworks"), "unknown"),
            (Method::PUT, format!("{RG}/providers/Microsoft.Network/virtualNetworks/v"), "unknown"),
            (Method::GET, "/subscriptions/s".into(), "unknown"),
        ];
        for (method, path, want) in cases {
            assert_eq!(op(method.clone(), &path), want, "{method} {path}");
        }
    }

    #[test]
    fn other_services_are_routed_by_path() {
        assert_eq!(op(Method::GET, "/_sim/stats"), "SimStats");
        assert_eq!(op(Method::POST, "/tenant/oauth2/v2.0/token"), "AadToken");
        assert_eq!(op(Method::GET, "/msi/token"), "Token");
        assert_eq!(op(Method::HEAD, "/blob/a/c/x/y"), "Blob");
        assert_eq!(
            op(Method::GET, "/keyvault/v/secrets/n/ver"),
            "KeyVaultSecret"
        );
        assert_eq!(op(Method::PUT, "/blob/a/c/x"), "unknown");
        let segs: Vec<String> = ["blob", "a", "c", "x", "y"].map(String::from).to_vec();
        let Route::Blob { blob, .. } = classify(&Method::GET, &segs) else {
            panic!("not a blob route");
        };
        assert_eq!(blob.as_deref(), Some("x/y"));
    }

    #[test]
    fn a_generic_resource_is_named_by_its_whole_id() {
        let segs: Vec<String> =
            format!("{RG}/providers/Microsoft.Network/virtualNetworks/v/subnets/s")
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        let Route::Arm {
            arm: Arm::Generic(rg, id, name, rtype),
            ..
        } = classify(&Method::GET, &segs)
        else {
            panic!("not a generic resource");
        };
        assert_eq!(rg, "rg");
        assert_eq!(
            id,
            format!("{RG}/providers/Microsoft.Network/virtualNetworks/v/subnets/s")
        );
        assert_eq!(
            (name.as_str(), rtype.as_str()),
            ("s", "Microsoft.Network/virtualNetworks/subnets")
        );
    }
}
