//! Selecting the drafts asked for, resolving each (settings, version preview, input hash,
//! template name) into a [`Unit`], and checking that no two units get the same template name.

use std::collections::HashMap;
use std::path::Path;

use aib_manifest::Manifest;
use minijinja::Value as Ctx;

use super::PlanOptions;
use super::draft::{Draft, Drafts, Request};
use super::link::SourceLinks;
use crate::error::Problems;
use crate::file_digests::FileDigests;
use crate::input_hash::{self, HashIdentity};
use crate::matrix::ExpandedRow;
use crate::naming;
use crate::resolved::{ResolvedSettings, Resolver, UnitScope, VersionPolicy, unit_context};
use crate::templating::Renderer;
use crate::unit::{Action, Unit};

/// Plans with at least this many selected units resolve them on every core.
const PARALLEL_FROM: usize = 1024;

/// The drafts selected, in plan order.
pub(super) struct Selected(pub Vec<usize>);

/// The selected units that resolved, in plan order.
pub(super) struct Resolved {
    pub units: Vec<Unit>,
    /// The draft each unit came from (parallel to `units`).
    pub drafts: Vec<usize>,
}

/// The drafts the selection matches; `None` (reported) when it matches none.
pub(super) fn select(
    manifest: &Manifest,
    drafts: &Drafts,
    request: &Request<'_>,
    problems: &mut Problems,
) -> Option<Selected> {
    let selected: Vec<usize> = match &request.matcher {
        Some(m) => drafts
            .units
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                let (env, var) = drafts.names(manifest, d);
                m.matches(env, var, d.id.as_str())
            })
            .map(|(i, _)| i)
            .collect(),
        None => Vec::new(),
    };
    if !selected.is_empty() {
        return Some(Selected(selected));
    }
    problems.error(
        "aib::selection",
        if request.options.selection.is_all() {
            "the manifest gives no unit to build".to_string()
        } else {
            "the selection matches no unit".to_string()
        },
        None,
        Some("`aib plan` lists every unit".into()),
    );
    None
}

/// What resolving any unit of the plan needs.
struct Context<'a> {
    manifest: &'a Manifest,
    drafts: &'a Drafts,
    sources: &'a SourceLinks,
    pipeline: &'a str,
    templates_dir: &'a Path,
    run_date: String,
    date_prefix: String,
}

/// A thread's caches and problems.
struct Worker {
    renderer: Renderer,
    digests: FileDigests,
    problems: Problems,
}

/// Resolves, hashes and names the selected units: each on its own, so a large plan is split
/// over the cores (each thread with its own template and file-digest caches and its own
/// problems, joined in plan order, so the result is the same as one pass).
pub(super) fn resolve(
    manifest: &Manifest,
    options: &PlanOptions,
    drafts: &Drafts,
    sources: &SourceLinks,
    selected: &Selected,
    problems: &mut Problems,
) -> Resolved {
    let templates_dir = manifest.templates_dir();
    let cx = Context {
        manifest,
        drafts,
        sources,
        pipeline: manifest.pipeline(),
        templates_dir: &templates_dir,
        run_date: options.today.iso(),
        date_prefix: options.today.version_prefix(),
    };
    let threads = std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1)
        .clamp(1, 8);
    let selected = &selected.0;
    // One slot per selected draft, filled in place by the threads (each its own chunk), then
    // the unresolved ones dropped in place: the units are never copied from one buffer to
    // another (at 100,000 units each copy is over 100 MB).
    let mut slots: Vec<Option<Unit>> = Vec::with_capacity(selected.len());
    slots.resize_with(selected.len(), || None);
    if threads == 1 || selected.len() < PARALLEL_FROM {
        let mine = cx.resolve_part(selected, &mut slots, Problems::new(&manifest.source));
        problems.out.extend(mine.out.items);
    } else {
        let chunk = selected.len().div_ceil(threads);
        let parts: Vec<Problems> = std::thread::scope(|s| {
            let handles: Vec<_> = selected
                .chunks(chunk)
                .zip(slots.chunks_mut(chunk))
                .map(|(part, out)| {
                    let mine = Problems::new(&manifest.source);
                    let cx = &cx;
                    s.spawn(move || cx.resolve_part(part, out, mine))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| match h.join() {
                    Ok(v) => v,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        });
        for mine in parts {
            problems.out.extend(mine.out.items);
        }
    }
    let drafts = selected
        .iter()
        .zip(&slots)
        .filter(|(_, u)| u.is_some())
        .map(|(&d, _)| d)
        .collect();
    Resolved {
        units: keep_resolved(slots),
        drafts,
    }
}

/// The units of the slots that hold one, collected in place (`flatten` would copy them all
/// into a new buffer; `filter_map` reuses the slots').
#[allow(clippy::filter_map_identity)]
fn keep_resolved(slots: Vec<Option<Unit>>) -> Vec<Unit> {
    slots.into_iter().filter_map(|u| u).collect()
}

impl Context<'_> {
    /// Resolves the drafts of `part` into `out` (same length); returns the problems found.
    fn resolve_part(
        &self,
        part: &[usize],
        out: &mut [Option<Unit>],
        problems: Problems,
    ) -> Problems {
        let mut worker = Worker {
            renderer: Renderer::new(),
            digests: FileDigests::new(self.manifest.file_roots.clone()),
            problems,
        };
        for (&i, slot) in part.iter().zip(out) {
            *slot = self.resolve_one(i, &mut worker);
        }
        worker.problems
    }

    /// One draft resolved into a unit (`None` when a problem was reported).
    fn resolve_one(&self, i: usize, w: &mut Worker) -> Option<Unit> {
        let d = self.drafts.get(i)?;
        let file = &self.manifest.file;
        let (env_name, var_name, anchor) = match (
            file.environments.get_index(d.env),
            file.variants.get_index(d.variant),
        ) {
            (Some((e, _)), Some((v, _))) => (e.as_str(), v.as_str(), v.span()),
            _ => return None,
        };
        let mut scope = UnitScope {
            id: &d.id,
            env: env_name,
            variant: var_name,
            pipeline: self.pipeline,
            matrix: matrix_value(&d.row.expanded),
            ctx: Ctx::UNDEFINED,
            dir: &self.manifest.dir,
            templates_dir: self.templates_dir,
            anchor,
            parent: self
                .sources
                .parent_of
                .get(i)
                .copied()
                .flatten()
                .and_then(|p| self.drafts.get(p))
                .map(|p| p.id.clone()),
            cloud: file.cloud(),
        };
        scope.ctx = unit_context(&scope, None, None);
        let ctx = scope.ctx.clone();
        let resolver = Resolver {
            renderer: &mut w.renderer,
            files: &mut w.digests,
            problems: &mut w.problems,
            scope,
            failed: false,
            secrets_in_scope: false,
        };
        let settings = resolver.resolve(&d.settings)?;
        let image_version = self.version_preview(d, &settings, &ctx, w)?;
        self.hash_and_name(d, (env_name, var_name), settings, image_version, w)
    }

    /// What the unit's `version` publishes, as far as a plan knows (`2026.105.*`, `auto`,
    /// `1.2.*`); `None` when its template does not render to `Major.Minor.Patch` (reported).
    fn version_preview(
        &self,
        d: &Draft,
        settings: &ResolvedSettings,
        ctx: &Ctx,
        w: &mut Worker,
    ) -> Option<String> {
        let t = match &settings.version {
            VersionPolicy::Date => return Some(format!("{}.*", self.date_prefix)),
            VersionPolicy::Auto => return Some("auto".to_string()),
            VersionPolicy::Template(t) => t,
        };
        let vctx = version_context(
            ctx,
            &settings.subscription,
            &settings.location,
            &self.run_date,
        );
        let span = d
            .settings
            .version
            .as_ref()
            .map(|v| v.span())
            .unwrap_or(0..0);
        match w.renderer.render(t, &vctx) {
            Ok(v) if naming::is_version_preview(&v) => Some(v),
            Ok(v) => {
                w.problems.error(
                    "aib::version-policy",
                    format!(
                        "unit `{}`: version `{t}` gives `{v}`, not `Major.Minor.Patch`",
                        d.id
                    ),
                    Some((span, format!("gives `{v}`"))),
                    Some("e.g. `1.2.{{ run.seq }}`".into()),
                );
                None
            }
            Err(e) => {
                w.problems.error(
                    "aib::template-render",
                    format!("unit `{}`: cannot render `version`: {e}", d.id),
                    Some((span, e.to_string())),
                    Some("available: env, variant, pipeline, matrix.<key>, subscription, location, run.seq, run.date".into()),
                );
                None
            }
        }
    }

    /// The unit, with its input hash and the template name made from it; `None` when a local
    /// file it reads cannot be read (reported).
    fn hash_and_name(
        &self,
        d: &Draft,
        (env_name, var_name): (&str, &str),
        settings: ResolvedSettings,
        image_version: String,
        w: &mut Worker,
    ) -> Option<Unit> {
        let identity = HashIdentity {
            environment: env_name,
            variant: var_name,
            matrix: &d.row.values,
        };
        let hash = match input_hash::compute(&identity, &settings, &mut w.digests) {
            Ok(h) => h,
            Err(why) => {
                let anchor = self.manifest.file.variants.get_index(d.variant)?.0.span();
                w.problems.error(
                    "aib::missing-file",
                    format!("unit `{}`: {why}", d.id),
                    Some((anchor, "in this variant".into())),
                    None,
                );
                return None;
            }
        };
        let template_name = naming::template_name(self.pipeline, var_name, env_name, hash.short());
        let provisional = settings.source.resolved_at_build_time();
        Some(Unit {
            id: d.id.clone(),
            environment: env_name.to_string(),
            variant: var_name.to_string(),
            matrix: d.row.values.clone(),
            settings: Box::new(settings),
            template_name,
            image_version,
            input_hash: hash,
            depends_on: Vec::new(),
            external_depends_on: Vec::new(),
            action: Action::Build,
            provisional,
        })
    }
}

/// No two units may get the same template name.
pub(super) fn check_names(
    manifest: &Manifest,
    drafts: &Drafts,
    resolved: &Resolved,
    problems: &mut Problems,
) {
    let mut names: HashMap<&str, usize> = HashMap::with_capacity(resolved.units.len());
    for (k, unit) in resolved.units.iter().enumerate() {
        let template_name = unit.template_name.as_str();
        let Some(other) = names.insert(template_name, k) else {
            continue;
        };
        let other = resolved
            .units
            .get(other)
            .map(|u| u.id.as_str())
            .unwrap_or("");
        problems.error(
            "aib::duplicate-name",
            format!(
                "units `{other}` and `{}` get the same template name `{template_name}`",
                unit.id
            ),
            resolved
                .drafts
                .get(k)
                .and_then(|&d| drafts.get(d))
                .and_then(|d| manifest.file.variants.get_index(d.variant))
                .map(|(v, _)| (v.span(), "in this variant".into())),
            Some("make their settings differ, or rename the variant".into()),
        );
    }
}

fn matrix_value(row: &ExpandedRow) -> Ctx {
    Ctx::from_pairs(
        row.values
            .iter()
            .map(|(k, v)| (k.as_str(), crate::templating::json_to_value(v))),
    )
}

fn version_context(base: &Ctx, subscription: &str, location: &str, run_date: &str) -> Ctx {
    minijinja::context! {
        run => minijinja::context! { seq => "*", date => run_date },
        subscription => subscription,
        location => location,
        ..base.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_unresolved_slots_keeps_the_buffer() {
        // `Option<Unit>` is as large as `Unit` (a niche), so collecting the flattened slots
        // reuses their allocation instead of copying every unit into a new one.
        assert_eq!(size_of::<Option<Unit>>(), size_of::<Unit>());
        let slots: Vec<Option<String>> = vec![Some("a".into()), None, Some("c".into())];
        let before = slots.as_ptr() as usize;
        #[allow(clippy::filter_map_identity)]
        let kept: Vec<String> = slots.into_iter().filter_map(|s| s).collect();
        assert_eq!(kept, ["a", "c"]);
        assert_eq!(kept.as_ptr() as usize, before);
    }
}
