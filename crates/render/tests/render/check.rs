//! `Renderer::check_in_plan` (what `aib plan` and `aib validate` run on every unit) fails exactly
//! when rendering would, while building a deployment only for user templates.

use aib_render::render::{RenderInputs, Renderer};

use crate::common;

fn manifest(template: &str) -> String {
    format!(
        r#"
version = 1
[pipeline]
name = "chk"
[defaults]
subscription = "00000000-0000-0000-0000-000000000001"
location = "westeurope"
resource_group = "rg-images"
identity = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = {{ name = "gal_chk" }}
image_definition = "img-{{{{ variant }}}}"
template = "{template}"
[environments.dev]
[variants.app]
source = {{ platform = "Canonical:ubuntu-24_04-lts:server:latest" }}
customize = [
  {{ type = "shell", script = "scripts/setup.sh" }},
  {{ type = "shell", inline = ["echo hi"] }},
]
validate = {{ in_vm_validations = [{{ type = "shell", script = "scripts/check.sh" }}] }}
"#
    )
}

/// A bare imageTemplate body built from the built-in parts.
const USER_TEMPLATE: &str = r#"{
  "location": "{{ location }}",
  "identity": { "type": "UserAssigned", "userAssignedIdentities": { "{{ identity }}": {} } },
  "properties": {
    "source": {{ source | tojson }},
    "customize": {{ customize | tojson }},
    "distribute": {{ distribute | tojson }}
  }
}
"#;

const FILES: [(&str, &str); 3] = [
    ("scripts/setup.sh", "#!/bin/sh\necho setup\n"),
    ("scripts/check.sh", "#!/bin/sh\necho check\n"),
    ("templates/app.json.j2", USER_TEMPLATE),
];

#[test]
fn builtin_units_are_checked_without_a_deployment_and_user_templates_are_rendered() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (template, rendered) in [("builtin:image-template", false), ("app.json.j2", true)] {
        let m = common::manifest_in(dir.path(), &manifest(template), &FILES);
        let plan = common::plan(&m);
        let unit = &plan.units()[0];
        let checked = Renderer::new(&m).check_in_plan(&plan, unit);
        match checked {
            Ok(d) => assert_eq!(d.is_some(), rendered, "{template}"),
            Err(e) => panic!("{template}: {e}"),
        }
    }
}

#[test]
fn a_script_gone_after_planning_fails_the_check_as_it_fails_rendering() {
    for (template, gone) in [
        ("builtin:image-template", "scripts/setup.sh"),
        ("builtin:image-template", "scripts/check.sh"),
        ("app.json.j2", "scripts/setup.sh"),
        ("app.json.j2", "scripts/check.sh"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = common::manifest_in(dir.path(), &manifest(template), &FILES);
        let plan = common::plan(&m);
        std::fs::remove_file(dir.path().join(gone)).expect("remove");
        let unit = &plan.units()[0];
        let rendered = Renderer::new(&m)
            .render_in_plan(&plan, unit, &RenderInputs::default())
            .map(|_| ());
        let checked = Renderer::new(&m).check_in_plan(&plan, unit).map(|_| ());
        let Err(render_error) = rendered else {
            panic!("{template} rendered without {gone}");
        };
        assert_eq!(
            checked.map_err(|e| e.to_string()),
            Err(render_error.to_string()),
            "{template} without {gone}"
        );
        assert!(render_error.to_string().contains(gone), "{render_error}");
    }
}
