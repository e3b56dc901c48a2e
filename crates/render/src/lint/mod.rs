//! Offline AIB lint: what Azure Image Builder would reject (errors, exit 2) and known traps
//! (warnings), checked on a plan's resolved units before anything is sent. Every message names
//! the unit and the manifest key, and points at the key in the manifest when it can find it.
//!
//! | code | severity | rule |
//! |---|---|---|
//! | `aib::lint::build-timeout` | error | `build_timeout_minutes` 1–5 or over 960 (AIB: 0 or 6–960) |
//! | `aib::lint::gallery-name` | error | gallery name not 1–80 letters, digits, `_`, `.` (not starting or ending with `.`) |
//! | `aib::lint::image-definition` | error | image definition not 1–80 letters, digits, `-`, `_`, `.`, starting and ending alphanumeric |
//! | `aib::lint::template-name` | error | template name not `^[A-Za-z0-9-_.]{1,64}$` |
//! | `aib::lint::version` | error | version not `Major.Minor.Patch` of 32-bit integers |
//! | `aib::lint::version-collision` | error | two units of one run publish the same version of one image definition |
//! | `aib::lint::region` | error | `location` or a `replicate_to` region that is not one of the cloud's (public, usgov, china; not checked for `custom`) |
//! | `aib::lint::subscription` | error | `subscription` or `gallery.subscription` not a GUID |
//! | `aib::lint::resource-group` | error | `resource_group` or `gallery.resource_group` not 1–90 letters, digits, `_`, `(`, `)`, `-`, `.` (not ending with `.`) |
//! | `aib::lint::replica-count` | error | `replica_count` outside 1–100 |
//! | `aib::lint::staging-resource-group` | error | one `staging_resource_group` for two templates |
//! | `aib::lint::fixed-version-latest` | error | a `latest` source with a fixed version (re-runs publish the same version, which AIB rejects) |
//! | `aib::lint::windows-vcpus` | warning | Windows build VM with fewer than 2 vCPUs |
//! | `aib::lint::windows-update-restart` | warning | `windows-update` without a `windows-restart` before it |
//! | `aib::lint::local-file` | warning | `file` customizer whose `source_uri` is a local path |
//! | `aib::lint::windows-os-disk` | warning | Windows image without `os_disk_gb` |
//! | `aib::lint::placeholder` | warning | a value is still a `<placeholder>` (from `aib import`) |
//!
//! Units rendered from user templates (`*.json.j2`, `*.json`) are also checked on what their
//! template rendered, by [`lint_rendered`]: the rules above that can be read off an
//! imageTemplate resource, each message naming the unit and the template file.

pub mod api_model;
pub mod regions;
mod rendered;

pub use rendered::lint_rendered;

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use aib_manifest::{Diagnostic, Diagnostics, Manifest, Settings, Spanned, VariantEnvironments};
use aib_planner::{Plan, ResolvedSource, ResolvedStep, Unit, VersionPolicy};
use serde_json::Value;

/// Lints every unit of a plan.
pub fn lint_plan(manifest: &Manifest, plan: &Plan) -> Diagnostics {
    lint_units(manifest, plan.units())
}

/// Plans with at least this many units lint them on every core.
const PARALLEL_FROM: usize = 2048;

/// Lints units (one run): each unit on its own (a large plan in chunks on every core, joined in
/// order), then the rules across units.
pub fn lint_units(manifest: &Manifest, units: &[Unit]) -> Diagnostics {
    let threads = std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1)
        .clamp(1, 8);
    let each = |part: &[Unit]| {
        let mut l = Linter::new(manifest);
        part.iter().for_each(|u| l.unit(u));
        l.out
    };
    let mut l = Linter::new(manifest);
    if threads == 1 || units.len() < PARALLEL_FROM {
        l.out = each(units);
    } else {
        let chunk = units.len().div_ceil(threads);
        let parts: Vec<Diagnostics> = std::thread::scope(|s| {
            let handles: Vec<_> = units.chunks(chunk).map(|p| s.spawn(|| each(p))).collect();
            handles
                .into_iter()
                .map(|h| match h.join() {
                    Ok(d) => d,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        });
        parts.into_iter().for_each(|d| l.out.extend(d.items));
    }
    l.across(units);
    l.out.attach_source(&manifest.source);
    l.out
}

struct Linter<'a> {
    manifest: &'a Manifest,
    out: Diagnostics,
    /// (code, unit) of every finding pushed for a unit.
    fired: HashSet<(&'static str, String)>,
}

/// Which part of a setting a span should point at.
#[derive(Clone, Copy)]
enum Key<'k> {
    Top(&'k str),
    GalleryName,
    Customizer(usize),
}

impl<'a> Linter<'a> {
    fn new(manifest: &'a Manifest) -> Self {
        Self {
            manifest,
            out: Diagnostics::default(),
            fired: HashSet::new(),
        }
    }

    /// The layers of a unit, most specific first.
    fn layers(&self, unit: &Unit) -> Vec<Settings> {
        let f = &self.manifest.file;
        let mut out = Vec::new();
        if let Some(v) = f.variants.get(unit.variant.as_str()) {
            if let Some(VariantEnvironments::Overrides(o)) = &v.environments
                && let Some(e) = o.get(unit.environment.as_str())
            {
                out.push(e.settings());
            }
            out.push(v.settings());
        }
        if let Some(e) = f.environments.get(unit.environment.as_str()) {
            out.push(e.settings());
        }
        out.push(f.defaults.clone());
        out
    }

    /// Where a key of a unit is set in the manifest (the most specific layer that sets it).
    fn span(&self, unit: &Unit, key: Key<'_>) -> Option<Range<usize>> {
        fn sp<T>(x: &Option<Spanned<T>>) -> Option<Range<usize>> {
            x.as_ref().map(Spanned::span)
        }
        for s in self.layers(unit) {
            let found = match key {
                Key::GalleryName => s.gallery.as_ref().and_then(|g| sp(&g.name)),
                Key::Customizer(i) => s.customize.as_ref().map(|c| {
                    c.get(i)
                        .map(|c| c.kind().span())
                        .unwrap_or_else(|| c.span())
                }),
                Key::Top(k) => match k {
                    "build_timeout_minutes" => sp(&s.build_timeout_minutes),
                    "image_definition" => sp(&s.image_definition),
                    "replicate_to" => sp(&s.replicate_to),
                    "replica_count" => sp(&s.replica_count),
                    "staging_resource_group" => sp(&s.staging_resource_group),
                    "vm_size" => sp(&s.vm_size),
                    "os_disk_gb" => sp(&s.os_disk_gb),
                    "version" => sp(&s.version),
                    "source" => sp(&s.source),
                    "location" => sp(&s.location),
                    "subscription" => sp(&s.subscription),
                    "resource_group" => sp(&s.resource_group),
                    "identity" => sp(&s.identity),
                    "template" => sp(&s.template),
                    "customize" => sp(&s.customize),
                    _ => None,
                },
            };
            if found.is_some() {
                return found;
            }
        }
        if let Some((name, _)) = self
            .manifest
            .file
            .variants
            .get_key_value(unit.variant.as_str())
        {
            return Some(name.span());
        }
        None
    }

    fn push(&mut self, unit: &Unit, key: Key<'_>, d: Diagnostic, label: &str) {
        self.fired.insert((d.code, unit.id.to_string()));
        let d = match self.span(unit, key) {
            Some(span) => d.with_label(span, label),
            None => d,
        };
        self.out.push(d);
    }

    fn unit(&mut self, u: &Unit) {
        self.unit_settings(u);
        self.names(u);
        self.unit_regions(u);
        self.unit_windows(u);
        self.unit_customizers(u);
        self.placeholders(u);
    }

    /// Build timeout, gallery and image definition names, the template name, the version.
    fn unit_settings(&mut self, u: &Unit) {
        let s = &u.settings;
        let id = u.id.as_str();

        let t = s.build_timeout_minutes;
        if (1..=5).contains(&t) || t > 960 {
            self.push(
                u,
                Key::Top("build_timeout_minutes"),
                Diagnostic::error(
                    "aib::lint::build-timeout",
                    format!("unit `{id}`: `build_timeout_minutes` is {t}; AIB rejects it"),
                )
                .with_help("use 0 (AIB's default of 240) or 6 to 960 minutes"),
                "AIB accepts 0 or 6-960",
            );
        }

        let g = &s.gallery.name;
        if !is_placeholder(g) && !valid_gallery_name(g) {
            self.push(
                u,
                Key::GalleryName,
                Diagnostic::error(
                    "aib::lint::gallery-name",
                    format!("unit `{id}`: gallery name `{g}` (`gallery.name`) is not valid"),
                )
                .with_help("gallery names are 1-80 letters, digits, `_` and `.`, not starting or ending with `.` (no `-`)"),
                "rendered for this unit",
            );
        }
        let d = &s.image_definition;
        if !is_placeholder(d) && !valid_image_definition(d) {
            self.push(
                u,
                Key::Top("image_definition"),
                Diagnostic::error(
                    "aib::lint::image-definition",
                    format!("unit `{id}`: image definition `{d}` (`image_definition`) is not valid"),
                )
                .with_help("1-80 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"),
                "rendered for this unit",
            );
        }
        if !aib_planner::naming::is_valid_name(&u.template_name) {
            self.out.push(Diagnostic::error(
                "aib::lint::template-name",
                format!(
                    "unit `{id}`: template name `{}` does not match `^[A-Za-z0-9-_.]{{1,64}}$`",
                    u.template_name
                ),
            ));
        }
        if let VersionPolicy::Template(_) = &s.version {
            self.unit_fixed_version(u);
        }
    }

    /// A version the policy writes out: a valid gallery version, and not one a `latest` source
    /// would publish again.
    fn unit_fixed_version(&mut self, u: &Unit) {
        let id = u.id.as_str();
        if let Some(why) = version_problem(&u.image_version) {
            self.push(
                u,
                Key::Top("version"),
                Diagnostic::error(
                    "aib::lint::version",
                    format!("unit `{id}`: `version` gives `{}`, {why}", u.image_version),
                )
                .with_help("gallery versions are `Major.Minor.Patch`, each a 32-bit integer"),
                "the version policy",
            );
        }
        // A fixed version with a `latest` source: every re-run publishes the same version.
        if !u.image_version.contains('*') && source_is_latest(&u.settings.source) {
            self.push(
                u,
                Key::Top("version"),
                Diagnostic::error(
                    "aib::lint::fixed-version-latest",
                    format!(
                        "unit `{id}`: `version` is the fixed `{}` while `source` is `latest`",
                        u.image_version
                    ),
                )
                .with_help("a `latest` source is rebuilt as it moves, and AIB rejects publishing an existing version again: use `date`, `auto` or a template with `{{ run.seq }}`, or pin the source version"),
                "fixed version",
            );
        }
    }

    /// Regions of the cloud and the replica count.
    fn unit_regions(&mut self, u: &Unit) {
        let s = &u.settings;
        let id = u.id.as_str();
        let cloud = self.manifest.file.cloud();
        let known = regions::regions_of(cloud).unwrap_or_default();
        let locations = std::iter::once(("location", &s.location))
            .chain(s.replicate_to.iter().map(|r| ("replicate_to", r)));
        for (key, r) in locations {
            if known.is_empty() || is_placeholder(r) || regions::is_region_of(known, r) {
                continue;
            }
            let names: Vec<String> = known.iter().map(|s| s.to_string()).collect();
            let mut d = Diagnostic::error(
                "aib::lint::region",
                format!(
                    "unit `{id}`: `{r}` in `{key}` is not a region of the {} cloud",
                    cloud_name(cloud)
                ),
            );
            if let Some(best) = aib_manifest::did_you_mean(&regions::normalize(r), &names) {
                d = d.with_help(format!("did you mean `{best}`?"));
            }
            self.push(u, Key::Top(key), d, "not a region of this cloud");
        }
        if let Some(n) = s.replica_count
            && !(1..=100).contains(&n)
        {
            self.push(
                u,
                Key::Top("replica_count"),
                Diagnostic::error(
                    "aib::lint::replica-count",
                    format!("unit `{id}`: `replica_count` is {n}; AIB accepts 1 to 100"),
                ),
                "out of range",
            );
        }
    }

    /// Windows warnings: a one-vCPU build VM, no OS disk size.
    fn unit_windows(&mut self, u: &Unit) {
        let s = &u.settings;
        let id = u.id.as_str();
        // Warnings.
        let windows = u.settings.is_windows();
        if windows {
            let size = s.vm_size.as_deref().unwrap_or("Standard_D2ds_v4");
            if let Some(n) = vcpus(size)
                && n < 2
            {
                self.push(
                        u,
                        Key::Top("vm_size"),
                        Diagnostic::warning(
                            "aib::lint::windows-vcpus",
                            format!("unit `{id}`: Windows build VM `{size}` (`vm_size`) has {n} vCPU"),
                        )
                        .with_help("Windows builds with one vCPU are slow and often time out; use at least 2 vCPUs, e.g. Standard_D2s_v5"),
                        "fewer than 2 vCPUs",
                    );
            }
            if s.os_disk_gb.is_none() {
                self.push(
                    u,
                    Key::Top("source"),
                    Diagnostic::warning(
                        "aib::lint::windows-os-disk",
                        format!("unit `{id}`: Windows image without `os_disk_gb`"),
                    )
                    .with_help("Windows images usually need 127 GB or more; set `os_disk_gb` so the build does not run out of disk"),
                    "Windows source",
                );
            }
        }
    }

    /// Customizer warnings: Windows Update without a restart before it, local `File` sources.
    fn unit_customizers(&mut self, u: &Unit) {
        let s = &u.settings;
        let id = u.id.as_str();
        let mut restarted = false;
        for (i, c) in s.customize.iter().enumerate() {
            match &c.step {
                ResolvedStep::WindowsRestart { .. } => restarted = true,
                ResolvedStep::WindowsUpdate { .. } if !restarted => {
                    self.push(
                        u,
                        Key::Customizer(i),
                        Diagnostic::warning(
                            "aib::lint::windows-update-restart",
                            format!(
                                "unit `{id}`: `customize[{i}]` (`{}`) runs Windows Update without a `windows-restart` before it",
                                c.name
                            ),
                        )
                        .with_help("add `{ type = \"windows-restart\" }` before it: pending restarts make Windows Update fail or hang"),
                        "no restart before this update",
                    );
                }
                ResolvedStep::File {
                    source_uri: Some(src),
                    ..
                } if !src.contains("://") && !is_placeholder(src) => {
                    self.push(
                        u,
                        Key::Customizer(i),
                        Diagnostic::warning(
                            "aib::lint::local-file",
                            format!(
                                "unit `{id}`: `customize[{i}].source_uri` (`{}`) is the local path `{src}`",
                                c.name
                            ),
                        )
                        .with_help("AIB downloads `sourceUri` on the build VM: host the file (https or a storage SAS URL), or inline it with a `script`"),
                        "not a URL",
                    );
                }
                _ => {}
            }
        }
    }

    /// Warnings for values still holding an import `<placeholder>`.
    /// Subscription ids and resource group names as ARM checks them.
    fn names(&mut self, u: &Unit) {
        let s = &u.settings;
        let id = u.id.as_str();
        for (key, v, k) in [
            ("subscription", &s.subscription, Key::Top("subscription")),
            (
                "gallery.subscription",
                &s.gallery.subscription,
                Key::GalleryName,
            ),
        ] {
            if !is_placeholder(v) && !is_guid(v) {
                self.push(
                    u,
                    k,
                    Diagnostic::error(
                        "aib::lint::subscription",
                        format!("unit `{id}`: `{key}` is `{v}`, not a subscription id"),
                    )
                    .with_help("a subscription id is a GUID: 8-4-4-4-12 hexadecimal digits"),
                    "rendered for this unit",
                );
            }
        }
        for (key, v, k) in [
            (
                "resource_group",
                &s.resource_group,
                Key::Top("resource_group"),
            ),
            (
                "gallery.resource_group",
                &s.gallery.resource_group,
                Key::GalleryName,
            ),
        ] {
            if let Some(why) = resource_group_problem(v).filter(|_| !is_placeholder(v)) {
                self.push(
                    u,
                    k,
                    Diagnostic::error(
                        "aib::lint::resource-group",
                        format!("unit `{id}`: resource group `{v}` (`{key}`) {why}"),
                    )
                    .with_help("resource group names are 1-90 letters, digits, `_`, `(`, `)`, `-` and `.`, not ending with `.`"),
                    "rendered for this unit",
                );
            }
        }
    }

    fn placeholders(&mut self, u: &Unit) {
        let s = &u.settings;
        let id = u.id.as_str();
        let mut found: Vec<(String, String, Key<'static>)> = Vec::new();
        let mut check = |key: &str, v: &str, k: Key<'static>| {
            for p in placeholders_in(v) {
                found.push((key.to_string(), p, k));
            }
        };
        check("subscription", &s.subscription, Key::Top("subscription"));
        check("location", &s.location, Key::Top("location"));
        check(
            "resource_group",
            &s.resource_group,
            Key::Top("resource_group"),
        );
        check("identity", &s.identity, Key::Top("identity"));
        check("gallery.name", &s.gallery.name, Key::GalleryName);
        check(
            "gallery.resource_group",
            &s.gallery.resource_group,
            Key::GalleryName,
        );
        check(
            "image_definition",
            &s.image_definition,
            Key::Top("image_definition"),
        );
        for r in &s.replicate_to {
            check("replicate_to", r, Key::Top("replicate_to"));
        }
        match &s.source {
            ResolvedSource::GalleryImage { id } | ResolvedSource::ManagedImage { id } => {
                check("source", id, Key::Top("source"))
            }
            _ => {}
        }
        for (k, v) in &s.parameters {
            let mut strings = Vec::new();
            collect_strings(v, &mut strings);
            for x in strings {
                check(&format!("parameters.{k}"), x, Key::Top("parameters"));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (key, p, k) in found {
            if !seen.insert((key.clone(), p.clone())) {
                continue;
            }
            let span = match key.strip_prefix("parameters.") {
                Some(name) => self.parameter_span(u, name),
                None => self.span(u, k),
            };
            let d = Diagnostic::warning(
                "aib::lint::placeholder",
                format!("unit `{id}`: `{key}` is still the placeholder `{p}`"),
            )
            .with_help(
                "fill in the real value (written by `aib import` from the original template)",
            );
            self.out.push(match span {
                Some(sp) => d.with_label(sp, "fill this in"),
                None => d,
            });
        }
    }

    fn parameter_span(&self, u: &Unit, name: &str) -> Option<Range<usize>> {
        self.layers(u).into_iter().find_map(|s| {
            s.parameters
                .iter()
                .find(|(k, _)| k.as_str() == name)
                .map(|(_, v)| v.span())
        })
    }

    /// Rules across units: version collisions and shared staging resource groups.
    fn across(&mut self, units: &[Unit]) {
        let mut versions: HashMap<(String, String), &Unit> = HashMap::new();
        for u in units {
            if matches!(u.settings.version, VersionPolicy::Auto) {
                continue;
            }
            let gid = crate::render::builtin::gallery_image_id(u, None).to_ascii_lowercase();
            if let Some(other) = versions.insert((gid, u.image_version.clone()), u) {
                self.push(
                    u,
                    Key::Top("version"),
                    Diagnostic::error(
                        "aib::lint::version-collision",
                        format!(
                            "units `{}` and `{}` both publish version `{}` of image definition `{}` (`version`, `image_definition`)",
                            other.id, u.id, u.image_version, u.settings.image_definition
                        ),
                    )
                    .with_help("give each unit its own `image_definition` or gallery, or a version template that differs between them"),
                    "same version",
                );
            }
        }
        let mut staging: HashMap<String, &Unit> = HashMap::new();
        for u in units {
            let Some(rg) = &u.settings.staging_resource_group else {
                continue;
            };
            if let Some(other) = staging.insert(rg.to_ascii_lowercase(), u) {
                self.push(
                    u,
                    Key::Top("staging_resource_group"),
                    Diagnostic::error(
                        "aib::lint::staging-resource-group",
                        format!(
                            "units `{}` and `{}` share the staging resource group `{rg}` (`staging_resource_group`)",
                            other.id, u.id
                        ),
                    )
                    .with_help("AIB needs one empty staging resource group per image template: template it, e.g. `/subscriptions/{{ subscription }}/resourceGroups/rg-aib-staging-{{ variant }}-{{ env }}`"),
                    "shared",
                );
            }
        }
    }
}

fn collect_strings<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

/// `<token>` placeholders in a string (letters, digits, `_`, `-`, `.` between `<` and `>`).
pub fn placeholders_in(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        match after.find('>') {
            Some(j) => {
                let inner = &after[..j];
                if !inner.is_empty()
                    && inner
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                    && inner
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic())
                {
                    out.push(format!("<{inner}>"));
                    rest = &after[j + 1..];
                } else {
                    rest = after;
                }
            }
            None => break,
        }
    }
    out
}

fn is_placeholder(s: &str) -> bool {
    !placeholders_in(s).is_empty()
}

fn cloud_name(c: aib_manifest::Cloud) -> &'static str {
    match c {
        aib_manifest::Cloud::Public => "public",
        aib_manifest::Cloud::Usgov => "US Government",
        aib_manifest::Cloud::China => "China",
        aib_manifest::Cloud::Custom => "custom",
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hexadecimal.
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Why ARM would refuse a resource group name (1-90 characters: letters and digits of any
/// script, `_`, `(`, `)`, `-`, `.`; not ending with `.`), with the number that is wrong.
pub fn resource_group_problem(s: &str) -> Option<String> {
    let n = s.chars().count();
    if n == 0 {
        return Some("is empty".into());
    }
    if n > 90 {
        return Some(format!("is {n} characters long; Azure allows at most 90"));
    }
    if s.ends_with('.') {
        return Some("ends with `.`".into());
    }
    s.chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '(' | ')' | '-' | '.')))
        .map(|c| format!("has `{c}`, which Azure does not allow"))
}

/// AIB/Compute gallery name rule.
pub fn valid_gallery_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 80
        && !s.starts_with('.')
        && !s.ends_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Gallery image definition name rule.
pub fn valid_image_definition(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 80
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Why a version (preview; `*` stands for the run sequence) is not `Major.Minor.Patch` of
/// 32-bit integers.
pub fn version_problem(v: &str) -> Option<String> {
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() != 3 {
        return Some("not `Major.Minor.Patch`".into());
    }
    for p in parts {
        if p == "*" {
            continue;
        }
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
            return Some(format!("`{p}` is not a number"));
        }
        if p.parse::<i32>().is_err() {
            return Some(format!("`{p}` does not fit a 32-bit integer"));
        }
    }
    None
}

fn source_is_latest(s: &ResolvedSource) -> bool {
    match s {
        ResolvedSource::Platform { version, .. } => version.eq_ignore_ascii_case("latest"),
        ResolvedSource::GalleryImage { id } => {
            id.to_ascii_lowercase().ends_with("/versions/latest")
        }
        _ => false,
    }
}

/// vCPUs of an Azure VM size from its name (`Standard_D2s_v5` → 2, `Standard_M8-2ms` → 2,
/// `Standard_B1s` → 1); `None` when the name does not say.
pub fn vcpus(size: &str) -> Option<u32> {
    let lower = size.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("standard_")
        .or_else(|| lower.strip_prefix("basic_"))
        .unwrap_or(&lower);
    let body = rest.split('_').next().unwrap_or(rest);
    let digits_start = body.find(|c: char| c.is_ascii_digit())?;
    let after = &body[digits_start..];
    let n: String = after.chars().take_while(char::is_ascii_digit).collect();
    let mut count: u32 = n.parse().ok()?;
    // Constrained vCPU sizes: `M8-2ms` has 2 active vCPUs.
    if let Some(dash) = after.find('-') {
        let c: String = after[dash + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(active) = c.parse() {
            count = active;
        }
    }
    Some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vcpu_parsing() {
        assert_eq!(vcpus("Standard_D2s_v5"), Some(2));
        assert_eq!(vcpus("Standard_D1_v2"), Some(1));
        assert_eq!(vcpus("Standard_B1s"), Some(1));
        assert_eq!(vcpus("Standard_DS1_v2"), Some(1));
        assert_eq!(vcpus("Standard_M8-2ms"), Some(2));
        assert_eq!(vcpus("Standard_D16ads_v5"), Some(16));
        assert_eq!(vcpus("weird"), None);
    }

    #[test]
    fn placeholder_tokens() {
        assert_eq!(
            placeholders_in("/subscriptions/<subscriptionID>/x/<rg-Name>"),
            vec!["<subscriptionID>", "<rg-Name>"]
        );
        assert!(placeholders_in("a < b > c").is_empty());
        assert!(placeholders_in("if ($a -lt 3) { <# comment #> }").is_empty());
    }

    #[test]
    fn versions() {
        assert_eq!(version_problem("1.2.3"), None);
        assert_eq!(version_problem("2026.1128.*"), None);
        assert!(version_problem("1.2").is_some());
        assert!(version_problem("1.2.4294967296").is_some());
        assert!(version_problem("1.x.3").is_some());
    }

    #[test]
    fn names() {
        assert!(valid_gallery_name("gal_avd.dev"));
        assert!(!valid_gallery_name("gal-avd"));
        assert!(!valid_gallery_name(".gal"));
        assert!(valid_image_definition("win11-24h2-avd"));
        assert!(!valid_image_definition("-x"));
    }
}
