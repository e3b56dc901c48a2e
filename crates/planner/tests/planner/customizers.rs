//! The serialized form of resolved customizers and validations: what the input hash digests and
//! user templates see as `settings`. Pinned key by key (one flat object per step, every key of
//! every type, `null` where the type has none), so that a change of the Rust types cannot
//! change it, nor the input hashes stored in users' state.

use crate::fixture::{Fixture, options};

const EVERY_KIND: &str = r#"
version = 1

[pipeline]
name = "kinds"

[defaults]
subscription = "00000000-0000-0000-0000-000000000001"
location = "eastus2"
resource_group = "rg-{{ env }}"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
gallery = { name = "gal" }

[environments.dev]

[variants.all]
image_definition = "all"
source = { platform = "MicrosoftWindowsServer:WindowsServer:2022-datacenter-g2:latest" }
customize = [
  { type = "shell", name = "sh-file", script = "scripts/harden.sh" },
  { type = "shell", inline = ["echo {{ env }}", "true"] },
  { type = "shell", name = "sh-uri", script_uri = "https://example.com/s.sh", sha256_checksum = "abc" },
  { type = "powershell", name = "ps-all", script = "scripts/fslogix.ps1", run_elevated = true, run_as_system = false, valid_exit_codes = [0, 3010] },
  { type = "powershell", name = "ps-bare", inline = ["Write-Host hi"] },
  { type = "file", name = "f", source_uri = "https://example.com/{{ env }}.txt", destination = "C:\\f.txt", sha256_checksum = "def" },
  { type = "windows-restart", name = "restart", restart_command = "shutdown /r", restart_check_command = "echo ok", restart_timeout = "10m" },
  { type = "windows-restart" },
  { type = "windows-update", name = "wu", search_criteria = "IsInstalled=0", filters = ["exclude:$_.Title -like '*Preview*'", "include:$true"], update_limit = 40 },
  { type = "windows-update" },
]
validate = { continue_distribute_on_failure = true, in_vm_validations = [
  { type = "shell", name = "check", script = "scripts/harden.sh" },
  { type = "powershell", inline = ["exit 0"], valid_exit_codes = [0] },
  { type = "file", source_uri = "https://example.com/v", destination = "/tmp/v" },
] }
"#;

const NO_FILE: &str = r#""source_uri":null,"destination":null"#;
const NO_RESTART: &str =
    r#""restart_command":null,"restart_check_command":null,"restart_timeout":null"#;
const NO_UPDATE: &str = r#""search_criteria":null,"filters":null,"update_limit":null"#;
const NO_PS: &str = r#""run_elevated":null,"run_as_system":null,"valid_exit_codes":null"#;
const NO_SCRIPT: &str = r#""script":null,"inline":null,"script_uri":null"#;

fn step(head: &str, tail: &str) -> String {
    format!("{{{head},{tail}}}")
}

fn expected_customize() -> Vec<String> {
    vec![
        step(
            r#""kind":"shell","name":"sh-file","script":{"path":"scripts/harden.sh"},"inline":null,"script_uri":null,"sha256_checksum":null"#,
            &[NO_PS, NO_FILE, NO_RESTART, NO_UPDATE].join(","),
        ),
        step(
            r#""kind":"shell","name":"shell#2","script":null,"inline":["echo dev","true"],"script_uri":null,"sha256_checksum":null"#,
            &[NO_PS, NO_FILE, NO_RESTART, NO_UPDATE].join(","),
        ),
        step(
            r#""kind":"shell","name":"sh-uri","script":null,"inline":null,"script_uri":"https://example.com/s.sh","sha256_checksum":"abc""#,
            &[NO_PS, NO_FILE, NO_RESTART, NO_UPDATE].join(","),
        ),
        step(
            r#""kind":"powershell","name":"ps-all","script":{"path":"scripts/fslogix.ps1"},"inline":null,"script_uri":null,"sha256_checksum":null,"run_elevated":true,"run_as_system":false,"valid_exit_codes":[0,3010]"#,
            &[NO_FILE, NO_RESTART, NO_UPDATE].join(","),
        ),
        step(
            r#""kind":"powershell","name":"ps-bare","script":null,"inline":["Write-Host hi"],"script_uri":null,"sha256_checksum":null"#,
            &[NO_PS, NO_FILE, NO_RESTART, NO_UPDATE].join(","),
        ),
        step(
            &format!(
                r#""kind":"file","name":"f",{NO_SCRIPT},"sha256_checksum":"def",{NO_PS},"source_uri":"https://example.com/dev.txt","destination":"C:\\f.txt""#
            ),
            &[NO_RESTART, NO_UPDATE].join(","),
        ),
        step(
            &format!(
                r#""kind":"windows-restart","name":"restart",{NO_SCRIPT},"sha256_checksum":null,{NO_PS},{NO_FILE},"restart_command":"shutdown /r","restart_check_command":"echo ok","restart_timeout":"10m""#
            ),
            NO_UPDATE,
        ),
        step(
            &format!(
                r#""kind":"windows-restart","name":"windows-restart#8",{NO_SCRIPT},"sha256_checksum":null,{NO_PS},{NO_FILE},{NO_RESTART}"#
            ),
            NO_UPDATE,
        ),
        step(
            &format!(
                r#""kind":"windows-update","name":"wu",{NO_SCRIPT},"sha256_checksum":null,{NO_PS},{NO_FILE},{NO_RESTART}"#
            ),
            r#""search_criteria":"IsInstalled=0","filters":["exclude:$_.Title -like '*Preview*'","include:$true"],"update_limit":40"#,
        ),
        step(
            &format!(
                r#""kind":"windows-update","name":"windows-update#10",{NO_SCRIPT},"sha256_checksum":null,{NO_PS},{NO_FILE},{NO_RESTART}"#
            ),
            NO_UPDATE,
        ),
    ]
}

fn expected_validate() -> String {
    let steps = [
        step(
            r#""kind":"shell","name":"check","script":{"path":"scripts/harden.sh"},"inline":null,"script_uri":null,"sha256_checksum":null"#,
            &[NO_PS, NO_FILE, NO_RESTART, NO_UPDATE].join(","),
        ),
        step(
            r#""kind":"powershell","name":"powershell#2","script":null,"inline":["exit 0"],"script_uri":null,"sha256_checksum":null,"run_elevated":null,"run_as_system":null,"valid_exit_codes":[0]"#,
            &[NO_FILE, NO_RESTART, NO_UPDATE].join(","),
        ),
        step(
            &format!(
                r#""kind":"file","name":"file#3",{NO_SCRIPT},"sha256_checksum":null,{NO_PS},"source_uri":"https://example.com/v","destination":"/tmp/v""#
            ),
            &[NO_RESTART, NO_UPDATE].join(","),
        ),
    ];
    format!(
        r#"{{"in_vm_validations":[{}],"continue_distribute_on_failure":true,"source_validation_only":null}}"#,
        steps.join(",")
    )
}

#[test]
fn every_kind_serializes_as_one_flat_object_with_every_key() {
    let f = Fixture::new(EVERY_KIND);
    let plan = f.plan(&options()).unwrap_or_else(|e| panic!("{e}"));
    let [unit] = plan.units() else {
        panic!("one unit expected");
    };
    let s = &unit.settings;
    let got: Vec<String> = s
        .customize
        .iter()
        .map(|c| serde_json::to_string(c).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let want = expected_customize();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    let validate = serde_json::to_string(&s.validate).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(validate, expected_validate());
    let files: Vec<&str> = s.local_files().iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        files,
        [
            "scripts/harden.sh",
            "scripts/fslogix.ps1",
            "scripts/harden.sh"
        ]
    );
    // The digest of all of it (with the scripts' bytes): stored in users' state, so pinned.
    assert_eq!(
        unit.input_hash.preview(),
        "sha256:61c07fba67230cac48c8f069b67c700fdbdb4f9a9464f32a5cbb2b8785a172a6"
    );
}

/// A Windows image is known by its publisher, by its offer (CIS's hardened Windows images come
/// from a publisher without "windows" in its name), or by a customizer only Windows runs.
#[test]
fn windows_images_are_known_by_publisher_offer_or_customizer() {
    let manifest = |source: &str, customize: &str| {
        format!(
            r#"
version = 1
[pipeline]
name = "win"
[defaults]
subscription = "00000000-0000-0000-0000-000000000001"
location = "eastus2"
resource_group = "rg"
identity = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
gallery = {{ name = "gal" }}
[environments.dev]
[variants.v]
image_definition = "v"
source = {{ platform = "{source}" }}
customize = [{customize}]
"#
        )
    };
    let windows = |source: &str, customize: &str| {
        let plan = crate::fixture::plan_ok(&manifest(source, customize));
        plan.units()[0].settings.is_windows()
    };
    let shell = r#"{ type = "shell", inline = ["true"] }"#;
    assert!(windows(
        "MicrosoftWindowsServer:WindowsServer:2022-datacenter-g2:latest",
        shell
    ));
    assert!(windows(
        "center-for-internet-security-inc:cis-windows-server-2022-l1:cis-windows-server-2022-l1-gen2:latest",
        shell
    ));
    assert!(windows(
        "Canonical:ubuntu-24_04-lts:server:latest",
        r#"{ type = "windows-restart" }"#
    ));
    assert!(!windows("Canonical:ubuntu-24_04-lts:server:latest", shell));
}
