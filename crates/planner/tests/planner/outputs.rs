//! Snapshots of every output format for a small multi-environment manifest.

use aib_planner::{Action, UnitId};

use crate::fixture::{SMALL, ids, plan_ok};

#[test]
fn unit_order_and_ids() {
    let plan = plan_ok(SMALL);
    assert_eq!(
        ids(&plan),
        vec![
            "dev/win11",
            "dev/win11-dev",
            "dev/ubuntu[release=2204]",
            "dev/ubuntu[release=2404]",
            "prod/win11",
            "prod/ubuntu[release=2204]",
            "prod/ubuntu[release=2404]",
        ]
    );
}

#[test]
fn json_snapshot() {
    let plan = plan_ok(SMALL);
    insta::assert_snapshot!("small_json", plan.render_json());
}

#[test]
fn json_is_the_text_of_plan_json() {
    // render_json serializes from the plan in place; it must stay the text of PlanJson,
    // including external dependencies (left out when empty) and matrix order.
    let mut plan = plan_ok(SMALL);
    assert!(plan.set_action(&UnitId::from("prod/win11"), Action::Unchanged));
    let doc = aib_planner::PlanJson::from_plan(&plan);
    let expected = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
    assert_eq!(plan.render_json(), expected);
    let options = aib_planner::PlanOptions {
        selection: aib_planner::Selection {
            environments: vec!["prod".into()],
            ..Default::default()
        },
        ..crate::fixture::options()
    };
    let selected = crate::fixture::Fixture::new(SMALL)
        .plan(&options)
        .unwrap_or_else(|e| panic!("{:?}", crate::fixture::messages(&e)));
    let doc = aib_planner::PlanJson::from_plan(&selected);
    assert!(doc.units.iter().any(|u| !u.external_depends_on.is_empty()));
    let expected = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
    assert_eq!(selected.render_json(), expected);
}

#[test]
fn text_snapshot() {
    let mut plan = plan_ok(SMALL);
    assert!(plan.set_action(&UnitId::from("prod/win11"), Action::Unchanged));
    insta::assert_snapshot!("small_text", plan.render_text());
}

#[test]
fn dot_snapshot() {
    let plan = plan_ok(SMALL);
    insta::assert_snapshot!("small_dot", plan.render_dot());
}

#[test]
fn mermaid_snapshot() {
    let plan = plan_ok(SMALL);
    insta::assert_snapshot!("small_mermaid", plan.render_mermaid());
}

#[test]
fn json_matches_its_schema_shape() {
    let plan = plan_ok(SMALL);
    let v: serde_json::Value = serde_json::from_str(&plan.render_json()).unwrap_or_default();
    assert_eq!(v["version"], 1);
    assert_eq!(v["pipeline"], "avd");
    let u = &v["units"][2];
    for key in [
        "id",
        "environment",
        "variant",
        "matrix",
        "subscription",
        "location",
        "resource_group",
        "template_name",
        "image_definition",
        "image_version",
        "input_hash",
        "depends_on",
        "action",
    ] {
        assert!(u.get(key).is_some(), "missing {key}");
    }
    assert_eq!(u["matrix"]["release"], "2204");
    assert_eq!(u["image_version"], "1.2204.*");
    assert_eq!(v["units"][0]["image_version"], "2026.105.*");
    let schema = serde_json::to_value(aib_planner::plan_schema()).unwrap_or_default();
    let props = &schema["properties"];
    for key in ["version", "pipeline", "units", "critical_path"] {
        assert!(props.get(key).is_some(), "schema lacks {key}");
    }
}
