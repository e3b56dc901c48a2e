//! Typed ARM resource ids: a resource group ([`ResourceGroupId`]) and a resource in one
//! ([`ResourceId`]), which the client's operations take instead of (subscription, group,
//! name) triples.
//!
//! An id renders as the request path the client sends: names percent-encoded as
//! [`crate::arm::seg`] encodes them, the group segment `resourceGroups`, except where the
//! Microsoft.Resources API itself spells it `resourcegroups` (resource groups and
//! deployments). Ids are parsed case-insensitively on their fixed segments, as ARM reads them,
//! and the kinds aib works with ([`ResourceKind`]) come out in the spelling aib sends; two ids
//! are equal when ARM would take them for the same resource ([`crate::ids::same`]).

use crate::arm::seg;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Why a string is not the resource id it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceIdError {
    /// Not shaped like an ARM id at all.
    #[error("not an Azure resource id: {id} ({why})")]
    Malformed {
        /// The string as given.
        id: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A well-formed id of another kind of resource.
    #[error("not a {expected} id: {id}")]
    Unexpected {
        /// The string as given.
        id: String,
        /// The kind that was wanted.
        expected: ResourceKind,
    },
}

impl From<ResourceIdError> for crate::Error {
    fn from(e: ResourceIdError) -> Self {
        crate::Error::Config(e.to_string())
    }
}

/// A resource group: `/subscriptions/{subscription}/resourceGroups/{name}`.
#[derive(Debug, Clone)]
pub struct ResourceGroupId {
    subscription: String,
    name: String,
}

impl ResourceGroupId {
    /// The group `name` of `subscription`.
    pub fn new(subscription: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            subscription: subscription.into(),
            name: name.into(),
        }
    }

    /// The subscription id.
    pub fn subscription(&self) -> &str {
        &self.subscription
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/subscriptions/{s}/resourceGroups/{rg}`, each name percent-encoded.
    pub fn path(&self) -> String {
        self.spelled("resourceGroups")
    }

    /// `/subscriptions/{s}/resourcegroups/{rg}`: the spelling of the Microsoft.Resources API
    /// (resource groups themselves, deployments), which aib has always sent there.
    pub fn resources_path(&self) -> String {
        self.spelled("resourcegroups")
    }

    fn spelled(&self, groups: &str) -> String {
        format!(
            "/subscriptions/{}/{groups}/{}",
            seg(&self.subscription),
            seg(&self.name)
        )
    }

    /// Parse `/subscriptions/{s}/resourceGroups/{rg}` (any case, trailing `/` allowed).
    pub fn parse(id: &str) -> Result<Self, ResourceIdError> {
        let segs = segments(id)?;
        match segs.as_slice() {
            [_, _, _, _] => group_of(id, &segs),
            _ => Err(malformed(id, "not a resource group")),
        }
    }

    fn key(&self) -> (String, String) {
        (
            self.subscription.to_ascii_lowercase(),
            self.name.to_ascii_lowercase(),
        )
    }
}

impl PartialEq for ResourceGroupId {
    fn eq(&self, other: &Self) -> bool {
        self.subscription.eq_ignore_ascii_case(&other.subscription)
            && self.name.eq_ignore_ascii_case(&other.name)
    }
}

impl Eq for ResourceGroupId {}

impl Hash for ResourceGroupId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl fmt::Display for ResourceGroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

impl FromStr for ResourceGroupId {
    type Err = ResourceIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The kinds of resource aib names: a provider namespace and its resource types, outermost
/// first, spelled as aib sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// `Microsoft.Resources/deployments`.
    Deployment,
    /// `Microsoft.VirtualMachineImages/imageTemplates`.
    ImageTemplate,
    /// `Microsoft.Compute/galleries`.
    Gallery,
    /// `Microsoft.Compute/galleries/images`: an image definition.
    GalleryImage,
    /// `Microsoft.Compute/galleries/images/versions`.
    GalleryImageVersion,
    /// `Microsoft.ManagedIdentity/userAssignedIdentities`.
    Identity,
    /// `Microsoft.Storage/storageAccounts`.
    StorageAccount,
}

impl ResourceKind {
    const ALL: [ResourceKind; 7] = [
        Self::Deployment,
        Self::ImageTemplate,
        Self::Gallery,
        Self::GalleryImage,
        Self::GalleryImageVersion,
        Self::Identity,
        Self::StorageAccount,
    ];

    /// Provider namespace and resource types.
    fn shape(self) -> (&'static str, &'static [&'static str]) {
        const GALLERY: [&str; 3] = ["galleries", "images", "versions"];
        match self {
            Self::Deployment => ("Microsoft.Resources", &["deployments"]),
            Self::ImageTemplate => ("Microsoft.VirtualMachineImages", &["imageTemplates"]),
            Self::Gallery => ("Microsoft.Compute", &GALLERY[..1]),
            Self::GalleryImage => ("Microsoft.Compute", &GALLERY[..2]),
            Self::GalleryImageVersion => ("Microsoft.Compute", &GALLERY),
            Self::Identity => ("Microsoft.ManagedIdentity", &["userAssignedIdentities"]),
            Self::StorageAccount => ("Microsoft.Storage", &["storageAccounts"]),
        }
    }

    /// Whether `namespace` and `types` are this kind's, in any case (a gallery version's type
    /// also as `imageversions`, the spelling of run outputs).
    fn matches(self, namespace: &str, types: &[(String, String)]) -> bool {
        let (ns, kinds) = self.shape();
        let same_type = |k: &str, t: &str| {
            k.eq_ignore_ascii_case(t)
                || (self == Self::GalleryImageVersion
                    && k == "versions"
                    && t.eq_ignore_ascii_case("imageversions"))
        };
        ns.eq_ignore_ascii_case(namespace)
            && kinds.len() == types.len()
            && kinds.iter().zip(types).all(|(k, (t, _))| same_type(k, t))
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Deployment => "deployment",
            Self::ImageTemplate => "image template",
            Self::Gallery => "gallery",
            Self::GalleryImage => "gallery image definition",
            Self::GalleryImageVersion => "gallery image version",
            Self::Identity => "user-assigned identity",
            Self::StorageAccount => "storage account",
        })
    }
}

/// A resource in a resource group:
/// `{group}/providers/{namespace}/{type}/{name}[/{type}/{name}]…`.
#[derive(Debug, Clone)]
pub struct ResourceId {
    group: ResourceGroupId,
    namespace: String,
    /// `(type, name)` pairs, outermost first (never empty): `galleries/g`, `images/i`,
    /// `versions/1.0.0`.
    types: Vec<(String, String)>,
}

impl ResourceId {
    /// A resource of `kind` in `group`, one name per type of the kind (outermost first).
    fn of(kind: ResourceKind, group: &ResourceGroupId, names: &[&str]) -> Self {
        let (namespace, kinds) = kind.shape();
        debug_assert_eq!(kinds.len(), names.len());
        Self {
            group: group.clone(),
            namespace: namespace.to_owned(),
            types: kinds
                .iter()
                .zip(names)
                .map(|(t, n)| ((*t).to_owned(), (*n).to_owned()))
                .collect(),
        }
    }

    /// `Microsoft.Resources/deployments/{name}`.
    pub fn deployment(group: &ResourceGroupId, name: &str) -> Self {
        Self::of(ResourceKind::Deployment, group, &[name])
    }

    /// `Microsoft.VirtualMachineImages/imageTemplates/{name}`.
    pub fn image_template(group: &ResourceGroupId, name: &str) -> Self {
        Self::of(ResourceKind::ImageTemplate, group, &[name])
    }

    /// `Microsoft.Compute/galleries/{name}`.
    pub fn gallery(group: &ResourceGroupId, name: &str) -> Self {
        Self::of(ResourceKind::Gallery, group, &[name])
    }

    /// `Microsoft.Compute/galleries/{gallery}/images/{image}`: an image definition.
    pub fn gallery_image(group: &ResourceGroupId, gallery: &str, image: &str) -> Self {
        Self::of(ResourceKind::GalleryImage, group, &[gallery, image])
    }

    /// `Microsoft.Compute/galleries/{gallery}/images/{image}/versions/{version}`.
    pub fn gallery_image_version(
        group: &ResourceGroupId,
        gallery: &str,
        image: &str,
        version: &str,
    ) -> Self {
        Self::of(
            ResourceKind::GalleryImageVersion,
            group,
            &[gallery, image, version],
        )
    }

    /// `Microsoft.ManagedIdentity/userAssignedIdentities/{name}`.
    pub fn identity(group: &ResourceGroupId, name: &str) -> Self {
        Self::of(ResourceKind::Identity, group, &[name])
    }

    /// `Microsoft.Storage/storageAccounts/{name}`.
    pub fn storage_account(group: &ResourceGroupId, name: &str) -> Self {
        Self::of(ResourceKind::StorageAccount, group, &[name])
    }

    /// The resource group it is in.
    pub fn group(&self) -> &ResourceGroupId {
        &self.group
    }

    /// Its subscription id.
    pub fn subscription(&self) -> &str {
        self.group.subscription()
    }

    /// Its resource group's name.
    pub fn resource_group(&self) -> &str {
        self.group.name()
    }

    /// Its own name (the innermost one: a version's `1.0.0`).
    pub fn name(&self) -> &str {
        self.types.last().map_or("", |(_, n)| n.as_str())
    }

    /// Whether it is a resource of `kind`.
    pub fn is(&self, kind: ResourceKind) -> bool {
        kind.matches(&self.namespace, &self.types)
    }

    /// The resource it is a child of (an image version's image definition); `None` for a
    /// top-level resource.
    pub fn parent(&self) -> Option<Self> {
        let n = self.types.len().checked_sub(1).filter(|n| *n > 0)?;
        Some(Self {
            group: self.group.clone(),
            namespace: self.namespace.clone(),
            types: self.types[..n].to_vec(),
        })
    }

    /// The request path: `{group}/providers/{namespace}/{type}/{name}…`, names
    /// percent-encoded, the group spelled as [`ResourceGroupId`] says.
    pub fn path(&self) -> String {
        let scope = if self.namespace.eq_ignore_ascii_case("Microsoft.Resources") {
            self.group.resources_path()
        } else {
            self.group.path()
        };
        let mut path = format!("{scope}/providers/{}", self.namespace);
        for (t, n) in &self.types {
            path.push('/');
            path.push_str(t);
            path.push('/');
            path.push_str(&seg(n));
        }
        path
    }

    /// Parse an id in any case of its fixed segments; a leading or trailing `/` may be left
    /// out. A kind of [`ResourceKind`] comes out spelled as aib sends it, a gallery version
    /// given under `imageversions` (as run outputs name it) under `versions`.
    pub fn parse(id: &str) -> Result<Self, ResourceIdError> {
        let segs = segments(id)?;
        if segs.len() < 8 || segs.len() % 2 != 0 {
            return Err(malformed(id, "not a resource in a resource group"));
        }
        let group = group_of(id, &segs)?;
        if !segs[4].eq_ignore_ascii_case("providers") {
            return Err(malformed(id, "no `providers` after the resource group"));
        }
        let mut namespace = segs[5].to_owned();
        let mut types: Vec<(String, String)> = segs[6..]
            .chunks(2)
            .map(|p| (p[0].to_owned(), p[1].to_owned()))
            .collect();
        if let Some(kind) = ResourceKind::ALL
            .into_iter()
            .find(|k| k.matches(&namespace, &types))
        {
            let (ns, kinds) = kind.shape();
            namespace = ns.to_owned();
            for ((t, _), k) in types.iter_mut().zip(kinds) {
                *t = (*k).to_owned();
            }
        }
        Ok(Self {
            group,
            namespace,
            types,
        })
    }

    /// Parse an id that must be of `kind`.
    pub fn parse_as(id: &str, kind: ResourceKind) -> Result<Self, ResourceIdError> {
        let parsed = Self::parse(id).map_err(|_| unexpected(id, kind))?;
        if parsed.is(kind) {
            Ok(parsed)
        } else {
            Err(unexpected(id, kind))
        }
    }
}

impl PartialEq for ResourceId {
    fn eq(&self, other: &Self) -> bool {
        self.group == other.group
            && self.namespace.eq_ignore_ascii_case(&other.namespace)
            && self.types.len() == other.types.len()
            && self
                .types
                .iter()
                .zip(&other.types)
                .all(|(a, b)| a.0.eq_ignore_ascii_case(&b.0) && a.1.eq_ignore_ascii_case(&b.1))
    }
}

impl Eq for ResourceId {}

impl Hash for ResourceId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.group.hash(state);
        self.namespace.to_ascii_lowercase().hash(state);
        for (t, n) in &self.types {
            t.to_ascii_lowercase().hash(state);
            n.to_ascii_lowercase().hash(state);
        }
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

impl FromStr for ResourceId {
    type Err = ResourceIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn malformed(id: &str, why: &'static str) -> ResourceIdError {
    ResourceIdError::Malformed {
        id: id.to_owned(),
        why,
    }
}

fn unexpected(id: &str, expected: ResourceKind) -> ResourceIdError {
    ResourceIdError::Unexpected {
        id: id.to_owned(),
        expected,
    }
}

/// The segments of an id: a leading and a trailing `/` are optional (a hand-written id may
/// leave out the first), no segment may be empty.
fn segments(id: &str) -> Result<Vec<&str>, ResourceIdError> {
    let rest = id.strip_prefix('/').unwrap_or(id);
    let segs: Vec<&str> = rest.strip_suffix('/').unwrap_or(rest).split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Err(malformed(id, "an empty segment"));
    }
    Ok(segs)
}

/// The group of `/subscriptions/{s}/resourceGroups/{rg}/…` (at least four segments).
fn group_of(id: &str, segs: &[&str]) -> Result<ResourceGroupId, ResourceIdError> {
    match segs {
        [s, sub, r, rg, ..]
            if s.eq_ignore_ascii_case("subscriptions")
                && r.eq_ignore_ascii_case("resourceGroups") =>
        {
            Ok(ResourceGroupId::new(*sub, *rg))
        }
        _ => Err(malformed(
            id,
            "it does not start with /subscriptions/{id}/resourceGroups/{name}",
        )),
    }
}

#[cfg(test)]
mod tests;
