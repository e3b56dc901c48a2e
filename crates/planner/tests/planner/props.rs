//! Property tests: expansion invariants, and planning random small manifests never panics.

use aib_manifest::MatrixRow;
use aib_planner::matrix::{expand, same_value};
use proptest::prelude::*;
use serde_json::Value;

fn val() -> impl Strategy<Value = Value> {
    prop_oneof![(0u8..3).prop_map(Value::from), "[ab]".prop_map(Value::from),]
}

fn axes() -> impl Strategy<Value = Vec<(String, Vec<Value>)>> {
    proptest::collection::vec(proptest::collection::vec(val(), 1..4), 0..4).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, vals)| (format!("x{i}"), vals))
            .collect()
    })
}

fn rows(keys: usize) -> impl Strategy<Value = Vec<MatrixRow>> {
    proptest::collection::vec(
        proptest::collection::vec((0..keys + 2, val()), 1..3).prop_map(|kv| {
            kv.into_iter()
                .map(|(k, v)| (format!("x{k}"), v))
                .collect::<MatrixRow>()
        }),
        0..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn expansion_invariants(ax in axes(), inc in rows(3), exc in rows(3)) {
        let product: usize = if ax.is_empty() { 0 } else { ax.iter().map(|(_, v)| v.len()).product() };
        // Without include/exclude: the cartesian product.
        let plain = expand(&ax, &[], &[]);
        prop_assert_eq!(plain.len(), product);
        // Exclude only: no row matches an exclude entry; never more rows than the product.
        let ex = expand(&ax, &[], &exc);
        prop_assert!(ex.len() <= product);
        for r in &ex {
            for e in &exc {
                let all = e.iter().all(|(k, v)| r.values.get(k).is_some_and(|rv| same_value(rv, v)));
                prop_assert!(!all);
            }
        }
        // Include never removes rows and never changes an original axis value.
        let full = expand(&ax, &inc, &exc);
        prop_assert!(full.len() >= ex.len());
        prop_assert!(full.len() <= ex.len() + inc.len());
        for (a, b) in ex.iter().zip(full.iter()) {
            for (k, v) in &a.values {
                prop_assert!(b.values.get(k).is_some_and(|bv| same_value(bv, v)));
            }
        }
        // Include-only: one row per entry.
        prop_assert_eq!(expand(&[], &inc, &[]).len(), inc.len());
    }

    #[test]
    fn random_manifests_never_panic(
        ax in axes(),
        inc in rows(3),
        exc in rows(3),
        templated in any::<bool>(),
        set in proptest::collection::vec("[a-z_.]{1,12}=[a-z0-9\\[\\]\"]{0,6}", 0..3),
    ) {
        let mut m = String::from("version = 1\n[pipeline]\nname = \"p\"\n[defaults]\nlocation = \"l\"\nsubscription = \"s\"\nresource_group = \"rg\"\nidentity = \"/id\"\ngallery = { name = \"g\" }\nsource = { platform = \"A:B:C:latest\" }\n");
        m.push_str(if templated { "image_definition = \"d-{{ matrix.x0 }}\"\n" } else { "image_definition = \"d\"\n" });
        m.push_str("[environments.dev]\n[environments.prod]\nafter = [\"dev\"]\n[variants.v]\n[variants.v.matrix]\n");
        for (k, vals) in &ax {
            m.push_str(&format!("{k} = {}\n", Value::Array(vals.clone())));
        }
        let table = |rs: &Vec<MatrixRow>| {
            let items: Vec<String> = rs.iter().map(|r| {
                let kv: Vec<String> = r.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("{{ {} }}", kv.join(", "))
            }).collect();
            format!("[{}]", items.join(", "))
        };
        if !inc.is_empty() { m.push_str(&format!("include = {}\n", table(&inc))); }
        if !exc.is_empty() { m.push_str(&format!("exclude = {}\n", table(&exc))); }
        m.push_str("[variants.w]\nsource = { variant = \"v\" }\n");
        let dir = std::env::temp_dir();
        if let Ok(manifest) = crate::fixture::load(&dir, &m) {
            let mut o = crate::fixture::options();
            o.set = set;
            if let Ok(plan) = aib_planner::plan(&manifest, &o) {
                let _ = plan.render_json();
                let _ = plan.render_text();
                let _ = plan.render_dot();
                let _ = plan.render_mermaid();
            }
        }
    }
}
