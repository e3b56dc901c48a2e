//! References between the resources of a template: what ARM resolves when it deploys — ids
//! (`resourceId(...)` and friends, `format('<type>/{0}', ...)`), `dependsOn` entries (ids,
//! `type/name`, bare names, symbolic names), `scope`s and `reference()` calls — read off the
//! strings of the template's own scope (the templates of nested deployments evaluated in their
//! inner scope are their own and are skipped; the values passed to them are not).

use serde_json::{Map, Value};

use super::expr::Expr;
use super::find::{ResKey, Scoped, inner_scope, is_deployment, resources};
use super::path::JsonPath;

/// The functions that build resource ids from a type and names.
const ID_FUNCTIONS: &[&str] = &[
    "resourceId",
    "extensionResourceId",
    "subscriptionResourceId",
    "tenantResourceId",
    "managementGroupResourceId",
];

/// A resource as references name it.
#[derive(Clone, Debug)]
pub struct Target {
    pub key: ResKey,
    pub rtype: String,
    /// The `name` as written (an expression string or a literal).
    pub name: String,
}

impl Target {
    pub fn of(key: &ResKey, r: &Value) -> Self {
        Self {
            key: key.clone(),
            rtype: r
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            name: r
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        }
    }

    /// The name as an expression (a literal becomes a string literal).
    pub fn name_expr(&self) -> Expr {
        Expr::of(&self.name).unwrap_or_else(|| Expr::Str(self.name.clone()))
    }

    fn type_is(&self, t: &str) -> bool {
        self.rtype.eq_ignore_ascii_case(t)
    }
}

/// A reference to a resource of some type: the name arguments it gives.
#[derive(Clone, Debug)]
pub struct TypedRef {
    pub rtype: String,
    pub names: Vec<Expr>,
}

/// The typed references (ids and `format('<type>/{0}')`) inside an expression.
pub fn typed_refs(e: &Expr) -> Vec<TypedRef> {
    let mut out = Vec::new();
    e.walk(&mut |x| {
        let Expr::Call { name, args } = x else {
            return;
        };
        if ID_FUNCTIONS.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            // The type is the first argument that looks like `Namespace.X/type`.
            if let Some(i) = args
                .iter()
                .position(|a| matches!(a, Expr::Str(s) if looks_like_type(s)))
                && let Expr::Str(t) = &args[i]
            {
                out.push(TypedRef {
                    rtype: t.clone(),
                    names: args[i + 1..].to_vec(),
                });
            }
        } else if name.eq_ignore_ascii_case("format")
            && let Some(Expr::Str(f)) = args.first()
            && let Some((t, rest)) = split_type_format(f)
        {
            // `format('<type>/{0}', name)`: only the simple form is read.
            if rest == "{0}" && args.len() == 2 {
                out.push(TypedRef {
                    rtype: t.to_string(),
                    names: vec![args[1].clone()],
                });
            } else {
                out.push(TypedRef {
                    rtype: t.to_string(),
                    names: Vec::new(),
                });
            }
        }
    });
    out
}

fn looks_like_type(s: &str) -> bool {
    let mut parts = s.split('/');
    matches!((parts.next(), parts.next()), (Some(ns), Some(t)) if ns.contains('.') && !t.is_empty())
        && !s.contains(' ')
        && !s.starts_with('/')
}

/// `Microsoft.X/things/{0}` → (`Microsoft.X/things`, `{0}`).
fn split_type_format(f: &str) -> Option<(&str, &str)> {
    let mut slashes = f.match_indices('/');
    let (first, _) = slashes.next()?;
    let (second, _) = slashes.next()?;
    let t = &f[..second];
    (t[..first].contains('.') && !t.contains(' ') && !f.starts_with('/'))
        .then(|| (t, &f[second + 1..]))
}

/// A literal `type/name` id (`Microsoft.X/things/name`) → (type, name).
pub fn literal_type_name(s: &str) -> Option<(&str, &str)> {
    if Expr::of(s).is_some() {
        return None;
    }
    let (t, rest) = split_type_format(s)?;
    (!rest.is_empty() && !rest.contains('{')).then_some((t, rest))
}

/// Whether a `dependsOn` entry or reference names `t`.
pub fn names_target(entry: &str, t: &Target) -> bool {
    if let Some(sym) = t.key.symbol()
        && entry == sym
    {
        return true;
    }
    match Expr::of(entry) {
        Some(e) => {
            let want = t.name_expr();
            typed_refs(&e)
                .iter()
                .any(|r| t.type_is(&r.rtype) && matches!(r.names.as_slice(), [n] if *n == want))
                || e.reference_to("reference").is_some_and(|n| n == t.name)
                || e == want
        }
        None => {
            entry == t.name
                || literal_type_name(entry).is_some_and(|(ty, n)| t.type_is(ty) && n == t.name)
        }
    }
}

/// Visits every string (values and keys) of the template's own scope, with its path; `f` may
/// rewrite the string. Keys are visited as strings too (`userAssignedIdentities` keys are ids).
pub fn for_each_string(
    t: &mut Map<String, Value>,
    at: &JsonPath,
    f: &mut dyn FnMut(&JsonPath, &mut String),
) {
    for k in ["parameters", "variables", "outputs"] {
        if let Some(v) = t.get_mut(k) {
            strings(v, &at.key(k), f);
        }
    }
    let keys: Vec<ResKey> = resources(t).into_iter().map(|(k, _)| k).collect();
    for k in keys {
        let path = k.path(at);
        if let Some(r) = super::find::resource_mut(t, &k) {
            resource_strings(r, &path, f);
        }
    }
}

fn resource_strings(r: &mut Value, at: &JsonPath, f: &mut dyn FnMut(&JsonPath, &mut String)) {
    let skip_inner = is_deployment(r) && inner_scope(r);
    let Some(o) = r.as_object_mut() else {
        return;
    };
    for (k, v) in o.iter_mut() {
        let p = at.key(k);
        if k == "properties" && skip_inner {
            if let Some(po) = v.as_object_mut() {
                for (pk, pv) in po.iter_mut() {
                    if pk != "template" {
                        strings(pv, &p.key(pk), f);
                    }
                }
            }
        } else if k == "resources" && v.is_array() {
            if let Some(children) = v.as_array_mut() {
                for (i, c) in children.iter_mut().enumerate() {
                    resource_strings(c, &p.index(i), f);
                }
            }
        } else {
            strings(v, &p, f);
        }
    }
}

fn strings(v: &mut Value, at: &JsonPath, f: &mut dyn FnMut(&JsonPath, &mut String)) {
    match v {
        Value::String(s) => f(at, s),
        Value::Array(a) => {
            for (i, x) in a.iter_mut().enumerate() {
                strings(x, &at.index(i), f);
            }
        }
        Value::Object(o) => {
            let old = std::mem::take(o);
            for (k, mut x) in old {
                let p = at.key(&k);
                let mut key = k;
                f(&p, &mut key);
                strings(&mut x, &p, f);
                o.insert(key, x);
            }
        }
        _ => {}
    }
}

/// Removes resources and what points at them: `dependsOn` entries of the others and outputs
/// that name them. Returns the paths of the outputs removed.
pub fn remove_with_references(
    t: &mut Map<String, Value>,
    removed: &[Target],
    at: &JsonPath,
) -> Vec<JsonPath> {
    let keys: Vec<ResKey> = removed.iter().map(|r| r.key.clone()).collect();
    super::find::remove_resources(t, &keys);
    let names = |s: &str| removed.iter().any(|r| names_target(s, r) || mentions(s, r));
    let rkeys: Vec<ResKey> = resources(t).into_iter().map(|(k, _)| k).collect();
    for k in rkeys {
        if let Some(Value::Array(deps)) =
            super::find::resource_mut(t, &k).and_then(|r| r.get_mut("dependsOn"))
        {
            deps.retain(|d| !d.as_str().is_some_and(names));
        }
    }
    let mut gone = Vec::new();
    if let Some(Value::Object(outs)) = t.get_mut("outputs") {
        outs.retain(|k, v| {
            let mut hit = false;
            let mut probe = v.clone();
            strings(&mut probe, &JsonPath::root(), &mut |_, s| hit |= names(s));
            if hit {
                gone.push(at.key("outputs").key(k));
            }
            !hit
        });
    }
    gone
}

/// Whether an expression string refers to `t` anywhere inside (ids, `reference('symbol')`).
pub fn mentions(s: &str, t: &Target) -> bool {
    let Some(e) = Expr::of(s) else {
        return false;
    };
    let want = t.name_expr();
    let mut hit = typed_refs(&e)
        .iter()
        .any(|r| t.type_is(&r.rtype) && matches!(r.names.as_slice(), [n] if *n == want));
    e.walk(&mut |x| {
        if let Some(n) = x.reference_to("reference").or_else(|| match x {
            Expr::Call { name, args } if name.eq_ignore_ascii_case("reference") => {
                match args.first() {
                    Some(Expr::Str(s)) => Some(s.as_str()),
                    _ => None,
                }
            }
            _ => None,
        }) && (Some(n) == t.key.symbol() || n == t.name)
        {
            hit = true;
        }
    });
    hit
}

// Removing resources from a lifted template is reference-aware, so it lives here.
impl Scoped {
    /// Removes resources (and what names them, see [`remove_with_references`]);
    /// returns the original paths of the outputs that went with them.
    pub fn remove(&mut self, targets: &[Target]) -> Vec<JsonPath> {
        let gone = remove_with_references(&mut self.template, targets, &JsonPath::root());
        let mut i = 0;
        self.positions.retain(|_| {
            let keep = !targets.iter().any(|t| t.key == ResKey::Index(i));
            i += 1;
            keep
        });
        gone.iter().map(|p| self.original(p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> Target {
        Target {
            key: ResKey::Symbol("lock".into()),
            rtype: "Microsoft.Authorization/locks".into(),
            name: name.into(),
        }
    }

    #[test]
    fn typed_references_are_read_from_ids_and_formats() {
        let e = Expr::of("[guid(resourceId(parameters('rg'), 'Microsoft.VirtualMachineImages/imageTemplates', parameters('n')), format('Microsoft.VirtualMachineImages/imageTemplates/{0}', 'x'))]").expect("e");
        let refs = typed_refs(&e);
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].names, vec![Expr::parameter("n")]);
        assert_eq!(refs[1].names, vec![Expr::Str("x".into())]);
    }

    #[test]
    fn depends_on_entries_in_every_form_name_their_resource() {
        let t = target("[format('{0}-lock', parameters('n'))]");
        for entry in [
            "lock",
            "[resourceId('Microsoft.Authorization/locks', format('{0}-lock', parameters('n')))]",
            "[format('{0}-lock', parameters('n'))]",
        ] {
            assert!(names_target(entry, &t), "{entry}");
        }
        let lit = Target {
            key: ResKey::Index(0),
            ..target("l1")
        };
        assert!(names_target("Microsoft.Authorization/locks/l1", &lit));
        assert!(names_target("l1", &lit));
        assert!(!names_target("Microsoft.Authorization/locks/l2", &lit));
    }
}
