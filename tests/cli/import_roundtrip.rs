//! The `aib import` round trip, as a user runs it: `aib import FILE` → `aib validate` →
//! `aib plan --render-dir` with every `<placeholder>` parameter filled by `--set`, then every
//! imageTemplate property, resource field, output, variable and parameter default of the
//! rendered deployment compared with the original's.
//!
//! The original is read here on its own terms (not with import's code): its imageTemplates are
//! found by walking `resources` (lists, symbolic objects, inline nested templates). What import
//! may change, and so what is allowed to differ, is exactly: the template's name (a parameter
//! whose default is the original name, so references are compared after putting the name
//! back), aib's `aib.*` tags, an api-version Azure no longer serves, the resources import
//! leaves out (locks on the template, deploymentScripts that run the build, the file's other
//! imageTemplates) with the `dependsOn` entries and outputs that name them, and the parameters
//! an outer-scope lift leaves unused.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::support::aib;

/// How one file came through.
#[derive(Debug)]
pub enum Outcome {
    RoundTrip {
        variants: usize,
        /// Placeholders filled with `--set` and found where the original had them.
        filled: usize,
        notes: Vec<String>,
    },
    Refused(String),
}

/// One imageTemplate of the original: the template holding it (with the parameters it reads)
/// and its key there.
struct Original {
    template: Map<String, Value>,
    key: Key,
    /// Literal values an enclosing inner-scope deployment passed.
    passed: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq)]
enum Key {
    Index(usize),
    Symbol(String),
}

fn is_type(r: &Value, t: &str) -> bool {
    r.get("type")
        .and_then(Value::as_str)
        .is_some_and(|x| x.eq_ignore_ascii_case(t))
}

fn is_image_template(r: &Value) -> bool {
    is_type(r, "Microsoft.VirtualMachineImages/imageTemplates")
        || is_type(r, "Microsoft.VirtualMachineImages")
}

fn entries(t: &Map<String, Value>) -> Vec<(Key, Value)> {
    match t.get("resources") {
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, r)| (Key::Index(i), r.clone()))
            .collect(),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, r)| (Key::Symbol(k.clone()), r.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

fn has_expression(v: &Value) -> bool {
    match v {
        Value::String(s) => s.starts_with('[') && !s.starts_with("[["),
        Value::Array(a) => a.iter().any(has_expression),
        Value::Object(o) => o
            .iter()
            .any(|(k, x)| k.starts_with('[') || has_expression(x)),
        _ => false,
    }
}

fn walk(t: &Map<String, Value>, passed: &Map<String, Value>, out: &mut Vec<Original>) {
    for (k, r) in entries(t) {
        if is_image_template(&r) {
            out.push(Original {
                template: t.clone(),
                key: k,
                passed: passed.clone(),
            });
        } else if is_type(&r, "Microsoft.Resources/deployments")
            && let Some(Value::Object(inner)) = r.pointer("/properties/template")
        {
            let inner_scope = r
                .pointer("/properties/expressionEvaluationOptions/scope")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("inner"));
            if inner_scope {
                let mut p = Map::new();
                if let Some(Value::Object(given)) = r.pointer("/properties/parameters") {
                    for (n, g) in given {
                        if let Some(v) = g.get("value").filter(|v| !has_expression(v)) {
                            p.insert(n.clone(), v.clone());
                        }
                    }
                }
                walk(inner, &p, out);
            } else {
                let mut merged = inner.clone();
                for k in ["parameters", "variables", "functions"] {
                    if let Some(v) = t.get(k) {
                        merged.insert(k.into(), v.clone());
                    }
                }
                walk(&merged, passed, out);
            }
        }
    }
}

/// Every string of a value rewritten by `f` (keys too).
fn map_strings(v: &Value, f: &dyn Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(s)),
        Value::Array(a) => Value::Array(a.iter().map(|x| map_strings(x, f)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (f(k), map_strings(x, f))).collect())
        }
        other => other.clone(),
    }
}

fn mentions(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.contains(needle),
        Value::Array(a) => a.iter().any(|x| mentions(x, needle)),
        Value::Object(o) => o
            .iter()
            .any(|(k, x)| k.contains(needle) || mentions(x, needle)),
        _ => false,
    }
}

/// Whether import may leave this resource of the original out: a lock on the imageTemplate, a
/// deploymentScript that runs the build, another imageTemplate (or a deployment holding one).
fn may_leave_out(r: &Value, keep_scripts: bool, our_name: &str) -> bool {
    let scope_is_a_template = r
        .get("scope")
        .is_some_and(|s| mentions(s, "Microsoft.VirtualMachineImages/imageTemplates"));
    let lock_on_template = is_type(r, "Microsoft.Authorization/locks") && scope_is_a_template;
    let on_another_template =
        scope_is_a_template && !r.get("scope").is_some_and(|s| mentions(s, our_name));
    let script = r
        .pointer("/properties/scriptContent")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    let runs_build = is_type(r, "Microsoft.Resources/deploymentScripts")
        && (script.contains("-action run") || script.contains("builder run"));
    let holds_template = is_image_template(r)
        || (is_type(r, "Microsoft.Resources/deployments") && {
            let mut found = Vec::new();
            if let Some(Value::Object(t)) = r.pointer("/properties/template") {
                walk(t, &Map::new(), &mut found);
            }
            !found.is_empty()
        });
    lock_on_template || on_another_template || (runs_build && !keep_scripts) || holds_template
}

/// `[parameters('p')]` → p.
fn parameter_ref(s: &str) -> Option<&str> {
    s.strip_prefix("[parameters('")?.strip_suffix("')]")
}

/// The rendered template with the rename undone: `parameters('<name parameter>')` back to the
/// original name as written (the parameter's default). Nothing to undo when the rendered
/// imageTemplate's `name` is the original's.
fn unrename(
    rendered: &Map<String, Value>,
    it: &Value,
    original_name: Option<&Value>,
) -> (Map<String, Value>, Option<String>) {
    let name = it.get("name");
    let p = name.and_then(Value::as_str).and_then(parameter_ref);
    let default = p.and_then(|p| {
        rendered
            .get("parameters")?
            .get(p)?
            .get("defaultValue")?
            .as_str()
    });
    let (Some(p), Some(default)) = (p, default) else {
        return (rendered.clone(), None);
    };
    if name == original_name {
        return (rendered.clone(), None);
    }
    let back = match default.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        Some(e) => e.to_string(),
        None => format!("'{}'", default.replace('\'', "''")),
    };
    let call = format!("parameters('{p}')");
    let whole = format!("[{call}]");
    let Value::Object(mut out) = map_strings(&Value::Object(rendered.clone()), &|s: &str| {
        if s == whole && !default.starts_with('[') {
            default.to_string()
        } else {
            s.replace(&call, &back)
        }
    }) else {
        return (rendered.clone(), None);
    };
    if let Some(Value::Object(ps)) = out.get_mut("parameters") {
        ps.shift_remove(p);
    }
    (out, Some(p.to_string()))
}

/// aib's tags taken out again (objects, `union(coalesce(x, createObject()), createObject(...))`).
fn strip_aib_tags(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.retain(|k, _| !k.starts_with("aib."));
        }
        Value::String(s) => {
            if let Some(inner) = s
                .strip_prefix("[union(coalesce(")
                .and_then(|x| x.split_once(", createObject()), createObject('aib.pipeline'"))
            {
                *s = format!("[{}]", inner.0);
            }
        }
        _ => {}
    }
}

fn it_key(v: &Map<String, Value>) -> Option<(Key, Value)> {
    entries(v).into_iter().find(|(_, r)| is_image_template(r))
}

fn served(v: &str) -> bool {
    aib_azure::api_versions::is_served("Microsoft.VirtualMachineImages/imageTemplates", v)
}

/// Checks one original against what aib rendered for it; panics naming the difference.
fn compare(
    file: &str,
    orig: &Original,
    rendered: &Map<String, Value>,
    params_file: &Value,
    filled: &[(String, String)],
    keep_scripts: bool,
    bare: bool,
) -> usize {
    let Some((_, r_it)) = it_key(rendered) else {
        panic!("{file}: the rendered deployment has no imageTemplate");
    };
    let original_name = entries(&orig.template)
        .into_iter()
        .find(|(k, _)| *k == orig.key)
        .and_then(|(_, x)| x.get("name").cloned());
    let (r, name_param) = unrename(rendered, &r_it, original_name.as_ref());
    // Placeholders filled with --set, in the original.
    let fill = |s: &str| {
        let mut out = s.to_string();
        for (k, v) in filled {
            out = out.replace(&format!("<{k}>"), v);
        }
        out
    };
    let h = match map_strings(&Value::Object(orig.template.clone()), &fill) {
        Value::Object(o) => o,
        _ => Map::new(),
    };
    let h_res = entries(&h);
    let Some((_, h_it)) = h_res.iter().find(|(k, _)| *k == orig.key) else {
        panic!("{file}: lost the original imageTemplate");
    };
    let (_, r_it) = it_key(&r).expect("imageTemplate");

    // The imageTemplate: every key but name, type (bare bodies), tags and api-version.
    let mut want = h_it.as_object().cloned().unwrap_or_default();
    let mut got = r_it.as_object().cloned().unwrap_or_default();
    for k in ["name", "type"] {
        want.remove(k);
        got.remove(k);
    }
    if let Some(t) = got.get_mut("tags") {
        strip_aib_tags(t);
        if t.as_object().is_some_and(|o| o.is_empty()) && !want.contains_key("tags") {
            got.remove("tags");
        }
    }
    if let Some(Value::Array(ds)) = got
        .get_mut("properties")
        .and_then(|p| p.get_mut("distribute"))
    {
        for (i, d) in ds.iter_mut().enumerate() {
            let had = h_it
                .pointer(&format!("/properties/distribute/{i}/artifactTags"))
                .is_some();
            if let Some(t) = d.get_mut("artifactTags") {
                strip_aib_tags(t);
            }
            if !had
                && d.get("artifactTags")
                    .is_some_and(|t| t.as_object().is_some_and(|o| o.is_empty()))
            {
                d.as_object_mut().map(|o| o.remove("artifactTags"));
            }
        }
    }
    match (
        want.get("apiVersion").and_then(Value::as_str),
        got.get("apiVersion").and_then(Value::as_str),
    ) {
        (Some(w), Some(g)) if w != g => {
            assert!(
                !served(w) && served(g),
                "{file}: api-version {w} became {g}"
            );
            want.remove("apiVersion");
            got.remove("apiVersion");
        }
        (None, Some(_)) if bare => {
            got.remove("apiVersion");
        }
        _ => {}
    }
    assert_eq!(
        Value::Object(got),
        Value::Object(want),
        "{file}: the imageTemplate differs"
    );

    // The other resources, in order, less what import may leave out.
    let our_name = h_it
        .get("name")
        .and_then(Value::as_str)
        .map(|n| {
            n.strip_prefix('[')
                .and_then(|x| x.strip_suffix(']'))
                .map_or_else(|| format!("'{n}'"), str::to_string)
        })
        .unwrap_or_default();
    let mut left_out = Vec::new();
    let kept: Vec<&(Key, Value)> = h_res
        .iter()
        .filter(|(k, res)| {
            if *k == orig.key {
                return false;
            }
            let out = may_leave_out(res, keep_scripts, &our_name);
            if out {
                left_out.push((k.clone(), res.clone()));
            }
            true
        })
        .collect();
    let r_res: Vec<(Key, Value)> = entries(&r)
        .into_iter()
        .filter(|(_, x)| !is_image_template(x))
        .collect();
    let mut ri = r_res.iter().peekable();
    for (k, hres) in kept {
        let next = ri.peek().cloned();
        let matches = match (k, next) {
            (Key::Symbol(s), Some((Key::Symbol(t), _))) => s == t,
            (Key::Index(_), Some((_, x))) => {
                x.get("type") == hres.get("type") && x.get("name") == hres.get("name")
            }
            _ => false,
        };
        if !matches {
            assert!(
                left_out.iter().any(|(lk, _)| lk == k),
                "{file}: resource {k:?} ({}) is missing from the rendered deployment",
                hres.get("type").and_then(Value::as_str).unwrap_or("")
            );
            continue;
        }
        let (_, rres) = ri.next().expect("peeked");
        let drop_deps = |v: &Value| -> Value {
            let mut v = v.clone();
            if let Some(Value::Array(d)) = v.get_mut("dependsOn") {
                d.retain(|e| {
                    !left_out.iter().any(|(lk, lr)| {
                        let s = e.as_str().unwrap_or("");
                        matches!(lk, Key::Symbol(sym) if sym == s)
                            || lr
                                .get("type")
                                .and_then(Value::as_str)
                                .is_some_and(|t| s.contains(t))
                    })
                });
            }
            v
        };
        assert_eq!(
            drop_deps(rres),
            drop_deps(hres),
            "{file}: resource {k:?} differs"
        );
        if rres != hres {
            // Only dependsOn entries naming left-out resources may go.
            let mut a = rres.clone();
            let mut b = hres.clone();
            a.as_object_mut().map(|o| o.remove("dependsOn"));
            b.as_object_mut().map(|o| o.remove("dependsOn"));
            assert_eq!(a, b, "{file}: resource {k:?} differs");
        }
    }
    assert!(
        ri.next().is_none(),
        "{file}: the rendered deployment has extra resources"
    );

    // Parameters: every declaration of the original, unchanged (a retired api-version default
    // replaced); unused ones may go after an outer-scope lift.
    let empty = Map::new();
    let hp = h
        .get("parameters")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let rp = r
        .get("parameters")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, decl) in hp {
        let Some(got) = rp.get(name) else {
            assert!(
                !mentions(&Value::Object(r.clone()), &format!("parameters('{name}')")),
                "{file}: parameter `{name}` is gone but still used"
            );
            continue;
        };
        if got != decl {
            let (w, g) = (
                decl.get("defaultValue")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                got.get("defaultValue")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            );
            assert!(
                w != g && !served(w) && served(g),
                "{file}: parameter `{name}` differs: {got} vs {decl}"
            );
        }
    }
    for name in rp.keys() {
        assert!(
            hp.contains_key(name) || Some(name) == name_param.as_ref(),
            "{file}: parameter `{name}` was added"
        );
    }
    for k in ["variables", "functions"] {
        assert_eq!(r.get(k), h.get(k), "{file}: `{k}` differ");
    }
    let ho = h
        .get("outputs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let ro = r
        .get("outputs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, o) in &ho {
        match ro.get(k) {
            Some(x) => assert_eq!(x, o, "{file}: output `{k}` differs"),
            None => assert!(
                left_out.iter().any(|(lk, lr)| {
                    matches!(lk, Key::Symbol(s) if mentions(o, &format!("'{s}'")))
                        || lr
                            .get("name")
                            .is_some_and(|n| mentions(o, n.as_str().unwrap_or("\u{0}")))
                }),
                "{file}: output `{k}` is gone"
            ),
        }
    }

    // Where the --set values land: declared parameters get them in the parameters file.
    let values = params_file
        .get("parameters")
        .cloned()
        .unwrap_or(Value::Null);
    let mut landed = 0;
    for (k, v) in filled {
        if rp.contains_key(k) {
            assert_eq!(
                values.pointer(&format!("/{k}/value")),
                Some(&Value::String(v.clone())),
                "{file}: `--set parameters.{k}` did not reach parameter `{k}`"
            );
            landed += 1;
        } else if orig
            .template
            .iter()
            .any(|(_, x)| mentions(x, &format!("<{k}>")))
        {
            // A token in the template: the comparison above found it filled in place.
            landed += 1;
        }
    }
    for (k, v) in &orig.passed {
        if rp.contains_key(k) && !filled.iter().any(|(f, _)| f == k) {
            assert_eq!(
                values.pointer(&format!("/{k}/value")),
                Some(v),
                "{file}: the value passed for `{k}` did not reach it"
            );
        }
    }
    landed
}

/// Imports, validates, plans and compares one file (`original` is its content as JSON).
pub fn round_trip(file: &Path, original: &Value, import_args: &[&str]) -> Outcome {
    let shown = file.display().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let f = file.to_string_lossy();
    let o = out.to_string_lossy();
    let mut args = vec!["import", f.as_ref(), "--out", o.as_ref()];
    args.extend_from_slice(import_args);
    let imp = aib(dir.path(), &args);
    assert!(!imp.stderr.contains("panicked"), "{shown}: {}", imp.stderr);
    if imp.code != 0 {
        assert_eq!(imp.code, 2, "{shown}: {}", imp.stderr);
        return Outcome::Refused(imp.stderr.trim().to_string());
    }
    let notes: Vec<String> = imp
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("note: "))
        .map(str::to_string)
        .collect();
    let manifest = out.join("aib.toml");
    let m = manifest.to_string_lossy();
    let v = aib(dir.path(), &["validate", m.as_ref()]);
    assert_eq!(v.code, 0, "{shown}: validate: {}", v.stderr);

    let text = std::fs::read_to_string(&manifest).expect("aib.toml");
    let toml: toml::Table = toml::from_str(&text).expect("aib.toml is TOML");
    let variants: Vec<(String, toml::Table)> = toml
        .get("variants")
        .and_then(toml::Value::as_table)
        .map(|t| {
            t.iter()
                .map(|(k, v)| (k.clone(), v.as_table().cloned().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let mut filled: Vec<(String, String)> = Vec::new();
    for (_, v) in &variants {
        if let Some(ps) = v.get("parameters").and_then(toml::Value::as_table) {
            for (k, x) in ps {
                if x.as_str().is_some_and(|s| s == format!("<{k}>"))
                    && !filled.iter().any(|(f, _)| f == k)
                {
                    // Region placeholders get a real region (aib's lint knows them all).
                    let value = if k.to_ascii_lowercase().contains("region") {
                        let regions = ["westus2", "westus3", "northeurope", "swedencentral"];
                        regions[filled.len() % regions.len()].to_string()
                    } else {
                        format!("filled-{k}")
                    };
                    filled.push((k.clone(), value));
                }
            }
        }
    }
    let rdir = dir.path().join("rendered");
    let rd = rdir.to_string_lossy();
    let sets: Vec<String> = filled
        .iter()
        .map(|(k, v)| format!("parameters.{k}={v}"))
        .collect();
    let mut plan_args = vec!["plan", m.as_ref(), "--render-dir", rd.as_ref()];
    for s in &sets {
        plan_args.push("--set");
        plan_args.push(s);
    }
    let p = aib(dir.path(), &plan_args);
    assert_eq!(p.code, 0, "{shown}: plan: {}", p.stderr);

    let mut originals = Vec::new();
    let bare = original.get("resources").is_none();
    let root = if bare {
        // A bare body is the imageTemplate, whatever its `type` says.
        let mut body = original.clone();
        if let Some(o) = body.as_object_mut() {
            o.entry("type")
                .or_insert("Microsoft.VirtualMachineImages/imageTemplates".into());
        }
        let mut t = Map::new();
        t.insert("resources".into(), Value::Array(vec![body]));
        t
    } else {
        original.as_object().cloned().unwrap_or_default()
    };
    walk(&root, &Map::new(), &mut originals);
    assert_eq!(
        originals.len(),
        variants.len(),
        "{shown}: one variant per imageTemplate"
    );
    let keep_scripts = import_args.contains(&"--keep-deployment-scripts");
    let mut landed = 0;
    for (orig, (name, _)) in originals.iter().zip(&variants) {
        let rendered = rendered_file(&rdir, name);
        let t: Value = serde_json::from_str(&std::fs::read_to_string(&rendered).expect("rendered"))
            .expect("rendered JSON");
        let params_path = PathBuf::from(
            rendered
                .to_string_lossy()
                .replace(".json", ".parameters.json"),
        );
        let pf: Value =
            serde_json::from_str(&std::fs::read_to_string(params_path).expect("parameters"))
                .expect("parameters JSON");
        let t = t.as_object().cloned().unwrap_or_default();
        landed += compare(&shown, orig, &t, &pf, &filled, keep_scripts, bare);
    }
    Outcome::RoundTrip {
        variants: variants.len(),
        filled: landed,
        notes,
    }
}

fn rendered_file(dir: &Path, variant: &str) -> PathBuf {
    let needle = format!("-{variant}-dev-");
    std::fs::read_dir(dir)
        .expect("render dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            n.contains(&needle) && !n.ends_with(".parameters.json")
        })
        .unwrap_or_else(|| {
            panic!(
                "no rendered deployment for variant `{variant}` in {}",
                dir.display()
            )
        })
}
