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
    check(
        "aib-manifest.schema.json",
        serde_json::to_value(schema).expect("schema to json"),
    );
}

#[test]
fn plan_schema_is_current() {
    let schema = aib_planner::plan_schema();
    check(
        "aib-plan.schema.json",
        serde_json::to_value(schema).expect("schema to json"),
    );
}

#[test]
fn plan_json_of_the_examples_follows_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("schemas/aib-plan.schema.json"))
            .expect("read plan schema"),
    )
    .expect("parse plan schema");
    let validator = jsonschema::validator_for(&schema).expect("compile plan schema");
    for example in ["avd", "linux-fleet"] {
        let dir = repo_root().join("pipelines").join(example);
        let out = super::support::aib(&dir, &["plan", "--format", "json"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("plan json");
        let errors: Vec<String> = validator
            .iter_errors(&plan)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{example}: {errors:?}");
        assert_eq!(plan["version"], 1);
    }
}

#[test]
fn example_manifests_name_the_schema() {
    for example in ["avd", "linux-fleet"] {
        let text =
            std::fs::read_to_string(repo_root().join("pipelines").join(example).join("aib.toml"))
                .expect("read example");
        assert!(
            text.starts_with("#:schema ../../schemas/aib-manifest.schema.json"),
            "{example} lacks the #:schema line"
        );
    }
}
