//! Hostile input and hostile peers, end to end: each test names the attack it stops.

use std::process::{Command, Stdio};

use super::support::{aib, manifest_dir};

/// A manifest of `n` × `n` units (one variant with a two-axis matrix).
fn square_fleet(n: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| format!("\"v{i}\"")).collect();
    let values = values.join(", ");
    format!(
        r#"
version = 1
[pipeline]
name = "big"
[defaults]
location = "eastus2"
resource_group = "rg-{{{{ env }}}}"
identity = "/subscriptions/{{{{ subscription }}}}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
gallery = {{ name = "gal" }}
[environments.dev]
subscription = "00000000-0000-0000-0000-000000000001"
[variants.app]
image_definition = "app-{{{{ matrix.a }}}}-{{{{ matrix.b }}}}"
source = {{ platform = "Canonical:ubuntu-24_04-lts:server:latest" }}
[variants.app.matrix]
a = [{values}]
b = [{values}]
"#
    )
}

/// Attack: a CI step `aib plan --format json | head -1` under `set -o pipefail`. The reader
/// goes away and the next write gets EPIPE; aib used to panic (exit 101) and fail the step.
/// Now output stops quietly and the command exits 0.
#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = manifest_dir(&square_fleet(40), &[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_aib"))
        .args(["plan", "--format", "json"])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn aib plan");
    // Close the reading end at once: the 1,600-unit plan is far larger than a pipe buffer,
    // so aib writes into a closed pipe whenever this happens.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("aib plan");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.trim().is_empty(), "nothing to say: {stderr}");
}

#[test]
fn the_square_fleet_plans() {
    let dir = manifest_dir(&square_fleet(3), &[]);
    let out = aib(dir.path(), &["validate"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("9 units"), "{}", out.stdout);
}
