//! `aib import` on templates written for these tests, one for every form ARM accepts, each run
//! through the whole round trip of [`crate::import_roundtrip`] (import → validate → plan
//! --render-dir --set → compared with the original), plus what import says and leaves out.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::import_roundtrip::{Outcome, round_trip};
use crate::support::aib;

const ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib";
const GALLERY_IMAGE: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/gal_images/images/ubuntu";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, text).expect("write");
    p
}

/// Round-trips `value` written as JSON; returns the notes.
fn round_trips(value: &Value, args: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        dir.path(),
        "template.json",
        &serde_json::to_string_pretty(value).expect("json"),
    );
    match round_trip(&f, value, args) {
        Outcome::RoundTrip { notes, .. } => notes,
        Outcome::Refused(m) => panic!("refused: {m}"),
    }
}

/// An imageTemplate body (properties and identity) for the templates below.
fn image(name: &str, distribute: Value) -> Value {
    json!({
        "type": "Microsoft.VirtualMachineImages/imageTemplates",
        "apiVersion": "2024-02-01",
        "name": name,
        "location": "[parameters('location')]",
        "identity": { "type": "UserAssigned", "userAssignedIdentities": { "[parameters('identityId')]": {} } },
        "properties": {
            "buildTimeoutInMinutes": 90,
            "vmProfile": { "vmSize": "[parameters('vmSize')]", "osDiskSizeGB": 64 },
            "source": { "type": "PlatformImage", "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest" },
            "customize": [
                { "type": "Shell", "name": "containers", "inline": ["docker ps --format '{{.Names}}'", "echo '{% raw %}' {# not jinja #}"] }
            ],
            "distribute": distribute
        }
    })
}

fn shared_image() -> Value {
    json!([{ "type": "SharedImage", "galleryImageId": GALLERY_IMAGE, "runOutputName": "ubuntu",
             "targetRegions": [ { "name": "westeurope", "replicaCount": 1 } ] }])
}

fn common_parameters() -> Value {
    json!({
        "location": { "type": "string", "defaultValue": "westeurope" },
        "identityId": { "type": "string", "defaultValue": ID },
        "vmSize": { "type": "string", "defaultValue": "Standard_D4s_v5" }
    })
}

/// languageVersion 2.0: symbolic resources, a property `copy` loop building `distribute`, a
/// name expression that a lock, a role assignment and outputs repeat.
#[test]
fn symbolic_resources_with_a_distribute_loop_round_trip() {
    let mut it = image("[format('{0}-img', parameters('prefix'))]", json!(null));
    let props = it["properties"].as_object_mut().expect("properties");
    props.remove("distribute");
    props.insert(
        "copy".into(),
        json!([{ "name": "distribute", "count": "[length(parameters('regions'))]",
                 "input": { "type": "SharedImage", "galleryImageId": GALLERY_IMAGE,
                            "runOutputName": "[format('out-{0}', parameters('regions')[copyIndex('distribute')])]",
                            "targetRegions": [ { "name": "[parameters('regions')[copyIndex('distribute')]]" } ] } }]),
    );
    it["tags"] = json!("[parameters('tags')]");
    let mut params = common_parameters();
    params["prefix"] = json!({ "type": "string" });
    params["regions"] = json!({ "type": "array", "defaultValue": ["westeurope", "northeurope"] });
    params["tags"] = json!({ "type": "object", "nullable": true });
    params["principalId"] = json!({ "type": "string" });
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "languageVersion": "2.0",
        "contentVersion": "1.0.0.0",
        "parameters": params,
        "resources": {
            "imageTemplate": it,
            "imageTemplate_lock": {
                "type": "Microsoft.Authorization/locks", "apiVersion": "2020-05-01",
                "scope": "[resourceId('Microsoft.VirtualMachineImages/imageTemplates', format('{0}-img', parameters('prefix')))]",
                "name": "[format('lock-{0}', parameters('prefix'))]",
                "properties": { "level": "CanNotDelete" },
                "dependsOn": ["imageTemplate"]
            },
            "reader": {
                "type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01",
                "scope": "[resourceId('Microsoft.VirtualMachineImages/imageTemplates', format('{0}-img', parameters('prefix')))]",
                "name": "[guid(resourceId('Microsoft.VirtualMachineImages/imageTemplates', format('{0}-img', parameters('prefix'))), parameters('principalId'))]",
                "properties": { "principalId": "[parameters('principalId')]",
                                "roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')]" },
                "dependsOn": ["imageTemplate", "imageTemplate_lock"]
            }
        },
        "outputs": {
            "name": { "type": "string", "value": "[format('{0}-img', parameters('prefix'))]" },
            "id": { "type": "string", "value": "[resourceId('Microsoft.VirtualMachineImages/imageTemplates', format('{0}-img', parameters('prefix')))]" },
            "location": { "type": "string", "value": "[reference('imageTemplate', '2024-02-01', 'full').location]" }
        }
    });
    let notes = round_trips(&template, &[]);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("resources.imageTemplate_lock: ") && n.contains("left out")),
        "{notes:#?}"
    );
    assert!(
        notes.iter().any(
            |n| n.starts_with("resources.imageTemplate.name: ") && n.contains("5 reference(s)")
        ),
        "{notes:#?}"
    );
}

/// A subscription-scope deployment creating a resource group and deploying the imageTemplate
/// into it through a nested deployment evaluated in its inner scope.
#[test]
fn a_nested_deployment_at_subscription_scope_round_trips() {
    let mut inner_params = common_parameters();
    inner_params["imageName"] = json!({ "type": "string" });
    let inner = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": inner_params,
        "resources": [ image("[parameters('imageName')]", shared_image()) ],
        "outputs": { "id": { "type": "string", "value": "[resourceId('Microsoft.VirtualMachineImages/imageTemplates', parameters('imageName'))]" } }
    });
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": { "rgName": { "type": "string", "defaultValue": "rg-images" },
                        "size": { "type": "string", "defaultValue": "Standard_D8s_v5" } },
        "resources": [
            { "type": "Microsoft.Resources/resourceGroups", "apiVersion": "2024-03-01", "name": "[parameters('rgName')]", "location": "westeurope" },
            { "type": "Microsoft.Resources/deployments", "apiVersion": "2024-03-01", "name": "image",
              "resourceGroup": "[parameters('rgName')]",
              "dependsOn": ["[subscriptionResourceId('Microsoft.Resources/resourceGroups', parameters('rgName'))]"],
              "properties": {
                  "mode": "Incremental",
                  "expressionEvaluationOptions": { "scope": "inner" },
                  "parameters": {
                      "vmSize": { "value": "[parameters('size')]" },
                      "location": { "value": "westeurope" },
                      "imageName": { "value": "[format('img-{0}', uniqueString(subscription().id))]" },
                      "identityId": { "value": "[subscriptionResourceId('Microsoft.ManagedIdentity/userAssignedIdentities', 'id-aib')]" }
                  },
                  "template": inner
              } }
        ]
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "sub.json", &template.to_string());
    let Outcome::RoundTrip { notes, filled, .. } = round_trip(&f, &template, &[]) else {
        panic!("refused");
    };
    assert_eq!(
        filled, 1,
        "`identityId`, which aib cannot evaluate, is filled with --set"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("resources[1]: ") && n.contains("1 other resource")),
        "{notes:#?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("resources[1].resourceGroup: ") && n.contains("\"rg-images\"")),
        "{notes:#?}"
    );
    // The values the outer deployment passed are the manifest's parameters.
    let out = dir.path().join("o");
    let r = aib(
        dir.path(),
        &[
            "import",
            f.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let manifest = std::fs::read_to_string(out.join("aib.toml")).expect("aib.toml");
    assert!(
        manifest.contains("resource_group = \"rg-images\""),
        "{manifest}"
    );
    assert!(
        manifest.contains("vmSize = \"Standard_D8s_v5\""),
        "{manifest}"
    );
    // The name parameter is aib's to fill; what else aib cannot evaluate is a placeholder.
    assert!(!manifest.contains("imageName"), "{manifest}");
    assert!(
        manifest.contains("identityId = \"<identityId>\""),
        "{manifest}"
    );
    assert!(
        r.stderr.contains(
            "note: resources[1].properties.parameters.identityId: the enclosing deployment passes"
        ),
        "{}",
        r.stderr
    );
}

/// A nested deployment evaluated in the outer scope reads the outer template's parameters.
#[test]
fn a_nested_deployment_in_the_outer_scope_round_trips() {
    let mut params = common_parameters();
    params["unused"] = json!({ "type": "string" });
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": params,
        "variables": { "name": "outer-image" },
        "resources": [
            { "type": "Microsoft.Resources/deployments", "apiVersion": "2024-03-01", "name": "nested",
              "properties": { "mode": "Incremental",
                  "template": { "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                                "contentVersion": "1.0.0.0",
                                "resources": [ image("[variables('name')]", shared_image()) ] } } }
        ]
    });
    let notes = round_trips(&template, &[]);
    assert!(
        notes.iter().any(|n| n.starts_with("resources[0]: ")),
        "{notes:#?}"
    );
}

/// A linked template beside the file (`templateLink.relativePath`) is read as `az deployment`
/// packs it.
#[test]
fn a_relative_linked_template_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let linked = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": common_parameters(),
        "resources": [ image("linked-image", shared_image()) ]
    });
    let main = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            { "type": "Microsoft.Resources/deployments", "apiVersion": "2024-03-01", "name": "linked",
              "properties": { "mode": "Incremental", "expressionEvaluationOptions": { "scope": "inner" },
                              "templateLink": { "relativePath": "modules/image.json" } } }
        ]
    });
    write(dir.path(), "modules/image.json", &linked.to_string());
    let f = write(dir.path(), "main.json", &main.to_string());
    // What ARM deploys: the linked template in place of the link.
    let mut inlined = main.clone();
    if let Some(p) = inlined["resources"][0]["properties"].as_object_mut() {
        p.remove("templateLink");
        p.insert("template".into(), linked.clone());
    }
    let Outcome::RoundTrip { notes, .. } = round_trip(&f, &inlined, &[]) else {
        panic!("refused");
    };
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("resources[0].properties.templateLink.relativePath: ")),
        "{notes:#?}"
    );
}

/// JSON with `//` and `/* */` comments, as ARM accepts it.
#[test]
fn a_template_with_comments_round_trips() {
    let value = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": common_parameters(),
        "resources": [ image("[parameters('name')]", shared_image()) ]
    });
    let mut value = value;
    value["parameters"]["name"] = json!({ "type": "string", "defaultValue": "commented" });
    let plain = serde_json::to_string_pretty(&value).expect("json");
    let mut text =
        String::from("// A template with comments.\n/* ARM reads them,\n   and so does aib. */\n");
    for line in plain.lines() {
        text.push_str(line);
        if line.trim_start().starts_with("\"contentVersion\"") {
            text.push_str(" // the version");
        }
        text.push('\n');
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "commented.jsonc", &text);
    let Outcome::RoundTrip { notes, .. } = round_trip(&f, &value, &[]) else {
        panic!("refused");
    };
    assert!(notes.iter().any(|n| n.contains("comments")), "{notes:#?}");
}

/// Two imageTemplates in one file: two variants, each template without the other (and without
/// what is scoped to the other).
#[test]
fn several_image_templates_become_one_variant_each() {
    let role = |name: &str| {
        json!({ "type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01",
                "scope": format!("[resourceId('Microsoft.VirtualMachineImages/imageTemplates', '{name}')]"),
                "name": format!("[guid('{name}')]"),
                "properties": { "principalId": "p", "roleDefinitionId": "r" },
                "dependsOn": [ format!("[resourceId('Microsoft.VirtualMachineImages/imageTemplates', '{name}')]") ] })
    };
    let mut windows = image("windows-base", shared_image());
    windows["properties"]["source"] = json!({ "type": "PlatformImage", "publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2022-datacenter-g2", "version": "latest" });
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": common_parameters(),
        "resources": [
            image("linux-base", shared_image()),
            windows,
            role("linux-base"),
            role("windows-base")
        ],
        "outputs": { "linux": { "type": "string", "value": "[resourceId('Microsoft.VirtualMachineImages/imageTemplates', 'linux-base')]" } }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "fleet.json", &template.to_string());
    let Outcome::RoundTrip { variants, .. } = round_trip(&f, &template, &[]) else {
        panic!("refused");
    };
    assert_eq!(variants, 2);
    let out = dir.path().join("o");
    let r = aib(
        dir.path(),
        &[
            "import",
            f.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let manifest = std::fs::read_to_string(out.join("aib.toml")).expect("aib.toml");
    assert!(
        manifest.contains("[variants.linux-base]\ntemplate = \"fleet-linux-base.json.j2\""),
        "{manifest}"
    );
    assert!(
        manifest.contains("[variants.windows-base]\ntemplate = \"fleet-windows-base.json.j2\""),
        "{manifest}"
    );
    let windows = std::fs::read_to_string(out.join("templates/fleet-windows-base.json.j2"))
        .expect("template");
    assert!(!windows.contains("linux-base"), "{windows}");
}

/// Nothing to template: the file is written as plain `.json`, exactly as the original (no `{{`
/// escapes), and renders exactly so apart from the name and aib's tags; `osDiskSizeGB: 0` is
/// "the source's size", not a setting.
#[test]
fn a_template_with_nothing_to_parameterise_stays_plain_json() {
    let mut it = image("[parameters('imageTemplateName')]", shared_image());
    it["properties"]["vmProfile"]["osDiskSizeGB"] = json!(0);
    it["properties"]["buildTimeoutInMinutes"] = json!("[parameters('timeout')]");
    let mut params = common_parameters();
    params["imageTemplateName"] = json!({ "type": "string" });
    params["timeout"] = json!({ "type": "int", "defaultValue": 120 });
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": params,
        "resources": [ it ]
    });
    round_trips(&template, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(
        dir.path(),
        "plain.json",
        &serde_json::to_string_pretty(&template).expect("json"),
    );
    let out = dir.path().join("o");
    let r = aib(
        dir.path(),
        &[
            "import",
            f.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let written = std::fs::read_to_string(out.join("templates/plain.json")).expect("plain .json");
    assert!(
        written.contains("docker ps --format '{{.Names}}'"),
        "{written}"
    );
    assert!(!written.contains("{{ '{{' }}"), "{written}");
    let manifest = std::fs::read_to_string(out.join("aib.toml")).expect("aib.toml");
    assert!(!manifest.contains("os_disk_gb"), "{manifest}");
    // aib's tags, as the built-in template has them, and nothing else changed.
    let rd = dir.path().join("r");
    let p = aib(
        dir.path(),
        &[
            "plan",
            out.join("aib.toml").to_str().expect("utf8"),
            "--render-dir",
            rd.to_str().expect("utf8"),
            "--format",
            "json",
        ],
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    let plan: Value = serde_json::from_str(&p.stdout).expect("plan json");
    let unit = &plan["units"][0];
    let name = unit["template_name"].as_str().expect("name");
    let rendered: Value = serde_json::from_str(
        &std::fs::read_to_string(rd.join(format!("{name}.json"))).expect("rendered"),
    )
    .expect("json");
    let tags = &rendered["resources"][0]["tags"];
    assert_eq!(tags["aib.pipeline"], plan["pipeline"]);
    assert_eq!(tags["aib.unit"], unit["id"]);
    assert_eq!(tags["aib.inputHash"], unit["input_hash"]);
    assert_eq!(
        rendered["resources"][0]["properties"]["distribute"][0]["artifactTags"],
        *tags
    );
    assert_eq!(
        rendered["resources"][0]["properties"]["customize"],
        template["resources"][0]["properties"]["customize"]
    );
}

/// A pinned api-version Azure still serves stays; one it retired is replaced, with a note
/// naming both.
#[test]
fn pinned_api_versions_stay_unless_azure_retired_them() {
    let mut params = common_parameters();
    params["api-version"] = json!({ "type": "string", "defaultValue": "2019-05-01-preview" });
    let mut it = image("served", shared_image());
    it["apiVersion"] = json!("[parameters('api-version')]");
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": params,
        "resources": [ it ]
    });
    let notes = round_trips(&template, &[]);
    assert!(
        !notes.iter().any(|n| n.contains("api-version")),
        "{notes:#?}"
    );

    let mut retired = template.clone();
    retired["resources"][0]["apiVersion"] = json!("2019-02-01-preview");
    let notes = round_trips(&retired, &[]);
    assert!(
        notes.contains(&"resources[0].apiVersion: api-version `2019-02-01-preview` of Microsoft.VirtualMachineImages/imageTemplates is no longer served by Azure: replaced by `2025-10-01`".to_string()),
        "{notes:#?}"
    );
}

/// Where the template breaks the current API: each said at its JSON path, nothing changed.
#[test]
fn api_breaks_are_noted_at_their_path() {
    let mut it = image(
        "old",
        json!([{ "type": "SharedImage", "galleryImageId": GALLERY_IMAGE, "runOutputName": "o", "replicationRegion": ["westeurope"] }]),
    );
    it.as_object_mut().map(|o| o.remove("identity"));
    it["properties"]["source"] = json!({ "type": "ISO", "sourceURI": "https://example.com/rhel.iso", "sha256Checksum": "00" });
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": common_parameters(),
        "resources": [ it ]
    });
    let notes = round_trips(&template, &[]);
    let api: Vec<&String> = notes
        .iter()
        .filter(|n| !n.contains("becomes the parameter"))
        .collect();
    insta::assert_debug_snapshot!(api, @r#"
    [
        "resources[0]: no `identity`: Image Builder has required a user-assigned identity since api-version 2020-02-14 and refuses the template without one; add `\"identity\": { \"type\": \"UserAssigned\", \"userAssignedIdentities\": { \"<identity id>\": {} } }` (aib's `identity` setting holds the id)",
        "resources[0].properties.source.type: `ISO`: Image Builder no longer builds from ISO images (retired with api-version 2020-02-14): use a `PlatformImage` (e.g. RHEL from Red Hat's marketplace offer), a `ManagedImage` or a `SharedImageVersion` source",
        "resources[0].properties.distribute[0].replicationRegion: `replicationRegion` is not a field of a `SharedImage` distributor (did you mean `replicationRegions`?); Image Builder refuses unknown fields",
    ]
    "#);
}

/// A deploymentScript that runs the build is left out, unless asked to keep it.
#[test]
fn build_running_deployment_scripts_are_left_out_unless_kept() {
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": common_parameters(),
        "resources": [
            image("scripted", shared_image()),
            { "type": "Microsoft.Resources/deploymentScripts", "apiVersion": "2020-10-01", "name": "build", "location": "westeurope",
              "kind": "AzureCLI",
              "properties": { "azCliVersion": "2.60.0", "retentionInterval": "P1D",
                              "scriptContent": "az image builder run -n scripted -g $RG" },
              "dependsOn": ["[resourceId('Microsoft.VirtualMachineImages/imageTemplates', 'scripted')]"] }
        ],
        "outputs": { "log": { "type": "string", "value": "[reference('build').outputs.text]" } }
    });
    let notes = round_trips(&template, &[]);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("resources[1]: ") && n.contains("left out")),
        "{notes:#?}"
    );
    assert!(
        notes.iter().any(|n| n.starts_with("outputs.log: ")),
        "{notes:#?}"
    );
    let notes = round_trips(&template, &["--keep-deployment-scripts"]);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("resources[1]: ") && n.contains("kept")),
        "{notes:#?}"
    );
}

/// A reference the rename cannot follow: nothing is written, exit 2, the path named.
#[test]
fn a_reference_the_rename_cannot_follow_refuses_the_import() {
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": { "prefix": { "type": "string", "defaultValue": "a" } },
        "resources": [
            image("[concat(parameters('prefix'), '-img')]", shared_image()),
            { "type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01", "name": "[guid('x')]",
              "scope": "[resourceId('Microsoft.VirtualMachineImages/imageTemplates', format('{0}-img', parameters('prefix')))]",
              "properties": { "principalId": "p", "roleDefinitionId": "r" } }
        ]
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "refs.json", &template.to_string());
    let out = dir.path().join("o");
    let r = aib(
        dir.path(),
        &["import", "refs.json", "--out", out.to_str().expect("utf8")],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!out.join("aib.toml").exists());
    insta::assert_snapshot!(r.stderr.replace(&f.display().to_string(), "refs.json"), @"error: refs.json: resources[1].scope: refers to an imageTemplate by the name `format('{0}-img', parameters('prefix'))`, which is not the template's own name `[concat(parameters('prefix'), '-img')]` as written: aib names each template itself, so after the rename ARM would look for a template that does not exist. The template is not renamed and not imported; write the reference with the same expression as the template's `name`");
}

/// Secure parameters without a value are read from the environment when building, never
/// written anywhere.
#[test]
fn secure_parameters_become_secrets() {
    let mut params = common_parameters();
    params["sasToken"] = json!({ "type": "secureString" });
    let mut it = image("secure", shared_image());
    it["properties"]["customize"][0]["inline"] =
        json!(["[format('curl -o x \"https://x/y?{0}\"', parameters('sasToken'))]"]);
    let template = json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": params,
        "resources": [ it ]
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let f = write(dir.path(), "secure.json", &template.to_string());
    let out = dir.path().join("o");
    let r = aib(
        dir.path(),
        &[
            "import",
            f.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let manifest = std::fs::read_to_string(out.join("aib.toml")).expect("aib.toml");
    assert!(
        manifest.contains("[variants.image.secrets]\nsasToken = \"env:AIB_SECRET_SASTOKEN\""),
        "{manifest}"
    );
    round_trips(&template, &[]);
}

/// What is not a template, or not JSON, or too big, is refused with exit 2 and a reason.
#[test]
fn hostile_files_are_refused_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.json", Vec::new(), "is not valid JSON"),
        ("list.json", b"[]".to_vec(), "not a JSON object"),
        (
            "number.json",
            br#"{"resources": 5}"#.to_vec(),
            "neither a list nor",
        ),
        (
            "none.json",
            br#"{"resources": []}"#.to_vec(),
            "no Microsoft.VirtualMachineImages/imageTemplates",
        ),
        ("binary.json", vec![0xff, 0xfe, 0x00, 0x7b], "cannot read"),
        (
            "deep.json",
            format!("// x\n{}", "[".repeat(100_000)).into_bytes(),
            "is not valid JSON",
        ),
        (
            "comma.json",
            b"{ // c\n \"a\": 1, }".to_vec(),
            "Trailing commas are not allowed",
        ),
        (
            "big.json",
            vec![b' '; 33 * 1024 * 1024],
            "larger than 32 MiB",
        ),
    ];
    for (name, bytes, why) in cases {
        std::fs::write(dir.path().join(name), bytes).expect("write");
        let out = dir.path().join(format!("out-{name}"));
        let r = aib(
            dir.path(),
            &["import", name, "--out", out.to_str().expect("utf8")],
        );
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert!(r.stderr.contains(why), "{name}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{name}: {}", r.stderr);
        assert!(!out.join("aib.toml").exists(), "{name}");
    }
}
