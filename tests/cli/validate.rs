//! `aib validate`: the examples pass; every class of manifest error is reported with
//! file:line:col, a snippet and a hint, all problems at once, exit code 2.

use super::support::{aib, manifest_dir, repo_root};

#[test]
fn examples_are_valid() {
    for example in ["avd", "linux-fleet"] {
        let dir = repo_root().join("pipelines").join(example);
        let out = aib(&dir, &["validate"]);
        assert_eq!(out.code, 0, "{example}: {}", out.stderr);
        assert!(out.stdout.contains("valid"), "{}", out.stdout);
    }
}

#[test]
fn missing_manifest_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = aib(dir.path(), &["validate"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("cannot read manifest aib.toml"),
        "{}",
        out.stderr
    );
}

const GOOD_HEAD: &str = r#"version = 1
[pipeline]
name = "demo"
[defaults]
location = "eastus2"
resource_group = "rg-{{ env }}"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
gallery = { name = "gal", resource_group = "rg-{{ env }}" }
[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"
"#;

fn errors_of(text: &str, files: &[(&str, &str)]) -> String {
    let dir = manifest_dir(text, files);
    let out = aib(dir.path(), &["validate"]);
    assert_eq!(out.code, 2, "expected exit 2, stderr: {}", out.stderr);
    out.stderr
}

#[test]
fn malformed_toml() {
    insta::assert_snapshot!(errors_of("version = 1\n[pipeline\nname = \"x\"\n", &[]));
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(errors_of(
        &format!(
            "{GOOD_HEAD}[variants.v]\nimage_definition = \"d\"\nsource = {{ platform = \"a:b:c:latest\" }}\nos_disk_gb = \"big\"\n"
        ),
        &[]
    ));
}

#[test]
fn unknown_keys_are_all_reported_with_hints() {
    let text = format!(
        "{GOOD_HEAD}vmsize = \"x\"\n[variants.v]\nimage_definition = \"d\"\nsource = {{ platform = \"a:b:c:latest\" }}\ncustomize = [ {{ type = \"shell\", name = \"s\", inlne = [\"echo\"] }} ]\n[variants.v.matrix]\nx = [1]\n[schedules.n]\ncron = \"0 2 * * *\"\ntimezon = \"UTC\"\n"
    );
    insta::assert_snapshot!(errors_of(&text, &[]));
}

#[test]
fn semantic_errors_are_collected() {
    let text = format!(
        r#"{GOOD_HEAD}build_timeout_minutes = 3
[environments.prod]
subscription = "00000000-0000-0000-0000-000000000002"
after = ["dve"]
[defaults.secrets]
pw = "env:1BAD"
kv = "keyvault:https://kv.vault.azure.net/keys/x"
[variants.base]
image_definition = "d"
source = {{ platform = "MicrosoftWindowsDesktop:office-365:latest" }}
customize = [
  {{ type = "windows-restart", name = "r", run_elevated = true }},
  {{ type = "shell", name = "s", script = "scripts/missing.sh" }},
  {{ type = "file", name = "f", destination = "/tmp/x" }},
]
[variants.child]
image_definition = "c"
source = {{ variant = "bsae" }}
environments = ["qa"]
[variants.templated]
image_definition = "t"
template = "missing.json.j2"
source = {{ platform = "a:b:c:latest" }}
[schedules.nightly]
cron = "0 25 * * *"
timezone = "Europe/Berln"
variants = ["[unclosed"]
"#
    );
    insta::assert_snapshot!(errors_of(&text, &[]));
}

#[test]
fn warnings_do_not_fail_validation() {
    let text = format!(
        "{GOOD_HEAD}[variants.v]\nimage_definition = \"d\"\nsource = {{ platform = \"a:b:c:latest\" }}\n[schedules.n]\ncron = \"0 2 * * *\"\nvariants = [\"nomatch*\"]\n"
    );
    let dir = manifest_dir(&text, &[]);
    let out = aib(dir.path(), &["validate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("matches no variant"), "{}", out.stderr);
}

#[test]
fn names_that_differ_only_in_case_are_refused() {
    let text = format!(
        "{GOOD_HEAD}[environments.Dev]\nsubscription = \"00000000-0000-0000-0000-000000000002\"\n[variants.web]\nimage_definition = \"d\"\nsource = {{ platform = \"a:b:c:latest\" }}\n[variants.WEB]\nimage_definition = \"e\"\nsource = {{ platform = \"a:b:c:latest\" }}\n"
    );
    insta::assert_snapshot!(errors_of(&text, &[]));
}

#[test]
fn schedules_more_frequent_than_ci_can_run_are_warned_about() {
    let text = format!(
        "{GOOD_HEAD}[variants.v]\nimage_definition = \"d\"\nsource = {{ platform = \"a:b:c:latest\" }}\n[schedules.often]\ncron = \"*/2 * * * *\"\n[schedules.hourly]\ncron = \"0 * * * *\"\n[schedules.weekday-burst]\ncron = \"0,7 9 * * 1-5\"\n"
    );
    let dir = manifest_dir(&text, &[]);
    let out = aib(dir.path(), &["validate"]);
    assert_eq!(
        out.code, 0,
        "a warning does not fail validation: {}",
        out.stderr
    );
    insta::assert_snapshot!(out.stderr);
}

#[test]
fn an_environment_cap_above_the_overall_one_is_said() {
    let text = format!(
        "{GOOD_HEAD}max_parallel = 50\n[variants.v]\nimage_definition = \"d\"\nsource = {{ platform = \"a:b:c:latest\" }}\n"
    );
    let dir = manifest_dir(&text, &[]);
    let out = aib(dir.path(), &["validate"]);
    assert_eq!(out.code, 0, "a warning: {}", out.stderr);
    insta::assert_snapshot!(out.stderr);
    let raised = text.replace("name = \"demo\"", "name = \"demo\"\nmax_parallel = 50");
    let dir = manifest_dir(&raised, &[]);
    let out = aib(dir.path(), &["validate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("max-parallel"), "{}", out.stderr);
    let zero = text.replace("name = \"demo\"", "name = \"demo\"\nmax_parallel = 0");
    insta::assert_snapshot!("pipeline_max_parallel_zero", errors_of(&zero, &[]));
}
