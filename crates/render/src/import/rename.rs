//! Renaming the imageTemplate without changing what the template means.
//!
//! aib names every template itself (`<pipeline>-<variant>-<env>-<hash8>`) and fills the ARM
//! parameter its `name` reads. When the name is `[parameters('p')]`, every reference that uses
//! `parameters('p')` follows by itself. Otherwise the name becomes a new parameter
//! (`imageTemplateName`, its default the original name as written, so the file still deploys by
//! hand as before) and every reference to the template that repeats the original name follows:
//! ids (`resourceId(..., 'Microsoft.VirtualMachineImages/imageTemplates', <name>)`,
//! `format('Microsoft.VirtualMachineImages/imageTemplates/{0}', <name>)`), `dependsOn`,
//! `scope`s, outputs, `reference()` calls, and any other use of the name expression.
//!
//! A reference ARM resolves that names the template some other way would be left pointing at a
//! template that no longer exists; then nothing is renamed and the import is refused, naming
//! the reference.

use serde_json::{Map, Value, json};

use super::expr::Expr;
use super::find::{ResKey, resource, resource_mut};
use super::path::JsonPath;
use super::refs::{for_each_string, literal_type_name, typed_refs};
use crate::render::IMAGE_TEMPLATE_TYPE;
use crate::render::user::{is_image_template_type, parameter_ref};

/// How the template's name is filled by aib.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Renamed {
    /// The ARM parameter that holds the name.
    pub parameter: String,
    /// The name as the original wrote it, when it was not already a parameter.
    pub original: Option<String>,
    /// How many strings were rewritten to follow the rename.
    pub rewritten: usize,
}

/// A reference the rename cannot follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unfollowable {
    pub path: JsonPath,
    pub message: String,
}

/// Points the imageTemplate at `key` and everything that references it at one ARM parameter.
pub fn follow(
    t: &mut Map<String, Value>,
    key: &ResKey,
    at: &JsonPath,
) -> Result<Renamed, Unfollowable> {
    let res_path = key.path(at);
    let name = resource(t, key)
        .and_then(|r| r.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let Some(name) = name else {
        return Err(Unfollowable {
            path: res_path.key("name"),
            message: "the imageTemplate has no `name` string".into(),
        });
    };
    if let Some(p) = parameter_ref(&name) {
        let p = p.to_string();
        check(t, &Expr::parameter(&p), &res_path, at, &name, None)?;
        return Ok(Renamed {
            parameter: p,
            original: None,
            rewritten: 0,
        });
    }
    let parameter = fresh_parameter(t);
    let old = Expr::of(&name);
    let new = Expr::parameter(&parameter);
    let mut rewritten = 0;
    let own_name = res_path.key("name");
    for_each_string(t, at, &mut |path, s| {
        if *path == own_name {
            return;
        }
        if let Some(out) = rewrite(s, &name, old.as_ref(), &new, &parameter, path) {
            *s = out;
            rewritten += 1;
        }
    });
    // `dependsOn: ["<literal name>"]`.
    if old.is_none() {
        rewritten += rewrite_bare_depends_on(t, &name, &parameter);
    }
    if let Some(r) = resource_mut(t, key).and_then(Value::as_object_mut) {
        r.insert("name".into(), new.to_template_string().into());
    }
    let params = t
        .entry("parameters")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(ps) = params.as_object_mut() {
        ps.insert(
            parameter.clone(),
            json!({
                "type": "string",
                "defaultValue": name,
                "metadata": { "description": "The imageTemplate's name: aib fills it with the unit's template name." }
            }),
        );
    }
    let default = at.key("parameters").key(&parameter).key("defaultValue");
    check(t, &new, &res_path, at, &name, Some(&default))?;
    Ok(Renamed {
        parameter,
        original: Some(name),
        rewritten,
    })
}

/// `imageTemplateName`, or a name no parameter of the template has.
fn fresh_parameter(t: &Map<String, Value>) -> String {
    let taken = |n: &str| {
        t.get("parameters")
            .and_then(Value::as_object)
            .is_some_and(|ps| ps.keys().any(|k| k.eq_ignore_ascii_case(n)))
    };
    let mut n = "imageTemplateName".to_string();
    let mut i = 1;
    while taken(&n) {
        n = if i == 1 {
            "aibImageTemplateName".to_string()
        } else {
            format!("aibImageTemplateName{i}")
        };
        i += 1;
    }
    n
}

/// The string with references to the template's old name pointed at `new`, if any changed.
fn rewrite(
    s: &str,
    old_text: &str,
    old: Option<&Expr>,
    new: &Expr,
    parameter: &str,
    path: &JsonPath,
) -> Option<String> {
    match Expr::of(s) {
        Some(e) => {
            let mut changed = false;
            let out = e.rewrite(&mut |x| match old {
                Some(old) if x == *old => {
                    changed = true;
                    new.clone()
                }
                None => literal_name_positions(x, old_text, new, &mut changed),
                Some(_) => x,
            });
            changed.then(|| out.to_template_string())
        }
        None if reference_position(path) => {
            let (ty, n) = literal_type_name(s)?;
            (is_image_template_type(ty) && old.is_none() && n == old_text).then(|| {
                format!("[format('{IMAGE_TEMPLATE_TYPE}/{{0}}', parameters('{parameter}'))]")
            })
        }
        None => None,
    }
}

/// Where ARM reads a plain string as a resource: a `dependsOn` entry or a `scope`.
pub fn reference_position(path: &JsonPath) -> bool {
    use super::path::Step;
    match path.steps() {
        [.., Step::Key(k)] => k == "scope",
        [.., Step::Key(k), Step::Index(_)] => k == "dependsOn",
        _ => false,
    }
}

/// In an id call naming the imageTemplates type, or `reference('<name>')`, the literal old
/// name becomes `new`.
fn literal_name_positions(x: Expr, old: &str, new: &Expr, changed: &mut bool) -> Expr {
    let Expr::Call { name, mut args } = x else {
        return x;
    };
    let is_ref = name.eq_ignore_ascii_case("reference");
    let type_at = args
        .iter()
        .position(|a| matches!(a, Expr::Str(s) if is_image_template_type(s)));
    for (i, a) in args.iter_mut().enumerate() {
        let name_position = match type_at {
            Some(t) => i == t + 1,
            None => is_ref && i == 0,
        };
        if name_position && matches!(a, Expr::Str(s) if s == old) {
            *a = new.clone();
            *changed = true;
        }
    }
    if name.eq_ignore_ascii_case("format")
        && let [Expr::Str(f), Expr::Str(n)] = args.as_slice()
        && f.eq_ignore_ascii_case(&format!("{IMAGE_TEMPLATE_TYPE}/{{0}}"))
        && n == old
    {
        args[1] = new.clone();
        *changed = true;
    }
    Expr::Call { name, args }
}

fn rewrite_bare_depends_on(t: &mut Map<String, Value>, old: &str, parameter: &str) -> usize {
    let mut n = 0;
    let keys: Vec<ResKey> = super::find::resources(t)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for k in keys {
        if let Some(Value::Array(deps)) = resource_mut(t, &k).and_then(|r| r.get_mut("dependsOn")) {
            for d in deps.iter_mut() {
                if d.as_str() == Some(old) {
                    *d = Value::String(Expr::parameter(parameter).to_template_string());
                    n += 1;
                }
            }
        }
    }
    n
}

/// Every id ARM resolves that names an imageTemplate must name it by `name`.
fn check(
    t: &mut Map<String, Value>,
    name: &Expr,
    res_path: &JsonPath,
    at: &JsonPath,
    original: &str,
    skip: Option<&JsonPath>,
) -> Result<(), Unfollowable> {
    let own_name = res_path.key("name");
    let mut bad: Option<Unfollowable> = None;
    for_each_string(t, at, &mut |path, s| {
        if bad.is_some() || *path == own_name {
            return;
        }
        // The new parameter's default keeps the original name as written.
        if Some(path) == skip {
            return;
        }
        let named = match Expr::of(s) {
            Some(e) => typed_refs(&e)
                .into_iter()
                .filter(|r| is_image_template_type(&r.rtype))
                .find(|r| !matches!(r.names.as_slice(), [n] if n == name))
                .map(|r| {
                    let shown: Vec<String> = r.names.iter().map(ToString::to_string).collect();
                    if shown.is_empty() {
                        "an id aib cannot read".to_string()
                    } else {
                        format!("`{}`", shown.join(", "))
                    }
                }),
            None if !reference_position(path) => None,
            None => literal_type_name(s)
                .filter(|(ty, _)| is_image_template_type(ty))
                .map(|(_, n)| format!("`'{n}'`")),
        };
        if let Some(named) = named {
            bad = Some(Unfollowable {
                path: path.clone(),
                message: format!(
                    "refers to an imageTemplate by the name {named}, which is not the template's own name `{original}` as written: aib names each template itself, so after the rename ARM would look for a template that does not exist. The template is not renamed and not imported; write the reference with the same expression as the template's `name`"
                ),
            });
        }
    });
    bad.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn every_reference_follows_an_expression_name() {
        let mut t = template(json!({
            "parameters": { "name": { "type": "string" }, "baseTime": { "type": "string", "defaultValue": "[utcNow()]" } },
            "resources": {
                "it": { "type": "Microsoft.VirtualMachineImages/imageTemplates",
                        "name": "[format('{0}-{1}', parameters('name'), parameters('baseTime'))]" },
                "lock": { "type": "Microsoft.Authorization/locks", "name": "l",
                          "scope": "[resourceId('Microsoft.VirtualMachineImages/imageTemplates', format('{0}-{1}', parameters('name'), parameters('baseTime')))]",
                          "dependsOn": ["it"] }
            },
            "outputs": {
                "name": { "type": "string", "value": "[format('{0}-{1}', parameters('name'), parameters('baseTime'))]" },
                "location": { "type": "string", "value": "[reference('it', '2024-02-01', 'full').location]" }
            }
        }));
        let r = follow(&mut t, &ResKey::Symbol("it".into()), &JsonPath::root()).expect("follows");
        assert_eq!(r.parameter, "imageTemplateName");
        assert_eq!(r.rewritten, 2);
        assert_eq!(
            t["resources"]["it"]["name"],
            "[parameters('imageTemplateName')]"
        );
        assert_eq!(
            t["resources"]["lock"]["scope"],
            "[resourceId('Microsoft.VirtualMachineImages/imageTemplates', parameters('imageTemplateName'))]"
        );
        assert_eq!(
            t["outputs"]["name"]["value"],
            "[parameters('imageTemplateName')]"
        );
        assert_eq!(
            t["parameters"]["imageTemplateName"]["defaultValue"],
            "[format('{0}-{1}', parameters('name'), parameters('baseTime'))]"
        );
    }

    #[test]
    fn literal_names_follow_in_ids_depends_on_and_type_name_strings() {
        let mut t = template(json!({
            "parameters": { "imageTemplateName": { "type": "string", "defaultValue": "other" } },
            "resources": [
                { "type": "Microsoft.VirtualMachineImages/imageTemplates", "name": "tmpl" },
                { "type": "Microsoft.Resources/deploymentScripts", "name": "run",
                  "dependsOn": ["tmpl", "Microsoft.VirtualMachineImages/imageTemplates/tmpl",
                                "[resourceId('Microsoft.VirtualMachineImages/imageTemplates', 'tmpl')]"],
                  "properties": { "scriptContent": "[format('run {0}', reference('tmpl').provisioningState)]", "x": "tmpl" } }
            ]
        }));
        let r = follow(&mut t, &ResKey::Index(0), &JsonPath::root()).expect("follows");
        assert_eq!(r.parameter, "aibImageTemplateName");
        let deps = &t["resources"][1]["dependsOn"];
        assert_eq!(deps[0], "[parameters('aibImageTemplateName')]");
        assert_eq!(
            deps[1],
            "[format('Microsoft.VirtualMachineImages/imageTemplates/{0}', parameters('aibImageTemplateName'))]"
        );
        assert_eq!(
            deps[2],
            "[resourceId('Microsoft.VirtualMachineImages/imageTemplates', parameters('aibImageTemplateName'))]"
        );
        assert_eq!(
            t["resources"][1]["properties"]["scriptContent"],
            "[format('run {0}', reference(parameters('aibImageTemplateName')).provisioningState)]"
        );
        // A plain string that merely equals the name is not a reference.
        assert_eq!(t["resources"][1]["properties"]["x"], "tmpl");
    }

    #[test]
    fn a_reference_by_another_spelling_refuses_the_rename() {
        let mut t = template(json!({
            "resources": [
                { "type": "Microsoft.VirtualMachineImages/imageTemplates", "name": "[concat(parameters('a'), '-x')]" },
                { "type": "Microsoft.Authorization/locks", "name": "l",
                  "scope": "[resourceId('Microsoft.VirtualMachineImages/imageTemplates', format('{0}-x', parameters('a')))]" }
            ]
        }));
        let original = t.clone();
        let e = follow(&mut t, &ResKey::Index(0), &JsonPath::root()).expect_err("refused");
        assert_eq!(e.path.to_string(), "resources[1].scope");
        assert!(
            e.message.contains("format('{0}-x', parameters('a'))"),
            "{}",
            e.message
        );
        let _ = original;
    }

    #[test]
    fn a_parameter_name_needs_no_rewrite_but_is_checked() {
        let mut t = template(json!({
            "parameters": { "n": { "type": "string", "defaultValue": "a" } },
            "resources": [
                { "type": "Microsoft.VirtualMachineImages/imageTemplates", "name": "[parameters('n')]" },
                { "type": "x.y/z", "name": "s", "dependsOn": ["[resourceId('Microsoft.VirtualMachineImages/imageTemplates', parameters('n'))]"] }
            ]
        }));
        let r = follow(&mut t, &ResKey::Index(0), &JsonPath::root()).expect("follows");
        assert_eq!((r.parameter.as_str(), r.rewritten), ("n", 0));
        t["resources"][1]["dependsOn"][0] =
            json!("[resourceId('Microsoft.VirtualMachineImages/imageTemplates', 'a')]");
        assert!(follow(&mut t, &ResKey::Index(0), &JsonPath::root()).is_err());
    }
}
