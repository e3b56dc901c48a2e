//! `aib plan --format github-matrix` and `aib ci github|azure-pipelines`: the generated files
//! parse (JSON, YAML), name one job/stage per environment in `after` order, carry the
//! manifest's schedules as UTC triggers, and run `aib` with the right selection and state.

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

#[test]
fn github_workflow_has_a_job_per_environment_in_promotion_order() {
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
    let doc = yaml(&out.stdout);
    assert_eq!(
        keys(&doc["jobs"]),
        ["build_dev", "build_test", "build_prod"]
    );
    assert!(doc["jobs"]["build_dev"]["needs"].is_badvalue());
    assert_eq!(strs(&doc["jobs"]["build_test"]["needs"]), ["build_dev"]);
    assert_eq!(strs(&doc["jobs"]["build_prod"]["needs"]), ["build_test"]);
    assert_eq!(doc["permissions"]["id-token"].as_str(), Some("write"));
    assert_eq!(
        doc["env"]["AIB_STATE"].as_str(),
        Some("azblob://acct/aib/avd")
    );

    // patch-tuesday (03:00 Europe/Berlin on the 2nd Wednesday) and nightly-dev (02:00 UTC):
    // Berlin is UTC+1 in winter and UTC+2 in summer, and `#2` has no GitHub form, so the
    // triggers are daily at 02:00 and 01:00 UTC; `aib schedule --within` picks the due ones.
    let crons: Vec<String> = doc["on"]["schedule"]
        .as_vec()
        .expect("schedule")
        .iter()
        .filter_map(|t| t["cron"].as_str().map(str::to_string))
        .collect();
    assert_eq!(crons, ["0 2 * * *", "0 1 * * *"]);
    assert!(out.stderr.contains("patch-tuesday"), "{}", out.stderr);

    let steps = doc["jobs"]["build_test"]["steps"].as_vec().expect("steps");
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(runs.iter().any(|r| r.starts_with("aib schedule \"$AIB_MANIFEST\" --once --within 2h --env test --state \"$AIB_STATE/test\"")), "{runs:?}");
    assert!(
        runs.iter()
            .any(|r| r
                .starts_with("aib build \"$AIB_MANIFEST\" --env test --state \"$AIB_STATE/test\"")),
        "{runs:?}"
    );
    // aib logs in itself, with a fresh GitHub ID token for every Azure token: no
    // `azure/login` whose Azure CLI login expires with its one ID token.
    assert!(
        !steps.iter().any(|s| s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("azure/login"))),
        "{steps:?}"
    );
    assert_eq!(
        doc["env"]["AIB_CREDENTIAL"].as_str(),
        Some("github-actions")
    );
    assert_eq!(
        doc["env"]["AZURE_CLIENT_ID"].as_str(),
        Some("${{ vars.AZURE_CLIENT_ID }}")
    );
    assert_eq!(
        doc["env"]["AZURE_TENANT_ID"].as_str(),
        Some("${{ vars.AZURE_TENANT_ID }}")
    );
    // The runner installs the aib that wrote the workflow, pinned, from crates.io.
    let pinned = format!(
        "cargo install aib --locked --version {}",
        env!("CARGO_PKG_VERSION")
    );
    assert!(runs.iter().any(|r| r.contains(&pinned)), "{runs:?}");
}

#[test]
fn azure_pipelines_has_a_stage_per_environment() {
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
    let stages = doc["stages"].as_vec().expect("stages");
    let names: Vec<&str> = stages.iter().filter_map(|s| s["stage"].as_str()).collect();
    assert_eq!(names, ["build_staging", "build_production"]);
    assert_eq!(strs(&stages[1]["dependsOn"]), ["build_staging"]);
    assert_eq!(doc["trigger"].as_str(), Some("none"));
    assert_eq!(
        doc["variables"]["AIB_CREDENTIAL"].as_str(),
        Some("azure-pipelines")
    );
    // weekly: 04:00 Sunday Europe/Amsterdam = 03:00 UTC (winter) and 02:00 UTC (summer).
    let crons: Vec<&str> = doc["schedules"]
        .as_vec()
        .expect("schedules")
        .iter()
        .filter_map(|s| s["cron"].as_str())
        .collect();
    assert_eq!(crons, ["0 3 * * 0", "0 2 * * 0"]);
    let steps = stages[0]["jobs"][0]["steps"].as_vec().expect("steps");
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
        script.contains("--env staging --state \"$AIB_STATE/staging\""),
        "{script}"
    );
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
