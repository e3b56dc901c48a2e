//! Edges (`source = { variant }`, `after`), cycles, critical path and selection.

use aib_planner::{PlanOptions, Selection, UnitId};

use crate::fixture::{Fixture, SMALL, ids, options, plan_err, plan_ok};

fn deps(plan: &aib_planner::Plan, id: &str) -> Vec<String> {
    plan.unit(&UnitId::from(id))
        .map(|u| u.depends_on.iter().map(|d| d.to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn source_and_promotion_edges() {
    let plan = plan_ok(SMALL);
    assert_eq!(deps(&plan, "dev/win11-dev"), vec!["dev/win11"]);
    assert_eq!(deps(&plan, "prod/win11"), vec!["dev/win11"]);
    assert_eq!(
        deps(&plan, "prod/ubuntu[release=2404]"),
        vec!["dev/ubuntu[release=2404]"]
    );
    assert!(deps(&plan, "dev/win11").is_empty());
    let cp: Vec<String> = plan.critical_path().iter().map(|i| i.to_string()).collect();
    // Four chains of two units; the tie goes to the smallest ids.
    assert_eq!(cp, vec!["dev/win11", "dev/win11-dev"]);
}

const CHAIN: &str = r#"
version = 1
[pipeline]
name = "p"
[defaults]
location = "l"
subscription = "s"
resource_group = "rg"
identity = "/id"
gallery = { name = "g" }
image_definition = "{{ variant }}"
[environments.dev]
[variants.base]
source = { platform = "A:B:C:latest" }
[variants.base.matrix]
os = ["a", "b"]
arch = ["x64", "arm64"]
[variants.mid]
source = { variant = "base", matrix = { arch = "x64" } }
[variants.mid.matrix]
os = ["a", "b"]
[variants.top]
source = { variant = "mid" }
"#;

#[test]
fn shared_axes_and_pins_pick_one_parent() {
    let text = CHAIN.replace(
        "[variants.top]\nsource = { variant = \"mid\" }",
        "[variants.top]\nsource = { variant = \"mid\", matrix = { os = \"b\" } }",
    );
    let plan = plan_ok(&text);
    assert_eq!(
        deps(&plan, "dev/mid[os=a]"),
        vec!["dev/base[os=a,arch=x64]"]
    );
    assert_eq!(
        deps(&plan, "dev/mid[os=b]"),
        vec!["dev/base[os=b,arch=x64]"]
    );
    assert_eq!(deps(&plan, "dev/top"), vec!["dev/mid[os=b]"]);
    let cp: Vec<String> = plan.critical_path().iter().map(|i| i.to_string()).collect();
    assert_eq!(
        cp,
        vec!["dev/base[os=b,arch=x64]", "dev/mid[os=b]", "dev/top"]
    );
}

#[test]
fn several_or_no_parents_are_errors_listing_candidates() {
    let errs = plan_err(CHAIN, &options());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("unit `dev/top` matches several of the units of variant `mid`: `dev/mid[os=a]`, `dev/mid[os=b]`"), "{errs:?}");
    assert!(errs[0].contains("[at aib.toml:"), "{errs:?}");
    let text = CHAIN.replace(
        "matrix = { arch = \"x64\" }",
        "matrix = { arch = \"riscv\" }",
    );
    let errs = plan_err(&text, &options());
    assert!(
        errs.iter()
            .any(|e| e
                .starts_with("unit `dev/mid[os=a]` matches none of the units of variant `base`")),
        "{errs:?}"
    );
}

#[test]
fn parents_match_on_plain_values_and_on_the_axes_a_row_has() {
    // `rel` 2204 (integer) and "2204" (string) are one value; the include row has no `rel`,
    // so only its `os` is compared.
    let text = r#"
version = 1
[pipeline]
name = "p"
[defaults]
location = "l"
subscription = "s"
resource_group = "rg"
identity = "/id"
gallery = { name = "g" }
image_definition = "{{ variant }}"
[environments.dev]
[environments.prod]
after = ["dev"]
[variants.base]
source = { platform = "A:B:C:latest" }
[variants.base.matrix]
os = ["a", "b"]
rel = [2204]
[variants.child]
source = { variant = "base" }
[variants.child.matrix]
os = ["a"]
rel = ["2204"]
include = [{ os = "b", extra = "x" }]
"#;
    let plan = plan_ok(text);
    for env in ["dev", "prod"] {
        let after = |id: &str| match env {
            "prod" => vec![format!("dev/{id}")],
            _ => Vec::new(),
        };
        // Plan order: the promotion parent (dev) before the source parent.
        let mut want = after("child[os=a,rel=2204]");
        want.push(format!("{env}/base[os=a,rel=2204]"));
        assert_eq!(deps(&plan, &format!("{env}/child[os=a,rel=2204]")), want);
        let mut want = after("child[os=b,extra=x]");
        want.push(format!("{env}/base[os=b,rel=2204]"));
        assert_eq!(deps(&plan, &format!("{env}/child[os=b,extra=x]")), want);
    }
}

#[test]
fn parent_not_built_in_environment() {
    let text = SMALL.replace("environments = [\"dev\"]\n", "").replace(
        "[variants.win11]\n",
        "[variants.win11]\nenvironments = [\"prod\"]\n",
    );
    let errs = plan_err(&text, &options());
    assert!(errs.iter().any(|e| e.contains("unit `dev/win11-dev` is built from variant `win11`, which is not built in environment `dev`")), "{errs:?}");
}

#[test]
fn every_cycle_names_all_its_units() {
    let text = CHAIN
        .replace(
            "[variants.base]\nsource = { platform = \"A:B:C:latest\" }",
            "[variants.base]\nsource = { variant = \"top\" }",
        )
        .replace(
            "[variants.top]\nsource = { variant = \"mid\" }",
            "[variants.top]\nsource = { variant = \"mid\", matrix = { os = \"a\" } }",
        )
        .replace(
            "[variants.base.matrix]\nos = [\"a\", \"b\"]\narch = [\"x64\", \"arm64\"]",
            "",
        )
        .replace(
            "source = { variant = \"base\", matrix = { arch = \"x64\" } }",
            "source = { variant = \"base\" }",
        )
        .replace(
            "[environments.dev]",
            "[environments.dev]\n[environments.test]",
        );
    let errs = plan_err(&text, &options());
    let cycles: Vec<&String> = errs
        .iter()
        .filter(|e| e.starts_with("dependency cycle"))
        .collect();
    assert_eq!(cycles.len(), 2, "{errs:?}");
    assert!(
        cycles[0].starts_with(
            "dependency cycle between 3 units: `dev/base`, `dev/mid[os=a]`, `dev/top`"
        ),
        "{errs:?}"
    );
    assert!(
        cycles[1].starts_with(
            "dependency cycle between 3 units: `test/base`, `test/mid[os=a]`, `test/top`"
        ),
        "{errs:?}"
    );
}

#[test]
fn selection_drops_edges_and_reports_them_as_external() {
    let o = PlanOptions {
        selection: Selection {
            environments: vec!["prod".into()],
            ..Selection::default()
        },
        ..options()
    };
    let plan = Fixture::new(SMALL)
        .plan(&o)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ids(&plan),
        vec![
            "prod/win11",
            "prod/ubuntu[release=2204]",
            "prod/ubuntu[release=2404]"
        ]
    );
    let u = plan
        .unit(&UnitId::from("prod/win11"))
        .unwrap_or_else(|| panic!("unit"));
    assert!(u.depends_on.is_empty());
    assert_eq!(u.external_depends_on, vec![UnitId::from("dev/win11")]);
    assert!(plan.render_text().contains("dev/win11 (external)"));
    let o = PlanOptions {
        selection: Selection {
            variants: vec!["win*".into()],
            units: vec!["dev/win11-dev".into(), "prod/win11".into()],
            ..Selection::default()
        },
        ..options()
    };
    let plan = Fixture::new(SMALL)
        .plan(&o)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(&plan), vec!["dev/win11-dev", "prod/win11"]);
}

#[test]
fn environment_cycles_are_named() {
    let text = SMALL.replace(
        "[environments.dev]\n",
        "[environments.dev]\nafter = [\"prod\"]\n",
    );
    let errs = plan_err(&text, &options());
    assert!(
        errs.iter().any(
            |e| e.starts_with("environments `dev`, `prod` wait for each other through `after`")
        ),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("dependency cycle between 2 units: `dev/win11`, `prod/win11`")),
        "{errs:?}"
    );
}

/// A plan large enough to be resolved on every core gives each unit exactly what planning it
/// alone (one unit, one pass) gives.
#[test]
fn a_large_plan_resolved_in_parallel_matches_units_planned_alone() {
    let rows: Vec<String> = (0..1100).map(|i| format!("\"{i}\"")).collect();
    let text = format!(
        r#"
version = 1
[pipeline]
name = "big"
[defaults]
location = "eastus2"
resource_group = "rg-{{{{ env }}}}"
identity = "/subscriptions/{{{{ subscription }}}}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
gallery = {{ name = "gal" }}
[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"
[variants.img]
image_definition = "img-{{{{ matrix.n }}}}"
source = {{ platform = "Canonical:ubuntu-24_04-lts:server:latest" }}
customize = [ {{ type = "shell", name = "s", inline = ["echo {{{{ matrix.n }}}}"] }} ]
[variants.img.matrix]
n = [{}]
"#,
        rows.join(", ")
    );
    let fixture = Fixture::new(&text);
    let all = fixture.plan(&options()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.units().len(), 1100);
    for id in ["dev/img[n=0]", "dev/img[n=549]", "dev/img[n=1099]"] {
        let one = fixture
            .plan(&PlanOptions {
                selection: Selection {
                    units: vec![id.into()],
                    ..Selection::default()
                },
                ..options()
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let (a, b) = (
            all.unit(&UnitId::from(id)).expect("in the large plan"),
            one.unit(&UnitId::from(id)).expect("planned alone"),
        );
        assert_eq!(a.input_hash.preview(), b.input_hash.preview(), "{id}");
        assert_eq!(a.template_name, b.template_name, "{id}");
        assert_eq!(a.settings, b.settings, "{id}");
    }
}
