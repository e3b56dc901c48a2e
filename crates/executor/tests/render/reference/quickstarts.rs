//! `aib import` round trip over every quickstart template: the imported stub, planned and
//! rendered as written, gives the original's source, customize, distribute, vmProfile and
//! build timeout.

use aib_executor::import::{ImportError, ImportOptions, import_file};
use aib_executor::render::{RenderInputs, Renderer};
use serde_json::Value;

use crate::common;

fn image_resource(doc: &Value) -> Value {
    match doc.get("resources").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .find(|r| {
                r.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.starts_with("Microsoft.VirtualMachineImages"))
            })
            .cloned()
            .unwrap_or(Value::Null),
        None => doc.clone(),
    }
}

#[test]
fn every_quickstart_template_round_trips() {
    let files = aib_testkit::reference_files("azure-reference/quickstart-templates", ".json");
    let mut imported = 0;
    for f in &files {
        let out = tempfile::tempdir().expect("tempdir");
        let result = import_file(f, out.path(), &ImportOptions::default());
        let original: Value =
            serde_json::from_str(&std::fs::read_to_string(f).expect("read")).expect("json");
        let is_template =
            original.get("resources").is_some() || original.pointer("/properties/source").is_some();
        let (_, written) = match result {
            Ok(x) => x,
            Err(ImportError::NotATemplate { .. }) if !is_template => continue,
            Err(e) => panic!("{}: {e}", f.display()),
        };
        assert!(
            is_template,
            "{} imported but is not a template",
            f.display()
        );
        let m = common::load(&written.manifest_path);
        let plan = common::plan(&m);
        assert_eq!(plan.units().len(), 1);
        let unit = &plan.units()[0];
        let d = Renderer::new(&m)
            .render(unit, &RenderInputs::default())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let want = image_resource(&original);
        let got = image_resource(&d.template);
        for key in [
            "source",
            "customize",
            "distribute",
            "vmProfile",
            "buildTimeoutInMinutes",
        ] {
            assert_eq!(
                got["properties"].get(key),
                want["properties"].get(key),
                "{}: `{key}` differs",
                f.display()
            );
        }
        assert_eq!(
            d.image_template["name"],
            Value::String(d.template_name.clone())
        );
        // Every placeholder is flagged by lint, as a warning.
        let lint = aib_executor::lint::lint_plan(&m, &plan);
        assert!(!lint.has_errors(), "{}: {:?}", f.display(), lint.items);
        assert!(
            lint.items
                .iter()
                .any(|x| x.code == "aib::lint::placeholder"),
            "{}: placeholders not flagged",
            f.display()
        );
        imported += 1;
    }
    assert_eq!(imported, 14, "every quickstart template");
}
