//! `aib plan` end to end: the examples plan in every format, selection and `--set` work, and
//! planning errors (cycles, undefined template names, bad selections) exit 2 naming the problem.

use super::support::{aib, manifest_dir, repo_root};

fn example(name: &str) -> std::path::PathBuf {
    repo_root().join("pipelines").join(name)
}

#[test]
fn avd_plan_text() {
    let out = aib(&example("avd"), &["plan"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn linux_fleet_plan_mermaid_and_dot() {
    let out = aib(&example("linux-fleet"), &["plan", "--format", "mermaid"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("flowchart"), "{}", out.stdout);
    let out = aib(&example("linux-fleet"), &["plan", "--format", "dot"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("digraph"), "{}", out.stdout);
    assert_eq!(out.stdout.matches("->").count(), 7, "{}", out.stdout);
}

fn plan_json(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["plan", "--format", "json"];
    args.extend_from_slice(extra);
    let out = aib(dir, &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).expect("plan json")
}

#[test]
fn selection_and_set() {
    let all = plan_json(&example("linux-fleet"), &[]);
    assert_eq!(all["units"].as_array().map(Vec::len), Some(10));
    let prod = plan_json(
        &example("linux-fleet"),
        &["--env", "production", "--variant", "ubuntu-*"],
    );
    let ids: Vec<&str> = prod["units"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["id"].as_str())
        .collect();
    assert_eq!(ids, ["production/ubuntu-docker[release=2404]"]);
    // A dependency outside the selection is not in depends_on.
    assert_eq!(prod["units"][0]["depends_on"], serde_json::json!([]));

    let set = plan_json(
        &example("linux-fleet"),
        &["--set", "vm_size=Standard_D16s_v5", "--set", "tags.team=x"],
    );
    let before: Vec<&str> = all["units"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["template_name"].as_str())
        .collect();
    let after: Vec<&str> = set["units"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["template_name"].as_str())
        .collect();
    assert_eq!(before.len(), after.len());
    assert!(
        before.iter().zip(&after).all(|(a, b)| a != b),
        "--set must change every unit's input hash"
    );
}

#[test]
fn plans_are_stable_across_runs_and_formatting() {
    let a = plan_json(&example("avd"), &[]);
    let b = plan_json(&example("avd"), &[]);
    assert_eq!(a, b);
    // Reformatting the manifest (comments, spacing) keeps every input hash.
    let text = std::fs::read_to_string(example("avd").join("aib.toml")).expect("read");
    let reformatted: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.replace(" = ", "="))
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("aib.toml"), reformatted).expect("write");
    copy_dir(&example("avd").join("scripts"), &dir.path().join("scripts"));
    let c = plan_json(dir.path(), &[]);
    let hashes = |v: &serde_json::Value| -> Vec<String> {
        v["units"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| u["input_hash"].to_string())
            .collect()
    };
    assert_eq!(hashes(&a), hashes(&c));
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

const HEAD: &str = r#"version = 1
[pipeline]
name = "demo"
[defaults]
location = "eastus2"
resource_group = "rg-{{ env }}"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
gallery = { name = "gal" }
[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"
"#;

fn plan_errors(text: &str, args: &[&str]) -> String {
    let dir = manifest_dir(text, &[]);
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    let out = aib(dir.path(), &all);
    assert_eq!(
        out.code, 2,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    out.stderr
}

#[test]
fn cycle_names_every_unit() {
    let text = format!(
        "{HEAD}[variants.a]\nimage_definition = \"a\"\nsource = {{ variant = \"c\" }}\n[variants.b]\nimage_definition = \"b\"\nsource = {{ variant = \"a\" }}\n[variants.c]\nimage_definition = \"c\"\nsource = {{ variant = \"b\" }}\n"
    );
    let err = plan_errors(&text, &[]);
    for unit in ["dev/a", "dev/b", "dev/c"] {
        assert!(err.contains(unit), "{unit} missing from: {err}");
    }
    assert!(err.contains("cycle"), "{err}");
}

#[test]
fn undefined_template_name_names_unit_key_and_name() {
    let text = format!(
        "{HEAD}[variants.a]\nimage_definition = \"img-{{{{ matrix.arch }}}}\"\nsource = {{ platform = \"a:b:c:latest\" }}\n"
    );
    let err = plan_errors(&text, &[]);
    assert!(err.contains("dev/a"), "{err}");
    assert!(err.contains("image_definition"), "{err}");
    assert!(err.contains("arch") || err.contains("matrix"), "{err}");
    assert!(err.contains("aib.toml:"), "no file:line:col in {err}");
}

#[test]
fn selection_matching_nothing_is_an_error() {
    let text = format!(
        "{HEAD}[variants.a]\nimage_definition = \"a\"\nsource = {{ platform = \"a:b:c:latest\" }}\n"
    );
    let err = plan_errors(&text, &["--env", "prod"]);
    assert!(err.contains("prod"), "{err}");
}

#[test]
fn unknown_set_key_gets_a_hint() {
    let text = format!(
        "{HEAD}[variants.a]\nimage_definition = \"a\"\nsource = {{ platform = \"a:b:c:latest\" }}\n"
    );
    let err = plan_errors(&text, &["--set", "vmsize=x"]);
    assert!(err.contains("vm_size"), "{err}");
}

/// A reader that stops early (`aib plan --format json | head`) ends the command quietly: no
/// panic, exit 0, and what it read is the start of the plan.
#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::Read;
    let rows: Vec<String> = (0..400).map(|i| format!("\"{i}\"")).collect();
    let dir = manifest_dir(
        &format!(
            r#"
version = 1
[pipeline]
name = "many"
[defaults]
location = "eastus2"
resource_group = "rg"
identity = "/subscriptions/{{{{ subscription }}}}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
gallery = {{ name = "gal" }}
source = {{ platform = "Canonical:ubuntu-24_04-lts:server:latest" }}
customize = [ {{ type = "shell", name = "s", inline = ["true"] }} ]
[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"
[variants.img]
image_definition = "img-{{{{ matrix.n }}}}"
[variants.img.matrix]
n = [{}]
"#,
            rows.join(", ")
        ),
        &[],
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aib"))
        .args(["plan", "--format", "json"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn aib plan");
    let mut head = [0u8; 64];
    let mut stdout = child.stdout.take().expect("stdout");
    stdout
        .read_exact(&mut head)
        .expect("the plan's first bytes");
    // The plan (about 250 KB) is far more than a pipe holds: closing it makes the rest fail.
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(String::from_utf8_lossy(&head).starts_with("{\n  \"version\": 1,"));
}
