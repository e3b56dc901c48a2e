//! `--shard-by component`: shards are whole connected components of the plan graph, at most
//! 256, with keys that stay put as the plan changes.

use std::collections::{BTreeMap, BTreeSet};

use aib_planner::Plan;
use aib_planner::ci::components::{MAX_MATRIX, component_key, component_shards};
use aib_planner::ci::{ShardBy, github_matrix};

use crate::fixture::{Fixture, SMALL, options, plan_ok};

/// Every unit is in exactly one shard, and every unit it waits for is in the same shard.
fn assert_partition_respects_edges(plan: &Plan) -> BTreeMap<String, String> {
    let shards = component_shards(plan);
    assert!(shards.len() <= MAX_MATRIX, "{} shards", shards.len());
    let mut shard_of = BTreeMap::new();
    for s in &shards {
        for u in &s.units {
            assert!(
                shard_of.insert(u.clone(), s.key.clone()).is_none(),
                "{u} in two shards"
            );
        }
    }
    assert_eq!(shard_of.len(), plan.units().len());
    for u in plan.units() {
        for d in &u.depends_on {
            assert_eq!(
                shard_of.get(d.as_str()),
                shard_of.get(u.id.as_str()),
                "{} and {d} apart",
                u.id
            );
        }
    }
    shard_of
}

#[test]
fn shards_are_connected_components_keyed_by_their_smallest_unit() {
    let plan = plan_ok(SMALL);
    let shards = component_shards(&plan);
    let units: Vec<Vec<&str>> = shards
        .iter()
        .map(|s| s.units.iter().map(String::as_str).collect())
        .collect();
    // win11 with its dev-only child and its promotion to prod; each ubuntu release with its
    // promotion; nothing links the three.
    assert_eq!(
        units,
        vec![
            vec!["dev/win11", "dev/win11-dev", "prod/win11"],
            vec!["dev/ubuntu[release=2204]", "prod/ubuntu[release=2204]"],
            vec!["dev/ubuntu[release=2404]", "prod/ubuntu[release=2404]"],
        ]
    );
    assert_eq!(shards[0].key, component_key("dev/win11"));
    assert!(shards[1].key.starts_with("dev-ubuntu-release-2204-"));
    assert_eq!(
        shards[1].state_prefix(),
        format!("shards/{}", shards[1].key)
    );
    assert_eq!(shards[0].environments, ["dev", "prod"]);
    assert!(shards.iter().all(|s| s.components == 1));
    assert_partition_respects_edges(&plan);
}

#[test]
fn the_matrix_selects_each_shard_and_names_no_provisional_template() {
    let f = Fixture::new(SMALL);
    let manifest = f.manifest();
    let plan = f.plan(&options()).expect("plan");
    let m = github_matrix(&manifest.file, &plan, ShardBy::Component);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    let v: serde_json::Value = serde_json::from_str(&m.json).expect("JSON");
    let include = v["include"].as_array().expect("include");
    assert_eq!(include.len(), 3);
    let e = &include[1];
    assert_eq!(
        e["select"],
        "--unit 'dev/ubuntu[release=2204]' --unit 'prod/ubuntu[release=2204]'"
    );
    assert_eq!(e["units"], 2);
    assert_eq!(e["first_unit"], "dev/ubuntu[release=2204]");
    assert_eq!(
        e["state_prefix"],
        format!("shards/{}", e["shard"].as_str().unwrap_or_default())
    );
    // Template names depend on source versions resolved at build time: none offered.
    assert!(!m.json.contains("template_name"), "{}", m.json);
}

/// `n` platform variants, and `chained` more each built from the one before it.
fn fleet(n: usize, chained: usize) -> String {
    let mut m = String::from(
        r#"
version = 1
[pipeline]
name = "p"
[defaults]
location = "l"
subscription = "00000000-0000-0000-0000-000000000001"
resource_group = "rg"
identity = "/id"
gallery = { name = "g" }
image_definition = "{{ variant }}"
[environments.dev]
[environments.prod]
after = ["dev"]
"#,
    );
    for i in 0..n {
        m.push_str(&format!(
            "[variants.v{i:03}]\nsource = {{ platform = \"A:B:C:latest\" }}\n"
        ));
    }
    for i in 0..chained {
        let parent = if i == 0 {
            "v000".to_string()
        } else {
            format!("c{:03}", i - 1)
        };
        m.push_str(&format!(
            "[variants.c{i:03}]\nsource = {{ variant = \"{parent}\" }}\n"
        ));
    }
    m
}

#[test]
fn more_than_256_components_are_packed_into_256_balanced_shards() {
    let f = Fixture::new(&fleet(300, 3));
    let manifest = f.manifest();
    let plan = f.plan(&options()).expect("plan");
    assert_eq!(plan.units().len(), 606);
    assert_partition_respects_edges(&plan);
    let shards = component_shards(&plan);
    assert_eq!(shards.len(), MAX_MATRIX);
    assert_eq!(shards.iter().map(|s| s.components).sum::<usize>(), 300);
    assert!(shards.iter().all(|s| s.key.starts_with("bin-")));
    // The chain (v000 and its three children, in both environments: 8 units) has a shard of
    // its own; the others hold one or two two-unit components.
    let sizes: BTreeSet<usize> = shards.iter().map(|s| s.units.len()).collect();
    assert_eq!(sizes, BTreeSet::from([2, 4, 8]));
    let m = github_matrix(&manifest.file, &plan, ShardBy::Component);
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("300 connected components") && w.contains("256")),
        "{:?}",
        m.warnings
    );
    let v: serde_json::Value = serde_json::from_str(&m.json).expect("JSON");
    assert_eq!(v["include"].as_array().map(Vec::len), Some(MAX_MATRIX));
}

#[test]
fn keys_stay_while_the_plan_changes_below_the_limit() {
    let before = component_shards(&plan_ok(&fleet(20, 2)));
    let after = component_shards(&plan_ok(&fleet(25, 4)));
    let keys_after: BTreeSet<&str> = after.iter().map(|s| s.key.as_str()).collect();
    for s in &before {
        assert!(keys_after.contains(s.key.as_str()), "{} lost", s.key);
    }
    // The chain grew: still one component, same key, more units.
    let chain_before = &before[0];
    let chain_after = after
        .iter()
        .find(|s| s.key == chain_before.key)
        .expect("chain shard");
    assert!(chain_after.units.len() > chain_before.units.len());
}
