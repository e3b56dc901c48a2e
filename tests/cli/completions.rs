//! `aib completions SHELL`, `aib man` and the shape of `--help`.

use crate::support::aib;

#[test]
fn bash_completion_is_valid_bash_and_knows_every_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = aib(dir.path(), &["completions", "bash"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for cmd in [
        "validate",
        "plan",
        "build",
        "gc",
        "import",
        "completions",
        "--max-parallel",
    ] {
        assert!(out.stdout.contains(cmd), "bash completion lacks {cmd}");
    }
    let script = dir.path().join("aib.bash");
    std::fs::write(&script, &out.stdout).expect("write");
    // `bash -n` parses without running: the script is syntactically valid.
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("run bash");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn every_shell_gets_a_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (shell, marker) in [
        ("zsh", "#compdef aib"),
        ("fish", "complete -c aib"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[aib]"),
    ] {
        let out = aib(dir.path(), &["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(out.stdout.contains(marker), "{shell}: no {marker}");
    }
    let out = aib(dir.path(), &["completions", "tcsh"]);
    assert_eq!(out.code, 2, "an unknown shell is a usage error");
}

#[test]
fn man_pages_cover_every_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = aib(dir.path(), &["man"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(".TH aib 1"), "{}", out.stdout);
    assert!(out.stdout.contains("GLOBAL OPTIONS"));

    let pages = dir.path().join("man1");
    let out = aib(
        dir.path(),
        &["man", "--out", pages.to_str().expect("utf-8")],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut names: Vec<String> = std::fs::read_dir(&pages)
        .expect("pages")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for want in [
        "aib.1",
        "aib-build.1",
        "aib-ci-github.1",
        "aib-plan.1",
        "aib-gc.1",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    assert!(
        !names.iter().any(|n| n.contains("help")),
        "no pages for clap's help subcommand: {names:?}"
    );
    let build = std::fs::read_to_string(pages.join("aib-build.1")).expect("read");
    assert!(build.contains("\\-\\-retry\\-failed"), "{build}");
}

#[test]
fn global_options_have_their_own_heading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = aib(dir.path(), &["build", "--help"]);
    assert_eq!(out.code, 0);
    let (own, global) = out
        .stdout
        .split_once("Global options:")
        .expect("a Global options heading");
    assert!(own.contains("--max-parallel"));
    assert!(
        !own.contains("--arm-endpoint"),
        "global flags listed with build's own"
    );
    assert!(global.contains("--arm-endpoint") && global.contains("--state"));
}
