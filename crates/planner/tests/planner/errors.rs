//! Problems the planner reports, with where they are.

use aib_planner::{PlanOptions, Selection};

use crate::fixture::{SMALL, options, plan_err};

#[test]
fn undefined_template_names_unit_key_variable_and_place() {
    let text = SMALL.replace("\"echo {{ env }}\"", "\"echo {{ matrix.tool }}\"");
    let errs = plan_err(&text, &options());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(
            "unit `dev/win11-dev`: cannot render `customize[0].inline[1]`: undefined `matrix.tool`"
        ),
        "{errs:?}"
    );
    let line = text
        .lines()
        .position(|l| l.contains("matrix.tool"))
        .map(|i| i + 1)
        .unwrap_or(0);
    assert!(
        errs[0].contains(&format!("[at aib.toml:{line}:")),
        "{errs:?}"
    );
}

#[test]
fn missing_required_keys_are_named() {
    let text = SMALL.replace("image_definition = \"win11-24h2\"\n", "");
    let errs = plan_err(&text, &options());
    assert!(
        errs.iter()
            .any(|e| e.starts_with("unit `dev/win11` has no `image_definition`")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("unit `prod/win11` has no `image_definition`")),
        "{errs:?}"
    );
}

#[test]
fn templated_values_are_validated_once_rendered() {
    let text = SMALL.replace(
        "Canonical:{{ matrix.offer }}:{{ matrix.sku }}:latest",
        "Canonical:{{ matrix.offer }}:latest",
    );
    let errs = plan_err(&text, &options());
    assert!(
        errs.iter()
            .any(|e| e.contains("is not `Publisher:Offer:Sku:Version`")),
        "{errs:?}"
    );
    let text = SMALL.replace("env:AIB_ADMIN_PASSWORD", "env:{{ env }}-x");
    let errs = plan_err(&text, &options());
    assert!(
        errs.iter()
            .any(|e| e.contains("invalid `secrets.admin_password`")),
        "{errs:?}"
    );
}

#[test]
fn version_template_must_give_three_parts() {
    let text = SMALL.replace(
        "version = \"1.{{ matrix.release }}.{{ run.seq }}\"",
        "version = \"{{ matrix.release }}.{{ run.seq }}\"",
    );
    let errs = plan_err(&text, &options());
    assert!(
        errs.iter().any(|e| e.contains("not `Major.Minor.Patch`")),
        "{errs:?}"
    );
}

#[test]
fn selection_matching_nothing_is_an_error() {
    let o = PlanOptions {
        selection: Selection {
            variants: vec!["nothing*".into()],
            ..Selection::default()
        },
        ..options()
    };
    let errs = plan_err(SMALL, &o);
    assert_eq!(
        errs,
        vec!["the selection matches no unit (`aib plan` lists every unit)".to_string()]
    );
    let o = PlanOptions {
        selection: Selection {
            environments: vec!["prd".into()],
            ..Selection::default()
        },
        ..options()
    };
    let errs = plan_err(SMALL, &o);
    assert!(errs[0].contains("did you mean `prod`?"), "{errs:?}");
}

#[test]
fn duplicate_unit_ids_are_errors() {
    let text = SMALL.replace(
        "release = [\"2204\", \"2404\"]",
        "release = [\"2204\", 2204]",
    );
    let errs = plan_err(&text, &options());
    assert!(
        errs.iter()
            .any(|e| e.contains("same unit id `dev/ubuntu[release=2204]`")),
        "{errs:?}"
    );
}
