//! Errors of `.json.j2` user templates name the template file, the line and the unit.

use aib_render::render::{RenderError, RenderInputs, Renderer};

use crate::common;

const MANIFEST: &str = r#"
version = 1
[pipeline]
name = "errs"
[defaults]
subscription = "00000000-0000-0000-0000-000000000001"
location = "westeurope"
resource_group = "rg-images"
identity = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = { name = "gal_errs" }
image_definition = "img-{{ variant }}"
template = "broken.json.j2"
[environments.dev]
[variants.app]
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
"#;

/// Renders the only unit with `templates/broken.json.j2` = `body` (and other files).
fn error(body: &str, files: &[(&str, &str)]) -> RenderError {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut all = vec![("templates/broken.json.j2", body)];
    all.extend_from_slice(files);
    let m = common::manifest_in(dir.path(), MANIFEST, &all);
    let plan = common::plan(&m);
    let u = &plan.units()[0];
    match Renderer::new(&m).render_in_plan(&plan, u, &RenderInputs::default()) {
        Ok(d) => panic!("rendered: {}", d.template_json()),
        Err(e) => e,
    }
}

fn assert_names(e: &RenderError, file: &str, line: usize) {
    let text = e.to_string();
    assert_eq!(e.unit(), "dev/app");
    assert!(text.contains("unit `dev/app`"), "{text}");
    assert!(text.contains(&format!("`{file}`")), "{text}");
    assert!(text.contains(&format!("line {line}")), "{text}");
}

const UNDEFINED: &str = r#"{
  "properties": {
    "source": {{ source | tojson }},
    "vmProfile": { "vmSize": "{{ settings.vm_sise }}" },
    "distribute": {{ distribute | tojson }}
  }
}
"#;

#[test]
fn undefined_variable() {
    let e = error(UNDEFINED, &[]);
    assert_names(&e, "templates/broken.json.j2", 4);
    insta::assert_snapshot!(e.to_string());
}

const SYNTAX: &str = r#"{
  "properties": {
    "source": {{ source | tojson }},
    {% if settings.vm_size %}
    "vmProfile": { "vmSize": "{{ settings.vm_size }}" },
    {% endfor %}
    "distribute": {{ distribute | tojson }}
  }
}
"#;

#[test]
fn syntax_error() {
    let e = error(SYNTAX, &[]);
    assert_names(&e, "templates/broken.json.j2", 6);
    insta::assert_snapshot!(e.to_string());
}

const INCLUDES: &str = r#"{
  "properties": {
    "source": {{ source | tojson }},
{% include "parts/customize.j2" %}
    "distribute": {{ distribute | tojson }}
  }
}
"#;

#[test]
fn error_inside_an_included_template_names_that_file() {
    let part = "\n    \"customize\": [{{ no_such_thing }}],\n";
    let e = error(INCLUDES, &[("templates/parts/customize.j2", part)]);
    assert_names(&e, "templates/parts/customize.j2", 2);
    insta::assert_snapshot!(e.to_string());
}

const NOT_JSON: &str = r#"{
  "properties": {
    "source": {{ source | tojson }},
    "customize": [
      {% for c in customize %}{{ c | tojson }}{% endfor %}
    ],
    "buildTimeoutInMinutes": {{ settings.build_timeout_minutes }}
    "distribute": {{ distribute | tojson }}
  }
}
"#;

#[test]
fn invalid_json_output() {
    let e = error(NOT_JSON, &[]);
    assert!(matches!(e, RenderError::Json { .. }), "{e:?}");
    assert_names(&e, "templates/broken.json.j2", 8);
    insta::assert_snapshot!(e.to_string());
}
