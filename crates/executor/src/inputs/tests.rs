use super::*;

const RUN: &str = "20261206T120000Z-abc123";

const MANIFEST: &str = r#"
version = 1

[pipeline]
name = "inp"
allow_paths = ["../common-scripts"]

[defaults]
location = "eastus2"
resource_group = "rg"
identity = "/subscriptions/{{ subscription }}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
gallery = { name = "gal" }

[defaults.secrets]
admin_password = "env:AIB_INPUTS_TEST_PASSWORD"

[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"

[variants.base]
image_definition = "base"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
customize = [
  { type = "shell", name = "setup", script = "scripts/setup.sh" },
  { type = "shell", name = "common", script = "../common-scripts/common.sh" },
]

[variants.own]
image_definition = "own"
source = { platform = "Canonical:ubuntu-24_04-lts:server:latest" }
template = "own.json.j2"
"#;

/// `root/app/aib.toml` with its scripts, templates (one included by the other) and
/// `root/common-scripts`, and a file nothing reads.
fn fleet(root: &Path) -> Manifest {
    let app = root.join("app");
    for (p, body) in [
        ("app/aib.toml", MANIFEST),
        ("app/scripts/setup.sh", "echo setup"),
        ("app/scripts/unused.sh", "echo unused"),
        ("app/templates/own.json.j2", "{% include \"part.j2\" %}"),
        ("app/templates/part.j2", "{}"),
        ("app/templates/.hidden/x.j2", "{}"),
        ("common-scripts/common.sh", "echo common"),
    ] {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    }
    Manifest::load(&app.join("aib.toml")).expect("manifest")
}

fn plan(m: &Manifest) -> Plan {
    let options = aib_planner::PlanOptions {
        today: aib_planner::Date::new(2026, 12, 6),
        ..Default::default()
    };
    aib_planner::plan(m, &options).expect("plan")
}

fn hashes(p: &Plan) -> Vec<(String, String)> {
    p.units()
        .iter()
        .map(|u| (u.id.to_string(), u.input_hash.preview().to_string()))
        .collect()
}

fn paths(snap: &Snapshot) -> Vec<&str> {
    let mut p: Vec<&str> = snap.index().files.iter().map(|f| f.path.as_str()).collect();
    p.sort();
    p
}

#[test]
fn keeps_the_manifest_what_units_read_and_the_templates_folder_in_their_layout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let m = fleet(tmp.path());
    let snap = collect_within(&m, &plan(&m), MAX_SNAPSHOT_BYTES).expect("collect");
    assert_eq!(snap.index().manifest, "app/aib.toml");
    assert_eq!(
        paths(&snap),
        [
            "app/aib.toml",
            "app/scripts/setup.sh",
            "app/templates/own.json.j2",
            "app/templates/part.j2",
            "common-scripts/common.sh",
        ]
    );
    assert!(snap.index().dirs.contains(&"common-scripts".to_string()));
    assert!(snap.index().outside.is_empty(), "{:?}", snap.index());
    // A reference, never a value.
    let text = String::from_utf8_lossy(&snap.blobs[&snap.index().files[0].sha256]).to_string();
    assert!(text.contains("env:AIB_INPUTS_TEST_PASSWORD"), "{text}");
}

#[test]
fn inputs_over_the_limit_are_an_error_that_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let m = fleet(tmp.path());
    let err = collect_within(&m, &plan(&m), 64)
        .expect_err("over the limit")
        .to_string();
    assert!(
        err.contains("over the") && err.contains("aib resume"),
        "{err}"
    );
}

#[test]
fn common_ancestor_and_keys() {
    let a = PathBuf::from("/x/y/app");
    let b = PathBuf::from("/x/y/common");
    assert_eq!(common_ancestor(&[a.clone(), b]), PathBuf::from("/x/y"));
    assert_eq!(common_ancestor(&[a]), PathBuf::from("/x/y/app"));
    let home = Path::new("app");
    assert_eq!(
        key_of(home, Path::new("s/a.sh")).as_deref(),
        Some("app/s/a.sh")
    );
    assert_eq!(
        key_of(home, Path::new("./s/../b.sh")).as_deref(),
        Some("app/b.sh")
    );
    assert_eq!(
        key_of(home, Path::new("../c/x.sh")).as_deref(),
        Some("c/x.sh")
    );
    assert_eq!(key_of(home, Path::new("../../x.sh")), None);
    assert_eq!(key_of(home, Path::new("/etc/passwd")), None);
    for bad in ["../x", "a/../../x", "/abs", "a//b", "a/./b", ""] {
        assert!(safe_join(Path::new("/r"), bad).is_err(), "{bad}");
    }
    assert_eq!(
        safe_join(Path::new("/r"), "a/b.sh").ok(),
        Some(PathBuf::from("/r/a/b.sh"))
    );
}

#[tokio::test]
async fn restored_inputs_plan_as_the_original_with_every_digest_checked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = StateStore::open_local(tmp.path().join("state"))
        .await
        .expect("state");
    round_trip(tmp.path(), &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_state_keeps_and_restores_the_inputs() {
    let az = aib_testkit::Azurite::start().expect("azurite");
    let loc = aib_state::BlobLocation {
        account: az.account.clone(),
        container: "aib-state".into(),
        prefix: "inputs".into(),
    };
    let auth = aib_azure::BlobAuth::shared_key(&az.account, &az.key).expect("key");
    let cfg = aib_state::BlobConfig {
        endpoint: az.blob_endpoint.clone(),
        auth,
        lease: aib_state::LeaseTiming::default(),
        insecure: false,
    };
    let store = StateStore::open_blob(&loc, cfg).await.expect("blob state");
    let tmp = tempfile::tempdir().expect("tempdir");
    round_trip(tmp.path(), &store).await;
    drop(az);
}

/// Keeps the inputs of a fleet at `root` in `store`, removes the fleet, restores them and
/// plans the same; a stored file changed afterwards is refused.
async fn round_trip(root: &Path, store: &StateStore) {
    let m = fleet(root);
    let p = plan(&m);
    let snap = collect_within(&m, &p, MAX_SNAPSHOT_BYTES).expect("collect");
    let mut record = RunRecord::new(
        RUN,
        aib_state::Trigger::Manual,
        "inp",
        "app/aib.toml",
        "host",
        chrono::Utc::now(),
    );
    record.resume = Some(aib_state::ResumeSpec::default());
    store.create_run(&record).await.expect("create");
    snap.save(store, &mut record).await.expect("save");
    let digest = record
        .resume
        .as_ref()
        .and_then(|r| r.inputs.clone())
        .expect("the record names the inputs");
    let stored = store.read_run(RUN).await.expect("read");
    assert_eq!(stored.resume, record.resume);

    // The sources go away; the restored copy plans the same units with the same hashes.
    std::fs::remove_dir_all(root.join("app")).expect("rm app");
    std::fs::remove_dir_all(root.join("common-scripts")).expect("rm common");
    let restored = restore(store, RUN, &digest).await.expect("restore");
    let again = plan(&Manifest::load(&restored.manifest).expect("restored manifest"));
    assert_eq!(hashes(&again), hashes(&p));

    // A stored file changed behind aib's back is refused.
    let setup = store
        .read_input(RUN, &sha256_hex(b"echo setup"))
        .await
        .expect("stored");
    assert_eq!(setup, b"echo setup");
    store
        .write_input(RUN, &sha256_hex(b"echo setup"), b"echo evil")
        .await
        .expect("tamper");
    let err = restore(store, RUN, &digest)
        .await
        .expect_err("tampered")
        .to_string();
    assert!(err.contains("does not match its digest"), "{err}");
}

#[test]
fn a_file_over_the_limit_is_refused_before_it_is_read() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let m = fleet(tmp.path());
    let p = plan(&m);
    let small = collect_within(&m, &p, MAX_SNAPSHOT_BYTES).expect("collect");
    let kept: u64 = small.index().files.iter().map(|f| f.bytes).sum();
    // One byte short of what the fleet's inputs need: refused, saying how far it got.
    let err = collect_within(&m, &p, kept - 1)
        .expect_err("over the limit")
        .to_string();
    assert!(err.contains("so far"), "{err}");
}
