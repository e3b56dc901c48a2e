//! Every rendered deployment of the example pipelines validates against the official ARM
//! resource schema of Microsoft.VirtualMachineImages (2025-10-01).
//!
//! That generated schema puts `additionalProperties: false` on each discriminator's base inside
//! an `allOf` beside the `oneOf` of subtypes; read literally it rejects every valid customizer.
//! It is read as ARM does: base ∪ chosen subtype, closed, so a miscased property still fails.

use aib_render::render::{RenderInputs, Renderer};
use serde_json::{Map, Value, json};

use crate::common;

const EXPRESSION_REF: &str =
    "https://schema.management.azure.com/schemas/common/definitions.json#/definitions/expression";

/// Rewrites `allOf: [closed base, {oneOf: [allOf: [$ref sub, {type const}]]}]` into a `oneOf`
/// of closed merged objects, and points remote expression refs at a local definition.
fn arm_reading(v: &Value, defs: &Map<String, Value>) -> Value {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref")
                && r == EXPRESSION_REF
            {
                return json!({ "$ref": "#/definitions/__expression" });
            }
            if let Some(Value::Array(all)) = o.get("allOf")
                && let (Some(base), Some(Value::Array(subs))) = (
                    all.first()
                        .filter(|b| b.get("additionalProperties") == Some(&Value::Bool(false))),
                    all.get(1).and_then(|x| x.get("oneOf")),
                )
            {
                let mut variants = Vec::new();
                for sub in subs {
                    let parts = sub
                        .get("allOf")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let mut props = base
                        .get("properties")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default();
                    let mut required: Vec<Value> = base
                        .get("required")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    for p in &parts {
                        let p = match p
                            .get("$ref")
                            .and_then(Value::as_str)
                            .and_then(|r| r.strip_prefix("#/definitions/"))
                        {
                            Some(name) => defs.get(name).cloned().unwrap_or(Value::Null),
                            None => p.clone(),
                        };
                        if let Some(pp) = p.get("properties").and_then(Value::as_object) {
                            for (k, x) in pp {
                                let merged = match props.get(k) {
                                    Some(old) => json!({ "allOf": [old, x] }),
                                    None => x.clone(),
                                };
                                props.insert(k.clone(), merged);
                            }
                        }
                        if let Some(r) = p.get("required").and_then(Value::as_array) {
                            required.extend(r.iter().cloned());
                        }
                    }
                    let mut seen = Vec::new();
                    required.retain(|r| {
                        let new = !seen.contains(r);
                        seen.push(r.clone());
                        new
                    });
                    let merged = json!({
                        "type": "object",
                        "properties": Value::Object(props),
                        "required": required,
                        "additionalProperties": false,
                    });
                    variants.push(arm_reading(&merged, defs));
                }
                return json!({ "oneOf": variants });
            }
            Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), arm_reading(x, defs)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| arm_reading(x, defs)).collect()),
        other => other.clone(),
    }
}

fn image_template_validator() -> jsonschema::Validator {
    let dir = aib_testkit::reference_path("azure-reference/arm-schemas");
    let read = |p: &str| -> Value {
        let text = std::fs::read_to_string(dir.join(p)).expect("schema file");
        serde_json::from_str(&text).expect("schema json")
    };
    let aib = read("2025-10-01/Microsoft.VirtualMachineImages.json");
    let common_defs = read("common/definitions.json");
    let defs = aib["definitions"].as_object().cloned().unwrap_or_default();
    let mut out: Map<String, Value> = defs
        .iter()
        .map(|(k, v)| (k.clone(), arm_reading(v, &defs)))
        .collect();
    out.insert(
        "__expression".into(),
        common_defs["definitions"]["expression"].clone(),
    );
    let resource = arm_reading(&aib["resourceDefinitions"]["imageTemplates"], &defs);
    let mut resource = resource;
    if let Some(o) = resource.as_object_mut() {
        // Deployment resources may also carry these ARM keys.
        if let Some(p) = o.get_mut("properties").and_then(Value::as_object_mut) {
            p.insert("dependsOn".into(), json!({ "type": "array" }));
        }
    }
    let schema = json!({
        "definitions": Value::Object(out),
        "allOf": [resource],
    });
    match jsonschema::draft7::new(&schema) {
        Ok(v) => v,
        Err(e) => panic!("schema does not compile: {e}"),
    }
}

fn errors(v: &jsonschema::Validator, x: &Value) -> Vec<String> {
    v.iter_errors(x)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn example_deployments_pass_the_official_schema() {
    let v = image_template_validator();
    let mut checked = 0;
    for p in ["pipelines/avd/aib.toml", "pipelines/linux-fleet/aib.toml"] {
        let m = common::load(&common::repo().join(p));
        let plan = common::plan(&m);
        let r = Renderer::new(&m);
        for u in plan.units() {
            for inputs in [
                RenderInputs::default(),
                RenderInputs {
                    source_version: Some(
                        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/versions/2026.1128.1",
                    ),
                    image_version: Some("2026.1128.2"),
                    secrets: None,
                },
            ] {
                let d = r.render_in_plan(&plan, u, &inputs).expect("renders");
                let errs = errors(&v, &d.image_template);
                assert!(errs.is_empty(), "{}: {errs:#?}", u.id);
                assert_eq!(
                    d.template["$schema"],
                    aib_render::render::DEPLOYMENT_TEMPLATE_SCHEMA
                );
                assert_eq!(d.template["resources"][0], d.image_template);
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "{checked}");
}

#[test]
fn the_schema_reading_still_rejects_miscased_and_unknown_properties() {
    let v = image_template_validator();
    let m = common::load(&common::repo().join("pipelines/avd/aib.toml"));
    let plan = common::plan(&m);
    let u = &plan.units()[0];
    let d = Renderer::new(&m)
        .render_in_plan(&plan, u, &RenderInputs::default())
        .expect("renders");
    assert!(errors(&v, &d.image_template).is_empty());

    let mut bad = d.image_template.clone();
    let c = &mut bad["properties"]["customize"][0];
    let elevated = c["runElevated"].clone();
    c.as_object_mut().map(|o| o.remove("runElevated"));
    c["RunElevated"] = elevated;
    assert!(!errors(&v, &bad).is_empty(), "RunElevated must fail");

    let mut bad = d.image_template.clone();
    bad["properties"]["customize"][2]["restartTimeOut"] = json!("5m");
    assert!(!errors(&v, &bad).is_empty(), "restartTimeOut must fail");

    let mut bad = d.image_template.clone();
    bad["properties"]["source"]["Publisher"] = json!("x");
    assert!(!errors(&v, &bad).is_empty(), "Publisher must fail");

    let mut bad = d.image_template.clone();
    bad["properties"]["distribute"][0]["targetRegions"][0]["replicaCount"] = json!("two");
    assert!(
        !errors(&v, &bad).is_empty(),
        "replicaCount string must fail"
    );
}

/// Every rendered deployment that the snapshot tests of `rendered.rs` pinned passes the schema.
#[test]
fn rendered_snapshots_pass_the_official_schema() {
    let v = image_template_validator();
    let dir = common::repo().join("crates/render/tests/render/snapshots");
    let mut checked = 0;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("snapshots")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("render__rendered__"))
        })
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read snapshot");
        // insta's header is two `---` lines; the snapshot follows.
        let body = text.splitn(3, "---\n").nth(2).unwrap_or("");
        let doc: Value = serde_json::from_str(body).expect("snapshot is JSON");
        let Some(resources) = doc["resources"].as_array() else {
            continue;
        };
        for r in resources {
            if r["type"] == "Microsoft.VirtualMachineImages/imageTemplates" {
                let errs = errors(&v, r);
                assert!(errs.is_empty(), "{}: {errs:#?}", f.display());
                checked += 1;
            }
        }
    }
    assert!(checked >= 14, "only {checked} rendered snapshots checked");
}
