//! A subset of the ARM template language: enough for aib's rendered deployments and the AIB
//! quickstart templates.
//!
//! Expressions: `"[...]"` strings (`"[[..."` is a literal starting with `[`), string literals
//! with `''` escapes, integers, nested calls, property access (`.name`) and indexing (`[0]`,
//! `['key']`). Functions: `parameters`, `variables`, `concat`, `format`, `resourceGroup`,
//! `subscription`, `deployment`, `resourceId`, `subscriptionResourceId`, `reference`,
//! `toLower`, `toUpper`, `string`, `int`, `bool`, `json`, `uniqueString`, `guid`, `replace`,
//! `trim`, `split`, `startsWith`, `endsWith`, `contains`, `empty`, `length`, `if`, `equals`,
//! `not`, `and`, `or`, `true`, `false`, `null`, `coalesce`, `createArray`, `createObject`,
//! `union`, `first`, `last`, `substring`. Any other function fails with `InvalidTemplate`.
//! `uniqueString` is deterministic (13 lowercase base32 chars) but not bit-identical to ARM's.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;

/// A template-language error (becomes `InvalidTemplate`).
#[derive(Debug, Clone)]
pub struct TemplateError(pub String);

type R<T> = Result<T, TemplateError>;

fn err<T>(msg: impl Into<String>) -> R<T> {
    Err(TemplateError(msg.into()))
}

/// Where the deployment runs.
#[derive(Debug, Clone)]
pub struct Scope {
    pub sub: String,
    pub rg: String,
    pub location: String,
    pub deployment: String,
}

/// Evaluation context for one template.
#[derive(Debug)]
pub struct Eval<'a> {
    pub scope: Scope,
    pub params: Map<String, Value>,
    pub var_defs: Map<String, Value>,
    vars: RefCell<HashMap<String, Value>>,
    stack: RefCell<Vec<String>>,
    /// id (lower) -> properties, for `reference()`
    pub resources: RefCell<HashMap<String, Value>>,
    _p: std::marker::PhantomData<&'a ()>,
}

fn get_ci<'b>(m: &'b Map<String, Value>, k: &str) -> Option<(&'b String, &'b Value)> {
    m.iter().find(|(n, _)| n.eq_ignore_ascii_case(k))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Integer",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Object",
    }
}

/// A fully evaluated template.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// `{name: {type, value}}` as DeploymentExtended shows them (secure values omitted).
    pub parameters: Value,
    pub resources: Vec<Value>,
    pub outputs_def: Option<Value>,
}

/// Resolve parameters and evaluate resources of `template` with the given `parameters`
/// (`{name: {value}}`).
pub fn evaluate(
    scope: Scope,
    template: &Value,
    parameters: &Value,
) -> R<(Evaluated, Eval<'static>)> {
    let Some(t) = template.as_object() else {
        return err("The template must be a JSON object.");
    };
    let empty = Map::new();
    let pdefs = t
        .get("parameters")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let provided = parameters.as_object().unwrap_or(&empty);
    for k in provided.keys() {
        if get_ci(pdefs, k).is_none() {
            return err(format!(
                "Deployment template validation failed: 'The template parameters '{k}' in the parameters file are not valid; they are not present in the original template and can therefore not be provided at deployment time. The only supported parameters for this template are '{}'. Please see https://aka.ms/arm-pass-parameter-values for usage details.'.",
                pdefs.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let mut ev = Eval {
        scope,
        params: Map::new(),
        var_defs: t
            .get("variables")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        vars: RefCell::new(HashMap::new()),
        stack: RefCell::new(Vec::new()),
        resources: RefCell::new(HashMap::new()),
        _p: std::marker::PhantomData,
    };
    let mut shown = Map::new();
    for (name, def) in pdefs {
        let (value, display) = parameter_value(&ev, name, def, provided)?;
        shown.insert(name.clone(), display);
        ev.params.insert(name.clone(), value);
    }
    let resources = evaluate_resources(&ev, t)?;
    let outputs_def = t.get("outputs").cloned();
    Ok((
        Evaluated {
            parameters: Value::Object(shown),
            resources,
            outputs_def,
        },
        ev,
    ))
}

/// A parameter's value (given, or its default evaluated) checked against its definition, and
/// how the deployment shows it (secure ones without their value).
fn parameter_value(
    ev: &Eval<'_>,
    name: &str,
    def: &Value,
    provided: &Map<String, Value>,
) -> R<(Value, Value)> {
    let ptype = def
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("string")
        .to_ascii_lowercase();
    let given = get_ci(provided, name).map(|(_, v)| v);
    let value = match given {
        Some(p) if p.get("value").is_some() => p.get("value").cloned().unwrap_or(Value::Null),
        Some(p) if p.get("reference").is_some() => Value::String(String::new()),
        Some(_) => {
            return err(format!(
                "Deployment template validation failed: 'The value for the template parameter '{name}' is not provided.'."
            ));
        }
        None => match def.get("defaultValue") {
            Some(d) => ev.value(d).map_err(|e| {
                TemplateError(format!("Deployment template validation failed: '{}'.", e.0))
            })?,
            None => {
                return err(format!(
                    "Deployment template validation failed: 'The value for the template parameter '{name}' at line '1' and column '1' is not provided. Please see https://aka.ms/arm-create-parameter-file for usage details.'."
                ));
            }
        },
    };
    let ok = match ptype.as_str() {
        "string" | "securestring" => value.is_string(),
        "int" => value.is_i64() || value.is_u64(),
        "bool" => value.is_boolean(),
        "object" | "secureobject" => value.is_object(),
        "array" => value.is_array(),
        other => {
            return err(format!(
                "Deployment template validation failed: 'The template parameter '{name}' has an invalid type '{other}'.'."
            ));
        }
    };
    if !ok {
        let expected = match ptype.as_str() {
            "string" | "securestring" => "String, Uri",
            "int" => "Integer",
            "bool" => "Boolean",
            "object" | "secureobject" => "Object",
            _ => "Array",
        };
        return err(format!(
            "Deployment template validation failed: 'Template parameter JToken type is not valid. Expected '{expected}'. Actual '{}'. Please see https://aka.ms/arm-create-parameter-file for usage details.'.",
            type_name(&value)
        ));
    }
    if let Some(allowed) = def.get("allowedValues").and_then(Value::as_array)
        && !allowed.contains(&value)
    {
        return err(format!(
            "Deployment template validation failed: 'The provided value '{}' for the template parameter '{name}' is not valid. The parameter value is not part of the allowed value(s).'.",
            value
        ));
    }
    let shown = if !ptype.starts_with("secure") {
        let display_type = match ptype.as_str() {
            "string" => "String",
            "int" => "Int",
            "bool" => "Bool",
            "object" => "Object",
            _ => "Array",
        };
        json!({"type": display_type, "value": value})
    } else {
        json!({"type": if ptype == "securestring" { "SecureString" } else { "SecureObject" }})
    };
    Ok((value, shown))
}

/// The template's resources evaluated, those whose `condition` is false left out; each is
/// remembered for `reference()`.
fn evaluate_resources(ev: &Eval<'_>, t: &Map<String, Value>) -> R<Vec<Value>> {
    let raw_resources: Vec<Value> = match t.get("resources") {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Object(o)) => o.values().cloned().collect(),
        None => Vec::new(),
        Some(_) => {
            return err(
                "Deployment template validation failed: 'The template resources must be an array.'.",
            );
        }
    };
    let mut resources = Vec::new();
    for (i, r) in raw_resources.iter().enumerate() {
        if r.get("copy").is_some() {
            return err(format!(
                "Deployment template validation failed: 'The template resource at index {i} uses a copy loop, which the simulator does not support.'."
            ));
        }
        if let Some(c) = r.get("condition") {
            let c = ev.value(c).map_err(|e| wrap_res(i, e))?;
            if c == Value::Bool(false) {
                continue;
            }
        }
        let mut v = ev.value(r).map_err(|e| wrap_res(i, e))?;
        if let Some(o) = v.as_object_mut() {
            o.remove("condition");
        }
        if let (Some(ty), Some(name)) = (
            v.get("type").and_then(Value::as_str),
            v.get("name").and_then(Value::as_str),
        ) {
            let id = ev.resource_id_for(ty, name);
            ev.resources.borrow_mut().insert(
                id.to_ascii_lowercase(),
                v.get("properties").cloned().unwrap_or_else(|| json!({})),
            );
        }
        resources.push(v);
    }
    Ok(resources)
}

fn wrap_res(i: usize, e: TemplateError) -> TemplateError {
    TemplateError(format!(
        "Deployment template validation failed: 'The template resource at index '{i}' is not valid: {}'.",
        e.0
    ))
}

impl Eval<'_> {
    /// Evaluate outputs (`{name:{type,value}}`).
    pub fn outputs(&self, defs: &Value) -> R<Value> {
        let mut out = Map::new();
        if let Some(o) = defs.as_object() {
            for (k, d) in o {
                let ty = d.get("type").and_then(Value::as_str).unwrap_or("String");
                let v = match d.get("value") {
                    Some(v) => self.value(v)?,
                    None => Value::Null,
                };
                let mut t = ty.to_string();
                if let Some(first) = t.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                out.insert(k.clone(), json!({"type": t, "value": v}));
            }
        }
        Ok(Value::Object(out))
    }

    /// Recursively evaluate expressions in a JSON value.
    pub fn value(&self, v: &Value) -> R<Value> {
        match v {
            Value::String(s) => self.string(s),
            Value::Array(a) => a
                .iter()
                .map(|x| self.value(x))
                .collect::<R<Vec<_>>>()
                .map(Value::Array),
            Value::Object(o) => {
                let mut m = Map::new();
                for (k, x) in o {
                    let key = match self.string(k)? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    m.insert(key, self.value(x)?);
                }
                Ok(Value::Object(m))
            }
            other => Ok(other.clone()),
        }
    }

    fn string(&self, s: &str) -> R<Value> {
        if s.starts_with("[[") {
            return Ok(Value::String(s[1..].to_string()));
        }
        if s.len() >= 2 && s.starts_with('[') && s.ends_with(']') {
            let src = &s[1..s.len() - 1];
            let mut p = Parser {
                s: src.as_bytes(),
                i: 0,
                depth: 0,
            };
            let e = p.expr()?;
            p.ws();
            if p.i != p.s.len() {
                return err(format!(
                    "The language expression '{src}' is not valid: unexpected text at position {}.",
                    p.i
                ));
            }
            return self.eval(&e);
        }
        Ok(Value::String(s.to_string()))
    }

    fn variable(&self, name: &str) -> R<Value> {
        let key = name.to_ascii_lowercase();
        if let Some(v) = self.vars.borrow().get(&key) {
            return Ok(v.clone());
        }
        let Some((_, def)) = get_ci(&self.var_defs, name) else {
            return err(format!(
                "The template variable '{name}' is not found. Please see https://aka.ms/arm-syntax-variables for usage details."
            ));
        };
        if self.stack.borrow().contains(&key) {
            return err(format!("The template variable '{name}' references itself."));
        }
        self.stack.borrow_mut().push(key.clone());
        let def = def.clone();
        let v = self.value(&def);
        self.stack.borrow_mut().pop();
        let v = v?;
        self.vars.borrow_mut().insert(key, v.clone());
        Ok(v)
    }

    fn rg_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}",
            self.scope.sub, self.scope.rg
        )
    }

    fn resource_id_for(&self, ty: &str, name: &str) -> String {
        let types: Vec<&str> = ty.split('/').collect();
        let names: Vec<&str> = name.split('/').collect();
        let mut id = format!(
            "{}/providers/{}",
            self.rg_id(),
            types.first().copied().unwrap_or("")
        );
        for (i, t) in types.iter().skip(1).enumerate() {
            id.push('/');
            id.push_str(t);
            id.push('/');
            id.push_str(names.get(i).copied().unwrap_or(""));
        }
        id
    }

    fn eval(&self, e: &Expr) -> R<Value> {
        match e {
            Expr::Str(s) => Ok(Value::String(s.clone())),
            Expr::Int(n) => Ok(json!(n)),
            Expr::Prop(base, name) => {
                let b = self.eval(base)?;
                match &b {
                    Value::Object(o) => match get_ci(o, name) {
                        Some((_, v)) => Ok(v.clone()),
                        None => err(format!(
                            "The language expression property '{name}' doesn't exist, available properties are '{}'.",
                            o.keys().cloned().collect::<Vec<_>>().join(", ")
                        )),
                    },
                    _ => err(format!(
                        "The language expression property '{name}' can't be evaluated on a value of type '{}'.",
                        type_name(&b)
                    )),
                }
            }
            Expr::Index(base, idx) => {
                let b = self.eval(base)?;
                let i = self.eval(idx)?;
                match (&b, &i) {
                    (Value::Array(a), Value::Number(n)) => {
                        let k = n.as_u64().unwrap_or(u64::MAX) as usize;
                        a.get(k).cloned().ok_or_else(|| {
                            TemplateError(format!(
                                "The language expression index '{k}' is out of bounds."
                            ))
                        })
                    }
                    (Value::Object(o), Value::String(s)) => {
                        get_ci(o, s).map(|(_, v)| v.clone()).ok_or_else(|| {
                            TemplateError(format!(
                                "The language expression property '{s}' doesn't exist."
                            ))
                        })
                    }
                    _ => err("The language expression index is not valid."),
                }
            }
            Expr::Call(name, args) => {
                let lname = name.to_ascii_lowercase();
                // if() evaluates lazily
                if lname == "if" {
                    if args.len() != 3 {
                        return err(
                            "The template language function 'if' expects exactly three parameters.",
                        );
                    }
                    let c = self.eval(&args[0])?;
                    return if c.as_bool().unwrap_or(false) {
                        self.eval(&args[1])
                    } else {
                        self.eval(&args[2])
                    };
                }
                let a: Vec<Value> = args.iter().map(|x| self.eval(x)).collect::<R<_>>()?;
                self.call(name, &lname, &a)
            }
        }
    }

    fn call(&self, name: &str, lname: &str, a: &[Value]) -> R<Value> {
        if let Some(v) = self.scope_function(name, lname, a)? {
            return Ok(v);
        }
        if let Some(v) = string_function(name, lname, a)? {
            return Ok(v);
        }
        if let Some(v) = collection_function(name, lname, a)? {
            return Ok(v);
        }
        err(format!(
            "The template function '{name}' is not valid. Please see https://aka.ms/arm-functions for usage details."
        ))
    }

    /// Functions of the deployment's scope: parameters, variables, the resource group,
    /// subscription and deployment, resource ids and `reference`.
    fn scope_function(&self, name: &str, lname: &str, a: &[Value]) -> R<Option<Value>> {
        let s = |i: usize| arg_string(name, a, i);
        Ok(Some(match lname {
            "parameters" => {
                let n = s(0)?;
                match get_ci(&self.params, &n) {
                    Some((_, v)) => v.clone(),
                    None => {
                        return err(format!(
                            "The template parameter '{n}' is not found. Please see https://aka.ms/arm-syntax-parameters for usage details."
                        ));
                    }
                }
            }
            "variables" => self.variable(&s(0)?)?,
            "resourcegroup" => json!({
                "id": self.rg_id(), "name": self.scope.rg, "type": "Microsoft.Resources/resourceGroups",
                "location": self.scope.location, "managedBy": null, "tags": {}, "properties": {"provisioningState": "Succeeded"}
            }),
            "subscription" => json!({
                "id": format!("/subscriptions/{}", self.scope.sub), "subscriptionId": self.scope.sub,
                "tenantId": "00000000-0000-0000-0000-00000000a1b5", "displayName": "Simulated subscription"
            }),
            "deployment" => {
                json!({"name": self.scope.deployment, "properties": {"templateLink": null}, "location": self.scope.location})
            }
            "resourceid" | "subscriptionresourceid" => self.resource_id(name, lname, a)?,
            "reference" => {
                let id = s(0)?;
                match self.resources.borrow().get(&id.to_ascii_lowercase()) {
                    Some(v) => v.clone(),
                    None => json!({}),
                }
            }
            _ => return Ok(None),
        }))
    }

    /// `resourceId(...)` and `subscriptionResourceId(...)`.
    fn resource_id(&self, name: &str, lname: &str, a: &[Value]) -> R<Value> {
        let strs: Vec<String> = a.iter().map(to_s).collect();
        let Some(ti) = strs.iter().position(|x| x.contains('/')) else {
            return err(format!(
                "Unable to evaluate template language function '{name}': the resource type is missing."
            ));
        };
        let (sub, rg) = match (lname, ti) {
            ("subscriptionresourceid", 0) => (self.scope.sub.clone(), None),
            ("subscriptionresourceid", _) => (strs[0].clone(), None),
            (_, 0) => (self.scope.sub.clone(), Some(self.scope.rg.clone())),
            (_, 1) => (self.scope.sub.clone(), Some(strs[0].clone())),
            _ => (strs[0].clone(), Some(strs[1].clone())),
        };
        let ty = &strs[ti];
        let names = &strs[ti + 1..];
        let types: Vec<&str> = ty.split('/').collect();
        if names.len() + 1 != types.len() {
            return err(format!(
                "Unable to evaluate template language function '{name}': function requires exactly one multi-segmented argument which must be resource type including resource provider namespace. Current function arguments '{}'.",
                strs.join(",")
            ));
        }
        let mut id = match rg {
            Some(rg) => format!(
                "/subscriptions/{sub}/resourceGroups/{rg}/providers/{}",
                types[0]
            ),
            None => format!("/subscriptions/{sub}/providers/{}", types[0]),
        };
        for (t, n) in types.iter().skip(1).zip(names) {
            id.push_str(&format!("/{t}/{n}"));
        }
        Ok(Value::String(id))
    }
}

/// Parameter `i` of function `name`, which must be a string.
fn arg_string(name: &str, a: &[Value], i: usize) -> R<String> {
    match a.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => err(format!(
            "The template language function '{name}' expects its parameter {} to be a string. The provided value is of type '{}'.",
            i + 1,
            type_name(other)
        )),
        None => err(format!(
            "The template language function '{name}' is missing parameter {}.",
            i + 1
        )),
    }
}

/// A value as `concat`, `format` and `string` write it.
fn to_s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => {
            if *b {
                "True".into()
            } else {
                "False".into()
            }
        }
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// String and conversion functions.
fn string_function(name: &str, lname: &str, a: &[Value]) -> R<Option<Value>> {
    let s = |i: usize| arg_string(name, a, i);
    Ok(Some(match lname {
        "concat" => {
            if !a.is_empty() && a.iter().all(Value::is_array) {
                Value::Array(
                    a.iter()
                        .flat_map(|x| x.as_array().cloned().unwrap_or_default())
                        .collect(),
                )
            } else {
                Value::String(a.iter().map(to_s).collect())
            }
        }
        "format" => format(name, a)?,
        "tolower" => Value::String(s(0)?.to_lowercase()),
        "toupper" => Value::String(s(0)?.to_uppercase()),
        "string" => Value::String(a.first().map(to_s).unwrap_or_default()),
        "int" => match a.first() {
            Some(Value::String(x)) => {
                json!(x.trim().parse::<i64>().map_err(|_| TemplateError(format!(
                    "The value '{x}' cannot be converted to an integer."
                )))?)
            }
            Some(v @ Value::Number(_)) => v.clone(),
            _ => return err("The template language function 'int' expects one parameter."),
        },
        "bool" => match a.first() {
            Some(Value::String(x)) => json!(x.eq_ignore_ascii_case("true")),
            Some(Value::Bool(b)) => json!(b),
            Some(Value::Number(n)) => json!(n.as_i64().unwrap_or(0) != 0),
            _ => return err("The template language function 'bool' expects one parameter."),
        },
        "json" => serde_json::from_str(&s(0)?).map_err(|e| {
            TemplateError(format!(
                "The template language function 'json' got invalid JSON: {e}"
            ))
        })?,
        "uniquestring" => unique_string(a),
        "guid" => {
            let joined = a.iter().map(to_s).collect::<Vec<_>>().join("-");
            Value::String(super::stable_guid(&joined))
        }
        "replace" => Value::String(s(0)?.replace(&s(1)?, &s(2)?)),
        "trim" => Value::String(s(0)?.trim().to_string()),
        "split" => {
            let x = s(0)?;
            let d = s(1)?;
            Value::Array(
                x.split(d.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            )
        }
        "startswith" => json!(s(0)?.to_lowercase().starts_with(&s(1)?.to_lowercase())),
        "endswith" => json!(s(0)?.to_lowercase().ends_with(&s(1)?.to_lowercase())),
        "substring" => {
            let x: Vec<char> = s(0)?.chars().collect();
            let start = a.get(1).and_then(Value::as_u64).unwrap_or(0) as usize;
            let len = a
                .get(2)
                .and_then(Value::as_u64)
                .map(|l| l as usize)
                .unwrap_or(x.len().saturating_sub(start));
            if start.checked_add(len).is_none_or(|end| end > x.len()) {
                return err(
                    "The index and length parameters of 'substring' must refer to a location within the string.",
                );
            }
            Value::String(x[start..start + len].iter().collect())
        }
        _ => return Ok(None),
    }))
}

/// `format('{0}-{1:D2}', ...)`: .NET composite formatting, the index part of each item.
fn format(name: &str, a: &[Value]) -> R<Value> {
    let s = |i: usize| arg_string(name, a, i);
    let f = s(0)?;
    let mut out = String::new();
    let mut chars = f.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '{' {
            if chars.peek() == Some(&'{') {
                chars.next();
                out.push('{');
                continue;
            }
            let mut spec = String::new();
            for d in chars.by_ref() {
                if d == '}' {
                    break;
                }
                spec.push(d);
            }
            let idx: usize = spec
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .parse()
                .map_err(|_| TemplateError(format!("The format string '{f}' is not valid.")))?;
            let v = a.get(idx + 1).ok_or_else(|| {
                TemplateError(format!(
                    "The format string '{f}' references argument {idx} which was not provided."
                ))
            })?;
            out.push_str(&to_s(v));
        } else if c == '}' && chars.peek() == Some(&'}') {
            chars.next();
            out.push('}');
        } else {
            out.push(c);
        }
    }
    Ok(Value::String(out))
}

/// `uniqueString(...)`: 13 base32 characters of a hash of the arguments.
fn unique_string(a: &[Value]) -> Value {
    let joined = a.iter().map(to_s).collect::<Vec<_>>().join("-");
    let h = Sha256::digest(joined.as_bytes());
    const AL: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bits: u64 = u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]);
    let mut out = String::new();
    for _ in 0..13 {
        out.push(AL[(bits >> 59) as usize] as char);
        bits <<= 5;
    }
    Value::String(out)
}

/// Array, object and logical functions.
fn collection_function(name: &str, lname: &str, a: &[Value]) -> R<Option<Value>> {
    let s = |i: usize| arg_string(name, a, i);
    Ok(Some(match lname {
        "contains" => match a.first() {
            Some(Value::String(x)) => json!(x.contains(&s(1)?)),
            Some(Value::Array(arr)) => json!(a.get(1).is_some_and(|v| arr.contains(v))),
            Some(Value::Object(o)) => json!(get_ci(o, &s(1)?).is_some()),
            _ => {
                return err(
                    "The template language function 'contains' expects a string, array or object.",
                );
            }
        },
        "empty" => json!(match a.first() {
            Some(Value::String(x)) => x.is_empty(),
            Some(Value::Array(x)) => x.is_empty(),
            Some(Value::Object(x)) => x.is_empty(),
            Some(Value::Null) | None => true,
            _ => false,
        }),
        "length" => json!(match a.first() {
            Some(Value::String(x)) => x.chars().count(),
            Some(Value::Array(x)) => x.len(),
            Some(Value::Object(x)) => x.len(),
            _ =>
                return err(
                    "The template language function 'length' expects a string, array or object."
                ),
        }),
        "equals" => json!(a.first() == a.get(1)),
        "not" => json!(!a.first().and_then(Value::as_bool).unwrap_or(false)),
        "and" => json!(a.iter().all(|v| v.as_bool().unwrap_or(false))),
        "or" => json!(a.iter().any(|v| v.as_bool().unwrap_or(false))),
        "true" => json!(true),
        "false" => json!(false),
        "null" => Value::Null,
        "coalesce" => a
            .iter()
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null),
        "createarray" => Value::Array(a.to_vec()),
        "createobject" => {
            let mut m = Map::new();
            for pair in a.chunks(2) {
                if let [k, v] = pair {
                    m.insert(to_s(k), v.clone());
                }
            }
            Value::Object(m)
        }
        "union" => union(a),
        "first" => match a.first() {
            Some(Value::Array(x)) => x.first().cloned().unwrap_or(Value::Null),
            Some(Value::String(x)) => Value::String(x.chars().take(1).collect()),
            _ => Value::Null,
        },
        "last" => match a.first() {
            Some(Value::Array(x)) => x.last().cloned().unwrap_or(Value::Null),
            Some(Value::String(x)) => {
                Value::String(x.chars().last().map(String::from).unwrap_or_default())
            }
            _ => Value::Null,
        },
        _ => return Ok(None),
    }))
}

/// `union(...)`: objects merged, or arrays without duplicates.
fn union(a: &[Value]) -> Value {
    if a.iter().all(Value::is_object) {
        let mut m = Map::new();
        for o in a.iter().filter_map(Value::as_object) {
            for (k, v) in o {
                m.insert(k.clone(), v.clone());
            }
        }
        Value::Object(m)
    } else {
        let mut out: Vec<Value> = Vec::new();
        for x in a.iter().filter_map(Value::as_array).flatten() {
            if !out.contains(x) {
                out.push(x.clone());
            }
        }
        Value::Array(out)
    }
}

#[derive(Debug, Clone)]
enum Expr {
    Str(String),
    Int(i64),
    Call(String, Vec<Expr>),
    Prop(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn bad<T>(&self, what: &str) -> R<T> {
        err(format!(
            "The language expression '{}' is not valid: {what} at position {}.",
            String::from_utf8_lossy(self.s),
            self.i
        ))
    }
    fn expr(&mut self) -> R<Expr> {
        self.depth += 1;
        if self.depth > 64 {
            return self.bad("expression nested too deeply");
        }
        let e = self.expr_inner();
        self.depth -= 1;
        e
    }
    fn expr_inner(&mut self) -> R<Expr> {
        self.ws();
        let mut e = self.primary()?;
        loop {
            self.ws();
            match self.peek() {
                Some(b'.') => {
                    self.i += 1;
                    let name = self.ident();
                    if name.is_empty() {
                        return self.bad("expected a property name");
                    }
                    e = Expr::Prop(Box::new(e), name);
                }
                Some(b'[') => {
                    self.i += 1;
                    let idx = self.expr()?;
                    self.ws();
                    if self.peek() != Some(b']') {
                        return self.bad("expected ']'");
                    }
                    self.i += 1;
                    e = Expr::Index(Box::new(e), Box::new(idx));
                }
                _ => return Ok(e),
            }
        }
    }
    fn ident(&mut self) -> String {
        let st = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric()
                || self.s[self.i] == b'_'
                || self.s[self.i] == b'$')
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[st..self.i]).to_string()
    }
    fn primary(&mut self) -> R<Expr> {
        match self.peek() {
            Some(b'\'') => self.string_literal(),
            Some(c) if c.is_ascii_digit() || c == b'-' => self.integer(),
            Some(c) if c.is_ascii_alphabetic() => self.call(),
            _ => self.bad("unexpected character"),
        }
    }
    /// `'text'`, a doubled quote standing for one.
    fn string_literal(&mut self) -> R<Expr> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return self.bad("unterminated string"),
                Some(b'\'') => {
                    if self.s.get(self.i + 1) == Some(&b'\'') {
                        out.push(b'\'');
                        self.i += 2;
                    } else {
                        self.i += 1;
                        break;
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        Ok(Expr::Str(String::from_utf8_lossy(&out).to_string()))
    }
    /// An integer, possibly negative.
    fn integer(&mut self) -> R<Expr> {
        let st = self.i;
        self.i += 1;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let txt = String::from_utf8_lossy(&self.s[st..self.i]).to_string();
        txt.parse()
            .map(Expr::Int)
            .or_else(|_| self.bad("invalid number"))
    }
    /// `name(args)`, `name` possibly in a user-defined namespace (`ns.func(...)`).
    fn call(&mut self) -> R<Expr> {
        let name = self.function_name();
        self.ws();
        if self.peek() != Some(b'(') {
            return self.bad("expected '('");
        }
        self.i += 1;
        let mut args = Vec::new();
        self.ws();
        if self.peek() == Some(b')') {
            self.i += 1;
            return Ok(Expr::Call(name, args));
        }
        loop {
            args.push(self.expr()?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b')') => {
                    self.i += 1;
                    return Ok(Expr::Call(name, args));
                }
                _ => return self.bad("expected ',' or ')'"),
            }
        }
    }
    /// A function's name: `func`, or `ns.func` when a `(` follows (else the `.` is a
    /// property access, left for the caller).
    fn function_name(&mut self) -> String {
        let mut name = self.ident();
        while self.peek() == Some(b'.')
            && self
                .s
                .get(self.i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic())
        {
            let save = self.i;
            self.i += 1;
            let more = self.ident();
            if self.peek() == Some(b'(') {
                name = format!("{name}.{more}");
            } else {
                self.i = save;
                break;
            }
        }
        name
    }
}
