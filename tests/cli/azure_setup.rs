//! Getting started on real Azure: what `aib` says when the login or the prerequisites are
//! missing — each time with what to do next.

use super::build::FLEET;
use super::support::{aib_cmd, manifest_dir, run, sim};

#[test]
fn plan_refresh_lists_missing_prerequisites_with_the_commands_that_create_them() {
    let dir = manifest_dir(FLEET, &[]);
    let sim = sim(
        dir.path(),
        "minute_ms = 5\nmissing = [\"*/resourcegroups/rg-prod\", \"*/galleries/gal_dev\", \"*/galleries/gal_dev/*\", \"*/userAssignedIdentities/id-aib\"]\n",
    );
    let (code, stdout, stderr) = run(dir.path(), &sim, &["plan", "--refresh"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stdout.is_empty(),
        "no plan when the build could not run: {stdout}"
    );
    for want in [
        "create it: az group create --subscription 00000000-0000-0000-0000-000000000002 --name rg-prod --location eastus2",
        "create it: az sig create --subscription 00000000-0000-0000-0000-000000000001 --resource-group rg-dev --gallery-name gal_dev --location eastus2",
        "create it: az identity create --subscription 00000000-0000-0000-0000-000000000001 --resource-group rg-id --name id-aib",
        "--gallery-image-definition base ",
        "--os-type Linux",
    ] {
        assert!(stderr.contains(want), "missing `{want}` in:\n{stderr}");
    }
    // Everything present: the plan prints.
    let dir = manifest_dir(FLEET, &[]);
    let sim = super::support::sim(dir.path(), "minute_ms = 5\n");
    let (code, stdout, stderr) = run(dir.path(), &sim, &["plan", "--refresh"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("dev/base"), "{stdout}");
}

#[test]
fn a_build_without_a_login_says_how_to_log_in() {
    let dir = manifest_dir(FLEET, &[]);
    let sim = sim(dir.path(), "minute_ms = 5\n");
    let out = aib_cmd(dir.path(), &sim, &["build"])
        .env("AIB_CREDENTIAL", "env")
        .env_remove("AZURE_CLIENT_ID")
        .env_remove("AZURE_TENANT_ID")
        .env_remove("AZURE_CLIENT_SECRET")
        .output()
        .expect("run aib");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("az login"), "{stderr}");
    assert!(stderr.contains("--simulate"), "{stderr}");
}
