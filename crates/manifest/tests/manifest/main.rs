//! Integration tests of the manifest loader: the examples load, layering merges as documented,
//! and no input makes the loader panic (property tests over arbitrary and mutated manifests).

use std::path::{Path, PathBuf};

use aib_manifest::{Manifest, ManifestError, Merge, Settings};
use proptest::prelude::*;

fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
    ["avd", "linux-fleet"]
        .iter()
        .map(|e| root.join(e).join("aib.toml"))
        .collect()
}

fn load_str(text: &str) -> Result<Manifest, ManifestError> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/avd");
    Manifest::from_str(Path::new("aib.toml"), &dir, text.to_string())
}

#[test]
fn examples_load_without_warnings() {
    for path in examples() {
        let m = Manifest::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            m.warnings.is_empty(),
            "{}: {:?}",
            path.display(),
            m.warnings
        );
    }
}

fn layer(text: &str) -> Settings {
    toml::from_str(text).expect("layer parses")
}

#[test]
fn tables_merge_key_by_key_and_arrays_replace() {
    let mut lower = layer(
        r#"
        vm_size = "a"
        replicate_to = ["x", "y"]
        tags = { owner = "platform", cost = "1" }
        gallery = { name = "g", resource_group = "rg" }
        "#,
    );
    let upper = layer(
        r#"
        replicate_to = ["z"]
        tags = { cost = "2" }
        gallery = { name = "g2" }
        "#,
    );
    lower.merge(&upper);
    assert_eq!(lower.vm_size.as_deref().map(String::as_str), Some("a"));
    let regions: Vec<&str> = lower
        .replicate_to
        .as_ref()
        .expect("set")
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(regions, ["z"]);
    let tags: Vec<(&str, &str)> = lower
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(tags, [("owner", "platform"), ("cost", "2")]);
    let g = lower.gallery.expect("gallery");
    assert_eq!(g.name.as_deref().map(String::as_str), Some("g2"));
    assert_eq!(g.resource_group.as_deref().map(String::as_str), Some("rg"));
}

#[test]
fn every_error_has_a_location() {
    let text = std::fs::read_to_string(&examples()[0]).expect("read");
    let broken = text
        .replace("vm_size", "vm_sise")
        .replace("after = [\"dev\"]", "after = [\"dve\"]");
    match load_str(&broken) {
        Err(ManifestError::Invalid(d)) => {
            assert!(d.errors().count() >= 2);
            for e in d.errors() {
                let loc = e.location().unwrap_or_default();
                assert!(
                    loc.starts_with("aib.toml:"),
                    "{} has no location",
                    e.message
                );
            }
        }
        other => panic!("expected errors, got {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary text never panics the loader.
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = load_str(&text);
    }

    /// Cutting, duplicating or splicing pieces of a real manifest never panics the loader, and
    /// every error it reports points inside the text.
    #[test]
    fn mutated_examples_never_panic(cut in 0usize..4000, len in 0usize..200, insert in prop::sample::select(vec![
        "", "]", "[", "{{", "}}", "\"", "=", "\n[variants.x]\n", "\n[environments.x]\nafter=[\"x\"]\n",
        "source = { variant = \"win11-avd\" }\n", "matrix = { a = [] }\n", "customize = [1]\n", "\u{0}", "é",
    ])) {
        let text = std::fs::read_to_string(&examples()[0]).expect("read");
        let mut bytes = text.into_bytes();
        let start = cut.min(bytes.len());
        let end = (start + len).min(bytes.len());
        bytes.splice(start..end, insert.bytes());
        let mutated = String::from_utf8_lossy(&bytes).into_owned();
        if let Err(ManifestError::Invalid(d)) = load_str(&mutated) {
            for e in d.items {
                for l in e.labels {
                    prop_assert!(l.span.end <= mutated.len() + 1, "span {:?} beyond text", l.span);
                }
            }
        }
    }
}
