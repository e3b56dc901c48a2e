//! The checked-in JSON Schemas must match the ones generated from the types. Regenerate with
//! `AIB_UPDATE_SCHEMAS=1 cargo test --test cli schemas`.

use super::support::repo_root;

fn check(name: &str, schema: serde_json::Value) {
    let path = repo_root().join("schemas").join(name);
    let generated = serde_json::to_string_pretty(&schema).expect("serialize schema") + "\n";
    if std::env::var_os("AIB_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is stale: run `AIB_UPDATE_SCHEMAS=1 cargo test --test cli schemas` and commit the result",
        path.display()
    );
}

#[test]
fn manifest_schema_is_current() {
    let schema = aib_manifest::json_schema::manifest_schema();
    check("aib-manifest.schema.json", serde_json::to_value(schema).expect("schema to json"));
}

#[test]
fn example_manifests_name_the_schema() {
    for example in ["avd", "linux-fleet"] {
        let text = std::fs::read_to_string(repo_root().join("pipelines").join(example).join("aib.toml")).expect("read example");
        assert!(text.starts_with("#:schema ../../schemas/aib-manifest.schema.json"), "{example} lacks the #:schema line");
    }
}
