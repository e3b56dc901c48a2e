//! `aib import` round trip over the real templates in `real-world/templates/` and the
//! quickstarts in `azure-reference/quickstart-templates/`: every file either round-trips
//! (import → validate → plan --render-dir --set, everything equal to the original's) or is
//! refused with the real reason. Prints the corpus table.

use std::path::Path;

use serde_json::Value;

use crate::import_roundtrip::{Outcome, round_trip};

/// What each file that is not an image template is, and the words its refusal must use.
const NOT_TEMPLATES: &[(&str, &str)] = &[
    ("aibRoleImageCreation.json", "not an AIB image template"),
    ("aibRoleNetworking.json", "not an AIB image template"),
    ("trigger.json", "trigger body"),
];

fn table_row(file: &Path, source: &str, outcome: &Outcome) -> String {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let result = match outcome {
        Outcome::RoundTrip {
            variants,
            filled,
            notes,
        } => format!(
            "round-trips: {variants} variant(s), {filled} placeholder(s) filled with --set, {} note(s)",
            notes.len()
        ),
        Outcome::Refused(m) => format!("refused: {}", m.lines().next().unwrap_or("")),
    };
    format!("| {name} | {source} | {result} |")
}

#[test]
fn every_real_template_round_trips_or_is_refused_for_its_real_reason() {
    let mut rows = Vec::new();
    let mut round_tripped = 0;
    let corpus = [
        ("real-world/templates", "real-world"),
        ("azure-reference/quickstart-templates", "quickstart"),
    ];
    for (dir, source) in corpus {
        for f in aib_testkit::reference_files(dir, ".json") {
            let text = std::fs::read_to_string(&f).expect("read");
            let original: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let outcome = round_trip(&f, &original, &[]);
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match &outcome {
                Outcome::RoundTrip { .. } => {
                    assert!(
                        !NOT_TEMPLATES.iter().any(|(n, _)| *n == name),
                        "{name} is not a template but was imported"
                    );
                    round_tripped += 1;
                }
                Outcome::Refused(m) => {
                    let why = NOT_TEMPLATES
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, w)| *w)
                        .unwrap_or_else(|| panic!("{name} was refused: {m}"));
                    assert!(
                        m.contains(why),
                        "{name}: refused, but not because it is {why}: {m}"
                    );
                }
            }
            rows.push(table_row(&f, source, &outcome));
        }
    }
    println!(
        "| template | source | result |\n|---|---|---|\n{}",
        rows.join("\n")
    );
    assert_eq!(
        round_tripped,
        13 + 14,
        "every real-world template and every quickstart template"
    );
}

/// The AVD accelerator deploys its imageTemplate three deployments deep at subscription scope:
/// import lifts the Azure Verified Module it deploys, notes what it leaves behind, and leaves the
/// module's lock out.
#[test]
fn the_avd_accelerator_imports_the_module_it_nests() {
    let f = aib_testkit::reference_path("real-world/templates/04-avd-lza-custom-image.json");
    let original: Value =
        serde_json::from_str(&std::fs::read_to_string(&f).expect("read")).expect("json");
    let Outcome::RoundTrip { notes, .. } = round_trip(&f, &original, &[]) else {
        panic!("refused");
    };
    let has = |prefix: &str, words: &str| {
        notes
            .iter()
            .any(|n| n.starts_with(prefix) && n.contains(words))
    };
    assert!(has("resources[8]: ", "13 other resource(s)"), "{notes:#?}");
    assert!(
        has("resources[8].resourceGroup: ", "resource_group"),
        "{notes:#?}"
    );
    assert!(
        has(
            "resources[8].properties.template.resources.imageTemplate_lock: ",
            "left out"
        ),
        "{notes:#?}"
    );
    assert!(
        has(
            "resources[8].properties.parameters.managedIdentities: ",
            "cannot evaluate"
        ),
        "{notes:#?}"
    );
}

/// The quickstart that builds its image on deploy with a deploymentScript keeps it only when
/// asked to.
#[test]
fn the_windows_baseline_quickstart_loses_its_build_script_unless_kept() {
    let f = aib_testkit::reference_path("real-world/templates/01-azqs-windowsbaseline.json");
    let original: Value =
        serde_json::from_str(&std::fs::read_to_string(&f).expect("read")).expect("json");
    for (args, left_out) in [(&[][..], true), (&["--keep-deployment-scripts"][..], false)] {
        let Outcome::RoundTrip { notes, .. } = round_trip(&f, &original, args) else {
            panic!("refused");
        };
        let note = notes
            .iter()
            .find(|n| n.starts_with("resources[6]: "))
            .unwrap_or_else(|| panic!("{notes:#?}"));
        assert_eq!(note.contains("left out"), left_out, "{note}");
        assert!(
            notes.iter().any(
                |n| n.starts_with("parameters._artifactsLocation.defaultValue: ")
                    && n.contains("templateLink")
            ),
            "{notes:#?}"
        );
    }
}
