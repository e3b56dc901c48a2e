//! Semantic checks on a parsed manifest: references between tables, value ranges, files that
//! must exist, cron and time zones, globs, customizer keys per type and secret references.
//! Every problem is collected; values holding `{{ ... }}` are checked by the planner once
//! rendered.

use std::ops::Range;
use std::path::Path;

use indexmap::IndexMap;

use crate::Spanned;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::model::{
    Customizer, CustomizerKind, Environment, ManifestFile, Script, Settings, Source, Step, Variant,
    VariantEnvironments,
};
use crate::suggest::did_you_mean;

/// Runs every check and returns the problems found (errors and warnings).
pub fn check(file: &ManifestFile, dir: &Path) -> Diagnostics {
    let mut c = Checker {
        file,
        dir,
        out: Diagnostics::default(),
    };
    c.top();
    c.layer("defaults", &file.defaults);
    for (name, env) in &file.environments {
        c.environment(name, env);
    }
    for (name, variant) in &file.variants {
        c.variant(name, variant);
    }
    for (name, sched) in &file.schedules {
        c.name("schedule", name);
        c.schedule(name, sched);
    }
    c.case_clashes("environment", file.environments.keys());
    c.case_clashes("variant", file.variants.keys());
    c.out
}

impl Checker<'_> {
    fn environment(&mut self, name: &Spanned<String>, env: &Environment) {
        self.name("environment", name);
        self.layer(&format!("environments.{}", name.as_str()), &env.settings());
        for a in &env.after {
            self.env_ref(a, "`after`");
            if a.as_str() == name.as_str() {
                self.out.push(
                    Diagnostic::error(
                        "aib::cycle",
                        format!("environment `{}` is `after` itself", name.as_str()),
                    )
                    .with_label(a.span(), "an environment cannot wait for itself"),
                );
            }
        }
        if let Some(mp) = &env.max_parallel
            && *mp.get_ref() == 0
        {
            self.out.push(
                Diagnostic::error("aib::range", "`max_parallel` must be at least 1")
                    .with_label(mp.span(), "0 would build nothing"),
            );
        }
    }

    fn variant(&mut self, name: &Spanned<String>, variant: &Variant) {
        let file = self.file;
        self.name("variant", name);
        let key = format!("variants.{}", name.as_str());
        self.layer(&key, &variant.settings());
        if let Some(m) = &variant.matrix {
            for (span, msg) in m.problems() {
                self.out
                    .push(Diagnostic::error("aib::matrix", msg).with_label(span, "here"));
            }
        }
        match &variant.environments {
            Some(VariantEnvironments::Only(list)) => {
                if list.is_empty() {
                    self.out.push(Diagnostic::warning(
                        "aib::no-units",
                        format!("variant `{}` selects no environment", name.as_str()),
                    ));
                }
                for e in list {
                    self.env_ref(e, "the variant's `environments`");
                }
            }
            Some(VariantEnvironments::Overrides(map)) => {
                for (e, layer) in map {
                    self.env_ref(e, "the variant's `environments`");
                    self.layer(&format!("{key}.environments.{}", e.as_str()), layer);
                }
            }
            None => {}
        }
        let has_source = variant.source.is_some()
            || file.defaults.source.is_some()
            || file.environments.values().any(|e| e.source.is_some())
            || matches!(&variant.environments, Some(VariantEnvironments::Overrides(m)) if m.values().any(|l| l.source.is_some()));
        if !has_source {
            self.out.push(
                Diagnostic::error("aib::missing-key", format!("variant `{}` has no `source`", name.as_str()))
                    .with_label(name.span(), "this variant")
                    .with_help("add `source = { platform = \"Publisher:Offer:Sku:latest\" }` or `source = { variant = \"...\" }`"),
            );
        }
    }
}

/// The CI systems `aib ci` writes for, and how often each can run a scheduled job.
const CI_SCHEDULE_LIMITS: &[(&str, i64)] = &[
    // GitHub Actions: "the shortest interval you can run scheduled workflows is once every 5 minutes".
    ("GitHub Actions", 5),
    // Azure Pipelines: about 1,000 scheduled runs per pipeline a week, one every 10 minutes.
    ("Azure Pipelines", 10),
];

/// The shortest time between two consecutive due times of `cron` over the next 500 of them
/// (a week of five-minute steps covers every pattern a day or week repeats).
fn shortest_interval_minutes(cron: &croner::Cron) -> Option<i64> {
    let start = chrono::DateTime::<chrono::Utc>::from_timestamp(1_767_225_600, 0)?; // 2026-01-01
    let times: Vec<_> = cron.iter_after(start).take(500).collect();
    times
        .windows(2)
        .map(|w| (w[1] - w[0]).num_seconds())
        .min()
        .map(|s| s / 60)
}

struct Checker<'a> {
    file: &'a ManifestFile,
    dir: &'a Path,
    out: Diagnostics,
}

fn templated(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

impl Checker<'_> {
    /// `max_parallel`: at least 1; an environment's cap above the overall one is said (the
    /// overall cap wins).
    fn caps(&mut self) {
        let f = self.file;
        if let Some(m) = &f.pipeline.max_parallel
            && *m.get_ref() == 0
        {
            self.out.push(
                Diagnostic::error("aib::range", "`max_parallel` must be at least 1")
                    .with_label(m.span(), "0 would build nothing"),
            );
            return;
        }
        let overall = f.max_parallel();
        let whence = if f.pipeline.max_parallel.is_some() {
            "`[pipeline] max_parallel`"
        } else {
            "the default; set `[pipeline] max_parallel`"
        };
        for (name, env) in &f.environments {
            let Some(mp) = &env.max_parallel else {
                continue;
            };
            if *mp.get_ref() > overall {
                self.out.push(
                    Diagnostic::warning(
                        "aib::max-parallel",
                        format!(
                            "environment `{}` allows {} units at once, but the whole run builds at most {overall} at once ({whence}), so {overall} is its cap",
                            name.as_str(),
                            mp.get_ref()
                        ),
                    )
                    .with_label(mp.span(), format!("more than the overall {overall}"))
                    .with_help(format!(
                        "raise `[pipeline] max_parallel` to at least {}, or `aib build --max-parallel {}` for one run",
                        mp.get_ref(),
                        mp.get_ref()
                    )),
                );
            }
        }
    }

    fn top(&mut self) {
        let f = self.file;
        if *f.version.get_ref() != 1 {
            self.out.push(
                Diagnostic::error(
                    "aib::version",
                    format!("unsupported manifest version {}", f.version.get_ref()),
                )
                .with_label(f.version.span(), "this aib reads version 1")
                .with_help("set `version = 1`"),
            );
        }
        let name = &f.pipeline.name;
        let ok = !name.is_empty()
            && name.len() <= 40
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-');
        if !ok {
            self.out.push(
                Diagnostic::error(
                    "aib::name",
                    format!("pipeline name `{}` is not valid", name.as_str()),
                )
                .with_label(name.span(), "use 1-40 lowercase letters, digits and `-`"),
            );
        }
        for p in &f.pipeline.allow_paths {
            if !self.dir.join(p.as_str()).is_dir() {
                self.out.push(
                    Diagnostic::error(
                        "aib::allow-paths",
                        format!("`allow_paths` folder `{}` does not exist", p.as_str()),
                    )
                    .with_label(p.span(), "relative to the manifest's folder, or absolute"),
                );
            }
        }
        if let Some(m) = &f.pipeline.max_units
            && *m.get_ref() == 0
        {
            self.out.push(
                Diagnostic::error("aib::range", "`max_units` must be at least 1")
                    .with_label(m.span(), "0 would allow no unit"),
            );
        }
        self.caps();
        if f.environments.is_empty() {
            self.out.push(
                Diagnostic::error("aib::no-units", "the manifest defines no environment")
                    .with_help(
                        "add at least one `[environments.<name>]` table, e.g. `[environments.dev]`",
                    ),
            );
        }
        if f.variants.is_empty() {
            self.out.push(
                Diagnostic::error("aib::no-units", "the manifest defines no variant")
                    .with_help("add at least one `[variants.<name>]` table"),
            );
        }
        if let Some(ep) = &f.azure.arm_endpoint
            && !(ep.starts_with("https://") || ep.starts_with("http://"))
        {
            self.out.push(
                Diagnostic::error("aib::url", "`arm_endpoint` must be an http(s) URL")
                    .with_label(ep.span(), "not a URL"),
            );
        }
    }

    /// Environment, variant and schedule names: letters, digits, `-` and `_`.
    fn name(&mut self, what: &str, name: &Spanned<String>) {
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            self.out.push(
                Diagnostic::error(
                    "aib::name",
                    format!("{what} name `{}` is not valid", name.as_str()),
                )
                .with_label(name.span(), "use letters, digits, `-` and `_`"),
            );
        }
    }

    /// A schedule due more often than a CI system can run one: under `aib ci` its due times
    /// closer than that are built together at the next run.
    fn schedule_frequency(
        &mut self,
        name: &Spanned<String>,
        s: &crate::model::Schedule,
        cron: &croner::Cron,
    ) {
        let Some(every) = shortest_interval_minutes(cron) else {
            return;
        };
        let too_fast: Vec<String> = CI_SCHEDULE_LIMITS
            .iter()
            .filter(|(_, limit)| every < *limit)
            .map(|(ci, limit)| format!("{ci} runs a schedule at most every {limit} minutes"))
            .collect();
        if too_fast.is_empty() {
            return;
        }
        let gap = if every == 0 {
            "less than a minute apart".to_string()
        } else if every == 1 {
            "1 minute apart".to_string()
        } else {
            format!("{every} minutes apart")
        };
        self.out.push(
            Diagnostic::warning(
                "aib::schedule-frequency",
                format!(
                    "schedule `{}` is due more often than CI can run it: {}",
                    name.as_str(),
                    too_fast.join("; ")
                ),
            )
            .with_label(s.cron.span(), format!("due times as close as {gap}"))
            .with_help(
                "from CI, due times closer than that are built together at the next run; `aib schedule` as a service keeps every one",
            ),
        );
    }

    /// Names that differ only in case: CI job ids, state prefixes and Azure resource names
    /// are case-insensitive, so `dev` and `Dev` would collide there.
    fn case_clashes<'n>(&mut self, what: &str, names: impl Iterator<Item = &'n Spanned<String>>) {
        let mut seen: Vec<&Spanned<String>> = Vec::new();
        for n in names {
            if let Some(first) = seen.iter().find(|o| o.eq_ignore_ascii_case(n)) {
                self.out.push(
                    Diagnostic::error(
                        "aib::name-case",
                        format!(
                            "{what}s `{}` and `{}` differ only in case",
                            first.as_str(),
                            n.as_str()
                        ),
                    )
                    .with_label(n.span(), format!("the same {what} as `{}`", first.as_str()))
                    .with_help(format!(
                        "CI job ids, state prefixes and Azure resource names ignore case: give each {what} a name of its own"
                    )),
                );
            } else {
                seen.push(n);
            }
        }
    }

    fn env_ref(&mut self, e: &Spanned<String>, place: &str) {
        if self.file.environments.contains_key(e.as_str()) {
            return;
        }
        let names: Vec<String> = self
            .file
            .environments
            .keys()
            .map(|k| k.get_ref().clone())
            .collect();
        let mut d = Diagnostic::error(
            "aib::unknown-environment",
            format!("unknown environment `{}` in {place}", e.as_str()),
        )
        .with_label(e.span(), "no `[environments.*]` table has this name");
        d = match did_you_mean(e, &names) {
            Some(best) => d.with_help(format!("did you mean `{best}`?")),
            None => d.with_help(format!("environments are: {}", names.join(", "))),
        };
        self.out.push(d);
    }

    fn layer(&mut self, key: &str, s: &Settings) {
        self.layer_ranges(key, s);
        if let Some(t) = &s.template {
            self.template(key, t);
        }
        if let Some(src) = &s.source {
            self.source(key, src);
        }
        if let Some(list) = &s.customize {
            for (i, cz) in list.iter().enumerate() {
                self.customizer(&format!("{key}.customize[{i}]"), cz, false);
            }
        }
        if let Some(v) = &s.validate
            && let Some(list) = &v.in_vm_validations
        {
            for (i, cz) in list.iter().enumerate() {
                self.customizer(&format!("{key}.validate.in_vm_validations[{i}]"), cz, true);
            }
        }
        for (name, reference) in &s.secrets {
            self.secret(name, reference);
        }
        if let Some(v) = &s.version {
            let p = v.as_str();
            if p.trim().is_empty() {
                self.out.push(
                    Diagnostic::error("aib::version-policy", "`version` is empty").with_label(
                        v.span(),
                        "use `date`, `auto` or a template like `1.2.{{ run.seq }}`",
                    ),
                );
            }
        }
    }

    /// The numbers AIB accepts only in a range.
    fn layer_ranges(&mut self, key: &str, s: &Settings) {
        if let Some(t) = &s.build_timeout_minutes {
            let v = *t.get_ref();
            if v != 0 && !(6..=960).contains(&v) {
                self.out.push(
                    Diagnostic::error(
                        "aib::range",
                        format!("`{key}.build_timeout_minutes` is {v}"),
                    )
                    .with_label(
                        t.span(),
                        "AIB accepts 0 (its default of 240) or 6 to 960 minutes",
                    ),
                );
            }
        }
        if let Some(g) = &s.os_disk_gb {
            let v = *g.get_ref();
            if v == 0 || v > 4095 {
                self.out.push(
                    Diagnostic::error("aib::range", format!("`{key}.os_disk_gb` is {v}"))
                        .with_label(g.span(), "must be 1 to 4095"),
                );
            }
        }
        if let Some(r) = &s.replica_count {
            let v = *r.get_ref();
            if !(1..=100).contains(&v) {
                self.out.push(
                    Diagnostic::error("aib::range", format!("`{key}.replica_count` is {v}"))
                        .with_label(r.span(), "must be 1 to 100"),
                );
            }
        }
    }

    /// A secret's name and reference (a templated reference is checked once rendered).
    fn secret(&mut self, name: &Spanned<String>, reference: &Spanned<crate::SecretSource>) {
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.is_empty() {
            self.out.push(
                Diagnostic::error(
                    "aib::name",
                    format!("secret name `{}` is not valid", name.as_str()),
                )
                .with_label(
                    name.span(),
                    "use letters, digits and `_` so templates can say `{{ secrets.<name> }}`",
                ),
            );
        }
        if reference.is_templated() {
            return;
        }
        let cloud = self.file.cloud();
        match reference.reference() {
            Err(why) => self.out.push(
                Diagnostic::error("aib::secret-ref", format!("malformed secret reference for `{}`", name.as_str()))
                    .with_label(reference.span(), why.to_string())
                    .with_help("write `env:VARIABLE` or `keyvault:https://<vault>.vault.azure.net/secrets/<name>`"),
            ),
            Ok(r) => {
                if let Err(why) = r.check_cloud(cloud) {
                    self.out.push(
                        Diagnostic::error(
                            "aib::secret-vault",
                            format!("secret `{}`: {why}", name.as_str()),
                        )
                        .with_label(reference.span(), "not a vault of this manifest's cloud")
                        .with_help("name a Key Vault of the cloud in `[azure] cloud`"),
                    );
                }
            }
        }
    }

    fn template(&mut self, key: &str, t: &Spanned<String>) {
        let name = t.as_str();
        if let Some(builtin) = name.strip_prefix("builtin:") {
            if builtin != "image-template" {
                self.out.push(
                    Diagnostic::error(
                        "aib::template",
                        format!("unknown built-in template `{name}` in `{key}.template`"),
                    )
                    .with_label(
                        t.span(),
                        "the built-in template is `builtin:image-template`",
                    ),
                );
            }
            return;
        }
        if templated(name) {
            return;
        }
        if !(name.ends_with(".json") || name.ends_with(".json.j2")) {
            self.out.push(
                Diagnostic::error(
                    "aib::template",
                    format!("template `{name}` is neither `*.json` nor `*.json.j2`"),
                )
                .with_label(
                    t.span(),
                    "a plain ARM template (`.json`) or a minijinja template (`.json.j2`)",
                ),
            );
            return;
        }
        let dir = self
            .file
            .pipeline
            .templates_dir
            .as_ref()
            .map(|d| d.as_str())
            .unwrap_or("templates");
        let path = self.dir.join(dir).join(name);
        if !path.is_file() {
            self.out.push(
                Diagnostic::error(
                    "aib::missing-file",
                    format!("template file `{}` does not exist", path.display()),
                )
                .with_label(t.span(), format!("looked in `{dir}/` beside the manifest")),
            );
        }
    }

    fn source(&mut self, key: &str, src: &Spanned<Source>) {
        let kinds = src.kinds();
        if kinds.len() != 1 {
            self.out.push(
                Diagnostic::error("aib::source", format!("`{key}.source` must name exactly one of `platform`, `gallery_image`, `managed_image` or `variant`"))
                    .with_label(src.span(), if kinds.is_empty() { "names none" } else { "names more than one" }),
            );
        }
        if let Some(v) = &src.variant {
            self.source_variant(key, v, src);
        } else if let Some((k, _)) = src.matrix.first() {
            self.out.push(
                Diagnostic::error(
                    "aib::source",
                    "`source.matrix` only applies with `source.variant`",
                )
                .with_label(k.span(), "pins a parent variant's axes"),
            );
        }
        if src.plan.is_some() && src.platform.is_none() {
            self.out.push(
                Diagnostic::error(
                    "aib::source",
                    "`source.plan` only applies to a `platform` source",
                )
                .with_label(src.span(), "here"),
            );
        }
        if let Some(p) = &src.platform
            && !templated(p)
        {
            let parts: Vec<&str> = p.split(':').collect();
            if parts.len() != 4 || parts.iter().any(|s| s.trim().is_empty()) {
                self.out.push(
                    Diagnostic::error(
                        "aib::source",
                        format!(
                            "platform image `{}` is not `Publisher:Offer:Sku:Version`",
                            p.as_str()
                        ),
                    )
                    .with_label(
                        p.span(),
                        "four parts separated by `:`, version may be `latest`",
                    ),
                );
            }
        }
    }

    /// `source.variant` names a variant, and its `source.matrix` pins only that variant's axes.
    fn source_variant(&mut self, key: &str, v: &Spanned<String>, src: &Source) {
        let Some(parent) = self.file.variants.get(v.as_str()) else {
            let names: Vec<String> = self
                .file
                .variants
                .keys()
                .map(|k| k.get_ref().clone())
                .collect();
            let mut d = Diagnostic::error(
                "aib::unknown-variant",
                format!("unknown variant `{}` in `{key}.source`", v.as_str()),
            )
            .with_label(v.span(), "no `[variants.*]` table has this name");
            if let Some(best) = did_you_mean(v, &names) {
                d = d.with_help(format!("did you mean `{best}`?"));
            }
            self.out.push(d);
            return;
        };
        let axes: Vec<String> = parent
            .matrix
            .as_ref()
            .map(|m| m.axes().iter().map(|(k, _)| k.get_ref().clone()).collect())
            .unwrap_or_default();
        let include_keys: Vec<String> = parent
            .matrix
            .as_ref()
            .map(|m| m.include().iter().flat_map(|r| r.keys().cloned()).collect())
            .unwrap_or_default();
        for (k, _) in &src.matrix {
            if !axes.contains(k.get_ref()) && !include_keys.contains(k.get_ref()) {
                self.out.push(
                    Diagnostic::error(
                        "aib::source",
                        format!(
                            "variant `{}` has no matrix axis `{}`",
                            v.as_str(),
                            k.as_str()
                        ),
                    )
                    .with_label(k.span(), "not an axis of the parent's matrix"),
                );
            }
        }
    }

    fn customizer(&mut self, key: &str, cz: &Customizer, validation: bool) {
        let kind = *cz.kind().get_ref();
        if validation
            && !matches!(
                kind,
                CustomizerKind::Shell | CustomizerKind::Powershell | CustomizerKind::File
            )
        {
            self.out.push(
                Diagnostic::error(
                    "aib::customizer",
                    format!("`{key}`: an in-VM validation cannot be `{}`", kind.as_str()),
                )
                .with_label(cz.kind().span(), "use shell, powershell or file"),
            );
        }
        self.stray_customizer_keys(cz);
        match &cz.step {
            Step::Shell(script) | Step::Powershell { script, .. } => {
                self.customizer_script(key, cz, script)
            }
            Step::File {
                source_uri,
                destination,
                ..
            } => {
                for (name, v) in [("source_uri", source_uri), ("destination", destination)] {
                    if v.is_none() {
                        self.out.push(
                            Diagnostic::error(
                                "aib::customizer",
                                format!("`{key}`: a `file` customizer needs `{name}`"),
                            )
                            .with_label(cz.kind().span(), "this customizer"),
                        );
                    }
                }
            }
            Step::WindowsRestart { .. } | Step::WindowsUpdate { .. } => {}
        }
        if let Some(n) = &cz.name
            && n.is_empty()
        {
            self.out.push(
                Diagnostic::error("aib::name", format!("`{key}.name` is empty"))
                    .with_label(n.span(), "give the step a name"),
            );
        }
    }

    /// Keys of another customizer type.
    fn stray_customizer_keys(&mut self, cz: &Customizer) {
        let kind = cz.kind().get_ref();
        let allowed = kind.allowed_keys();
        for k in cz.stray_keys() {
            self.out.push(
                Diagnostic::error(
                    "aib::customizer-key",
                    format!(
                        "`{}` is not valid for a `{}` customizer",
                        k.get_ref(),
                        kind.as_str()
                    ),
                )
                .with_label(
                    k.span(),
                    format!(
                        "`{}` accepts {}",
                        kind.as_str(),
                        allowed
                            .iter()
                            .map(|a| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            );
        }
    }

    /// A `shell` or `powershell` step sets exactly one script, and a local one exists.
    fn customizer_script(&mut self, key: &str, cz: &Customizer, script: &Script) {
        let n = [
            script.script.is_some(),
            script.inline.is_some(),
            script.script_uri.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if n != 1 {
            self.out.push(
                Diagnostic::error(
                    "aib::customizer",
                    format!("`{key}` must set exactly one of `script`, `inline` or `script_uri`"),
                )
                .with_label(
                    cz.kind().span(),
                    if n == 0 {
                        "sets none"
                    } else {
                        "sets more than one"
                    },
                ),
            );
        }
        if let Some(s) = &script.script
            && !templated(s)
            && !self.dir.join(s.as_str()).is_file()
        {
            self.out.push(
                Diagnostic::error(
                    "aib::missing-file",
                    format!("script `{}` does not exist", s.as_str()),
                )
                .with_label(s.span(), "paths are relative to the manifest's directory"),
            );
        }
    }

    fn schedule(&mut self, name: &Spanned<String>, s: &crate::model::Schedule) {
        match s.cron.schedule() {
            Err(why) => self.out.push(
                Diagnostic::error(
                    "aib::cron",
                    format!("bad cron expression in schedule `{}`", name.as_str()),
                )
                .with_label(s.cron.span(), why.to_string()),
            ),
            Ok(cron) => self.schedule_frequency(name, s, cron),
        }
        if let Some(tz) = &s.timezone
            && tz.parse::<chrono_tz::Tz>().is_err()
        {
            let mut d = Diagnostic::error(
                "aib::timezone",
                format!(
                    "unknown time zone `{}` in schedule `{}`",
                    tz.as_str(),
                    name.as_str()
                ),
            )
            .with_label(tz.span(), "not an IANA time zone name");
            let names: Vec<String> = chrono_tz::TZ_VARIANTS
                .iter()
                .map(|t| t.name().to_string())
                .collect();
            if let Some(best) = did_you_mean(tz, &names) {
                d = d.with_help(format!("did you mean `{best}`?"));
            } else {
                d = d.with_help("use a name such as `UTC`, `Europe/Berlin` or `America/New_York`");
            }
            self.out.push(d);
        }
        for e in s.environments.iter().flatten() {
            self.env_ref(e, &format!("schedule `{}`", name.as_str()));
        }
        for g in s.variants.iter().flatten() {
            match globset::Glob::new(g.as_str()) {
                Err(e) => self.out.push(
                    Diagnostic::error(
                        "aib::glob",
                        format!(
                            "bad variant glob `{}` in schedule `{}`",
                            g.as_str(),
                            name.as_str()
                        ),
                    )
                    .with_label(g.span(), e.kind().to_string()),
                ),
                Ok(glob) => {
                    let m = glob.compile_matcher();
                    if !self.file.variants.keys().any(|v| m.is_match(v.as_str())) {
                        self.out.push(
                            Diagnostic::warning(
                                "aib::glob",
                                format!(
                                    "variant glob `{}` in schedule `{}` matches no variant",
                                    g.as_str(),
                                    name.as_str()
                                ),
                            )
                            .with_label(g.span(), "matches nothing"),
                        );
                    }
                }
            }
        }
    }
}

#[allow(dead_code)]
fn span_of<K, V>(map: &IndexMap<Spanned<K>, V>, key: &K) -> Option<Range<usize>>
where
    K: std::hash::Hash + Eq + Clone,
{
    map.get_key_value(&Spanned::detached(key.clone()))
        .map(|(k, _)| k.span())
}
