//! `aib gc`: retention end to end, the `aib` binary against `aib sim` (a child process).
//! Builds accumulate templates (`cleanup = "never"`), gallery versions and staging groups
//! left behind by deleted templates (the scenario's `keep_staging`); `gc --dry-run` lists
//! them and deletes nothing; `gc` deletes exactly those, never the current versions, nor a
//! template aib did not create.

use std::io::{Read, Write};
use std::path::Path;

use super::support::{Sim, manifest_dir, run, sim};

const SUB: &str = "00000000-0000-0000-0000-000000000001";

const FLEET: &str = r#"
version = 1

[pipeline]
name = "gcx"

[defaults]
location = "eastus2"
resource_group = "rg-{{ env }}"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"
gallery = { name = "gal_{{ env }}" }
version = "date"

[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"

[variants.base]
image_definition = "base"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [ { type = "shell", name = "harden", script = "scripts/harden.sh" } ]
cleanup = "never"
retain = { versions = 2 }

[variants.web]
image_definition = "web"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [ { type = "shell", name = "web", inline = ["echo web"] } ]
"#;

/// Builds are fast; deleting web's templates (on success) leaves their staging groups.
const SCENARIO: &str = "minute_ms = 5\nclock_minute_ms = 60\nkeep_staging = [\"gcx-web-*\"]\n";

/// One HTTP/1.0 request to the simulator; the JSON body of the answer.
fn http(sim: &Sim, method: &str, path: &str, token: Option<&str>, body: &str) -> serde_json::Value {
    let addr = sim.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let _ = write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}X-IDENTITY-HEADER: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let json = resp.split("\r\n\r\n").nth(1).unwrap_or("{}");
    serde_json::from_str(json).unwrap_or_default()
}

fn token(sim: &Sim) -> String {
    let v = http(
        sim,
        "GET",
        "/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fmanagement.azure.com%2F",
        None,
        "",
    );
    v["access_token"].as_str().expect("token").to_string()
}

/// `GET` an ARM path (every page).
fn arm_list(sim: &Sim, tok: &str, path: &str, api: &str) -> Vec<serde_json::Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut url = format!("{path}{sep}api-version={api}");
    let mut out = Vec::new();
    loop {
        let v = http(sim, "GET", &url, Some(tok), "");
        out.extend(v["value"].as_array().cloned().unwrap_or_default());
        match v["nextLink"].as_str() {
            Some(next) => url = next.trim_start_matches(&sim.url).to_string(),
            None => return out,
        }
    }
}

fn names(items: &[serde_json::Value]) -> Vec<String> {
    let mut n: Vec<String> = items
        .iter()
        .map(|v| v["name"].as_str().unwrap_or_default().to_string())
        .collect();
    n.sort();
    n
}

fn templates(sim: &Sim, tok: &str) -> Vec<String> {
    names(&arm_list(
        sim,
        tok,
        &format!(
            "/subscriptions/{SUB}/resourceGroups/rg-dev/providers/Microsoft.VirtualMachineImages/imageTemplates"
        ),
        "2025-10-01",
    ))
}

fn versions(sim: &Sim, tok: &str, image: &str) -> Vec<String> {
    names(&arm_list(
        sim,
        tok,
        &format!(
            "/subscriptions/{SUB}/resourceGroups/rg-dev/providers/Microsoft.Compute/galleries/gal_dev/images/{image}/versions"
        ),
        "2025-03-03",
    ))
}

fn deployments(sim: &Sim, tok: &str) -> Vec<String> {
    names(&arm_list(
        sim,
        tok,
        &format!(
            "/subscriptions/{SUB}/resourcegroups/rg-dev/providers/Microsoft.Resources/deployments/"
        ),
        "2025-04-01",
    ))
}

fn staging_groups(sim: &Sim, tok: &str) -> Vec<String> {
    names(&arm_list(
        sim,
        tok,
        &format!(
            "/subscriptions/{SUB}/resourcegroups?$filter=tagName%20eq%20%27createdBy%27%20and%20tagValue%20eq%20%27AzureVMImageBuilder%27"
        ),
        "2025-04-01",
    ))
}

fn req(sim: &Sim, op: &str) -> u64 {
    http(sim, "GET", "/_sim/stats", None, "")["requests"][op]
        .as_u64()
        .unwrap_or(0)
}

fn build(dir: &Path, sim: &Sim) {
    let (code, out, err) = run(dir, sim, &["build", "--force"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
}

/// The version name (`x.y.z`) of the index's current version of `unit`.
fn current(dir: &Path, unit: &str) -> String {
    let text = std::fs::read_to_string(dir.join(".aib/index.json")).expect("index");
    let v: serde_json::Value = serde_json::from_str(&text).expect("index json");
    let id = v["units"][unit]["image_version_id"]
        .as_str()
        .expect("current version");
    id.rsplit('/').next().unwrap_or_default().to_string()
}

#[test]
fn gc_deletes_what_nothing_needs_and_dry_run_deletes_nothing() {
    let dir = manifest_dir(FLEET, &[("scripts/harden.sh", "echo harden v1\n")]);
    let d = dir.path();
    let sim = sim(d, SCENARIO);
    let tok = token(&sim);

    // A template aib did not create, in the same resource group: never touched.
    let foreign = serde_json::json!({
        "location": "eastus2",
        "tags": {"owner": "someone"},
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {
            format!("/subscriptions/{SUB}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib"): {}
        }},
        "properties": {
            "source": {"type": "PlatformImage", "publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"},
            "distribute": [{"type": "ManagedImage", "imageId": format!("/subscriptions/{SUB}/resourceGroups/rg-dev/providers/Microsoft.Compute/images/hand"), "location": "eastus2", "runOutputName": "hand"}],
        }
    });
    let put = http(
        &sim,
        "PUT",
        &format!(
            "/subscriptions/{SUB}/resourceGroups/rg-dev/providers/Microsoft.VirtualMachineImages/imageTemplates/hand-made?api-version=2025-10-01"
        ),
        Some(&tok),
        &foreign.to_string(),
    );
    assert_eq!(put["name"], "hand-made", "{put}");

    // Three builds with changed inputs: base keeps its templates (cleanup = never) and
    // publishes a version each time; web rebuilds (--force), and its deleted templates leave
    // their staging groups behind.
    for i in 1..=3 {
        std::fs::write(d.join("scripts/harden.sh"), format!("echo harden v{i}\n")).expect("edit");
        build(d, &sim);
    }
    let base_templates: Vec<String> = templates(&sim, &tok)
        .into_iter()
        .filter(|n| n.starts_with("gcx-base-dev-"))
        .collect();
    assert_eq!(base_templates.len(), 3, "{base_templates:?}");
    let base_versions = versions(&sim, &tok, "base");
    let web_versions = versions(&sim, &tok, "web");
    assert_eq!(base_versions.len(), 3);
    assert_eq!(web_versions.len(), 3);
    let leftovers = staging_groups(&sim, &tok)
        .into_iter()
        .filter(|g| g.starts_with("IT_rg-dev_gcx-web-dev-"))
        .count();
    assert_eq!(leftovers, 3);
    // Every template's deployment record stays as its history until gc: base's three, and
    // web's one (its inputs did not change, so each forced build re-deployed the same name).
    assert_eq!(deployments(&sim, &tok).len(), 4);
    let current_base = current(d, "dev/base");
    let current_web = current(d, "dev/web");
    // Oldest first within the same day: 2026.MDD.1 < .2 < .3.
    let mut by_n = base_versions.clone();
    by_n.sort_by_key(|v| {
        v.rsplit('.')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    });
    let oldest_base = by_n[0].clone();
    assert_ne!(oldest_base, current_base);

    // Dry run: the list, nothing deleted.
    let deletes_before = (
        req(&sim, "imageTemplates.delete"),
        req(&sim, "galleryImageVersions.delete"),
        req(&sim, "resourceGroups.delete"),
        req(&sim, "deployments.delete"),
    );
    let (code, out, err) = run(d, &sim, &["gc", "--dry-run"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        (
            req(&sim, "imageTemplates.delete"),
            req(&sim, "galleryImageVersions.delete"),
            req(&sim, "resourceGroups.delete"),
            req(&sim, "deployments.delete"),
        ),
        deletes_before
    );
    assert_eq!(templates(&sim, &tok).len(), 4);
    insta::with_settings!({filters => vec![
        (r"\b\d{4}\.\d{3,4}\.\d+\b", "[VERSION]"),
        (r"_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "_[GUID]"),
        (r"-dev-[0-9a-f]{8}", "-dev-[HASH]"),
        (r" {2,}", "  "),
    ]}, {
        insta::assert_snapshot!("gc_dry_run", out);
    });
    // The JSON form names the same deletions, each still planned.
    let (code, out, err) = run(d, &sim, &["gc", "--dry-run", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).expect("gc json");
    assert_eq!(plan["dry_run"], true);
    let planned = plan["delete"].as_array().expect("delete");
    // 3 base templates, 1 base version, 3 web staging groups, 4 deployment records (those of
    // the base templates deleted now, and web's, whose template its build's cleanup deleted).
    assert_eq!(planned.len(), 3 + 1 + 3 + 4);
    assert!(planned.iter().all(|p| p["status"] == "planned"));
    assert!(planned.iter().any(|p| p["kind"] == "gallery-version"
        && p["name"] == oldest_base.as_str()
        && p["unit"] == "dev/base"
        && p["reason"] == "beyond retain.versions=2"));

    // A selection plans only what belongs to its units: web's staging groups and deployment
    // record, none of base's templates, records or versions.
    let (code, out, err) = run(
        d,
        &sim,
        &["gc", "--dry-run", "--variant", "web", "--format", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let web: serde_json::Value = serde_json::from_str(&out).expect("gc json");
    let web = web["delete"].as_array().expect("delete");
    assert_eq!(web.len(), 3 + 1, "{web:?}");
    assert!(
        web.iter().all(|p| p["name"]
            .as_str()
            .is_some_and(|n| n.contains("gcx-web-dev-"))),
        "{web:?}"
    );
    let (code, _, err) = run(d, &sim, &["gc", "--dry-run", "--env", "prod"]);
    assert_eq!(code, 2, "an unknown environment is an error: {err}");
    assert!(err.contains("no such environment"), "{err}");

    // The real thing.
    let (code, out, err) = run(d, &sim, &["gc"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains(
            "deleted 3 templates, 3 staging groups, 4 deployment records, 1 gallery version"
        ),
        "{out}"
    );
    assert_eq!(templates(&sim, &tok), vec!["hand-made".to_string()]);
    let mut want_base: Vec<String> = base_versions
        .iter()
        .filter(|v| **v != oldest_base)
        .cloned()
        .collect();
    want_base.sort();
    assert_eq!(versions(&sim, &tok, "base"), want_base);
    assert!(want_base.contains(&current_base));
    // No retain for web: every version stays, the current one included.
    assert_eq!(versions(&sim, &tok, "web"), web_versions);
    assert!(web_versions.contains(&current_web));
    // Only the hand-made template's staging group is left.
    let groups = staging_groups(&sim, &tok);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert!(groups[0].starts_with("IT_rg-dev_hand-made_"), "{groups:?}");
    assert_eq!(req(&sim, "imageTemplates.delete"), deletes_before.0 + 3);
    assert_eq!(
        req(&sim, "galleryImageVersions.delete"),
        deletes_before.1 + 1
    );
    assert_eq!(req(&sim, "resourceGroups.delete"), deletes_before.2 + 3);
    assert_eq!(req(&sim, "deployments.delete"), deletes_before.3 + 4);
    assert_eq!(deployments(&sim, &tok), Vec::<String>::new());

    // Nothing left to do; the next build still finds its current versions.
    let (code, out, err) = run(d, &sim, &["gc"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "nothing to delete");
}

/// gc while a build runs: the template building in Azure and the unfinished unit's records are
/// kept (the state's running run and Azure's run state both say so); what the run finished is
/// not protected by it.
#[test]
fn gc_during_a_build_keeps_what_the_running_build_needs() {
    let dir = manifest_dir(FLEET, &[("scripts/harden.sh", "echo harden\n")]);
    let d = dir.path();
    // web builds for ever; base finishes at once.
    let sim = sim(
        d,
        "minute_ms = 5\nclock_minute_ms = 60\n[[outcome]]\ntemplate = \"gcx-web-*\"\nbuild_minutes = 100000\n",
    );
    let tok = token(&sim);
    let mut build = super::support::aib_cmd(d, &sim, &["build"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn aib build");
    let running_web = || {
        arm_list(
            &sim,
            &tok,
            &format!(
                "/subscriptions/{SUB}/resourceGroups/rg-dev/providers/Microsoft.VirtualMachineImages/imageTemplates"
            ),
            "2025-10-01",
        )
        .iter()
        .any(|t| {
            t["name"].as_str().is_some_and(|n| n.starts_with("gcx-web-dev-"))
                && t["properties"]["lastRunStatus"]["runState"] == "Running"
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // base is finished once the run recorded it (aib polls on its own clock, so it sees the
    // build end a little after the simulator's version appears).
    let base_finished = || {
        super::fleet::events(d)
            .iter()
            .any(|e| e["event"] == "unit.finished" && e["unit"] == "dev/base")
    };
    while !(running_web()
        && templates(&sim, &tok).len() == 2
        && versions(&sim, &tok, "base").len() == 1
        && base_finished())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "web never started building next to a finished base"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    let (code, out, err) = run(d, &sim, &["gc", "--dry-run", "--format", "json"]);
    assert_eq!(code, 0, "gc while a build runs: {err}");
    let plan: serde_json::Value = serde_json::from_str(&out).expect("gc json");
    let deleted: Vec<&str> = plan["delete"]
        .as_array()
        .expect("delete")
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert!(
        deleted.iter().all(|n| !n.starts_with("gcx-web-dev-")),
        "gc would delete what the running build needs: {deleted:?}"
    );
    let kept: Vec<(String, String)> = plan["kept"]
        .as_array()
        .expect("kept")
        .iter()
        .map(|k| {
            (
                k["id"]
                    .as_str()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                k["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        kept.iter()
            .any(|(n, r)| n.starts_with("gcx-web-dev-") && r == "a build is running in Azure"),
        "{kept:?}"
    );
    // base's template (cleanup = "never") is finished: no run needs it.
    assert!(
        deleted.iter().any(|n| n.starts_with("gcx-base-dev-")),
        "{deleted:?}"
    );

    let _ = std::process::Command::new("kill")
        .args(["-INT", &build.id().to_string()])
        .status();
    let status = build.wait().expect("wait for aib build");
    assert_eq!(status.code(), Some(130));
}
