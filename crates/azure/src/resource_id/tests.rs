use super::*;
use crate::ids::same;

const SUB: &str = "00000000-0000-0000-0000-000000000001";

fn rg() -> ResourceGroupId {
    ResourceGroupId::new(SUB, "rg-img")
}

fn parse(id: &str) -> ResourceId {
    match ResourceId::parse(id) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn paths_keep_the_spellings_aib_sends() {
    let g = rg();
    assert_eq!(
        g.path(),
        format!("/subscriptions/{SUB}/resourceGroups/rg-img")
    );
    assert_eq!(
        g.resources_path(),
        format!("/subscriptions/{SUB}/resourcegroups/rg-img")
    );
    assert_eq!(
        ResourceId::deployment(&g, "d1").path(),
        format!(
            "/subscriptions/{SUB}/resourcegroups/rg-img/providers/Microsoft.Resources/deployments/d1"
        )
    );
    assert_eq!(
        ResourceId::image_template(&g, "t1").to_string(),
        format!(
            "/subscriptions/{SUB}/resourceGroups/rg-img/providers/Microsoft.VirtualMachineImages/imageTemplates/t1"
        )
    );
    assert_eq!(
        ResourceId::gallery_image_version(&g, "gal", "ubuntu", "1.0.0").path(),
        format!(
            "/subscriptions/{SUB}/resourceGroups/rg-img/providers/Microsoft.Compute/galleries/gal/images/ubuntu/versions/1.0.0"
        )
    );
    assert_eq!(
        ResourceId::storage_account(&g, "acct").path(),
        format!(
            "/subscriptions/{SUB}/resourceGroups/rg-img/providers/Microsoft.Storage/storageAccounts/acct"
        )
    );
    assert_eq!(
        ResourceId::identity(&g, "id-aib").path(),
        format!(
            "/subscriptions/{SUB}/resourceGroups/rg-img/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
        )
    );
}

#[test]
fn names_are_encoded_as_segments() {
    let g = ResourceGroupId::new("s", "a b");
    assert_eq!(g.path(), "/subscriptions/s/resourceGroups/a%20b");
    assert_eq!(
        ResourceId::gallery(&g, "x/y").path(),
        "/subscriptions/s/resourceGroups/a%20b/providers/Microsoft.Compute/galleries/x%2Fy"
    );
}

#[test]
fn ids_as_the_recordings_spell_them_round_trip() {
    // A template's id as Image Builder returns it, a run output's artifact id, and the
    // staging group's id from exactStagingResourceGroup.
    let template = "/subscriptions/S/resourcegroups/azps-test/providers/Microsoft.VirtualMachineImages/imageTemplates/T";
    let artifact = "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/galleries/g/images/i/imageversions/1.0.0";
    for recorded in [template, artifact] {
        let id = parse(recorded);
        let shown = id.to_string();
        assert!(same(recorded, &shown), "{recorded} → {shown}");
        assert_eq!(parse(&shown), id);
        assert_eq!(parse(&format!("{shown}/")), id);
        assert_eq!(parse(&shown[1..]), id);
    }
    let t = parse(template);
    assert!(t.is(ResourceKind::ImageTemplate));
    assert_eq!(
        (t.subscription(), t.resource_group(), t.name()),
        ("S", "azps-test", "T")
    );
    assert_eq!(
        t.to_string(),
        "/subscriptions/S/resourceGroups/azps-test/providers/Microsoft.VirtualMachineImages/imageTemplates/T"
    );
    let v = parse(artifact);
    assert!(v.is(ResourceKind::GalleryImageVersion));
    assert_eq!(v.name(), "1.0.0");
    assert_eq!(
        v.to_string(),
        "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0"
    );
    let staging = "/subscriptions/s/resourceGroups/IT_rg_t_0000";
    let group = ResourceGroupId::parse(staging).map_err(|e| e.to_string());
    assert_eq!(group, Ok(ResourceGroupId::new("s", "IT_rg_t_0000")));
}

#[test]
fn parsed_kinds_come_out_in_the_spelling_aib_sends() {
    let lower = parse(
        "/SUBSCRIPTIONS/s/RESOURCEGROUPS/rg/PROVIDERS/microsoft.compute/GALLERIES/g/IMAGES/i/Versions/2.0.0",
    );
    assert_eq!(
        lower.path(),
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/versions/2.0.0"
    );
    // A kind aib does not know keeps its spelling.
    let other = parse("/subscriptions/s/resourceGroups/rg/providers/Vendor.X/things/a/parts/b");
    assert_eq!(
        other.path(),
        "/subscriptions/s/resourceGroups/rg/providers/Vendor.X/things/a/parts/b"
    );
}

#[test]
fn ids_compare_as_arm_compares_them() {
    let g = rg();
    let built = ResourceId::gallery_image_version(&g, "gal", "ubuntu", "1.0.0");
    let shouted = parse(&built.to_string().to_ascii_uppercase());
    assert_eq!(shouted, built);
    let state = std::collections::hash_map::RandomState::new();
    assert_eq!(
        std::hash::BuildHasher::hash_one(&state, &shouted),
        std::hash::BuildHasher::hash_one(&state, &built)
    );
    assert_ne!(
        ResourceId::gallery_image_version(&g, "gal", "ubuntu", "1.0.1"),
        built
    );
    assert_ne!(
        ResourceId::image_template(&ResourceGroupId::new(SUB, "rg-other"), "t"),
        ResourceId::image_template(&g, "t")
    );
    assert_ne!(
        ResourceId::deployment(&g, "t"),
        ResourceId::image_template(&g, "t")
    );
    assert_eq!(
        built.parent(),
        Some(ResourceId::gallery_image(&g, "gal", "ubuntu"))
    );
    assert_eq!(ResourceId::gallery(&g, "gal").parent(), None);
}

#[test]
fn bad_ids_are_typed_errors() {
    for (bad, why) in [
        ("", "an empty segment"),
        ("IT_rg", "not a resource in a resource group"),
        (
            "/subscriptions/s/resourceGroups/r",
            "not a resource in a resource group",
        ),
        (
            "/subscriptions/s/resourceGroups/r/providers/P/t",
            "not a resource in a resource group",
        ),
        (
            "/subscriptions/s/resourceGroups//providers/P/t/n",
            "an empty segment",
        ),
        (
            "/subscriptions/s/groups/r/providers/P/t/n",
            "/resourceGroups/",
        ),
        (
            "/subscriptions/s/resourceGroups/r/vendors/P/t/n",
            "no `providers`",
        ),
    ] {
        match ResourceId::parse(bad) {
            Err(e @ ResourceIdError::Malformed { .. }) => {
                assert!(e.to_string().contains(why), "{bad}: {e}")
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let definition =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i";
    assert_eq!(
        ResourceId::parse_as(definition, ResourceKind::GalleryImageVersion)
            .map_err(|e| e.to_string()),
        Err(format!("not a gallery image version id: {definition}"))
    );
    assert!(ResourceId::parse_as(definition, ResourceKind::GalleryImage).is_ok());
    assert!(ResourceGroupId::parse("/subscriptions/s/resourceGroups/rg/x").is_err());
    assert!("/subscriptions/s".parse::<ResourceGroupId>().is_err());
    assert!(ResourceGroupId::parse("IT_rg").is_err());
    assert_eq!(
        ResourceGroupId::parse("subscriptions/s1/resourceGroups/IT_rg_x/"),
        Ok(ResourceGroupId::new("s1", "IT_rg_x"))
    );
}
