//! Snapshots of rendered deployments: each source type, each customizer type, validate,
//! distribute, optimize, errorHandling, staging resource group, vnetConfig, identity and tags,
//! from small focused manifests. Every builtin rendering is also checked against the official
//! ARM schema; secrets show `***` in everything not sent to Azure.

use aib_planner::Plan;
use aib_render::render::{RenderInputs, RenderedDeployment, Renderer, SecretValues};

use crate::common;

/// A manifest with one environment `dev`; `variants` is appended.
fn manifest(extra_defaults: &str, variants: &str) -> String {
    format!(
        r#"
version = 1
[pipeline]
name = "snap"
[defaults]
subscription = "00000000-0000-0000-0000-000000000001"
location = "westeurope"
resource_group = "rg-images"
identity = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = {{ name = "gal_snap" }}
image_definition = "img-{{{{ variant }}}}"
version = "1.0.{{{{ run.seq }}}}"
{extra_defaults}
[environments.dev]
{variants}
"#
    )
}

/// Plans a manifest written with `files` beside it.
fn planned(
    text: &str,
    files: &[(&str, &str)],
) -> (tempfile::TempDir, aib_manifest::Manifest, Plan) {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = common::manifest_in(dir.path(), text, files);
    let plan = common::plan(&m);
    (dir, m, plan)
}

fn render(
    m: &aib_manifest::Manifest,
    plan: &Plan,
    unit: &str,
    inputs: &RenderInputs,
) -> RenderedDeployment {
    let u = plan
        .units()
        .iter()
        .find(|u| u.id.as_str() == unit)
        .unwrap_or_else(|| panic!("no unit {unit}"));
    match Renderer::new(m).render_in_plan(plan, u, inputs) {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    }
}

/// The deployment template, after checking it holds the imageTemplate as its first resource.
/// (The reference tests check every snapshot against the official ARM schema.)
fn checked(d: &RenderedDeployment) -> String {
    assert_eq!(d.template["resources"][0], d.image_template);
    d.template_json()
}

const SOURCE_VERSION_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/gal_snap/images/img-base/versions/1.0.7";

/// What the executor passes when it sends a unit to Azure.
fn at_build<'a>(
    source_version: Option<&'a str>,
    secrets: Option<&'a SecretValues>,
) -> RenderInputs<'a> {
    RenderInputs {
        source_version,
        image_version: Some("1.0.8"),
        secrets,
    }
}

#[test]
fn platform_image_without_plan_info() {
    let text = manifest(
        "",
        r#"[variants.ubuntu]
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
"#,
    );
    let (_d, m, plan) = planned(&text, &[]);
    let preview = render(&m, &plan, "dev/ubuntu", &RenderInputs::default());
    insta::assert_snapshot!("platform_image_plan_preview", checked(&preview));
    // At build time `latest` is the resolved marketplace version and the version is known.
    let built = render(
        &m,
        &plan,
        "dev/ubuntu",
        &at_build(Some("24.04.202611010"), None),
    );
    assert_eq!(built.properties()["source"]["version"], "24.04.202611010");
    assert_ne!(built.template_name, preview.template_name);
    insta::assert_snapshot!("platform_image_at_build", checked(&built));
}

#[test]
fn platform_image_with_plan_info() {
    let text = manifest(
        "",
        r#"[variants.rocky]
source = { platform = "resf:rockylinux-x86_64:9-base:9.6.20250531", plan = { name = "9-base", product = "rockylinux-x86_64", publisher = "resf" } }
"#,
    );
    let (_d, m, plan) = planned(&text, &[]);
    let d = render(&m, &plan, "dev/rocky", &RenderInputs::default());
    // A pinned version stays as written.
    assert_eq!(d.properties()["source"]["version"], "9.6.20250531");
    insta::assert_snapshot!(checked(&d));
}

#[test]
fn shared_image_version_source() {
    let text = manifest(
        "",
        r#"[variants.from-gallery]
source = { gallery_image = "/subscriptions/00000000-0000-0000-0000-000000000009/resourceGroups/rg-corp/providers/Microsoft.Compute/galleries/gal_corp/images/corp-base/versions/latest" }
"#,
    );
    let (_d, m, plan) = planned(&text, &[]);
    let preview = render(&m, &plan, "dev/from-gallery", &RenderInputs::default());
    insta::assert_snapshot!("shared_image_version_plan_preview", checked(&preview));
    let built = render(
        &m,
        &plan,
        "dev/from-gallery",
        &at_build(Some("3.1.4"), None),
    );
    assert_eq!(
        built.properties()["source"]["imageVersionId"],
        "/subscriptions/00000000-0000-0000-0000-000000000009/resourceGroups/rg-corp/providers/Microsoft.Compute/galleries/gal_corp/images/corp-base/versions/3.1.4"
    );
    insta::assert_snapshot!("shared_image_version_at_build", checked(&built));
}

#[test]
fn variant_source_is_the_parents_exact_version() {
    let text = manifest(
        "",
        r#"[variants.base]
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
[variants.app]
source = { variant = "base" }
customize = [{ type = "shell", name = "app", inline = ["echo app"] }]
"#,
    );
    let (_d, m, plan) = planned(&text, &[]);
    // In the plan, the parent has not run yet: its image definition at `latest`.
    let preview = render(&m, &plan, "dev/app", &RenderInputs::default());
    insta::assert_snapshot!("variant_source_plan_preview", checked(&preview));
    // At build time: the exact version the parent published.
    let built = render(
        &m,
        &plan,
        "dev/app",
        &at_build(Some(SOURCE_VERSION_ID), None),
    );
    assert_eq!(
        built.properties()["source"]["imageVersionId"],
        SOURCE_VERSION_ID
    );
    insta::assert_snapshot!("variant_source_at_build", checked(&built));
}

#[test]
fn managed_image_source() {
    let text = manifest(
        "",
        r#"[variants.legacy]
source = { managed_image = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-old/providers/Microsoft.Compute/images/legacy-base" }
"#,
    );
    let (_d, m, plan) = planned(&text, &[]);
    let d = render(&m, &plan, "dev/legacy", &RenderInputs::default());
    insta::assert_snapshot!(checked(&d));
}

const SETUP_SH: &str =
    "#!/bin/bash\nset -euo pipefail\necho \"hello \\\"world\\\"\" > /etc/motd\n\n  indented\ttab\n";

#[test]
fn linux_customizers_shell_and_file() {
    let text = manifest(
        "",
        r#"[variants.ubuntu]
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [
  { type = "shell", name = "inline", inline = ["sudo apt-get update", "echo 'quoted \"x\"'"] },
  { type = "shell", name = "from-file", script = "scripts/setup.sh" },
  { type = "shell", name = "remote", script_uri = "https://example.com/setup.sh", sha256_checksum = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae" },
  { type = "file", name = "motd", source_uri = "https://example.com/motd", destination = "/etc/motd", sha256_checksum = "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9" },
  { type = "shell", inline = ["echo unnamed"] },
]
"#,
    );
    let (_d, m, plan) = planned(&text, &[("scripts/setup.sh", SETUP_SH)]);
    let d = render(&m, &plan, "dev/ubuntu", &RenderInputs::default());
    // The script file, line by line, in order, then the inline lines.
    let lines: Vec<&str> = SETUP_SH.lines().collect();
    let c = &d.properties()["customize"];
    assert_eq!(c[1]["inline"], serde_json::json!(lines));
    insta::assert_snapshot!(checked(&d));
}

const SETUP_PS1: &str =
    "$ErrorActionPreference = 'Stop'\r\nWrite-Host \"C:\\Program Files\\x\"\r\nexit 0\r\n";

#[test]
fn windows_customizers_and_validate() {
    let text = manifest(
        "",
        r#"[variants.win]
source = { platform = "MicrosoftWindowsServer:WindowsServer:2022-datacenter-azure-edition:latest" }
vm_size = "Standard_D4s_v5"
os_disk_gb = 128
customize = [
  { type = "powershell", name = "inline", inline = ["Write-Host 'hi'", "New-Item -Type Directory C:\\temp"] },
  { type = "powershell", name = "from-file", script = "scripts/setup.ps1", run_elevated = true, run_as_system = true, valid_exit_codes = [0, 3010] },
  { type = "powershell", name = "remote", script_uri = "https://example.com/setup.ps1", sha256_checksum = "abc123", run_elevated = true },
  { type = "windows-restart", name = "restart", restart_command = "shutdown /r /f /t 0", restart_check_command = "echo restarted", restart_timeout = "10m" },
  { type = "windows-update", name = "updates", search_criteria = "IsInstalled=0", filters = ["exclude:$_.Title -like '*Preview*'", "include:$true"], update_limit = 40 },
  { type = "windows-restart" },
  { type = "file", name = "config", source_uri = "https://example.com/app.config", destination = "C:\\app\\app.config" },
]
validate = { continue_distribute_on_failure = true, source_validation_only = false, in_vm_validations = [
  { type = "powershell", name = "check-dir", inline = ["if (-not (Test-Path C:\\temp)) { exit 1 }"], run_elevated = true },
  { type = "shell", name = "check-remote", script_uri = "https://example.com/check.sh" },
  { type = "file", name = "check-file", source_uri = "https://example.com/expected.txt", destination = "C:\\expected.txt" },
] }
"#,
    );
    let (_d, m, plan) = planned(&text, &[("scripts/setup.ps1", SETUP_PS1)]);
    let d = render(&m, &plan, "dev/win", &RenderInputs::default());
    assert_eq!(
        d.properties()["customize"][1]["inline"],
        serde_json::json!(SETUP_PS1.lines().collect::<Vec<_>>())
    );
    insta::assert_snapshot!(checked(&d));
}

#[test]
fn source_validation_only() {
    let text = manifest(
        "",
        r#"[variants.check]
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
validate = { source_validation_only = true, in_vm_validations = [{ type = "shell", name = "smoke", inline = ["test -f /etc/os-release"] }] }
"#,
    );
    let (_d, m, plan) = planned(&text, &[]);
    let d = render(&m, &plan, "dev/check", &RenderInputs::default());
    insta::assert_snapshot!(checked(&d));
}

#[test]
fn distribute_optimize_error_handling_staging_vnet_identity_tags() {
    let text = manifest(
        r#"tags = { owner = "platform", "cost-center" = "42" }"#,
        r#"[variants.full]
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
vm_size = "Standard_D2s_v5"
os_disk_gb = 64
build_timeout_minutes = 120
gallery = { name = "gal_shared", resource_group = "rg-gallery", subscription = "00000000-0000-0000-0000-000000000002" }
replicate_to = ["westeurope", "northeurope", "swedencentral"]
replica_count = 3
storage_account_type = "Standard_ZRS"
exclude_from_latest = true
optimize = { vm_boot = true }
error_handling = { on_customizer = "abort", on_validation = "cleanup" }
staging_resource_group = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-aib-staging-{{ variant }}"
vnet_config = { subnet_id = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/build", container_instance_subnet_id = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/aci", proxy_vm_size = "Standard_A1_v2" }
tags = { team = "{{ variant }}-team" }
"#,
    );
    let (_d, m, plan) = planned(&text, &[]);
    let d = render(
        &m,
        &plan,
        "dev/full",
        &at_build(Some("24.04.202611010"), None),
    );
    insta::assert_snapshot!(checked(&d));
}

#[test]
fn optimize_disabled_and_defaults() {
    let text = manifest(
        "",
        r#"[variants.plain]
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
optimize = { vm_boot = false }
"#,
    );
    let (_d, m, plan) = planned(&text, &[]);
    let d = render(&m, &plan, "dev/plain", &RenderInputs::default());
    assert_eq!(d.properties()["optimize"]["vmBoot"]["state"], "Disabled");
    // Without replicate_to: the unit's location, one replica, Standard_LRS.
    insta::assert_snapshot!(checked(&d));
}

const J2: &str = r#"{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [
    {
      "type": "Microsoft.VirtualMachineImages/imageTemplates",
      "apiVersion": "{{ api_version }}",
      "name": "{{ unit.template_name }}",
      "location": "{{ location }}",
      "tags": {{ tags | tojson }},
      "identity": { "type": "UserAssigned", "userAssignedIdentities": { "{{ identity }}": {} } },
      "properties": {
        "buildTimeoutInMinutes": {{ settings.build_timeout_minutes }},
        "source": {{ source | tojson }},
        "customize": [
          {% for c in customize %}{{ c | tojson }},{% endfor %}
          { "type": "Shell", "name": "join", "inline": ["join --user {{ parameters.join_user }} --password '{{ secrets.join_password }}'"] }
        ],
        "distribute": {{ distribute | tojson }}
      }
    }
  ]
}
"#;

const PLAIN_JSON: &str = r#"{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "imageTemplateName": { "type": "string" },
    "svclocation": { "type": "string" },
    "joinUser": { "type": "string" },
    "join_password": { "type": "securestring" },
    "vmSize": { "type": "string", "defaultValue": "Standard_D2s_v5" }
  },
  "resources": [
    {
      "name": "[parameters('imageTemplateName')]",
      "type": "Microsoft.VirtualMachineImages/imageTemplates",
      "apiVersion": "2025-10-01",
      "location": "[parameters('svclocation')]",
      "identity": { "type": "UserAssigned", "userAssignedIdentities": { "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id": {} } },
      "properties": {
        "buildTimeoutInMinutes": 60,
        "vmProfile": { "vmSize": "[parameters('vmSize')]" },
        "source": { "type": "PlatformImage", "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest" },
        "customize": [
          { "type": "Shell", "name": "join", "inline": ["[concat('join --user ', parameters('joinUser'), ' --password ', parameters('join_password'))]"] }
        ],
        "distribute": [
          { "type": "SharedImage", "galleryImageId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i", "runOutputName": "out", "replicationRegions": ["westeurope"] }
        ]
      }
    }
  ]
}
"#;

fn secret_manifest(template: &str) -> String {
    manifest(
        r#"[defaults.parameters]
join_user = "svc-join"
joinUser = "svc-join"
[defaults.secrets]
join_password = "env:AIB_SNAP_JOIN_PASSWORD""#,
        &format!(
            r#"[variants.joined]
source = {{ platform = "Canonical:ubuntu-24_04-lts:server:latest" }}
template = "{template}"
customize = [{{ type = "shell", name = "hello", inline = ["echo hello"] }}]
"#
        ),
    )
}

/// Attack: secret values were substituted into the deployment's template body, which ARM keeps
/// readable in the deployment history. Now the body holds an expression over a `securestring`
/// parameter, and only the parameters sent to Azure hold the value.
#[test]
fn user_j2_template_puts_secrets_in_secure_parameters() {
    let text = secret_manifest("joined.json.j2");
    let (_d, m, plan) = planned(&text, &[("templates/joined.json.j2", J2)]);
    let masked = render(&m, &plan, "dev/joined", &RenderInputs::default());
    insta::assert_snapshot!("user_j2_masked", masked.template_json());
    assert_eq!(
        masked.secret_parameters,
        vec!["aibSecret_join_password".to_string()]
    );
    assert_eq!(
        masked.template["parameters"]["aibSecret_join_password"]["type"],
        "securestring"
    );
    assert!(
        masked.parameters["parameters"]
            .get("aibSecret_join_password")
            .is_none()
    );
    // What lint and people see of the imageTemplate: `***`.
    assert_eq!(
        masked.properties()["customize"][1]["inline"][0],
        "join --user svc-join --password '***'"
    );

    // Only the parameters sent to Azure carry the value; the template never does.
    let mut values = SecretValues::new();
    values.insert("join_password", "s3cr3t");
    let sent = render(&m, &plan, "dev/joined", &at_build(None, Some(&values)));
    assert_eq!(
        sent.parameters["parameters"]["aibSecret_join_password"]["value"],
        "s3cr3t"
    );
    assert!(!sent.template_json().contains("s3cr3t"));
    assert_eq!(sent.template["parameters"], masked.template["parameters"]);
    assert_eq!(
        sent.properties()["customize"][1]["inline"][0],
        "join --user svc-join --password '***'"
    );
}

#[test]
fn user_json_template_leaves_secret_parameters_out() {
    let text = secret_manifest("joined.json");
    let (_d, m, plan) = planned(&text, &[("templates/joined.json", PLAIN_JSON)]);
    let masked = render(&m, &plan, "dev/joined", &RenderInputs::default());
    assert_eq!(masked.secret_parameters, vec!["join_password".to_string()]);
    insta::assert_snapshot!("user_json_parameters_masked", masked.parameters_json());
    // The template is passed through as written (only the resource name is the unit's).
    insta::assert_snapshot!("user_json_template", masked.template_json());

    let mut values = SecretValues::new();
    values.insert("join_password", "s3cr3t");
    let sent = render(&m, &plan, "dev/joined", &at_build(None, Some(&values)));
    assert_eq!(
        sent.parameters["parameters"]["join_password"]["value"],
        "s3cr3t"
    );
    assert_eq!(
        sent.template["parameters"]["join_password"]["type"],
        "securestring"
    );
    assert!(!sent.template_json().contains("s3cr3t"));
}

/// Every string holding a secret becomes an ARM expression: quotes in the text are ARM-escaped,
/// a literal `[[` stays a literal, a parameter's `defaultValue` is rewritten too, and a secret
/// inside an ARM expression of the template is an error naming the template (it cannot be
/// spliced in safely).
#[test]
fn secrets_become_expressions_over_secure_parameters() {
    let j2 = J2
        .replace(
            "\"contentVersion\": \"1.0.0.0\",",
            "\"contentVersion\": \"1.0.0.0\",\n  \"parameters\": { \"pw\": { \"type\": \"string\", \"defaultValue\": \"{{ secrets.join_password }}\" } },",
        )
        .replace(
            "\"inline\": [\"join --user {{ parameters.join_user }} --password '{{ secrets.join_password }}'\"]",
            "\"inline\": [\"[[x] it's {{ secrets.join_password | sh_quote }}\", \"{{ secrets.join_password }}\"]",
        );
    let text = secret_manifest("joined.json.j2");
    let (_d, m, plan) = planned(&text, &[("templates/joined.json.j2", &j2)]);
    let d = render(&m, &plan, "dev/joined", &RenderInputs::default());
    let inline = &d.template["resources"][0]["properties"]["customize"][1]["inline"];
    assert_eq!(
        inline[0],
        "[concat('[x] it''s ', parameters('aibSecret_join_password_sh_quote'))]"
    );
    assert_eq!(inline[1], "[parameters('aibSecret_join_password')]");
    assert_eq!(
        d.template["parameters"]["pw"],
        serde_json::json!({"type": "securestring", "defaultValue": "[parameters('aibSecret_join_password')]"})
    );
    let mut values = SecretValues::new();
    values.insert("join_password", "it's");
    let sent = render(&m, &plan, "dev/joined", &at_build(None, Some(&values)));
    let p = &sent.parameters["parameters"];
    assert_eq!(p["aibSecret_join_password"]["value"], "it's");
    assert_eq!(p["aibSecret_join_password_sh_quote"]["value"], "\"it's\"");

    let bad = J2.replace(
        "\"join --user {{ parameters.join_user }} --password '{{ secrets.join_password }}'\"",
        "\"[concat('x', '{{ secrets.join_password }}')]\"",
    );
    let (_d, m, plan) = planned(&text, &[("templates/joined.json.j2", &bad)]);
    let u = plan.units().first().expect("unit");
    let e = Renderer::new(&m)
        .render_in_plan(&plan, u, &RenderInputs::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("templates/joined.json.j2"), "{e}");
    assert!(
        e.contains("inside the ARM expression `[concat('x', '***')]`"),
        "{e}"
    );
}
