//! Each lint rule with a failing and a passing case.

use aib_executor::lint::lint_plan;
use aib_planner::{Date, PlanOptions};

use crate::common;

const BASE: &str = r#"
version = 1
[pipeline]
name = "t"
[defaults]
subscription = "00000000-0000-0000-0000-000000000001"
location = "westeurope"
resource_group = "rg"
identity = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
gallery = { name = "gal" }
image_definition = "img-{{ variant }}"
@DEFAULTS@
[environments.dev]
[variants.a]
source = @SOURCE@
@VARIANT@
"#;

const LINUX: &str = r#"{ platform = "Canonical:ubuntu-24_04-lts:server:latest" }"#;
const WINDOWS: &str =
    r#"{ platform = "MicrosoftWindowsServer:WindowsServer:2022-datacenter-azure-edition:latest" }"#;

/// Lint codes for a manifest built from BASE.
fn codes(defaults: &str, source: &str, variant: &str, set: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = BASE
        .replace("@DEFAULTS@", defaults)
        .replace("@SOURCE@", source)
        .replace("@VARIANT@", variant);
    let m = common::manifest_in(dir.path(), &text, &[]);
    let opts = PlanOptions {
        today: Date::new(2026, 11, 28),
        set: set.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let plan = match aib_planner::plan(&m, &opts) {
        Ok(p) => p,
        Err(e) => panic!("plan: {:?}", e.diagnostics),
    };
    let d = lint_plan(&m, &plan);
    for x in &d.items {
        assert!(
            x.message.contains("unit `dev/") || x.message.contains("units `dev/"),
            "{}",
            x.message
        );
    }
    d.items.iter().map(|x| x.code.to_string()).collect()
}

fn has(c: &[String], code: &str) -> bool {
    c.iter().any(|x| x == code)
}

#[test]
fn clean_manifest_has_no_findings() {
    let c = codes("", LINUX, "", &[]);
    assert!(c.is_empty(), "{c:?}");
}

#[test]
fn build_timeout() {
    assert!(has(
        &codes("", LINUX, "", &["build_timeout_minutes=3"]),
        "aib::lint::build-timeout"
    ));
    assert!(has(
        &codes("", LINUX, "", &["build_timeout_minutes=961"]),
        "aib::lint::build-timeout"
    ));
    assert!(!has(
        &codes("", LINUX, "", &["build_timeout_minutes=6"]),
        "aib::lint::build-timeout"
    ));
}

#[test]
fn gallery_and_definition_names() {
    let c = codes("", LINUX, r#"gallery = { name = "gal-dev" }"#, &[]);
    assert!(has(&c, "aib::lint::gallery-name"), "{c:?}");
    let c = codes("", LINUX, r#"gallery = { name = "gal_dev.x" }"#, &[]);
    assert!(!has(&c, "aib::lint::gallery-name"), "{c:?}");
    let c = codes("", LINUX, r#"image_definition = "-img""#, &[]);
    assert!(has(&c, "aib::lint::image-definition"), "{c:?}");
}

#[test]
fn regions_and_replicas() {
    let c = codes("", LINUX, r#"replicate_to = ["westeurop"]"#, &[]);
    assert!(has(&c, "aib::lint::region"), "{c:?}");
    let c = codes(
        "",
        LINUX,
        r#"replicate_to = ["westeurope", "northeurope"]"#,
        &[],
    );
    assert!(!has(&c, "aib::lint::region"), "{c:?}");
    assert!(has(
        &codes("", LINUX, "", &["replica_count=0"]),
        "aib::lint::replica-count"
    ));
    assert!(!has(
        &codes("", LINUX, "", &["replica_count=3"]),
        "aib::lint::replica-count"
    ));
}

#[test]
fn versions() {
    let c = codes("", LINUX, r#"version = "4294967296.0.{{ run.seq }}""#, &[]);
    assert!(has(&c, "aib::lint::version"), "{c:?}");
    let c = codes("", LINUX, r#"version = "1.0.{{ run.seq }}""#, &[]);
    assert!(
        !has(&c, "aib::lint::version") && !has(&c, "aib::lint::fixed-version-latest"),
        "{c:?}"
    );
    let c = codes("", LINUX, r#"version = "1.0.0""#, &[]);
    assert!(has(&c, "aib::lint::fixed-version-latest"), "{c:?}");
    let pinned = r#"{ platform = "Canonical:ubuntu-24_04-lts:server:24.04.202611010" }"#;
    let c = codes("", pinned, r#"version = "1.0.0""#, &[]);
    assert!(!has(&c, "aib::lint::fixed-version-latest"), "{c:?}");
}

#[test]
fn version_collision_and_shared_staging() {
    let two = "[variants.b]\nsource = { platform = \"Canonical:x:y:latest\" }\n";
    let c = codes(
        "",
        LINUX,
        &format!("image_definition = \"same\"\n{two}image_definition = \"same\"\n"),
        &[],
    );
    assert!(has(&c, "aib::lint::version-collision"), "{c:?}");
    let c = codes("", LINUX, two, &[]);
    assert!(!has(&c, "aib::lint::version-collision"), "{c:?}");
    let c = codes(
        r#"staging_resource_group = "/subscriptions/x/resourceGroups/stage""#,
        LINUX,
        two,
        &[],
    );
    assert!(has(&c, "aib::lint::staging-resource-group"), "{c:?}");
    let c = codes(
        r#"staging_resource_group = "/subscriptions/x/resourceGroups/stage-{{ variant }}""#,
        LINUX,
        two,
        &[],
    );
    assert!(!has(&c, "aib::lint::staging-resource-group"), "{c:?}");
}

#[test]
fn windows_traps() {
    let c = codes(
        "",
        WINDOWS,
        "vm_size = \"Standard_B1s\"\nos_disk_gb = 128",
        &[],
    );
    assert!(has(&c, "aib::lint::windows-vcpus"), "{c:?}");
    assert!(!has(&c, "aib::lint::windows-os-disk"), "{c:?}");
    let c = codes("", WINDOWS, "vm_size = \"Standard_D2s_v5\"", &[]);
    assert!(!has(&c, "aib::lint::windows-vcpus"), "{c:?}");
    assert!(has(&c, "aib::lint::windows-os-disk"), "{c:?}");
    // Linux images are not Windows.
    let c = codes("", LINUX, "vm_size = \"Standard_B1s\"", &[]);
    assert!(c.is_empty(), "{c:?}");

    let upd = r#"{ type = "windows-update", search_criteria = "IsInstalled=0" }"#;
    let rst = r#"{ type = "windows-restart" }"#;
    let c = codes(
        "",
        WINDOWS,
        &format!("os_disk_gb = 128\ncustomize = [{upd}]"),
        &[],
    );
    assert!(has(&c, "aib::lint::windows-update-restart"), "{c:?}");
    let c = codes(
        "",
        WINDOWS,
        &format!("os_disk_gb = 128\ncustomize = [{rst}, {upd}]"),
        &[],
    );
    assert!(!has(&c, "aib::lint::windows-update-restart"), "{c:?}");
}

#[test]
fn local_file_customizer() {
    let c = codes(
        "",
        LINUX,
        r#"customize = [{ type = "file", source_uri = "files/motd", destination = "/tmp/motd" }]"#,
        &[],
    );
    assert!(has(&c, "aib::lint::local-file"), "{c:?}");
    let c = codes(
        "",
        LINUX,
        r#"customize = [{ type = "file", source_uri = "https://example.com/motd", destination = "/tmp/motd" }]"#,
        &[],
    );
    assert!(!has(&c, "aib::lint::local-file"), "{c:?}");
}

#[test]
fn placeholders_warn() {
    let c = codes(
        "",
        LINUX,
        r#"parameters = { runOutputName = "<runOutputName>" }"#,
        &[],
    );
    assert!(has(&c, "aib::lint::placeholder"), "{c:?}");
    let c = codes("", LINUX, r#"parameters = { runOutputName = "out" }"#, &[]);
    assert!(!has(&c, "aib::lint::placeholder"), "{c:?}");
}
