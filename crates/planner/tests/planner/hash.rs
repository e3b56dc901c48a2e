//! Input hash stability and sensitivity.

use std::collections::BTreeMap;

use crate::fixture::{Fixture, SMALL, options};

fn hashes(f: &Fixture) -> BTreeMap<String, String> {
    f.plan(&options())
        .unwrap_or_else(|e| panic!("{e}"))
        .units()
        .iter()
        .map(|u| (u.id.to_string(), u.input_hash.preview().to_string()))
        .collect()
}

#[test]
fn reordering_and_reformatting_keeps_hashes() {
    let a = hashes(&Fixture::new(SMALL));
    let reordered = SMALL
        .replace(
            "location = \"eastus2\"\nresource_group = \"rg-avd-{{ env }}-images-{{ location }}\"",
            "resource_group = 'rg-avd-{{ env }}-images-{{ location }}'\n\n   location   =   \"eastus2\"   # comment",
        )
        .replace(
            "image_definition = \"win11-24h2\"\nsource = { platform = \"MicrosoftWindowsDesktop:office-365:win11-24h2-avd-m365:latest\" }",
            "source.platform = \"MicrosoftWindowsDesktop:office-365:win11-24h2-avd-m365:latest\"\nimage_definition = \"win11-24h2\"",
        );
    assert_ne!(reordered, SMALL);
    let b = hashes(&Fixture::new(&reordered));
    assert_eq!(a, b);
    // Stable across runs (and machines: no paths in it).
    assert_eq!(a, hashes(&Fixture::new(SMALL)));
}

#[test]
fn editing_a_script_changes_only_the_units_that_read_it() {
    let f = Fixture::new(SMALL);
    let before = hashes(&f);
    f.write("scripts/harden.sh", "#!/bin/sh\necho harden more\n");
    let after = hashes(&f);
    for (id, h) in &before {
        let changed = after.get(id) != Some(h);
        assert_eq!(changed, id.contains("ubuntu"), "{id}");
    }
}

#[test]
fn settings_change_the_hash_and_the_name() {
    let a = hashes(&Fixture::new(SMALL));
    let b = hashes(&Fixture::new(
        &SMALL.replace("owner = \"platform\"", "owner = \"team\""),
    ));
    assert!(a.iter().all(|(k, v)| b.get(k) != Some(v)));
    let f = Fixture::new(SMALL);
    let plan = f.plan(&options()).unwrap_or_else(|e| panic!("{e}"));
    for u in plan.units() {
        assert!(u.template_name.ends_with(&u.input_hash.preview()[7..15]));
        assert_ne!(u.input_hash.finalize("1.0.0"), u.input_hash.preview());
    }
}
