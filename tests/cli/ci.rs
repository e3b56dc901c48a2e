//! `aib plan --format github-matrix` and `aib ci github|azure-pipelines`: the generated files
//! parse (JSON, YAML; GitHub workflows pass actionlint), tick on a cron starting due schedules
//! and advancing unfinished runs on one shared state, and start detached builds by hand.

use yaml_rust2::{Yaml, YamlLoader};

use crate::support::{aib, repo_root};

fn yaml(text: &str) -> Yaml {
    let mut docs = YamlLoader::load_from_str(text).expect("generated YAML parses");
    assert_eq!(docs.len(), 1, "one YAML document");
    docs.remove(0)
}

fn keys(y: &Yaml) -> Vec<String> {
    y.as_hash()
        .map(|h| {
            h.keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn strs(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn github_matrix_shards_by_environment_and_by_connected_component() {
    let root = repo_root();
    let out = aib(
        &root,
        &[
            "plan",
            "pipelines/avd/aib.toml",
            "--format",
            "github-matrix",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let include = v["include"].as_array().expect("include");
    let envs: Vec<&str> = include
        .iter()
        .filter_map(|e| e["environment"].as_str())
        .collect();
    assert_eq!(envs, ["dev", "test", "prod"]);
    assert_eq!(include[0]["select"], "--env dev");
    assert_eq!(include[2]["needs"], serde_json::json!(["test"]));
    let total: u64 = include.iter().filter_map(|e| e["units"].as_u64()).sum();

    // By connected component: a unit with the units it waits for, each shard with its own
    // state prefix; the 10 Linux units form 4 components (ubuntu-docker joins 2404/x64).
    let out = aib(
        &root,
        &[
            "plan",
            "pipelines/linux-fleet/aib.toml",
            "--format",
            "github-matrix",
            "--shard-by",
            "component",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let include = v["include"].as_array().expect("include");
    assert_eq!(include.len(), 4);
    let units: u64 = include.iter().filter_map(|e| e["units"].as_u64()).sum();
    assert_eq!(units, 10);
    let docker = include
        .iter()
        .find(|e| {
            e["select"]
                .as_str()
                .is_some_and(|s| s.contains("ubuntu-docker"))
        })
        .expect("the docker shard");
    // Unit ids carry brackets (a shell glob): the select arguments are quoted.
    assert_eq!(
        docker["select"],
        "--unit 'staging/ubuntu[release=2404,arch=x64]' --unit 'staging/ubuntu-docker[release=2404]' --unit 'production/ubuntu[release=2404,arch=x64]' --unit 'production/ubuntu-docker[release=2404]'"
    );
    let key = docker["shard"].as_str().expect("shard key");
    assert_eq!(docker["state_prefix"], format!("shards/{key}"));
    assert!(!out.stdout.contains("template_name"), "{}", out.stdout);

    // `unit`, the old name, gives the same shards and says so.
    let old = aib(
        &root,
        &[
            "plan",
            "pipelines/linux-fleet/aib.toml",
            "--format",
            "github-matrix",
            "--shard-by",
            "unit",
        ],
    );
    assert_eq!(old.code, 0, "{}", old.stderr);
    assert_eq!(old.stdout, out.stdout);
    assert!(
        old.stderr
            .contains("warning: --shard-by unit is now --shard-by component"),
        "{}",
        old.stderr
    );

    // The environment shards of the AVD plan add up to its units.
    let out = aib(
        &root,
        &["plan", "pipelines/avd/aib.toml", "--format", "json"],
    );
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(
        plan["units"].as_array().map(|u| u.len() as u64),
        Some(total)
    );
}

/// Runs actionlint on a generated workflow: the one on PATH, else the PyPI build the test
/// helper installs; where neither can be had, says so (the parser checks below still run).
fn actionlint(text: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("aib.yml");
    std::fs::write(&file, text).expect("write");
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    match aib_testkit::actionlint::actionlint(cache) {
        Ok(bin) => {
            if let Err(findings) = aib_testkit::actionlint::lint(&bin, &file) {
                panic!("actionlint:\n{findings}\n{text}");
            }
        }
        Err(why) => eprintln!("actionlint unavailable ({why}): checked with the YAML parser only"),
    }
}

fn runs_of(job: &Yaml) -> Vec<String> {
    job["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .filter_map(|s| s["run"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn github_workflow_ticks_and_starts_detached_builds_by_hand() {
    let root = repo_root();
    let out = aib(
        &root,
        &[
            "ci",
            "github",
            "pipelines/avd/aib.toml",
            "--state",
            "azblob://acct/aib/avd",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    actionlint(&out.stdout);
    let doc = yaml(&out.stdout);
    assert_eq!(keys(&doc["jobs"]), ["tick", "manual"]);
    let crons: Vec<&str> = doc["on"]["schedule"]
        .as_vec()
        .expect("schedule")
        .iter()
        .filter_map(|t| t["cron"].as_str())
        .collect();
    assert_eq!(crons, ["*/15 * * * *"], "one tick every 15 minutes");
    // Ticks never overlap, and a queued tick never drops a manual run: two groups.
    let tick = &doc["jobs"]["tick"];
    let manual = &doc["jobs"]["manual"];
    assert_eq!(tick["concurrency"]["group"].as_str(), Some("aib-avd-tick"));
    assert_eq!(
        manual["concurrency"]["group"].as_str(),
        Some("aib-avd-manual")
    );
    assert_eq!(
        tick["concurrency"]["cancel-in-progress"].as_bool(),
        Some(false)
    );
    assert_eq!(tick["timeout-minutes"].as_i64(), Some(10));
    assert_eq!(tick["if"].as_str(), Some("github.event_name == 'schedule'"));
    // One shared state for the whole pipeline (no per-environment prefixes).
    assert_eq!(
        doc["env"]["AIB_STATE"].as_str(),
        Some("azblob://acct/aib/avd")
    );
    let runs = runs_of(tick);
    assert!(
        runs.iter().any(|r| r.starts_with(
            "aib schedule \"$AIB_MANIFEST\" --once --within 2h --detach --state \"$AIB_STATE\""
        )),
        "{runs:?}"
    );
    assert!(
        runs.iter()
            .any(|r| r.starts_with("aib resume --all --detach")
                && r.contains("--report-markdown \"$GITHUB_STEP_SUMMARY\"")),
        "{runs:?}"
    );
    let manual_runs = runs_of(manual).join("\n");
    assert!(
        manual_runs.contains("--detach $AIB_SELECT"),
        "{manual_runs}"
    );
    assert_eq!(
        doc["on"]["workflow_dispatch"]["inputs"]["force"]["type"].as_str(),
        Some("boolean")
    );
    // The aib binary is installed once per version and cached.
    let steps = tick["steps"].as_vec().expect("steps");
    let cache = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/cache@"))
        })
        .expect("cache step");
    assert_eq!(
        cache["with"]["key"].as_str(),
        Some(format!("aib-${{{{ runner.os }}}}-{}", env!("CARGO_PKG_VERSION")).as_str())
    );
    let pinned = format!(
        "cargo install aib --locked --version {}",
        env!("CARGO_PKG_VERSION")
    );
    assert!(runs.iter().any(|r| r == &pinned), "{runs:?}");
    // aib logs in itself, with a fresh GitHub ID token for every Azure token.
    assert!(
        !steps.iter().any(|s| s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("azure/login"))),
        "{steps:?}"
    );
    assert_eq!(doc["permissions"]["id-token"].as_str(), Some("write"));
    assert_eq!(
        doc["env"]["AIB_CREDENTIAL"].as_str(),
        Some("github-actions")
    );
    assert!(out.stderr.contains("60 days"), "{}", out.stderr);

    // Configurable, never under GitHub's 5 minutes.
    let out = aib(
        &root,
        &[
            "ci",
            "github",
            "pipelines/avd/aib.toml",
            "--tick-every",
            "30m",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("*/30 * * * *"), "{}", out.stdout);
    let out = aib(
        &root,
        &[
            "ci",
            "github",
            "pipelines/avd/aib.toml",
            "--tick-every",
            "2m",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("every 5 minutes"), "{}", out.stderr);
}

#[test]
fn github_workflow_exports_the_env_secrets_of_the_manifest() {
    let dir = super::support::manifest_dir(
        r#"
version = 1
[pipeline]
name = "sec"
[defaults]
location = "eastus2"
resource_group = "rg"
identity = "/subscriptions/s/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
gallery = { name = "gal" }
subscription = "00000000-0000-0000-0000-000000000001"
[defaults.secrets]
token = "env:REPO_TOKEN"
[environments.dev]
[variants.base]
image_definition = "base"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [ { type = "shell", name = "a", inline = ["echo {{ secrets.token | sh_quote }}"] } ]
"#,
        &[],
    );
    let out = aib(dir.path(), &["ci", "github"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    actionlint(&out.stdout);
    let doc = yaml(&out.stdout);
    assert_eq!(
        doc["env"]["REPO_TOKEN"].as_str(),
        Some("${{ secrets.REPO_TOKEN }}")
    );
}

#[test]
fn azure_pipelines_ticks_sequentially_on_one_state() {
    let root = repo_root();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ci/azure-pipelines.yml");
    let out = aib(
        &root,
        &[
            "ci",
            "azure-pipelines",
            "pipelines/linux-fleet/aib.toml",
            "--out",
            file.to_str().expect("utf-8 path"),
            "--service-connection",
            "images-prod",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("AIB_STATE"), "{}", out.stderr);
    let text = std::fs::read_to_string(&file).expect("written");
    let doc = yaml(&text);
    assert_eq!(doc["trigger"].as_str(), Some("none"));
    assert_eq!(doc["lockBehavior"].as_str(), Some("sequential"));
    assert_eq!(
        doc["variables"]["AIB_CREDENTIAL"].as_str(),
        Some("azure-pipelines")
    );
    let crons: Vec<&str> = doc["schedules"]
        .as_vec()
        .expect("schedules")
        .iter()
        .filter_map(|s| s["cron"].as_str())
        .collect();
    assert_eq!(crons, ["*/15 * * * *"]);
    assert_eq!(strs(&doc["schedules"][0]["branches"]["include"]), ["main"]);
    let jobs = doc["jobs"].as_vec().expect("jobs");
    let names: Vec<&str> = jobs.iter().filter_map(|j| j["job"].as_str()).collect();
    assert_eq!(names, ["tick", "manual"]);
    assert_eq!(jobs[0]["timeoutInMinutes"].as_i64(), Some(10));
    let steps = jobs[0]["steps"].as_vec().expect("steps");
    assert!(
        steps.iter().any(|s| s["task"].as_str() == Some("Cache@2")),
        "{steps:?}"
    );
    let task = steps
        .iter()
        .find(|s| s["task"].as_str() == Some("AzureCLI@2"))
        .expect("AzureCLI@2 step");
    assert_eq!(
        task["inputs"]["azureSubscription"].as_str(),
        Some("images-prod")
    );
    let script = task["inputs"]["inlineScript"].as_str().expect("script");
    assert!(
        script.contains("--once --within 2h --detach --state \"$AIB_STATE\""),
        "{script}"
    );
    assert!(script.contains("aib resume --all --detach"), "{script}");
    // Azure Pipelines queues about 1,000 scheduled runs a week: every 5 minutes is refused.
    let out = aib(
        &root,
        &[
            "ci",
            "azure-pipelines",
            "pipelines/linux-fleet/aib.toml",
            "--tick-every",
            "5m",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("1000"), "{}", out.stderr);
}

#[test]
fn ci_refuses_local_state_and_bad_windows() {
    let root = repo_root();
    let out = aib(
        &root,
        &[
            "ci",
            "github",
            "pipelines/avd/aib.toml",
            "--state",
            "/tmp/state",
        ],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("azblob://"), "{}", out.stderr);
    assert!(out.stdout.is_empty());

    let out = aib(
        &root,
        &["ci", "github", "pipelines/avd/aib.toml", "--within", "soon"],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--within soon"), "{}", out.stderr);
}
