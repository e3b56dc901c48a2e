//! Test manifests written to a temp dir with the files they reference.

use std::path::{Path, PathBuf};

use aib_manifest::{Manifest, ManifestError};
use aib_planner::{Date, Plan, PlanError, PlanOptions, Selection};

pub const SMALL: &str = r#"
version = 1

[pipeline]
name = "avd"

[defaults]
location = "eastus2"
resource_group = "rg-avd-{{ env }}-images-{{ location }}"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib-{{ env }}"
gallery = { name = "gal_avd_{{ env }}" }
tags = { owner = "platform" }

[defaults.secrets]
admin_password = "env:AIB_ADMIN_PASSWORD"

[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"

[environments.prod]
subscription = "00000000-0000-0000-0000-000000000002"
replicate_to = ["eastus2", "westus3"]
after = ["dev"]

[variants.win11]
image_definition = "win11-24h2"
source = { platform = "MicrosoftWindowsDesktop:office-365:win11-24h2-avd-m365:latest" }
customize = [
  { type = "powershell", name = "fslogix", script = "scripts/fslogix.ps1", run_elevated = true },
  { type = "windows-restart", name = "restart" },
]

[variants.win11-dev]
image_definition = "win11-24h2-dev"
source = { variant = "win11" }
environments = ["dev"]
customize = [ { type = "powershell", name = "devtools", inline = ["choco install -y git", "echo {{ env }}"] } ]

[variants.ubuntu]
image_definition = "ubuntu-{{ matrix.release }}"
source = { platform = "Canonical:{{ matrix.offer }}:{{ matrix.sku }}:latest" }
customize = [ { type = "shell", name = "harden", script = "scripts/harden.sh" } ]
version = "1.{{ matrix.release }}.{{ run.seq }}"
[variants.ubuntu.matrix]
release = ["2204", "2404"]
include = [
  { release = "2204", offer = "0001-com-ubuntu-server-jammy", sku = "22_04-lts-gen2" },
  { release = "2404", offer = "ubuntu-24_04-lts", sku = "server" },
]

[variants.ubuntu.environments.prod]
vm_size = "Standard_D8s_v5"
"#;

/// A temp dir holding a manifest and its scripts.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new(manifest: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let f = Self { dir };
        f.write("scripts/fslogix.ps1", "Write-Host fslogix\n");
        f.write("scripts/harden.sh", "#!/bin/sh\necho harden\n");
        f.write("aib.toml", manifest);
        f
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write");
    }

    pub fn manifest(&self) -> Manifest {
        load(
            self.dir.path(),
            &std::fs::read_to_string(self.path("aib.toml")).expect("read"),
        )
        .unwrap_or_else(|e| panic!("manifest invalid: {e:?}"))
    }

    pub fn plan(&self, options: &PlanOptions) -> Result<Plan, PlanError> {
        aib_planner::plan(&self.manifest(), options)
    }
}

pub fn load(dir: &Path, text: &str) -> Result<Manifest, ManifestError> {
    Manifest::from_str(Path::new("aib.toml"), dir, text.to_string())
}

pub fn options() -> PlanOptions {
    PlanOptions {
        selection: Selection::all(),
        set: Vec::new(),
        today: Date::new(2026, 1, 5),
    }
}

pub fn plan_ok(text: &str) -> Plan {
    Fixture::new(text)
        .plan(&options())
        .unwrap_or_else(|e| panic!("plan failed: {}", messages(&e).join("\n")))
}

pub fn plan_err(text: &str, options: &PlanOptions) -> Vec<String> {
    match Fixture::new(text).plan(options) {
        Ok(_) => panic!("expected an error"),
        Err(e) => messages(&e),
    }
}

/// `message [at aib.toml:L:C] (help)` of every diagnostic.
pub fn messages(e: &PlanError) -> Vec<String> {
    e.diagnostics
        .items
        .iter()
        .map(|d| {
            let mut s = d.message.clone();
            if let Some(loc) = d.location() {
                s.push_str(&format!(" [at {loc}]"));
            }
            if let Some(h) = &d.help {
                s.push_str(&format!(" ({h})"));
            }
            s
        })
        .collect()
}

pub fn ids(plan: &Plan) -> Vec<String> {
    plan.units().iter().map(|u| u.id.to_string()).collect()
}
