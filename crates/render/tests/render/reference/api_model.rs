//! aib's model of the Image Builder API (`aib_render::lint::api_model`, what `aib import`
//! checks templates against) equals the official ARM schema of Microsoft.VirtualMachineImages
//! (2025-10-01): the same objects, fields, required fields, kinds and allowed values.

use std::collections::BTreeSet;

use aib_render::lint::api_model::{self, Field, Kind, Obj};
use serde_json::Value;

fn schema() -> Value {
    let p = aib_testkit::reference_path(
        "azure-reference/arm-schemas/2025-10-01/Microsoft.VirtualMachineImages.json",
    );
    serde_json::from_str(&std::fs::read_to_string(p).expect("schema")).expect("schema json")
}

/// The alternative of a schema property that is not the ARM-expression one.
fn literal_alternative(p: &Value) -> &Value {
    match p.get("oneOf").and_then(Value::as_array) {
        Some(alts) => alts
            .iter()
            .find(|a| {
                !a.get("$ref")
                    .and_then(Value::as_str)
                    .is_some_and(|r| r.contains("common/definitions.json"))
            })
            .unwrap_or(p),
        None => p,
    }
}

/// A kind as the schema spells it: `string`, `integer`, `boolean`, `enum:a|b`, `object`,
/// `ref:<definition>`, `array<...>`.
fn schema_kind(p: &Value) -> String {
    let p = literal_alternative(p);
    if let Some(r) = p.get("$ref").and_then(Value::as_str) {
        return format!("ref:{}", r.rsplit('/').next().unwrap_or(""));
    }
    if let Some(e) = p.get("enum").and_then(Value::as_array) {
        let v: Vec<&str> = e.iter().filter_map(Value::as_str).collect();
        return format!("enum:{}", v.join("|"));
    }
    match p.get("type").and_then(Value::as_str) {
        Some("array") => format!(
            "array<{}>",
            schema_kind(p.get("items").unwrap_or(&Value::Null))
        ),
        Some(t) => t.to_string(),
        None => "?".into(),
    }
}

fn model_kind(k: &Kind) -> String {
    match k {
        Kind::Str => "string".into(),
        Kind::Int => "integer".into(),
        Kind::Bool => "boolean".into(),
        Kind::Enum(v) => format!("enum:{}", v.join("|")),
        Kind::Map => "object".into(),
        Kind::Object(o) => format!("ref:{}", o.name),
        Kind::Union(u) => format!("ref:{}", u.name),
        Kind::List(i) => format!("array<{}>", model_kind(i)),
    }
}

/// Free-form objects the schema names as a definition of their own (tags, identities).
fn free_object(defs: &Value, name: &str) -> bool {
    defs.get(name).is_some_and(|d| {
        d.get("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| p.is_empty())
    })
}

fn normalise(defs: &Value, kind: String) -> String {
    match kind.strip_prefix("ref:") {
        Some(name) if free_object(defs, name) => "object".into(),
        _ => kind,
    }
}

/// Fields and required fields of a definition, reading `allOf` bases the way ARM does.
fn definition(defs: &Value, name: &str) -> (Vec<(String, String)>, BTreeSet<String>) {
    let d = defs
        .get(name)
        .unwrap_or_else(|| panic!("no definition {name}"));
    let props = d
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let fields = props
        .iter()
        .map(|(k, p)| (k.clone(), normalise(defs, schema_kind(p))))
        .collect();
    let required = d
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    (fields, required)
}

fn model_fields(fields: &[Field]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|f| (f.name.to_string(), model_kind(&f.kind)))
        .collect()
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

#[test]
fn the_model_of_the_api_is_the_official_schema() {
    let s = schema();
    let defs = &s["definitions"];
    let mut compared = 0;
    let objects: Vec<&Obj> = api_model::objects();
    for o in &objects {
        let (fields, required) = definition(defs, o.name);
        // A variant's `type` is an enum of its one value in the schema.
        assert_eq!(
            sorted(model_fields(o.fields)),
            sorted(fields),
            "fields of {}",
            o.name
        );
        let want: BTreeSet<String> = o.required.iter().map(|r| r.to_string()).collect();
        assert_eq!(want, required, "required fields of {}", o.name);
        compared += 1;
    }
    for u in api_model::unions() {
        let d = &defs[u.name]["allOf"];
        let base = &d[0];
        let base_fields: Vec<(String, String)> = base["properties"]
            .as_object()
            .map(|p| {
                p.iter()
                    .filter(|(k, _)| k.as_str() != u.key)
                    .map(|(k, x)| (k.clone(), normalise(defs, schema_kind(x))))
                    .collect()
            })
            .unwrap_or_default();
        let model_base: Vec<(String, String)> = model_fields(u.base)
            .into_iter()
            .filter(|(k, _)| k != u.key)
            .collect();
        assert_eq!(
            sorted(model_base),
            sorted(base_fields),
            "base fields of {}",
            u.name
        );
        let base_required: BTreeSet<String> = base["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let want: BTreeSet<String> = u.base_required.iter().map(|r| r.to_string()).collect();
        assert_eq!(want, base_required, "required base fields of {}", u.name);
        let tags: BTreeSet<String> = base["properties"][u.key]["enum"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let model_tags: BTreeSet<String> = u.variants.iter().map(|(t, _)| t.to_string()).collect();
        assert_eq!(model_tags, tags, "variants of {}", u.name);
        for sub in d[1]["oneOf"].as_array().expect("oneOf") {
            let r = sub["allOf"][0]["$ref"].as_str().expect("ref");
            let name = r.rsplit('/').next().unwrap_or("");
            let tag = sub["allOf"][1]["properties"][u.key]["const"]
                .as_str()
                .expect("const");
            let (_, obj) = u
                .variants
                .iter()
                .find(|(t, _)| *t == tag)
                .unwrap_or_else(|| panic!("{}: no variant {tag}", u.name));
            assert_eq!(obj.name, name, "{}: variant {tag}", u.name);
        }
        compared += 1;
    }
    // The model covers every definition the imageTemplate resource reaches.
    let mut reached = BTreeSet::new();
    let mut todo = vec![
        "ImageTemplateProperties".to_string(),
        "ImageTemplateIdentity".to_string(),
    ];
    while let Some(n) = todo.pop() {
        if !reached.insert(n.clone()) {
            continue;
        }
        let text = defs[&n].to_string();
        for part in text.split("\"#/definitions/").skip(1) {
            let next: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if !free_object(defs, &next) {
                todo.push(next);
            }
        }
    }
    let modelled: BTreeSet<String> = objects
        .iter()
        .map(|o| o.name.to_string())
        .chain(api_model::unions().iter().map(|u| u.name.to_string()))
        .collect();
    assert_eq!(
        modelled, reached,
        "definitions the model leaves out or invents"
    );
    assert!(compared >= 30, "{compared}");
}

/// The official imageTemplate examples pass the model.
#[test]
fn the_official_examples_pass_the_model() {
    let mut checked = 0;
    for f in
        aib_testkit::reference_files("azure-reference/imagebuilder/2025-10-01/examples", ".json")
    {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(&f).expect("read")).expect("json");
        let Some(body) = v.pointer("/parameters/parameters") else {
            continue;
        };
        if body.pointer("/properties/source").is_none() {
            continue;
        }
        let findings = api_model::check_resource(body);
        assert!(findings.is_empty(), "{}: {findings:#?}", f.display());
        checked += 1;
    }
    assert!(checked >= 2, "{checked}");
}
