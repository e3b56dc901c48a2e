//! The generated manifest of the planning benchmark (`benches/plan.rs` at the workspace root)
//! and of the `large` example: E environments (a promotion chain via `after`) × V variants (a
//! chain of variants built from variants) × a 4×5 matrix.

use std::path::Path;

use aib_manifest::Manifest;

/// Environments × variants for a unit count (20 matrix rows per variant).
pub fn shape(units: usize) -> (usize, usize) {
    match units {
        1_000 => (1, 50),
        10_000 => (10, 50),
        100_000 => (50, 100),
        n => ((n / 1000).max(1), 50),
    }
}

/// Writes the manifest (and the script every variant runs) into `dir` and loads it.
pub fn generate(dir: &Path, envs: usize, variants: usize) -> Manifest {
    write(dir, envs, variants);
    Manifest::load(&dir.join("aib.toml")).expect("valid manifest")
}

/// Writes the manifest as `dir/aib.toml` and the script every variant runs.
pub fn write(dir: &Path, envs: usize, variants: usize) {
    let mut m = String::from(
        r#"version = 1
[pipeline]
name = "bench"
[defaults]
location = "eastus2"
resource_group = "rg-{{ pipeline }}-{{ env }}-{{ location }}"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id-{{ env }}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib-{{ env }}"
image_definition = "{{ variant }}-{{ matrix.os }}-{{ matrix.size }}"
gallery = { name = "gal_{{ env }}" }
vm_size = "Standard_D4s_v5"
tags = { owner = "platform", env = "{{ env }}", variant = "{{ variant }}" }
customize = [
  { type = "shell", name = "harden", script = "scripts/harden.sh" },
  { type = "shell", name = "inline", inline = ["echo {{ env }} {{ variant }}", "echo {{ matrix.os }}"] },
]
[defaults.secrets]
admin = "env:AIB_ADMIN"
"#,
    );
    for e in 0..envs {
        m.push_str(&format!(
            "[environments.e{e}]\nsubscription = \"00000000-0000-0000-0000-{e:012}\"\n"
        ));
        if e > 0 {
            m.push_str(&format!("after = [\"e{}\"]\n", e - 1));
        }
    }
    for v in 0..variants {
        m.push_str(&format!("[variants.v{v}]\n"));
        if v == 0 {
            m.push_str(
                "source = { platform = \"Canonical:ubuntu-24_04-lts:{{ matrix.os }}:latest\" }\n",
            );
        } else {
            m.push_str(&format!("source = {{ variant = \"v{}\" }}\n", v - 1));
        }
        m.push_str(&format!(
            "[variants.v{v}.matrix]\nos = [\"a\", \"b\", \"c\", \"d\"]\nsize = [1, 2, 3, 4, 5]\n"
        ));
    }
    let scripts = dir.join("scripts");
    std::fs::create_dir_all(&scripts).expect("mkdir");
    std::fs::write(scripts.join("harden.sh"), "#!/bin/sh\necho harden\n").expect("write");
    std::fs::write(dir.join("aib.toml"), &m).expect("write");
}
