//! Matrix sharding that respects the graph, end to end: `aib plan --format github-matrix
//! --shard-by component` splits a plan into its connected components, each shard is built as a
//! CI matrix job would build it (its `select` through a shell, its own state prefix under the
//! shared state, all at once), and `status`, `history`, `logs`, `plan --refresh` and `gc` at
//! the shared state see every shard's runs.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::fleet;
use super::support::{Sim, manifest_dir, run, sim};

const MANIFEST: &str = r#"
version = 1

[pipeline]
name = "shd"

[defaults]
location = "eastus2"
resource_group = "rg-{{ env }}"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = { name = "gal_{{ env }}" }
version = "date"
cleanup = "never"

[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"

[environments.prod]
subscription = "00000000-0000-0000-0000-000000000002"
after = ["dev"]

[variants.base]
image_definition = "base"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [ { type = "shell", name = "harden", inline = ["echo harden"] } ]

[variants.app]
image_definition = "app"
source = { variant = "base" }
customize = [ { type = "shell", name = "app", inline = ["echo app"] } ]

[variants.tool]
image_definition = "tool"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [ { type = "shell", name = "harden", inline = ["echo tool"] } ]
"#;

/// dev/tool fails at `harden` (so prod/tool is skipped).
const SCENARIO: &str = "minute_ms = 5\nclock_minute_ms = 60\n[[outcome]]\ntemplate = \"shd-tool-dev-*\"\nresult = \"fail\"\nfailed_customizer = \"harden\"\n";

/// The simulator environment `aib_cmd` gives, for a shell.
fn sim_env(cmd: &mut Command, sim: &Sim) {
    cmd.env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env("AIB_ARM_ENDPOINT", &sim.url)
        .env("AIB_CREDENTIAL", "managed-identity")
        .env("IDENTITY_ENDPOINT", format!("{}/msi/token", sim.url))
        .env("IDENTITY_HEADER", "test");
}

/// A matrix entry's build, as a workflow step runs it: `aib build $select --state
/// "$AIB_STATE/$state_prefix"` in a POSIX shell (`exec`, so a kill reaches aib).
fn spawn_entry(d: &Path, sim: &Sim, entry: &serde_json::Value) -> Child {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "exec \"$AIB\" build {} --state \"$AIB_STATE/$PREFIX\"",
            entry["select"].as_str().expect("select")
        ))
        .current_dir(d)
        .env("AIB", env!("CARGO_BIN_EXE_aib"))
        .env("AIB_STATE", d.join(".aib"))
        .env(
            "PREFIX",
            entry["state_prefix"].as_str().expect("state_prefix"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    sim_env(&mut cmd, sim);
    cmd.spawn().expect("spawn a shard's build")
}

fn control(sim: &Sim, body: &str) {
    let (code, v) = fleet::http_json(sim, "POST", "/_sim/control", body);
    assert_eq!(code, 200, "{v}");
}

#[test]
fn shards_build_apart_and_the_shared_state_sees_every_shard() {
    let dir = manifest_dir(MANIFEST, &[]);
    let d = dir.path();
    let sim = sim(d, SCENARIO);

    // Two components: base with app and their promotions; tool and its promotion.
    let (code, out, err) = run(
        d,
        &sim,
        &[
            "plan",
            "--format",
            "github-matrix",
            "--shard-by",
            "component",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let matrix: serde_json::Value = serde_json::from_str(&out).expect("matrix JSON");
    let entries = matrix["include"].as_array().expect("include").clone();
    assert_eq!(entries.len(), 2, "{out}");
    assert_eq!(entries[0]["units"], 4);
    assert_eq!(entries[1]["units"], 2);
    let key = |i: usize| entries[i]["shard"].as_str().unwrap_or_default().to_string();
    let (base_key, tool_key) = (key(0), key(1));

    // Both shards build at once, each under its own prefix and lock.
    let children: Vec<Child> = entries.iter().map(|e| spawn_entry(d, &sim, e)).collect();
    let codes: Vec<(i32, String)> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait");
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect();
    assert_eq!(codes[0].0, 0, "{}", codes[0].1);
    assert_eq!(codes[1].0, 1, "{}", codes[1].1);
    for k in [&base_key, &tool_key] {
        assert!(d.join(".aib/shards").join(k).join("runs").is_dir(), "{k}");
    }
    assert!(
        !d.join(".aib/runs").exists(),
        "nothing recorded at the root"
    );

    // history at the root lists both runs with their shard.
    let (code, out, err) = run(d, &sim, &["history"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    // Two runs, and what `~` means (the runs followed the simulator's clock).
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[3].starts_with("~ Azure time"), "{out}");
    assert!(lines[0].contains("SHARD"), "{out}");
    let line_of = |k: &str| lines.iter().find(|l| l.contains(k)).copied().unwrap_or("");
    assert!(line_of(&base_key).contains("succeeded"), "{out}");
    assert!(line_of(&tool_key).contains("failed"), "{out}");
    let run_of = |k: &str| {
        line_of(k)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let base_run = run_of(&base_key);

    // status at the root: the latest run by default, any shard's run by id; its `aib logs`
    // hint names the shard's state.
    let (_, out, _) = run(d, &sim, &["status"]);
    assert!(
        out.lines().next().is_some_and(|l| l.contains("  shard ")),
        "{out}"
    );
    let (code, out, err) = run(d, &sim, &["status", &base_run]);
    assert_eq!(code, 0, "{err}");
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.contains("succeeded") && first.ends_with(&format!("shard {base_key}")),
        "{first}"
    );
    let (code, out, _) = run(d, &sim, &["status", &run_of(&tool_key)]);
    assert_eq!(code, 1);
    assert!(out.contains(&format!("shards/{tool_key}")), "{out}");

    // logs at the root find the failed unit's log in its shard.
    let (code, out, err) = run(d, &sim, &["logs", "dev/tool"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("harden"), "{out}");

    // plan --refresh at the root knows what every shard built.
    let (code, out, err) = run(d, &sim, &["plan", "--refresh", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).expect("plan JSON");
    let actions: BTreeMap<String, String> = plan["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap_or_default().to_string(),
                u["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for u in ["dev/base", "dev/app", "prod/base", "prod/app"] {
        assert_eq!(actions[u], "unchanged", "{actions:?}");
    }
    assert_eq!(actions["dev/tool"], "build", "{actions:?}");

    // tool changes, and its shard's next build dies once its deployment went out: at the
    // root, status shows it interrupted and gc keeps the new template it still needs.
    let manifest = std::fs::read_to_string(d.join("aib.toml")).expect("manifest");
    std::fs::write(
        d.join("aib.toml"),
        manifest.replace("echo tool", "echo tool v2"),
    )
    .expect("manifest");
    control(
        &sim,
        r#"{"hold":["deployments.operationStatus","deployments.get"]}"#,
    );
    let mut dying = spawn_entry(d, &sim, &entries[1]);
    fleet::wait_until("the forced tool build's deployment", || {
        fleet::stats(&sim)["held"].as_u64().unwrap_or(0) > 0
    });
    dying.kill().expect("SIGKILL");
    let _ = dying.wait();
    control(&sim, r#"{"release":["*"]}"#);
    let (_, out, _) = run(d, &sim, &["status"]);
    let first = out.lines().next().unwrap_or_default().to_string();
    assert!(
        first.contains("interrupted") && first.ends_with(&format!("shard {tool_key}")),
        "{out}"
    );
    let dead_run = first
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let (code, out, err) = run(d, &sim, &["gc", "--dry-run", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let gc: serde_json::Value = serde_json::from_str(&out).expect("gc JSON");
    let kept_for_run: Vec<&str> = gc["kept"]
        .as_array()
        .expect("kept")
        .iter()
        .filter(|k| k["reason"] == format!("run {dead_run} still needs it"))
        .filter_map(|k| k["id"].as_str())
        .collect();
    assert!(
        kept_for_run.iter().any(|id| id.contains("/shd-tool-dev-")),
        "{out}"
    );
    let deleted: Vec<&str> = gc["delete"]
        .as_array()
        .expect("delete")
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert!(
        deleted.iter().all(|n| !n.starts_with("shd-tool-dev-")),
        "{deleted:?}"
    );
}
