//! `aib import` refuses what is not an image template.

use aib_render::import::{ImportError, ImportOptions, import_file};

#[test]
fn non_templates_are_refused() {
    let out = tempfile::tempdir().expect("tempdir");
    // A custom role definition, the other kind of JSON that sits beside image templates.
    let role = out.path().join("aibRole.json");
    std::fs::write(
        &role,
        r#"{
  "Name": "Image Builder image creation",
  "IsCustom": true,
  "Description": "What Azure Image Builder needs to distribute an image",
  "Actions": [
    "Microsoft.Compute/galleries/read",
    "Microsoft.Compute/galleries/images/versions/write"
  ],
  "AssignableScopes": ["/subscriptions/<subscriptionID>/resourceGroups/<rgName>"]
}"#,
    )
    .expect("write");
    let r = import_file(&role, &out.path().join("out"), &ImportOptions::default());
    assert!(matches!(r, Err(ImportError::NotATemplate { .. })), "{r:?}");
}
