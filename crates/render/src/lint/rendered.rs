//! The lint rules that can be read off a rendered imageTemplate, run on the resources that user
//! templates (`*.json.j2`, `*.json`) render: such a template need not take its values from the
//! manifest settings [`super::lint_plan`] checks. Each message names the unit and the template
//! file and points at the unit's `template` key; a finding the settings lint already reports
//! for the same unit (the template rendered the setting as is) is not repeated.
//!
//! Read off the resource (ARM expressions such as `[parameters('x')]` are substituted with the
//! deployment's parameter values or defaults; what stays an expression, and `<placeholders>`,
//! are not judged): `buildTimeoutInMinutes`; gallery, image definition and version of each
//! `SharedImage` `galleryImageId`; `targetRegions[].name` and `replicationRegions`;
//! `targetRegions[].replicaCount`; `stagingResourceGroup` shared with any other unit; a fixed
//! version with a `latest` source; the Windows traps (`vmProfile.vmSize`,
//! `vmProfile.osDiskSizeGB`, WindowsUpdate without a WindowsRestart before it, a `File`
//! customizer with a local `sourceUri`); versions colliding with another unit's.

use std::collections::{HashMap, HashSet};

use aib_manifest::{Diagnostic, Diagnostics, Manifest};
use aib_planner::{Plan, ResolvedSource, TemplateRef, Unit, VersionPolicy};
use serde_json::Value;

use super::{
    Key, Linter, is_placeholder, regions, valid_gallery_name, valid_image_definition, vcpus,
    version_problem,
};
use crate::render::RenderedDeployment;

/// Lints the imageTemplates resources of the deployments rendered from user templates
/// (deployments of `builtin:image-template` units are covered by [`super::lint_plan`]).
pub fn lint_rendered(
    manifest: &Manifest,
    plan: &Plan,
    deployments: &[RenderedDeployment],
) -> Diagnostics {
    let units: HashMap<&str, &Unit> = plan.units().iter().map(|u| (u.id.as_str(), u)).collect();
    let user: Vec<(&RenderedDeployment, &Unit)> = deployments
        .iter()
        .filter_map(|d| {
            let u = *units.get(d.unit.as_str())?;
            matches!(u.settings.template, TemplateRef::File { .. }).then_some((d, u))
        })
        .collect();
    let mut l = Linter::new(manifest);
    if user.is_empty() {
        return l.out;
    }
    // What the settings lint reports for these units already.
    let mut settings = Linter::new(manifest);
    for (_, u) in &user {
        settings.unit(u);
    }
    let already = settings.fired;
    for (d, u) in &user {
        l.rendered(u, d, &already);
    }
    l.across_rendered(plan, deployments);
    l.out.attach_source(&manifest.source);
    l.out
}

/// A literal string of the rendered resource: not an ARM expression, not a `<placeholder>`.
fn literal(v: &Value) -> Option<&str> {
    let s = v.as_str()?;
    let t = s.trim();
    if (t.starts_with('[') && t.ends_with(']') && !t.starts_with("[[")) || is_placeholder(s) {
        return None;
    }
    Some(s)
}

/// `.../galleries/{g}/images/{d}[/versions/{v}]` → (g, d, v).
fn gallery_parts(id: &str) -> Option<(&str, &str, Option<&str>)> {
    let segs: Vec<&str> = id.split('/').collect();
    let after = |key: &str| {
        segs.iter()
            .position(|s| s.eq_ignore_ascii_case(key))
            .and_then(|i| segs.get(i + 1).copied())
    };
    Some((after("galleries")?, after("images")?, after("versions")))
}

/// The image definition id of a `galleryImageId` (lower case, without `/versions/...`).
fn definition_key(id: &str) -> String {
    let lower = id.to_ascii_lowercase();
    match lower.find("/versions/") {
        Some(i) => lower[..i].to_string(),
        None => lower,
    }
}

/// Each `SharedImage` distributor: (index, galleryImageId literal).
fn shared_images(props: &Value) -> Vec<(usize, &str)> {
    props
        .get("distribute")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .filter(|(_, d)| d.get("type").and_then(Value::as_str) == Some("SharedImage"))
                .filter_map(|(i, d)| Some((i, literal(d.get("galleryImageId")?)?)))
                .collect()
        })
        .unwrap_or_default()
}

fn source_is_latest(source: &Value) -> bool {
    match source.get("type").and_then(Value::as_str) {
        Some("PlatformImage") => source
            .get("version")
            .and_then(Value::as_str)
            .is_some_and(|v| v.eq_ignore_ascii_case("latest")),
        Some("SharedImageVersion") => source
            .get("imageVersionId")
            .and_then(Value::as_str)
            .is_some_and(|v| v.to_ascii_lowercase().ends_with("/versions/latest")),
        _ => false,
    }
}

fn customizer_type(c: &Value) -> &str {
    c.get("type").and_then(Value::as_str).unwrap_or("")
}

fn is_windows(props: &Value) -> bool {
    let src = &props["source"];
    let says = |k: &str| {
        src.get(k)
            .and_then(Value::as_str)
            .is_some_and(|s| s.to_ascii_lowercase().contains("windows"))
    };
    if says("publisher") || says("offer") {
        return true;
    }
    props
        .get("customize")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter().any(|c| {
                matches!(
                    customizer_type(c),
                    "PowerShell" | "WindowsRestart" | "WindowsUpdate"
                )
            })
        })
}

/// The gallery version a unit's settings publish, when fixed by a version template.
fn settings_version(u: &Unit) -> Option<&str> {
    match &u.settings.version {
        VersionPolicy::Template(_) => Some(u.image_version.as_str()),
        _ => None,
    }
}

impl Linter<'_> {
    /// A finding about a rendered resource, unless the settings lint reported it already.
    fn rendered_finding(
        &mut self,
        u: &Unit,
        already: &HashSet<(&'static str, String)>,
        d: Diagnostic,
    ) {
        if already.contains(&(d.code, u.id.to_string())) {
            return;
        }
        self.push(u, Key::Top("template"), d, "rendered from this template");
    }

    fn rendered(
        &mut self,
        u: &Unit,
        d: &RenderedDeployment,
        already: &HashSet<(&'static str, String)>,
    ) {
        let id = u.id.as_str();
        let file = d.origin.as_str();
        let at = format!("unit `{id}`: template `{file}`");
        let props = d.properties();

        self.rendered_timeout(u, already, &at, props);
        self.rendered_galleries(u, already, &at, props);
        self.rendered_regions(u, already, &at, props);
        self.rendered_windows(u, already, &at, props);
        self.rendered_customizers(u, already, &at, props);
    }

    /// `buildTimeoutInMinutes` AIB rejects.
    fn rendered_timeout(
        &mut self,
        u: &Unit,
        already: &HashSet<(&'static str, String)>,
        at: &str,
        props: &Value,
    ) {
        if let Some(t) = props.get("buildTimeoutInMinutes").and_then(Value::as_i64)
            && ((1..=5).contains(&t) || t > 960)
        {
            self.rendered_finding(
                u,
                already,
                Diagnostic::error(
                    "aib::lint::build-timeout",
                    format!("{at} renders `buildTimeoutInMinutes` {t}; AIB rejects it"),
                )
                .with_help("use 0 (AIB's default of 240) or 6 to 960 minutes"),
            );
        }
    }

    /// The gallery, image definition and version of each `SharedImage` target.
    fn rendered_galleries(
        &mut self,
        u: &Unit,
        already: &HashSet<(&'static str, String)>,
        at: &str,
        props: &Value,
    ) {
        let fixed_latest = source_is_latest(&props["source"])
            && !matches!(u.settings.source, ResolvedSource::Variant { .. });
        for (i, gid) in shared_images(props) {
            let Some((g, def, version)) = gallery_parts(gid) else {
                continue;
            };
            let key = format!("distribute[{i}].galleryImageId");
            if !is_placeholder(g) && !valid_gallery_name(g) {
                self.rendered_finding(
                    u,
                    already,
                    Diagnostic::error(
                        "aib::lint::gallery-name",
                        format!("{at} renders the gallery name `{g}` (`{key}`), which is not valid"),
                    )
                    .with_help("gallery names are 1-80 letters, digits, `_` and `.`, not starting or ending with `.` (no `-`)"),
                );
            }
            if !is_placeholder(def) && !valid_image_definition(def) {
                self.rendered_finding(
                    u,
                    already,
                    Diagnostic::error(
                        "aib::lint::image-definition",
                        format!("{at} renders the image definition `{def}` (`{key}`), which is not valid"),
                    )
                    .with_help("1-80 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"),
                );
            }
            let Some(v) = version.filter(|v| !is_placeholder(v)) else {
                continue;
            };
            if let Some(why) = version_problem(v) {
                self.rendered_finding(
                    u,
                    already,
                    Diagnostic::error(
                        "aib::lint::version",
                        format!("{at} renders the version `{v}` (`{key}`): {why}"),
                    )
                    .with_help("gallery versions are `Major.Minor.Patch`, each a 32-bit integer"),
                );
            } else if fixed_latest {
                self.rendered_finding(
                    u,
                    already,
                    Diagnostic::error(
                        "aib::lint::fixed-version-latest",
                        format!("{at} publishes the fixed version `{v}` (`{key}`) while its source is `latest`"),
                    )
                    .with_help("a `latest` source is rebuilt as it moves, and AIB rejects publishing an existing version again: take the version from `{{ image.version_id }}` or pin the source version"),
                );
            }
        }
    }

    /// The regions and replica counts of each distribute target.
    fn rendered_regions(
        &mut self,
        u: &Unit,
        already: &HashSet<(&'static str, String)>,
        at: &str,
        props: &Value,
    ) {
        let distribute = props
            .get("distribute")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (i, dist) in distribute.iter().enumerate() {
            let mut names: Vec<(String, &str)> = Vec::new();
            if let Some(a) = dist.get("targetRegions").and_then(Value::as_array) {
                for (j, r) in a.iter().enumerate() {
                    if let Some(n) = r.get("name").and_then(literal) {
                        names.push((format!("distribute[{i}].targetRegions[{j}].name"), n));
                    }
                    if let Some(n) = r.get("replicaCount").and_then(Value::as_i64)
                        && !(1..=100).contains(&n)
                    {
                        self.rendered_finding(
                                u,
                                already,
                                Diagnostic::error(
                                    "aib::lint::replica-count",
                                    format!("{at} renders `distribute[{i}].targetRegions[{j}].replicaCount` {n}; AIB accepts 1 to 100"),
                                ),
                            );
                    }
                }
            }
            if let Some(a) = dist.get("replicationRegions").and_then(Value::as_array) {
                for (j, r) in a.iter().enumerate() {
                    if let Some(n) = literal(r) {
                        names.push((format!("distribute[{i}].replicationRegions[{j}]"), n));
                    }
                }
            }
            for (key, r) in names {
                if regions::is_known_region(r) {
                    continue;
                }
                let all: Vec<String> = regions::PUBLIC_REGIONS
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                let mut diag = Diagnostic::error(
                    "aib::lint::region",
                    format!("{at} renders the unknown Azure region `{r}` (`{key}`)"),
                );
                if let Some(best) = aib_manifest::did_you_mean(&regions::normalize(r), &all) {
                    diag = diag.with_help(format!("did you mean `{best}`?"));
                }
                self.rendered_finding(u, already, diag);
            }
        }
    }

    /// Windows traps: a one-vCPU build VM, no OS disk size.
    fn rendered_windows(
        &mut self,
        u: &Unit,
        already: &HashSet<(&'static str, String)>,
        at: &str,
        props: &Value,
    ) {
        // Windows traps.
        if is_windows(props) {
            let vm = &props["vmProfile"];
            let size = vm
                .get("vmSize")
                .and_then(literal)
                .or_else(|| vm.get("vmSize").is_none().then_some("Standard_D2ds_v4"));
            if let Some(size) = size
                && let Some(n) = vcpus(size).filter(|n| *n < 2)
            {
                self.rendered_finding(
                        u,
                        already,
                        Diagnostic::warning(
                            "aib::lint::windows-vcpus",
                            format!("{at} renders a Windows build VM `{size}` (`vmProfile.vmSize`) with {n} vCPU"),
                        )
                        .with_help("Windows builds with one vCPU are slow and often time out; use at least 2 vCPUs, e.g. Standard_D2s_v5"),
                    );
            }
            if vm.get("osDiskSizeGB").is_none_or(|g| g.as_i64() == Some(0)) {
                self.rendered_finding(
                    u,
                    already,
                    Diagnostic::warning(
                        "aib::lint::windows-os-disk",
                        format!("{at} renders a Windows image without `vmProfile.osDiskSizeGB`"),
                    )
                    .with_help("Windows images usually need 127 GB or more; set `vmProfile.osDiskSizeGB` (`os_disk_gb`) so the build does not run out of disk"),
                );
            }
        }
    }

    /// Customizers: Windows Update without a restart before it, local `File` sources.
    fn rendered_customizers(
        &mut self,
        u: &Unit,
        already: &HashSet<(&'static str, String)>,
        at: &str,
        props: &Value,
    ) {
        let customize = props
            .get("customize")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut restarted = false;
        for (i, c) in customize.iter().enumerate() {
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            match customizer_type(c) {
                "WindowsRestart" => restarted = true,
                "WindowsUpdate" if !restarted => self.rendered_finding(
                    u,
                    already,
                    Diagnostic::warning(
                        "aib::lint::windows-update-restart",
                        format!("{at} renders `customize[{i}]` (`{name}`), a WindowsUpdate without a WindowsRestart before it"),
                    )
                    .with_help("add a `WindowsRestart` customizer before it: pending restarts make Windows Update fail or hang"),
                ),
                "File" => {
                    if let Some(src) = c.get("sourceUri").and_then(literal)
                        && !src.contains("://") {
                            self.rendered_finding(
                                u,
                                already,
                                Diagnostic::warning(
                                    "aib::lint::local-file",
                                    format!("{at} renders `customize[{i}].sourceUri` (`{name}`) as the local path `{src}`"),
                                )
                                .with_help("AIB downloads `sourceUri` on the build VM: host the file (https or a storage SAS URL), or inline it with a `script`"),
                            );
                        }
                }
                _ => {}
            }
        }
    }

    /// Shared staging resource groups and colliding versions between a user template's
    /// rendering and any other unit (two builtin units are the settings lint's business).
    fn across_rendered(&mut self, plan: &Plan, deployments: &[RenderedDeployment]) {
        let rendered: HashMap<&str, &RenderedDeployment> =
            deployments.iter().map(|d| (d.unit.as_str(), d)).collect();
        let mut staging: Seen<'_, String> = HashMap::new();
        let mut versions: Seen<'_, (String, String)> = HashMap::new();
        let builtin = serde_json::json!({});
        for u in plan.units() {
            // A user template's rendering, or a builtin unit's settings (rendered as they are).
            let (props, origin) = if is_user(u) {
                match rendered.get(u.id.as_str()) {
                    Some(d) => (d.properties(), d.origin.as_str()),
                    None => continue,
                }
            } else {
                (&builtin, "builtin:image-template")
            };
            self.shared_staging(&mut staging, u, props, origin);
            for key in published_versions(u, props) {
                self.version_collision(&mut versions, u, key, origin);
            }
        }
    }

    /// A staging resource group another unit already uses.
    fn shared_staging<'a>(
        &mut self,
        seen: &mut Seen<'a, String>,
        u: &'a Unit,
        props: &Value,
        origin: &'a str,
    ) {
        let rg = if is_user(u) {
            props.get("stagingResourceGroup").and_then(literal)
        } else {
            u.settings.staging_resource_group.as_deref()
        };
        let Some(rg) = rg else {
            return;
        };
        let key = rg.to_ascii_lowercase();
        let Some(&(other, other_origin)) = seen.get(&key) else {
            seen.insert(key, (u, origin));
            return;
        };
        // Both as in the settings: the settings lint reported it.
        let same = |x: &Unit| {
            x.settings
                .staging_resource_group
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(rg))
        };
        if !(is_user(u) || is_user(other)) || (same(u) && same(other)) {
            return;
        }
        let (at, from) = rendered_by((u, origin), (other, other_origin));
        self.push(
            at,
            Key::Top("template"),
            Diagnostic::error(
                "aib::lint::staging-resource-group",
                format!(
                    "units `{}` and `{}` share the staging resource group `{rg}` (`stagingResourceGroup` rendered by `{from}`)",
                    other.id, u.id
                ),
            )
            .with_help("AIB needs one empty staging resource group per image template: make the template name it per unit, e.g. from `{{ variant }}` and `{{ env }}`"),
            "rendered from this template",
        );
    }

    /// A version of an image definition another unit already publishes.
    fn version_collision<'a>(
        &mut self,
        seen: &mut Seen<'a, (String, String)>,
        u: &'a Unit,
        key: (String, String),
        origin: &'a str,
    ) {
        let Some(&(other, other_origin)) = seen.get(&key) else {
            seen.insert(key, (u, origin));
            return;
        };
        // Both as in the settings: the settings lint reported it.
        let planned = |x: &Unit| {
            settings_version(x) == Some(key.1.as_str())
                && definition_key(&crate::render::builtin::gallery_image_id(x, None)) == key.0
        };
        if !(is_user(u) || is_user(other)) || (planned(u) && planned(other)) {
            return;
        }
        let (at, from) = rendered_by((u, origin), (other, other_origin));
        self.push(
            at,
            Key::Top("template"),
            Diagnostic::error(
                "aib::lint::version-collision",
                format!(
                    "units `{}` and `{}` both publish version `{}` of image definition `{}` (`distribute[].galleryImageId` rendered by `{}`)",
                    other.id,
                    u.id,
                    key.1,
                    key.0.rsplit('/').next().unwrap_or(""),
                    from
                ),
            )
            .with_help("take the version from `{{ image.version_id }}` (aib's version policy) or render one that differs between units"),
            "rendered from this template",
        );
    }
}

/// What an earlier unit claimed, keyed: the unit and where its value was rendered.
type Seen<'a, K> = HashMap<K, (&'a Unit, &'a str)>;

/// Of two units sharing a value, the one whose template rendered it (the diagnostic goes on
/// it) and that template.
fn rendered_by<'a>(u: (&'a Unit, &'a str), other: (&'a Unit, &'a str)) -> (&'a Unit, &'a str) {
    if is_user(u.0) { u } else { other }
}

/// Whether the unit renders its own template.
fn is_user(u: &Unit) -> bool {
    matches!(u.settings.template, TemplateRef::File { .. })
}

/// (image definition, version) a unit publishes: a user template's rendered fixed versions, a
/// builtin unit's planned one.
fn published_versions(u: &Unit, props: &Value) -> Vec<(String, String)> {
    if !is_user(u) {
        return settings_version(u)
            .map(|v| {
                let gid = crate::render::builtin::gallery_image_id(u, None);
                (definition_key(&gid), v.to_string())
            })
            .into_iter()
            .collect();
    }
    shared_images(props)
        .into_iter()
        .filter_map(|(_, gid)| match gallery_parts(gid) {
            Some((_, _, Some(v))) if !is_placeholder(v) && !v.contains('*') => {
                Some((definition_key(gid), v.to_string()))
            }
            _ => None,
        })
        .collect()
}
