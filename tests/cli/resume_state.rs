//! `aib resume` needs only the state: a detached run's inputs (manifest, scripts) are kept
//! beside its record, so a resume from another folder, with the manifest changed or gone,
//! builds what the run was started with — the same result as one `aib build`. Secrets are
//! references in what is kept; the units a resume deploys get the values of the resuming
//! process, and no value reaches the state, the events or the output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::fleet;
use super::support::{Sim, aib_cmd, sim};

const MANIFEST: &str = r#"
version = 1

[pipeline]
name = "rst"
allow_paths = ["../common"]

[defaults]
location = "eastus2"
resource_group = "rg-dev"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = { name = "gal_dev" }
version = "date"

[defaults.secrets]
admin_password = "env:AIB_TEST_RESUME_PASSWORD"

[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"

[variants.base]
image_definition = "base"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [
  { type = "shell", name = "setup", script = "scripts/setup.sh" },
  { type = "shell", name = "common", script = "../common/common.sh" },
]

[variants.app]
image_definition = "app"
source = { variant = "base" }
customize = [
  { type = "shell", name = "setup", script = "scripts/setup.sh" },
  { type = "shell", name = "password", inline = ["echo 'admin:{{ secrets.admin_password }}' | chpasswd"] },
]
"#;

/// `app` fails (so its template stays in the simulator, showing what was deployed), echoing
/// its commands into its log.
const SCENARIO: &str = "minute_ms = 10\necho = [\"rst-app-dev-*\"]\n[[outcome]]\ntemplate = \"rst-app-dev-*\"\nresult = \"fail\"\nfailed_customizer = \"password\"\n";

const FIRST: &str = "Resume-Secret-First-7c1d";
const SECOND: &str = "Resume-Secret-Second-2b9e";

/// `root/app/aib.toml`, `root/app/scripts/setup.sh`, `root/common/common.sh`; the simulator
/// and the state (`root/state`) beside them.
fn fleet_at(root: &Path) -> (PathBuf, PathBuf, Sim) {
    for (p, body) in [
        ("app/aib.toml", MANIFEST),
        ("app/scripts/setup.sh", "echo original setup\n"),
        ("common/common.sh", "echo common\n"),
    ] {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    }
    let sim = sim(root, SCENARIO);
    (root.join("app"), root.join("state"), sim)
}

fn aib(cwd: &Path, sim: &Sim, secret: &str, args: &[&str]) -> (i32, String, String) {
    let out = aib_cmd(cwd, sim, args)
        .env("AIB_TEST_RESUME_PASSWORD", secret)
        .output()
        .expect("run aib");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn record(state: &Path) -> serde_json::Value {
    let runs: Vec<PathBuf> = std::fs::read_dir(state.join("runs"))
        .expect("runs")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert_eq!(runs.len(), 1, "one run: {runs:?}");
    let text = std::fs::read_to_string(runs[0].join("run.json")).expect("run.json");
    serde_json::from_str(&text).expect("run.json parses")
}

/// `resume --detach` ticks from `cwd` until the run ends: the last exit and all output.
fn ticks(cwd: &Path, sim: &Sim, state: &Path, secret: &str) -> (i32, String) {
    let s = state.display().to_string();
    let mut all = String::new();
    for _ in 0..500 {
        let (code, out, err) = aib(cwd, sim, secret, &["resume", "--detach", "--state", &s]);
        all.push_str(&out);
        all.push_str(&err);
        if record(state)["status"] != "detached" {
            return (code, all);
        }
        assert_eq!(code, 0, "a tick of a detached run\n{out}\n{err}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the run did not end in 500 ticks");
}

/// Unit → (status, template name, input hash).
fn outcome(rec: &serde_json::Value) -> BTreeMap<String, (String, String, String)> {
    rec["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|u| {
            let s = |k: &str| u[k].as_str().unwrap_or_default().to_string();
            (s("id"), (s("status"), s("template_name"), s("input_hash")))
        })
        .collect()
}

/// The deployed template of `app` (kept by its failure), as the simulator holds it.
fn app_template(sim: &Sim) -> String {
    let all = fleet::templates(sim);
    let app: Vec<String> = all
        .iter()
        .map(|t| t.to_string())
        .filter(|t| t.contains("rst-app-dev-"))
        .collect();
    assert_eq!(app.len(), 1, "one app template: {all:?}");
    app[0].clone()
}

#[test]
fn a_run_resumes_from_the_state_alone_whatever_became_of_its_manifest() {
    // What one `aib build` gives.
    let reference = tempfile::tempdir().expect("tempdir");
    let (dir, state, ref_sim) = fleet_at(reference.path());
    let s = state.display().to_string();
    let (code, out, err) = aib(&dir, &ref_sim, FIRST, &["build", "--state", &s]);
    assert_eq!(code, 1, "app fails as scripted\n{out}\n{err}");
    let expected = outcome(&record(&state));

    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, state, sim) = fleet_at(tmp.path());
    let s = state.display().to_string();
    let (code, out, err) = aib(&dir, &sim, FIRST, &["build", "--detach", "--state", &s]);
    assert_eq!(code, 0, "build --detach\n{out}\n{err}");
    let rec = record(&state);
    assert_eq!(rec["status"], "detached", "{rec}");
    assert!(rec["resume"]["inputs"].is_string(), "{rec}");

    // A later commit changes a script and the manifest: a tick from the checkout does not
    // build the changes (no unit is left out as changed either).
    std::fs::write(dir.join("scripts/setup.sh"), "echo changed setup\n").expect("write");
    let changed = format!(
        "{MANIFEST}\n[variants.extra]\nimage_definition = \"extra\"\nsource = {{ platform = \"Canonical:ubuntu-24_04-lts:server:latest\" }}\n"
    );
    std::fs::write(dir.join("aib.toml"), changed).expect("write");
    let (code, out, err) = aib(&dir, &sim, FIRST, &["resume", "--detach", "--state", &s]);
    assert_eq!(code, 0, "tick in the changed checkout\n{out}\n{err}");
    assert!(
        !format!("{out}{err}").contains("changed since"),
        "{out}\n{err}"
    );

    // Then the checkout is gone; the next ticks run from another folder.
    std::fs::remove_dir_all(&dir).expect("rm app");
    std::fs::remove_dir_all(tmp.path().join("common")).expect("rm common");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let (code, output) = ticks(&elsewhere, &sim, &state, FIRST);
    assert_eq!(code, 1, "the run's code: app failed as scripted\n{output}");
    let rec = record(&state);
    assert_eq!(
        outcome(&rec),
        expected,
        "the same result as one build: {rec}"
    );
    let runs = fleet::runs(&fleet::stats(&sim));
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(
        runs.values().all(|&n| n == 1),
        "a template ran twice: {runs:?}"
    );
    let app = app_template(&sim);
    assert!(app.contains("echo original setup"), "{app}");
    assert!(!app.contains("changed setup"), "{app}");
}

#[test]
fn a_resume_deploys_with_its_own_secret_values_and_keeps_none() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, state, sim) = fleet_at(tmp.path());
    let s = state.display().to_string();
    let (code, out, err) = aib(&dir, &sim, FIRST, &["build", "--detach", "--state", &s]);
    assert_eq!(code, 0, "build --detach\n{out}\n{err}");
    let mut output = format!("{out}{err}");
    let rec = record(&state);
    let app = rec["units"]
        .as_array()
        .expect("units")
        .iter()
        .find(|u| u["id"] == "dev/app")
        .cloned()
        .expect("dev/app");
    assert_eq!(app["status"], "pending", "app waits for base: {rec}");

    // The next ticks run where the secret has another value (a rotated password).
    let (code, out) = ticks(&dir, &sim, &state, SECOND);
    output.push_str(&out);
    assert_eq!(code, 1, "app failed as scripted\n{output}");
    let (_, out, err) = aib(&dir, &sim, SECOND, &["logs", "dev/app", "--state", &s]);
    output.push_str(&out);
    output.push_str(&err);
    assert!(
        out.contains("+ echo 'admin:***' | chpasswd"),
        "the echoed command is in the log, masked:\n{out}\n{err}"
    );
    let template = app_template(&sim);
    assert!(
        template.contains(SECOND) && !template.contains(FIRST),
        "app was deployed with the resume's value: {template}"
    );
    let mut files = Vec::new();
    walk(&state, &mut files);
    assert!(files.len() > 3, "{files:?}");
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        for v in [FIRST, SECOND] {
            assert!(!text.contains(v), "{} holds a secret value", f.display());
        }
    }
    for v in [FIRST, SECOND] {
        assert!(
            !output.contains(v),
            "the output shows a secret value:\n{output}"
        );
    }
}

fn walk(p: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
        let path = e.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn a_run_recorded_without_inputs_resumes_from_its_manifest_saying_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, state, sim) = fleet_at(tmp.path());
    let s = state.display().to_string();
    let (code, out, err) = aib(&dir, &sim, FIRST, &["build", "--detach", "--state", &s]);
    assert_eq!(code, 0, "build --detach\n{out}\n{err}");
    // As an aib before inputs were kept recorded it.
    let mut rec = record(&state);
    let id = rec["run_id"].as_str().expect("id").to_string();
    rec["resume"]
        .as_object_mut()
        .expect("resume")
        .remove("inputs")
        .expect("inputs named");
    let path = state.join("runs").join(&id).join("run.json");
    std::fs::write(&path, rec.to_string()).expect("write run.json");
    let (code, out, err) = aib(&dir, &sim, FIRST, &["resume", "--state", &s]);
    assert_eq!(code, 1, "app fails as scripted\n{out}\n{err}");
    assert!(
        err.contains("kept no inputs in the state: resuming it from"),
        "{err}"
    );
    let done = outcome(&record(&state));
    assert_eq!(done["dev/base"].0, "succeeded", "{done:?}");
    assert_eq!(done["dev/app"].0, "failed", "{done:?}");
}

#[test]
fn cancel_needs_only_the_state_too() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, state, sim) = fleet_at(tmp.path());
    let s = state.display().to_string();
    let (code, out, err) = aib(&dir, &sim, FIRST, &["build", "--detach", "--state", &s]);
    assert_eq!(code, 0, "build --detach\n{out}\n{err}");
    let id = record(&state)["run_id"].as_str().expect("id").to_string();
    std::fs::remove_dir_all(&dir).expect("rm app");
    let (code, out, err) = aib(tmp.path(), &sim, FIRST, &["cancel", &id, "--state", &s]);
    assert_eq!(code, 0, "cancel\n{out}\n{err}");
    assert!(out.contains("1 build cancelled in Azure"), "{out}\n{err}");
    assert_eq!(record(&state)["status"], "cancelled");
}
