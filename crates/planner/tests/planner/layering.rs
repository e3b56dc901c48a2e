//! Settings layering, one test per layer, and `--set`.

use aib_planner::{PlanOptions, ResolvedSource, TemplateRef, UnitId, VersionPolicy};

use crate::fixture::{Fixture, options, plan_err, plan_ok};

const LAYERS: &str = r#"
version = 1
[pipeline]
name = "p"
[defaults]
location = "eastus2"
resource_group = "rg-{{ env }}"
identity = "/id"
gallery = { name = "gal", resource_group = "rg-gal" }
source = { platform = "A:B:C:latest" }
image_definition = "def-{{ variant }}"
vm_size = "defaults"
os_disk_gb = 64
tags = { layer = "defaults", keep = "yes" }
[environments.dev]
subscription = "sub-dev"
vm_size = "env"
tags = { layer = "env" }
[environments.prod]
subscription = "sub-prod"
[variants.a]
[variants.b]
vm_size = "variant"
[variants.c]
vm_size = "variant"
[variants.c.environments.dev]
vm_size = "variant-env"
[variants.d]
vm_size = "variant"
[variants.d.matrix]
n = [1, 2]
include = [ { n = 2, vm_size = "matrix" } ]
"#;

fn vm(plan: &aib_planner::Plan, id: &str) -> Option<String> {
    plan.unit(&UnitId::from(id))
        .and_then(|u| u.settings.vm_size.clone())
}

#[test]
fn every_layer_overrides_the_one_below() {
    let plan = plan_ok(LAYERS);
    assert_eq!(vm(&plan, "prod/a").as_deref(), Some("defaults"));
    assert_eq!(vm(&plan, "dev/a").as_deref(), Some("env"));
    assert_eq!(vm(&plan, "dev/b").as_deref(), Some("variant"));
    assert_eq!(vm(&plan, "dev/c").as_deref(), Some("variant-env"));
    assert_eq!(vm(&plan, "prod/c").as_deref(), Some("variant"));
    assert_eq!(vm(&plan, "dev/d[n=1]").as_deref(), Some("variant"));
    assert_eq!(vm(&plan, "dev/d[n=2]").as_deref(), Some("matrix"));
    let mut o = options();
    o.set = vec![
        "vm_size=cli".into(),
        "tags.owner=me".into(),
        "os_disk_gb=256".into(),
    ];
    let plan = Fixture::new(LAYERS)
        .plan(&o)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(vm(&plan, "dev/d[n=2]").as_deref(), Some("cli"));
    assert_eq!(vm(&plan, "prod/a").as_deref(), Some("cli"));
    let u = plan.unit(&UnitId::from("dev/a")).map(|u| &u.settings);
    assert_eq!(u.map(|s| s.os_disk_gb), Some(Some(256)));
    let tags = u.map(|s| s.tags.clone()).unwrap_or_default();
    // Tables merge key by key.
    assert_eq!(tags.get("layer").map(String::as_str), Some("env"));
    assert_eq!(tags.get("keep").map(String::as_str), Some("yes"));
    assert_eq!(tags.get("owner").map(String::as_str), Some("me"));
}

#[test]
fn builtin_defaults_and_rendering() {
    let plan = plan_ok(LAYERS);
    let s = &plan
        .unit(&UnitId::from("prod/b"))
        .map(|u| u.settings.clone())
        .unwrap_or_else(|| panic!("unit"));
    assert_eq!(
        s.template,
        TemplateRef::Builtin {
            name: "builtin:image-template".into()
        }
    );
    assert_eq!(s.version, VersionPolicy::Date);
    assert_eq!(s.build_timeout_minutes, 240);
    assert_eq!(s.replicate_to, vec!["eastus2".to_string()]);
    assert!(!s.exclude_from_latest);
    assert_eq!(s.resource_group, "rg-prod");
    assert_eq!(s.image_definition, "def-b");
    assert_eq!(s.gallery.subscription, "sub-prod");
    assert!(
        matches!(&s.source, ResolvedSource::Platform { publisher, version, .. } if publisher == "A" && version == "latest")
    );
}

#[test]
fn gallery_resource_group_defaults_to_resource_group() {
    let text = LAYERS.replace(
        "gallery = { name = \"gal\", resource_group = \"rg-gal\" }",
        "gallery = { name = \"gal\" }",
    );
    let plan = plan_ok(&text);
    let s = plan
        .unit(&UnitId::from("dev/a"))
        .map(|u| u.settings.gallery.resource_group.clone());
    assert_eq!(s.as_deref(), Some("rg-dev"));
}

#[test]
fn set_gallery_and_unknown_keys() {
    let mut o = options();
    o.set = vec!["gallery.name=other".into()];
    let plan = Fixture::new(LAYERS)
        .plan(&o)
        .unwrap_or_else(|e| panic!("{e}"));
    let g = plan
        .unit(&UnitId::from("dev/a"))
        .map(|u| u.settings.gallery.clone());
    assert_eq!(g.as_ref().map(|g| g.name.as_str()), Some("other"));
    assert_eq!(
        g.as_ref().map(|g| g.resource_group.as_str()),
        Some("rg-gal")
    );
    let o = PlanOptions {
        set: vec!["vmsize=x".into()],
        ..options()
    };
    let errs = plan_err(LAYERS, &o);
    assert!(
        errs[0].contains("unknown setting `vmsize`") && errs[0].contains("did you mean `vm_size`?"),
        "{errs:?}"
    );
}

#[test]
fn a_set_customizer_with_a_key_of_another_type_is_refused_not_dropped() {
    let o = PlanOptions {
        set: vec![
            r#"customize=[{ type = "file", name = "f", source_uri = "https://example.com/f", destination = "/tmp/f", inline = ["echo hi"] }]"#.into(),
        ],
        ..options()
    };
    let errs = plan_err(LAYERS, &o);
    assert!(
        errs.iter()
            .any(|e| e.contains("`inline` is not valid for a `file` customizer")),
        "{errs:?}"
    );
}
