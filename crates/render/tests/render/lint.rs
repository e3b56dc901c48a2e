//! Each lint rule with a failing and a passing case.

use aib_planner::{Date, PlanOptions};
use aib_render::lint::lint_plan;

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

// ---- The same rules on what user templates render ----

const USER_BASE: &str = r#"
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
template = "t.json.j2"
@DEFAULTS@
[environments.dev]
[variants.a]
source = @SOURCE@
@VARIANT@
"#;

/// A bare imageTemplate body: the builtin source, `@DISTRIBUTE@` and `@EXTRA@` properties.
const USER_TEMPLATE: &str = r#"{
  "location": "{{ location }}",
  "identity": { "type": "UserAssigned", "userAssignedIdentities": { "{{ identity }}": {} } },
  "properties": {
    "source": {{ source | tojson }},
    "distribute": @DISTRIBUTE@@EXTRA@
  }
}
"#;

const BUILTIN_DISTRIBUTE: &str = "{{ distribute | tojson }}";

fn gallery_id(gallery: &str, definition: &str, version: Option<&str>) -> String {
    let mut id = format!(
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/galleries/{gallery}/images/{definition}"
    );
    if let Some(v) = version {
        id.push_str("/versions/");
        id.push_str(v);
    }
    id
}

/// A distribute list with one SharedImage distributor.
fn distribute(gallery_image_id: &str, target_regions: &str) -> String {
    format!(
        r#"[{{ "type": "SharedImage", "galleryImageId": "{gallery_image_id}", "runOutputName": "{{{{ unit.template_name }}}}", "targetRegions": {target_regions} }}]"#
    )
}

const ONE_REGION: &str = r#"[{ "name": "westeurope", "replicaCount": 1 }]"#;

struct UserCase<'a> {
    defaults: &'a str,
    source: &'a str,
    variant: &'a str,
    distribute: &'a str,
    extra: &'a str,
}

impl Default for UserCase<'_> {
    fn default() -> Self {
        Self {
            defaults: "",
            source: LINUX,
            variant: "",
            distribute: BUILTIN_DISTRIBUTE,
            extra: "",
        }
    }
}

/// Findings of `lint_rendered` (code, message) and the codes of `lint_plan`.
fn user_findings(case: UserCase<'_>) -> (Vec<(String, String)>, Vec<String>) {
    use aib_render::render::{RenderInputs, Renderer};
    let dir = tempfile::tempdir().expect("tempdir");
    let text = USER_BASE
        .replace("@DEFAULTS@", case.defaults)
        .replace("@SOURCE@", case.source)
        .replace("@VARIANT@", case.variant);
    let template = USER_TEMPLATE
        .replace("@DISTRIBUTE@", case.distribute)
        .replace("@EXTRA@", case.extra);
    let m = common::manifest_in(dir.path(), &text, &[("templates/t.json.j2", &template)]);
    let plan = common::plan(&m);
    let r = Renderer::new(&m);
    let deployments: Vec<_> = plan
        .units()
        .iter()
        .map(
            |u| match r.render_in_plan(&plan, u, &RenderInputs::default()) {
                Ok(d) => d,
                Err(e) => panic!("{e}"),
            },
        )
        .collect();
    let rendered = aib_render::lint::lint_rendered(&m, &plan, &deployments);
    for x in &rendered.items {
        assert!(
            (x.message.contains("unit `dev/") || x.message.contains("units `dev/"))
                && x.message.contains("`templates/t.json.j2`"),
            "{}",
            x.message
        );
        // Points at the unit's `template` key.
        let label = x.labels.first().expect("label");
        assert_eq!(&text[label.span.clone()], "\"t.json.j2\"", "{}", x.message);
    }
    let settings = lint_plan(&m, &plan);
    (
        rendered
            .items
            .iter()
            .map(|x| (x.code.to_string(), x.message.clone()))
            .collect(),
        settings.items.iter().map(|x| x.code.to_string()).collect(),
    )
}

fn user_codes(case: UserCase<'_>) -> Vec<String> {
    user_findings(case).0.into_iter().map(|(c, _)| c).collect()
}

#[test]
fn user_template_clean_has_no_findings() {
    let (rendered, settings) = user_findings(UserCase::default());
    assert!(
        rendered.is_empty() && settings.is_empty(),
        "{rendered:?} {settings:?}"
    );
}

#[test]
fn user_template_build_timeout() {
    let (found, settings) = user_findings(UserCase {
        extra: r#", "buildTimeoutInMinutes": 3"#,
        ..Default::default()
    });
    assert!(settings.is_empty(), "{settings:?}");
    insta::assert_snapshot!(found[0].1, @"unit `dev/a`: template `templates/t.json.j2` renders `buildTimeoutInMinutes` 3; AIB rejects it");
    assert!(!has(
        &user_codes(UserCase {
            extra: r#", "buildTimeoutInMinutes": 60"#,
            ..Default::default()
        }),
        "aib::lint::build-timeout"
    ));
    // Rendered from the setting: reported once, by the settings lint.
    let (found, settings) = user_findings(UserCase {
        variant: r#"gallery = { name = "gal-x" }"#,
        ..Default::default()
    });
    assert!(found.is_empty(), "{found:?}");
    assert!(has(&settings, "aib::lint::gallery-name"), "{settings:?}");
}

#[test]
fn user_template_gallery_definition_and_version() {
    let c = user_codes(UserCase {
        distribute: &distribute(&gallery_id("gal-x", "-img", None), ONE_REGION),
        ..Default::default()
    });
    assert!(has(&c, "aib::lint::gallery-name"), "{c:?}");
    assert!(has(&c, "aib::lint::image-definition"), "{c:?}");
    let c = user_codes(UserCase {
        distribute: &distribute(&gallery_id("gal_x", "img-1", None), ONE_REGION),
        ..Default::default()
    });
    assert!(c.is_empty(), "{c:?}");

    let pinned = r#"{ platform = "Canonical:ubuntu-24_04-lts:server:24.04.202611010" }"#;
    let (found, _) = user_findings(UserCase {
        source: pinned,
        distribute: &distribute(&gallery_id("gal", "img-a", Some("1.2")), ONE_REGION),
        ..Default::default()
    });
    insta::assert_snapshot!(found[0].1, @"unit `dev/a`: template `templates/t.json.j2` renders the version `1.2` (`distribute[0].galleryImageId`): not `Major.Minor.Patch`");
    let c = user_codes(UserCase {
        source: pinned,
        distribute: &distribute(&gallery_id("gal", "img-a", Some("1.2.3")), ONE_REGION),
        ..Default::default()
    });
    assert!(c.is_empty(), "{c:?}");
    // A fixed version with a `latest` source.
    let c = user_codes(UserCase {
        distribute: &distribute(&gallery_id("gal", "img-a", Some("1.2.3")), ONE_REGION),
        ..Default::default()
    });
    assert!(has(&c, "aib::lint::fixed-version-latest"), "{c:?}");
}

#[test]
fn user_template_regions_and_replicas() {
    let gid = gallery_id("gal", "img-a", None);
    let (found, _) = user_findings(UserCase {
        distribute: &distribute(&gid, r#"[{ "name": "westeurop", "replicaCount": 0 }]"#),
        ..Default::default()
    });
    let msgs: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
    insta::assert_snapshot!(msgs.join("\n"), @r"
    unit `dev/a`: template `templates/t.json.j2` renders `distribute[0].targetRegions[0].replicaCount` 0; AIB accepts 1 to 100
    unit `dev/a`: template `templates/t.json.j2` renders the unknown Azure region `westeurop` (`distribute[0].targetRegions[0].name`)
    ");
    let c = user_codes(UserCase {
        distribute: &distribute(
            &gid,
            r#"[{ "name": "westeurope", "replicaCount": 2 }, { "name": "northeurope", "replicaCount": 100 }]"#,
        ),
        ..Default::default()
    });
    assert!(c.is_empty(), "{c:?}");
    // Regions from ARM parameters of the deployment are substituted before the check.
    let c = user_codes(UserCase {
        distribute: &format!(
            r#"[{{ "type": "SharedImage", "galleryImageId": "{gid}", "runOutputName": "x", "replicationRegions": ["northeurope", "swedencentrall"] }}]"#
        ),
        ..Default::default()
    });
    assert!(has(&c, "aib::lint::region"), "{c:?}");
}

#[test]
fn user_template_shared_staging_and_version_collision() {
    let two = "[variants.b]\nsource = { platform = \"Canonical:x:y:latest\" }\n";
    let (found, settings) = user_findings(UserCase {
        variant: two,
        extra: r#", "stagingResourceGroup": "/subscriptions/x/resourceGroups/stage""#,
        ..Default::default()
    });
    assert!(settings.is_empty(), "{settings:?}");
    insta::assert_snapshot!(found[0].1, @"units `dev/a` and `dev/b` share the staging resource group `/subscriptions/x/resourceGroups/stage` (`stagingResourceGroup` rendered by `templates/t.json.j2`)");
    let c = user_codes(UserCase {
        variant: two,
        extra: r#", "stagingResourceGroup": "/subscriptions/x/resourceGroups/stage-{{ variant }}""#,
        ..Default::default()
    });
    assert!(c.is_empty(), "{c:?}");
    // Rendered from a shared setting: reported once, by the settings lint.
    let (found, settings) = user_findings(UserCase {
        defaults: r#"staging_resource_group = "/subscriptions/x/resourceGroups/stage""#,
        variant: two,
        extra: r#", "stagingResourceGroup": "{{ settings.staging_resource_group }}""#,
        ..Default::default()
    });
    assert!(found.is_empty(), "{found:?}");
    assert!(
        has(&settings, "aib::lint::staging-resource-group"),
        "{settings:?}"
    );

    // A user template's staging resource group is a builtin unit's.
    let builtin_b = "[variants.b]\nsource = { platform = \"Canonical:x:y:latest\" }\ntemplate = \"builtin:image-template\"\nstaging_resource_group = \"/subscriptions/x/resourceGroups/stage\"\n";
    let c = user_codes(UserCase {
        variant: builtin_b,
        extra: r#", "stagingResourceGroup": "/subscriptions/x/resourceGroups/STAGE""#,
        ..Default::default()
    });
    assert!(has(&c, "aib::lint::staging-resource-group"), "{c:?}");
    let c = user_codes(UserCase {
        variant: builtin_b,
        extra: r#", "stagingResourceGroup": "/subscriptions/x/resourceGroups/stage-a""#,
        ..Default::default()
    });
    assert!(c.is_empty(), "{c:?}");

    // Both templates publish the same fixed version of one image definition.
    let pinned = r#"{ platform = "Canonical:ubuntu-24_04-lts:server:24.04.202611010" }"#;
    let two_pinned = format!("[variants.b]\nsource = {pinned}\n");
    let c = user_codes(UserCase {
        source: pinned,
        variant: &two_pinned,
        distribute: &distribute(&gallery_id("gal", "same", Some("1.0.0")), ONE_REGION),
        ..Default::default()
    });
    assert!(has(&c, "aib::lint::version-collision"), "{c:?}");
    let c = user_codes(UserCase {
        source: pinned,
        variant: &two_pinned,
        distribute: &distribute(
            &gallery_id("gal", "img-{{ variant }}", Some("1.0.0")),
            ONE_REGION,
        ),
        ..Default::default()
    });
    assert!(c.is_empty(), "{c:?}");
}

#[test]
fn user_template_windows_traps() {
    let win = r#"{ platform = "MicrosoftWindowsServer:WindowsServer:2022-datacenter-azure-edition:2022.1.1" }"#;
    let (found, settings) = user_findings(UserCase {
        source: win,
        variant: "vm_size = \"Standard_D4s_v5\"\nos_disk_gb = 128",
        extra: r#", "vmProfile": { "vmSize": "Standard_B1s" }, "customize": [{ "type": "WindowsUpdate", "name": "upd" }, { "type": "File", "name": "cfg", "sourceUri": "files/app.config", "destination": "C:\\app.config" }]"#,
        ..Default::default()
    });
    assert!(settings.is_empty(), "{settings:?}");
    let msgs: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
    insta::assert_snapshot!(msgs.join("\n"), @r"
    unit `dev/a`: template `templates/t.json.j2` renders a Windows build VM `Standard_B1s` (`vmProfile.vmSize`) with 1 vCPU
    unit `dev/a`: template `templates/t.json.j2` renders a Windows image without `vmProfile.osDiskSizeGB`
    unit `dev/a`: template `templates/t.json.j2` renders `customize[0]` (`upd`), a WindowsUpdate without a WindowsRestart before it
    unit `dev/a`: template `templates/t.json.j2` renders `customize[1].sourceUri` (`cfg`) as the local path `files/app.config`
    ");
    let c = user_codes(UserCase {
        source: win,
        variant: "vm_size = \"Standard_D4s_v5\"\nos_disk_gb = 128",
        extra: r#", "vmProfile": { "vmSize": "Standard_D2s_v5", "osDiskSizeGB": 128 }, "customize": [{ "type": "WindowsRestart" }, { "type": "WindowsUpdate", "name": "upd" }, { "type": "File", "name": "cfg", "sourceUri": "https://example.com/app.config", "destination": "C:\\app.config" }]"#,
        ..Default::default()
    });
    assert!(c.is_empty(), "{c:?}");
}
