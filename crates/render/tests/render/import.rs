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

/// Every way a deployment can hold an imageTemplate aib cannot import says where and why.
#[test]
fn templates_aib_cannot_import_say_where_and_why() {
    let it = r#"{"type": "Microsoft.VirtualMachineImages/imageTemplates", "apiVersion": "2022-07-01", "name": "t", "location": "westeurope", "properties": {"source": {}, "distribute": []}}"#;
    let with =
        |extra: &str| it.replacen("\"name\": \"t\"", &format!("\"name\": \"t\", {extra}"), 1);
    let deployment = |inner: &str, extra: &str| {
        format!(
            r#"{{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "d", {extra} "properties": {{"mode": "Incremental", "template": {{"resources": [{inner}]}}}}}}"#
        )
    };
    let doc = |resources: &str| format!(r#"{{"resources": [{resources}]}}"#);
    let link = |rel: &str| {
        format!(
            r#"{{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "d", "properties": {{"mode": "Incremental", "templateLink": {{"relativePath": "{rel}"}}}}}}"#
        )
    };
    let mut nested = it.to_string();
    for _ in 0..17 {
        nested = deployment(&nested, "");
    }
    let cases = [
        (
            "copy-loop",
            doc(&with(r#""copy": {"name": "c", "count": 2}"#)),
        ),
        (
            "nested-copy-loop",
            doc(&deployment(it, r#""copy": {"name": "c", "count": 2},"#)),
        ),
        ("too-deep", doc(&nested)),
        ("link-missing", doc(&link("missing.json"))),
        ("link-not-json", doc(&link("bad.json"))),
        ("link-not-object", doc(&link("list.json"))),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("bad.json"), "{\n  \"a\": ").expect("write");
    std::fs::write(dir.path().join("list.json"), "[]").expect("write");
    let mut shown = String::new();
    for (name, text) in cases {
        let file = dir.path().join(format!("{name}.json"));
        std::fs::write(&file, text).expect("write");
        let r = import_file(
            &file,
            &dir.path().join(name).join("out"),
            &ImportOptions::default(),
        );
        let Err(e @ ImportError::NotATemplate { .. }) = r else {
            panic!("{name}: {r:?}");
        };
        let line = e
            .to_string()
            .replace(&dir.path().display().to_string(), "<dir>");
        shown.push_str(&format!("{name}: {line}\n"));
    }
    insta::assert_snapshot!(shown);
}
